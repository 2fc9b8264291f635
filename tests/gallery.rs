//! `runvqgan gallery`: a static, offline site of the shared folder's images, rebuilt
//! incrementally. These tests write small PNGs and sidecars by hand (no engine); the browser
//! test (tests/python/test_gallery_browser.py) opens the gallery of a real tiny-model night.

mod common;

use std::path::Path;

use common::Shared;
use common::gallery::{build, cards, image, read, thumbs};
use runvqgan::gallery::{self, GalleryOptions};
use runvqgan::shared_folder::root::Root;

/// A shared folder with a night of images: alice's robots (one plain, one in a style), two
/// lighthouses in output/, an invalid task of bob's with its error file.
fn night() -> Shared {
    let s = Shared::new();
    let robot = "A picture of a \"friendly\" robot";
    image(
        &s,
        "alice/robot_1.png",
        robot,
        "alice/task_robot.txt",
        1,
        "2026-11-28T23:05:00Z",
    );
    image(
        &s,
        "alice/robot_2.png",
        &format!("{robot} in the style of Banksy:1.5|rust:-0.3"),
        "alice/task_robot.txt",
        2,
        "2026-11-28T23:06:00Z",
    );
    image(
        &s,
        "output/lighthouse_1.png",
        "A lighthouse in a storm",
        "tasks/lighthouse.txt",
        1,
        "2026-11-28T23:01:00Z",
    );
    image(
        &s,
        "output/lighthouse_2.png",
        "A lighthouse in a storm",
        "tasks/lighthouse.txt",
        2,
        "2026-11-28T23:02:00Z",
    );
    s.write(
        "bob/task_forest_ERROR.txt",
        "bob/task_forest.txt: unknown field `iteration`; did you mean `iterations`?\n\nsecond line\n",
    );
    s
}

