//! The gallery touches only what changed since its last build (issue 27), through the
//! owner's indexes in `.runvqgan/`, and stays right when files change behind it: a sidecar
//! edited in place to the same length and time, a PNG replaced, files removed, pages and
//! thumbnails removed or edited in the gallery, the indexes removed, damaged or written by
//! another version.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::Shared;
use common::gallery::{build, cards, image, read, thumbs};
use runvqgan::shared_folder::files::{
    GALLERY_PAGES_INDEX, GALLERY_SIDECARS_INDEX, GALLERY_THUMBS_INDEX, STATE_DIR,
};

const INDEXES: [&str; 3] = [
    GALLERY_SIDECARS_INDEX,
    GALLERY_THUMBS_INDEX,
    GALLERY_PAGES_INDEX,
];

/// Three images: two of alice's, one in output/.
fn three() -> Shared {
    let s = Shared::new();
    image(
        &s,
        "alice/cat_1.png",
        "A cat",
        "alice/t.txt",
        1,
        "2026-11-28T23:05:00Z",
    );
    image(
        &s,
        "alice/cat_2.png",
        "A cat",
        "alice/t.txt",
        2,
        "2026-11-28T23:06:00Z",
    );
    image(
        &s,
        "output/dog_1.png",
        "A dog",
        "tasks/d.txt",
        1,
        "2026-11-28T23:01:00Z",
    );
    s
}