#[test]
fn builds_an_overview_a_page_per_folder_and_an_error_page() {
    let s = night();
    s.cmd()
        .args(["gallery", "--root"])
        .arg(s.root())
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "4 image(s) in 2 folder(s), 1 error file(s)",
        ));
    for page in [
        "index.html",
        "folder-alice.html",
        "folder-output.html",
        "errors.html",
    ] {
        assert!(s.exists(&format!("gallery/{page}")), "{page} missing");
    }
    assert!(!s.exists("gallery/folder-bob.html"), "bob has no images");
    let errors = read(&s, "gallery/errors.html");
    assert!(errors.contains("bob/task_forest_ERROR.txt"));
    assert!(errors.contains("did you mean `iterations`?"));
    assert!(errors.contains("second line"));
    let alice = read(&s, "gallery/folder-alice.html");
    assert!(alice.contains(r#"data-folder="alice""#));
}

#[test]
fn cards_carry_the_sidecar_facts_newest_night_first_grouped_by_task() {
    let s = night();
    image(
        &s,
        "alice/old_1.png",
        "An older picture",
        "alice/task_old.txt",
        1,
        "2026-10-01T23:00:00Z",
    );
    build(&s);
    let cards = cards(&s);
    let ids: Vec<&str> = cards.iter().map(|c| c["id"].as_str().unwrap()).collect();
    // The robots' task has the night's newest image, so it comes first; the older night last.
    assert_eq!(
        ids,
        [
            "alice/robot_1.png",
            "alice/robot_2.png",
            "output/lighthouse_1.png",
            "output/lighthouse_2.png",
            "alice/old_1.png"
        ]
    );
    let robot = &cards[1];
    assert_eq!(robot["style"], "Banksy");
    assert_eq!(robot["seed"], "2");
    assert_eq!(robot["iterations"], "20");
    assert_eq!(robot["size"], "48x32", "the PNG's own size");
    assert_eq!(robot["model"], "default");
    assert_eq!(robot["task"], "alice/task_robot.txt");
    assert_eq!(robot["image_of"], "2 of 2");
    assert_eq!(robot["image"], "../alice/robot_2.png");
    assert_eq!(robot["sidecar"], "../alice/robot_2.txt");
    // Runnable from anywhere: the root and the sidecar by absolute path, and -o for the new
    // image in a folder of the member's.
    let root = s.root().display().to_string();
    let q = |p: String| shlex::try_quote(&p).unwrap().into_owned();
    assert_eq!(
        robot["reproduce"],
        format!(
            "runvqgan reproduce --root {} -o {} {}",
            q(root.clone()),
            q(format!("{root}/YOUR-FOLDER/NAME_1.png")),
            q(format!("{root}/alice/robot_2.txt"))
        )
    );
    assert!(
        robot["call"]
            .as_str()
            .unwrap()
            .starts_with("python generate.py -p 'A picture of a \"friendly\" robot in the style of Banksy:1.5|rust:-0.3'")
    );
    assert_eq!(cards[0]["style"], "");
    assert_ne!(cards[0]["night"], cards[4]["night"]);
}

#[test]
fn pages_are_offline_with_relative_links_only() {
    let s = night();
    build(&s);
    for page in [
        "index.html",
        "folder-alice.html",
        "errors.html",
        "assets/gallery.js",
        "assets/gallery.css",
    ] {
        let text = read(&s, &format!("gallery/{page}"));
        for bad in ["http://", "https://", "//cdn", "@import", "url("] {
            assert!(!text.contains(bad), "{page} contains {bad}");
        }
        for attr in ["src=\"/", "href=\"/"] {
            assert!(!text.contains(attr), "{page} has an absolute link");
        }
    }
    // Every card's files exist where its relative links point.
    let gallery = s.root().join("gallery");
    for c in cards(&s) {
        for key in ["image", "sidecar", "thumb"] {
            let rel = c[key].as_str().unwrap();
            assert!(gallery.join(rel).is_file(), "{key} {rel} does not resolve");
        }
    }
}

#[test]
fn prompts_are_escaped_in_pages_and_names_encoded_in_links() {
    let s = night();
    image(
        &s,
        "alice/x y#1_1.png",
        "<script>alert(1)</script>",
        "alice/task_x.txt",
        1,
        "2026-11-28T23:30:00Z",
    );
    std::fs::create_dir(s.root().join("carol <b>")).unwrap();
    image(
        &s,
        "carol <b>/c_1.png",
        "c",
        "carol <b>/task_c.txt",
        1,
        "2026-11-28T23:40:00Z",
    );
    build(&s);
    let index = read(&s, "gallery/index.html");
    assert!(
        !index.contains("<b>"),
        "folder names are escaped in the navigation"
    );
    assert!(index.contains("carol &lt;b&gt;"));
    let cards = cards(&s);
    let x = cards
        .iter()
        .find(|c| c["id"] == "alice/x y#1_1.png")
        .unwrap();
    assert_eq!(x["image"], "../alice/x%20y%231_1.png");
    // The prompt stays data: the page script puts it in with textContent.
    assert_eq!(x["prompt"], "<script>alert(1)</script>");
    assert!(!read(&s, "gallery/assets/gallery.js").contains("innerHTML"));
}

#[test]
fn a_rebuild_with_nothing_new_writes_nothing_and_makes_no_thumbnail() {
    let s = night();
    let first = build(&s);
    assert_eq!(first.thumbs.made, 4);
    assert!(first.files_written > 0);
    let before = thumbs(&s);
    let again = build(&s);
    assert_eq!(
        (again.thumbs.made, again.thumbs.kept, again.thumbs.removed),
        (0, 4, 0)
    );
    assert_eq!(again.files_written, 0);
    assert_eq!(thumbs(&s), before);
}

#[test]
fn a_changed_image_gets_a_new_thumbnail_and_a_removed_one_loses_it() {
    let s = night();
    build(&s);
    let before = thumbs(&s);
    // Another size: different bytes and length.
    image::RgbImage::from_pixel(64, 32, image::Rgb([1, 2, 3]))
        .save(s.root().join("output/lighthouse_1.png"))
        .unwrap();
    std::fs::remove_file(s.root().join("alice/robot_1.png")).unwrap();
    let r = build(&s);
    assert_eq!((r.thumbs.made, r.thumbs.kept, r.thumbs.removed), (1, 2, 2));
    let after = thumbs(&s);
    assert_eq!(after.len(), 3);
    assert_eq!(after.iter().filter(|t| before.contains(t)).count(), 2);
    let cards = cards(&s);
    assert_eq!(cards.len(), 3);
    let l1 = cards
        .iter()
        .find(|c| c["id"] == "output/lighthouse_1.png")
        .unwrap();
    assert_eq!(l1["size"], "64x32");
}

#[test]
fn thumbnails_are_small_jpegs() {
    let s = night();
    image::RgbImage::from_pixel(900, 600, image::Rgb([9, 9, 9]))
        .save(s.root().join("output/lighthouse_2.png"))
        .unwrap();
    build(&s);
    let c = cards(&s);
    let l2 = c
        .iter()
        .find(|c| c["id"] == "output/lighthouse_2.png")
        .unwrap();
    let thumb = s.root().join("gallery").join(l2["thumb"].as_str().unwrap());
    let bytes = std::fs::read(&thumb).unwrap();
    assert_eq!(&bytes[..2], b"\xFF\xD8", "a JPEG");
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (320, 213));
}

#[test]
fn leaves_out_pngs_without_a_sidecar_hidden_folders_links_and_itself() {
    let s = night();
    image::RgbImage::new(8, 8)
        .save(s.root().join("output/stray.png"))
        .unwrap();
    image(
        &s,
        ".hidden/h_1.png",
        "hidden",
        "x",
        1,
        "2026-11-28T23:00:00Z",
    );
    std::os::unix::fs::symlink(
        s.root().join("alice/robot_1.png"),
        s.root().join("output/link_1.png"),
    )
    .unwrap();
    std::fs::copy(
        s.root().join("alice/robot_1.txt"),
        s.root().join("output/link_1.txt"),
    )
    .unwrap();
    s.write("output/notes.png", "not a png");
    s.write("output/notes.txt", "{\"text\": \"a task, not a sidecar\"}");
    let r = build(&s);
    // The gallery's own thumbnails are never shown as images, whatever the rebuilds.
    let r2 = build(&s);
    let ids: Vec<String> = cards(&s)
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !ids.iter()
            .any(|i| i.contains("link") || i.contains("hidden")),
        "{ids:?}"
    );
    assert_eq!((r.images, r2.images), (4, 4));
    let skipped: Vec<&str> = r.skipped.iter().map(|k| k.rel.as_str()).collect();
    assert_eq!(skipped, ["output/notes.png", "output/stray.png"]);
    assert!(r.skipped[1].reason.contains(".txt"));
}

#[test]
fn a_broken_png_is_shown_without_a_thumbnail_and_not_retried() {
    let s = night();
    s.write("output/lighthouse_2.png", "broken");
    let r = build(&s);
    assert_eq!(r.thumbs.failed.len(), 1);
    let c = cards(&s);
    let l2 = c
        .iter()
        .find(|c| c["id"] == "output/lighthouse_2.png")
        .unwrap();
    assert_eq!(l2["thumb"], "");
    assert_eq!(build(&s).thumbs.made, 0);
}

#[test]
fn the_gallery_folder_is_configurable_and_must_stay_inside_the_root() {
    let s = night();
    s.cmd()
        .args(["gallery", "--dir", "public/pics", "--root"])
        .arg(s.root())
        .assert()
        .success();
    let cards = cards_at(&s, "public/pics");
    assert_eq!(cards[0]["image"], "../../alice/robot_1.png");
    assert!(
        s.root()
            .join("public/pics")
            .join(cards[0]["image"].as_str().unwrap())
            .is_file()
    );
    s.cmd()
        .args(["gallery", "--dir", "../elsewhere", "--root"])
        .arg(s.root())
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "the gallery folder \"../elsewhere\" is refused",
        ));
}