/// Every file of the gallery with its bytes.
fn gallery_files(s: &Shared) -> Vec<(String, Vec<u8>)> {
    let root = s.root().join("gallery");
    let mut out: Vec<_> = walkdir::WalkDir::new(&root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(&root).unwrap();
            (rel.display().to_string(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Rewrites `path` in place with `bytes` (the same file, same inode), and sets its
/// modification time back to what it was: only the change time tells.
fn edit_in_place(path: &Path, bytes: &[u8]) {
    let before = std::fs::metadata(path).unwrap();
    assert_eq!(
        before.len(),
        bytes.len() as u64,
        "an edit to the same length"
    );
    std::thread::sleep(Duration::from_millis(20));
    let file = std::fs::File::options().write(true).open(path).unwrap();
    std::io::Write::write_all(&mut &file, bytes).unwrap();
    file.set_modified(before.modified().unwrap()).unwrap();
    let after = std::fs::metadata(path).unwrap();
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
}

fn card<'a>(cards: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    cards.iter().find(|c| c["id"] == id).unwrap()
}

fn index_path(s: &Shared, name: &str) -> std::path::PathBuf {
    s.root().join(STATE_DIR).join(name)
}

#[test]
fn a_rebuild_with_nothing_new_reads_no_sidecar_and_makes_no_page() {
    let s = three();
    let first = build(&s);
    assert_eq!(first.sidecars_read, 3);
    assert!(first.pages_made && first.files_written > 0);
    for name in INDEXES {
        assert!(index_path(&s, name).is_file(), "{name}");
    }
    let files = gallery_files(&s);
    let again = build(&s);
    assert_eq!(again.sidecars_read, 0);
    assert!(!again.pages_made);
    assert_eq!((again.thumbs.made, again.thumbs.kept), (0, 3));
    assert_eq!((again.images, again.folders), (3, 2));
    assert_eq!(gallery_files(&s), files);
    // Said so in the summary.
    let out = s
        .cmd()
        .args(["gallery", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("0 sidecar(s) read, nothing to show changed"),
        "{said}"
    );
}

#[test]
fn new_images_are_read_and_shown_the_others_not_read_again() {
    let s = three();
    build(&s);
    image(
        &s,
        "bob/owl_1.png",
        "An owl",
        "bob/o.txt",
        1,
        "2026-11-29T23:00:00Z",
    );
    let r = build(&s);
    assert_eq!((r.sidecars_read, r.thumbs.made, r.images), (1, 1, 4));
    assert!(r.pages_made);
    let cards = cards(&s);
    assert_eq!(cards.len(), 4);
    assert_eq!(card(&cards, "bob/owl_1.png")["prompt"], "An owl");
    assert!(read(&s, "gallery/index.html").contains("folder-bob.html"));
}

#[test]
fn a_sidecar_edited_in_place_to_the_same_length_and_time_is_read_again() {
    let s = three();
    build(&s);
    let path = s.root().join("alice/cat_1.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    edit_in_place(&path, text.replace("A cat", "A bat").as_bytes());
    let r = build(&s);
    assert_eq!(r.sidecars_read, 1);
    assert_eq!(card(&cards(&s), "alice/cat_1.png")["prompt"], "A bat");
    // Made no sidecar at all: left out, and shown again once fixed.
    let broken = "not a generate call at all\n";
    std::fs::write(&path, broken).unwrap();
    let r = build(&s);
    assert_eq!((r.images, r.skipped.len()), (2, 1));
    assert!(cards(&s).iter().all(|c| c["id"] != "alice/cat_1.png"));
    let r = build(&s);
    assert_eq!(
        (r.sidecars_read, r.skipped.len()),
        (0, 1),
        "its verdict is known"
    );
    std::fs::write(&path, text).unwrap();
    let r = build(&s);
    assert_eq!((r.sidecars_read, r.images), (1, 3));
    assert_eq!(card(&cards(&s), "alice/cat_1.png")["prompt"], "A cat");
}

#[test]
fn a_png_replaced_by_one_of_the_same_size_and_time_gets_a_new_thumbnail() {
    let s = three();
    build(&s);
    let png = s.root().join("output/dog_1.png");
    // Uncompressed PNGs of one size have one length whatever their pixels.
    let uncompressed = |path: &Path, rgb: [u8; 3]| {
        use image::ImageEncoder;
        let pixels = image::RgbImage::from_pixel(48, 32, image::Rgb(rgb));
        let file = std::fs::File::create(path).unwrap();
        image::codecs::png::PngEncoder::new_with_quality(
            file,
            image::codecs::png::CompressionType::Uncompressed,
            image::codecs::png::FilterType::NoFilter,
        )
        .write_image(&pixels, 48, 32, image::ExtendedColorType::Rgb8)
        .unwrap();
    };
    uncompressed(&png, [40, 90, 200]);
    build(&s);
    let thumbs_before = thumbs(&s);
    let jpgs = |s: &Shared| -> Vec<Vec<u8>> {
        thumbs(s)
            .iter()
            .map(|t| std::fs::read(s.root().join("gallery/thumbs").join(t)).unwrap())
            .collect()
    };
    let before = jpgs(&s);
    // Another picture of the very same byte length, renamed over it, its time set back.
    let meta = std::fs::metadata(&png).unwrap();
    let other = s.root().join("output/.other.png");
    uncompressed(&other, [250, 10, 10]);
    assert_eq!(std::fs::metadata(&other).unwrap().len(), meta.len());
    let file = std::fs::File::options().write(true).open(&other).unwrap();
    file.set_modified(meta.modified().unwrap()).unwrap();
    std::fs::rename(&other, &png).unwrap();
    let r = build(&s);
    assert_eq!((r.thumbs.made, r.sidecars_read), (1, 0));
    // The same key (path, length, time), so the same name, but the red picture's pixels.
    assert_eq!(thumbs(&s), thumbs_before);
    assert_ne!(jpgs(&s), before);
}

#[test]
fn removed_images_and_sidecars_leave_the_gallery() {
    let s = three();
    build(&s);
    std::fs::remove_file(s.root().join("alice/cat_2.png")).unwrap();
    std::fs::remove_file(s.root().join("output/dog_1.txt")).unwrap();
    let r = build(&s);
    assert_eq!((r.images, r.thumbs.removed, r.sidecars_read), (1, 2, 0));
    assert_eq!(r.skipped.len(), 1, "the PNG without a sidecar");
    let shown = cards(&s);
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0]["id"], "alice/cat_1.png");
    assert!(!s.exists("gallery/folder-output.html"));
    // A video put beside an image: shown, though neither its PNG nor its sidecar changed.
    s.write("alice/cat_1.mp4", "not really a video");
    let r = build(&s);
    assert!(r.pages_made);
    assert_eq!(
        card(&cards(&s), "alice/cat_1.png")["video"],
        "../alice/cat_1.mp4"
    );
}

#[test]
fn pages_and_thumbnails_removed_or_edited_in_the_gallery_are_made_again() {
    let s = three();
    build(&s);
    let files = gallery_files(&s);
    let gallery = s.root().join("gallery");
    // A page, an asset and the thumbnails' manifest removed, the data file and a thumbnail edited in place (same
    // length, same time), the errors page replaced by another file.
    std::fs::remove_file(gallery.join("index.html")).unwrap();
    std::fs::remove_file(gallery.join("assets/gallery.css")).unwrap();
    std::fs::remove_file(gallery.join("thumbs/index.json")).unwrap();
    let data = std::fs::read(gallery.join("data.js")).unwrap();
    edit_in_place(&gallery.join("data.js"), &vec![b' '; data.len()]);
    let thumb = gallery.join("thumbs").join(&thumbs(&s)[0]);
    let jpg = std::fs::read(&thumb).unwrap();
    edit_in_place(&thumb, &vec![0; jpg.len()]);
    std::fs::write(gallery.join("errors.html.new"), "x").unwrap();
    std::fs::rename(gallery.join("errors.html.new"), gallery.join("errors.html")).unwrap();
    let r = build(&s);
    assert!(r.pages_made);
    assert_eq!(r.thumbs.made, 1);
    assert_eq!(r.files_written, 4);
    assert_eq!(r.sidecars_read, 0);
    assert_eq!(gallery_files(&s), files, "everything as it was");
    let again = build(&s);
    assert!(!again.pages_made && again.thumbs.made == 0);
}

/// A way of damaging an index file.
type Spoil = fn(&Path);

#[test]
fn indexes_removed_damaged_or_of_another_version_cost_a_full_rescan_only() {
    let s = three();
    build(&s);
    let files = gallery_files(&s);
    let damage: [(&str, Spoil); 4] = [
        ("removed", |p| std::fs::remove_file(p).unwrap()),
        ("garbage", |p| {
            std::fs::write(p, b"\x00\xffnot an index").unwrap()
        }),
        ("cut short", |p| {
            let bytes = std::fs::read(p).unwrap();
            std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
        }),
        // The byte after the 8-byte magic is the format version.
        ("another version", |p| {
            let mut bytes = std::fs::read(p).unwrap();
            bytes[8] += 1;
            std::fs::write(p, bytes).unwrap();
        }),
    ];
    for (what, spoil) in damage {
        for name in INDEXES {
            spoil(&index_path(&s, name));
        }
        let r = build(&s);
        assert_eq!(r.sidecars_read, 3, "{what}");
        assert!(r.pages_made, "{what}");
        // The thumbnails' manifest in the gallery still tells which are there.
        assert_eq!(
            (r.thumbs.made, r.thumbs.kept, r.files_written),
            (0, 3, 0),
            "{what}"
        );
        assert_eq!(gallery_files(&s), files, "{what}");
        let again = build(&s);
        assert_eq!(again.sidecars_read, 0, "{what}: the index is whole again");
        assert!(!again.pages_made, "{what}");
    }
    // An index made a folder, or a link to a good one elsewhere: not followed, not used.
    let sidecars = index_path(&s, GALLERY_SIDECARS_INDEX);
    let elsewhere = s.root().join("elsewhere.index");
    std::fs::rename(&sidecars, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &sidecars).unwrap();
    assert_eq!(build(&s).sidecars_read, 3);
    assert!(
        !sidecars.is_symlink() && sidecars.is_file(),
        "replaced by a file"
    );
    assert_eq!(build(&s).sidecars_read, 0);
}

#[test]
fn only_what_changed_is_read_after_a_touch_that_changes_nothing_else() {
    let s = three();
    build(&s);
    // `touch` of a sidecar: new times, same bytes: read again, nothing shown changes but
    // its stamp, so the pages are made and compared, and none written.
    let path = s.root().join("alice/cat_2.txt");
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(SystemTime::now())
        .unwrap();
    let r = build(&s);
    assert_eq!((r.sidecars_read, r.files_written), (1, 0));
    assert!(!build(&s).pages_made);
}