fn cards_at(s: &Shared, dir: &str) -> Vec<serde_json::Value> {
    let js = std::fs::read_to_string(s.root().join(dir).join("data.js")).unwrap();
    let json = js
        .trim_start_matches("window.RUNVQGAN_GALLERY = ")
        .trim_end()
        .trim_end_matches(';');
    serde_json::from_str::<serde_json::Value>(json).unwrap()["images"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_folder_page_goes_when_its_folder_has_no_images_left() {
    let s = night();
    build(&s);
    assert!(s.exists("gallery/folder-output.html"));
    for f in ["lighthouse_1", "lighthouse_2"] {
        std::fs::remove_file(s.root().join(format!("output/{f}.png"))).unwrap();
    }
    build(&s);
    assert!(!s.exists("gallery/folder-output.html"));
    assert!(Path::new(&s.root().join("gallery/folder-alice.html")).exists());
}

#[test]
fn a_gallery_folder_that_is_a_link_is_refused_not_followed() {
    let s = night();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), s.root().join("gallery")).unwrap();
    s.cmd()
        .args(["gallery", "--root"])
        .arg(s.root())
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "is a link or a file, not a folder",
        ));
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn run_builds_the_gallery_at_the_end_unless_turned_off() {
    // No task to do: `run` starts no engine, and still brings the gallery up to date.
    let s = night();
    s.cmd()
        .args(["run", "--root"])
        .arg(s.root())
        .assert()
        .success();
    assert_eq!(cards(&s).len(), 4);
    assert!(read(&s, "runvqgan.log").contains("gallery: 4 image(s)"));

    let s = night();
    s.write("runvqgan.toml", "gallery = \"public/pics\"\n");
    s.cmd()
        .args(["run", "--root"])
        .arg(s.root())
        .assert()
        .success();
    assert!(s.exists("public/pics/index.html") && !s.exists("gallery"));
    // The command reads the same key.
    s.cmd()
        .args(["gallery", "--root"])
        .arg(s.root())
        .assert()
        .success();
    assert!(!s.exists("gallery"));

    let s = night();
    s.write("runvqgan.toml", "gallery = \"../out\"\n");
    s.cmd()
        .args(["run", "--root"])
        .arg(s.root())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("`gallery`"));

    let s = night();
    s.write("runvqgan.toml", "gallery = false\n");
    s.cmd()
        .args(["run", "--root"])
        .arg(s.root())
        .assert()
        .success();
    assert!(!s.exists("gallery"));
}

/// Builds of one root never overlap: the runs of a Slurm job array end together and each
/// builds the gallery at its end; a build waits while another holds the gallery's lock
/// (`flock`, and the lease used on network filesystems), then builds from its own scan.
#[test]
fn a_build_waits_while_another_holds_the_gallery_lock() {
    use runvqgan::config::Config;
    use runvqgan::shared_folder::locks::method::ClaimMethod;
    use std::time::Duration;
    for claims in ["flock", "lease"] {
        let s = night();
        let root = Root::open(&s.root()).unwrap();
        let config = Config::from_toml(&format!("claims = \"{claims}\"\n")).unwrap();
        let method = ClaimMethod::for_root(root.path(), config.claims, config.lease_seconds);
        let held = method.lock_gallery(root.path()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let other = ClaimMethod::for_root(root.path(), config.claims, config.lease_seconds);
                let built = gallery::build_exclusive(&root, &GalleryOptions::default(), &other);
                tx.send(built.map(|r| r.images).map_err(|e| e.to_string()))
                    .unwrap();
            });
            std::thread::sleep(Duration::from_millis(500));
            assert!(
                rx.try_recv().is_err(),
                "{claims}: a build ran while another held the lock"
            );
            assert!(!s.exists("gallery/index.html"), "{claims}");
            drop(held);
            let images = rx.recv_timeout(Duration::from_secs(120)).unwrap();
            assert_eq!(images, Ok(4), "{claims}");
        });
        assert!(s.exists("gallery/index.html"), "{claims}");
    }
}
