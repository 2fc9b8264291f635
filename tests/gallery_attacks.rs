//! The gallery in a shared folder that every member can write (DESIGN.md section 10, issue
//! 23). Each test is an attack a member can make while `runvqgan gallery` runs as the owner:
//! folders swapped for links to the owner's folders, and a gallery file grown to gigabytes.
//! Each failed on the code before the fix (which read, wrote and removed by path) and
//! passes after it (every access through folder handles beneath the root); the last one
//! runs a card's reproduce command from another folder. `RUNVQGAN_ATTACK_BIN=/path` runs
//! them against another build. One account (CI: root) is enough: they test confinement.

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use common::Shared;
use runvqgan::shared_folder::files::{GALLERY_THUMBS_INDEX, STATE_DIR};

/// The binary under attack.
fn bin() -> PathBuf {
    std::env::var_os("RUNVQGAN_ATTACK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("runvqgan"))
}

/// `runvqgan ARGS` run in `dir`, with no settings from the environment.
fn runvqgan<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Command {
    let mut c = Command::new(bin());
    c.args(args).current_dir(dir).stdin(Stdio::null());
    c.env_remove("RUNVQGAN_ROOT").env_remove("RUNVQGAN_CONFIG");
    c
}

/// `runvqgan gallery --root <root>`.
fn gallery(s: &Shared) -> Command {
    runvqgan(
        &s.root(),
        &["gallery".as_ref(), "--root".as_ref(), s.root().as_os_str()],
    )
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&[out.stdout.as_slice(), &out.stderr].concat()).into_owned()
}

/// A build with nothing swapped: it succeeds; what it said.
fn build_left_alone(s: &Shared) -> String {
    let out = gallery(s).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs a build while folders are being swapped: it may stop (exit 1, saying why: a gallery
/// folder that is a link at that moment, or that was removed under it), but never crashes
/// or takes another exit code.
fn build_under_attack(s: &Shared) -> Output {
    let out = gallery(s).output().unwrap();
    let ok = match out.status.code() {
        Some(0) => true,
        Some(1) => String::from_utf8_lossy(&out.stderr).contains("cannot build the gallery in"),
        _ => false,
    };
    assert!(ok, "the build ended with {}:\n{}", out.status, text(&out));
    out
}

/// The colour of the member's pictures, and of the owner's (outside the root).
const MEMBER: [u8; 3] = [0, 90, 200];
const OWNER: [u8; 3] = [255, 0, 0];
/// In the owner's sidecars and error files: what must never reach the gallery.
const SECRET: &str = "OWNER-ONLY";

/// Writes `dir/name.png` (a `w` x `h` PNG of one colour, permission bits `mode`) and its
/// sidecar `dir/name.txt` with `prompt`.
fn picture(dir: &Path, name: &str, (w, h): (u32, u32), rgb: [u8; 3], prompt: &str, mode: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let png = dir.join(format!("{name}.png"));
    let txt = dir.join(format!("{name}.txt"));
    image::RgbImage::from_pixel(w, h, image::Rgb(rgb))
        .save(&png)
        .unwrap();
    let sidecar = format!(
        "python generate.py -p '{prompt}' -i 20 -s {w} {h} -sd 1 -m ViT-B/32 -o {name}.png\n\
         # runvqgan: 0.1.0\n# task: tasks/{name}.txt\n# image: 1 of 1\n# model-set: default\n\
         # device: cpu\n# started: 2026-11-28T23:05:00Z\n# seconds: 1.0\n# final-loss: 0.5\n"
    );
    std::fs::write(&txt, sidecar).unwrap();
    for file in [png, txt] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// `n` pictures `pic_1` .. `pic_n` of the member's in `dir`.
fn member_pictures(dir: &Path, n: u32) {
    for i in 1..=n {
        picture(dir, &format!("pic_{i}"), (48, 32), MEMBER, "a robot", 0o644);
    }
}

/// An owner-only folder outside the root holding the same names as the member's folder:
/// 0600 pictures of another colour and size, with sidecars that carry [`SECRET`].
fn owner_pictures(dir: &Path, n: u32) {
    for i in 1..=n {
        picture(dir, &format!("pic_{i}"), (64, 64), OWNER, SECRET, 0o600);
    }
    std::fs::write(dir.join("pic_ERROR.txt"), format!("{SECRET} error\n")).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// Every file under `dir` (links not followed): its path, bytes, permission bits and
/// modification time.
type Snapshot = Vec<(String, Vec<u8>, u32, std::time::SystemTime)>;

fn snapshot(dir: &Path) -> Snapshot {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let m = e.metadata().unwrap();
            (
                e.path().strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(e.path()).unwrap(),
                m.permissions().mode(),
                m.modified().unwrap(),
            )
        })
        .collect()
}

/// Checks that nothing of the owner's outside the root reached the gallery at `gallery`:
/// no sidecar text, no error file line, no picture size in the page data, no thumbnail of
/// the owner's pixels.
fn assert_nothing_of_the_owners_shown(gallery: &Path, round: usize) {
    for page in ["data.js", "index.html", "errors.html"] {
        let Ok(text) = std::fs::read_to_string(gallery.join(page)) else {
            continue;
        };
        // The text of the owner's sidecars and error files, the size of their pictures.
        for bad in [SECRET, "64x64"] {
            assert!(
                !text.contains(bad),
                "round {round}: {page} has {bad}:\n{text}"
            );
        }
    }
    let thumbs = std::fs::read_dir(gallery.join("thumbs"))
        .into_iter()
        .flatten();
    let jpegs = thumbs
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"));
    for path in jpegs {
        let img = image::open(&path).unwrap().to_rgb8();
        let [r, g, _] = img.get_pixel(img.width() / 2, img.height() / 2).0;
        assert!(
            !(r > 200 && g < 60),
            "round {round}: the thumbnail {} shows the owner's picture",
            path.display()
        );
    }
}

/// A thread that swaps the folder `path` for a link to `target` and back, again and again,
/// until stopped: the folder is renamed to a hidden name beside it, the link put in its
/// place, then the link removed and the folder renamed back. What a build creates at `path`
/// in between is moved aside (hidden) so the folder can come back.
struct Swapper(Arc<AtomicBool>, JoinHandle<u64>);

impl Swapper {
    fn start(path: PathBuf, target: PathBuf, link_for: Duration, folder_for: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let aside = path.with_file_name(format!(".{name}.aside"));
            let mut swaps = 0;
            let mut junk = 0;
            while !flag.load(Ordering::Relaxed) {
                if std::fs::rename(&path, &aside).is_ok() {
                    if symlink(&target, &path).is_ok() {
                        swaps += 1;
                        std::thread::sleep(link_for);
                        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink()) {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                    while aside.exists() && std::fs::rename(&aside, &path).is_err() {
                        junk += 1;
                        let _ = std::fs::rename(&path, path.with_file_name(format!(".j{junk}")));
                    }
                }
                std::thread::sleep(folder_for);
            }
            swaps
        });
        Swapper(stop, thread)
    }

    /// Stops swapping (the folder is back in place) and returns how many swaps were made.
    fn stop(self) -> u64 {
        self.0.store(true, Ordering::Relaxed);
        self.1.join().unwrap()
    }
}

/// Removes the owner's index of thumbnails: with the manifest gone too, the next build
/// makes every thumbnail again.
fn forget_thumbnails(root: &Path) {
    let index = root.join(STATE_DIR).join(GALLERY_THUMBS_INDEX);
    let _ = std::fs::remove_file(index);
}

// Finding 1: the build lists gallery/thumbs/, makes thumbnails, then removes the unwanted
// *.jpg by path; a member who swaps thumbs/ for a link to a folder of the owner's in
// between makes it delete the owner's files of those names.
#[test]
fn thumbs_swapped_for_a_link_never_removes_the_owners_files() {
    let s = Shared::new();
    let root = s.root();
    member_pictures(&root.join("alice"), 8);
    let outside = tempfile::tempdir().unwrap();
    let stale = ["0123456789abcdef01234567.jpg", "holiday.jpg", "x.jpg"];
    for name in stale {
        std::fs::write(outside.path().join(name), format!("the owner's {name}")).unwrap();
    }
    let before = snapshot(outside.path());
    let thumbs = root.join("gallery/thumbs");
    let (mut swaps, mut built) = (0, 0);
    for round in 0..40 {
        // Stale thumbnails of those names in the real folder, and no manifest, so that the
        // build makes every thumbnail again and then removes the stale ones.
        std::fs::create_dir_all(&thumbs).unwrap();
        for name in stale {
            std::fs::write(thumbs.join(name), "stale").unwrap();
        }
        let _ = std::fs::remove_file(thumbs.join("index.json"));
        forget_thumbnails(&root);
        let swapper = Swapper::start(thumbs.clone(), outside.path().into(), ms(3), ms(1));
        let out = build_under_attack(&s);
        swaps += swapper.stop();
        built += usize::from(out.status.success());
        assert_eq!(
            snapshot(outside.path()),
            before,
            "round {round}: the owner's files outside the root were changed:\n{}",
            text(&out)
        );
    }
    assert!(swaps > 40 && built > 0, "{swaps} swaps, {built} built");
    // Left alone, the build removes the stale thumbnails, from the gallery only.
    build_left_alone(&s);
    for name in stale {
        assert!(!thumbs.join(name).exists(), "{name} stayed");
    }
    assert_eq!(snapshot(outside.path()), before);
}

// Finding 2: the scan reads a member's sidecar, then the thumbnail is made by path; a member
// who swaps their folder for a link to an owner-only folder in between makes the build
// publish the owner's 0600 picture as a world-readable thumbnail, its size in the page data.
#[test]
fn a_member_folder_swapped_for_a_link_never_shows_the_owners_pictures() {
    let s = Shared::new();
    let root = s.root();
    member_pictures(&root.join("alice"), 12);
    let outside = tempfile::tempdir().unwrap();
    let owner = outside.path().join("private");
    owner_pictures(&owner, 12);
    let before = snapshot(outside.path());
    let swapper = Swapper::start(root.join("alice"), owner.clone(), ms(1), ms(1));
    for round in 0..30 {
        // A fresh gallery every round: every thumbnail is made again.
        let _ = std::fs::remove_dir_all(root.join("gallery"));
        build_under_attack(&s);
        assert_nothing_of_the_owners_shown(&root.join("gallery"), round);
    }
    let swaps = swapper.stop();
    assert!(swaps > 30, "the folder was swapped only {swaps} times");
    assert_eq!(snapshot(outside.path()), before);
    // Left alone, the member's pictures are all shown.
    let said = build_left_alone(&s);
    assert!(said.contains("12 image(s)"), "{said}");
}

// Finding 3: the gallery's own files were read whole before being compared with the new
// ones; a 2 GiB sparse gallery/index.html (any member can make one) made the build allocate
// 2 GiB, and a larger one killed it before its summary.
#[test]
fn huge_sparse_gallery_files_are_never_read_whole() {
    let s = Shared::new();
    let root = s.root();
    member_pictures(&root.join("alice"), 3);
    for rel in [
        "gallery/index.html",
        "gallery/folder-alice.html",
        "gallery/data.js",
        "gallery/errors.html",
        "gallery/assets/gallery.js",
        "gallery/thumbs/index.json",
    ] {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(path).unwrap();
        file.set_len(2 << 30).unwrap();
    }
    // At most 512 MiB of data, so that reading one of them whole cannot take 2 GiB here;
    // the build's peak memory (from wait4) tells whether it tried.
    let log = root.join(".build-output");
    let mut c = gallery(&s);
    c.stdout(std::fs::File::create(&log).unwrap());
    c.stderr(std::fs::File::options().append(true).open(&log).unwrap());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 512 << 20,
                rlim_max: 512 << 20,
            };
            match libc::setrlimit(libc::RLIMIT_DATA, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    #[allow(clippy::zombie_processes, reason = "reaped by wait4")]
    let pid = c.spawn().unwrap().id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 fills in a plain C struct; the child is ours, waited for nowhere else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let said = std::fs::read_to_string(&log).unwrap();
    let max_rss_mib = usage.ru_maxrss / 1024;
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the build did not finish (wait status {status}, {max_rss_mib} MiB):\n{said}"
    );
    assert!(said.contains("gallery: 3 image(s)"), "{said}");
    assert!(max_rss_mib < 128, "the build took {max_rss_mib} MiB");
    let index = std::fs::metadata(root.join("gallery/index.html")).unwrap();
    assert!(index.len() < 1 << 20, "index.html was not replaced");
    let data = std::fs::read_to_string(root.join("gallery/data.js")).unwrap();
    assert!(data.contains("alice/pic_3.png"), "{data}");
}

// The members' folders, the output folder and the gallery's own folders swapped for links
// to the owner's folders again and again while builds run: nothing outside the root is
// read into the gallery, written or removed.
#[test]
fn folders_swapped_for_links_during_builds_reach_nothing_outside_the_root() {
    let s = Shared::new();
    let root = s.root();
    member_pictures(&root.join("alice"), 6);
    member_pictures(&root.join("output"), 4);
    member_pictures(&root.join("bob/sub"), 4);
    std::fs::write(root.join("bob/task_x_ERROR.txt"), "bob's error\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let owner = outside.path();
    owner_pictures(&owner.join("pictures"), 6);
    owner_pictures(&owner.join("sub"), 4);
    let files = owner.join("files");
    std::fs::create_dir(&files).unwrap();
    for name in ["x.jpg", "index.html", "data.js", "index.json", "gallery.js"] {
        std::fs::write(files.join(name), format!("the owner's {name}")).unwrap();
    }
    let before = snapshot(owner);
    assert_eq!(before.len(), 2 * (6 + 4) + 2 + 5);
    let gallery_dir = root.join("gallery");

    // First the folders inside (the gallery's own subfolders among them), then the gallery
    // folder itself. The swapping stops after each build, so that what it left is checked
    // where it lies.
    let (mut swaps, mut built) = ([0; 2], [0; 2]);
    for (phase, (total, built)) in swaps.iter_mut().zip(&mut built).enumerate() {
        for round in 0..20 {
            let _ = std::fs::remove_file(gallery_dir.join("thumbs/index.json"));
            forget_thumbnails(&root);
            let swappers = if phase == 0 {
                vec![
                    Swapper::start(root.join("alice"), owner.join("pictures"), ms(1), ms(1)),
                    Swapper::start(root.join("output"), owner.join("pictures"), ms(2), ms(1)),
                    Swapper::start(root.join("bob/sub"), owner.join("sub"), ms(1), ms(2)),
                    Swapper::start(gallery_dir.join("thumbs"), files.clone(), ms(1), ms(2)),
                    Swapper::start(gallery_dir.join("assets"), files.clone(), ms(1), ms(2)),
                ]
            } else {
                vec![
                    Swapper::start(gallery_dir.clone(), files.clone(), ms(1), ms(2)),
                    Swapper::start(root.join("alice"), owner.join("pictures"), ms(1), ms(1)),
                ]
            };
            let out = build_under_attack(&s);
            *total += swappers.into_iter().map(Swapper::stop).sum::<u64>();
            *built += usize::from(out.status.success());
            assert_eq!(
                snapshot(owner),
                before,
                "phase {phase} round {round}: written or removed outside the root:\n{}",
                text(&out)
            );
            assert_nothing_of_the_owners_shown(&gallery_dir, round);
        }
    }
    let enough = swaps.iter().zip(built).all(|(&n, b)| n > 30 && b > 0);
    assert!(enough, "swaps {swaps:?}, builds done {built:?}");
    let said = build_left_alone(&s);
    let expected = "14 image(s) in 3 folder(s), 1 error file(s)";
    assert!(said.contains(expected), "{said}");
    assert_nothing_of_the_owners_shown(&gallery_dir, 99);
    assert_eq!(snapshot(owner), before);
}

// The reproduce command a card shows is run by whoever copies it, from wherever they are: it
// names the root and the sidecar by absolute path, and the new image goes where the member
// puts `-o`, in a folder of theirs, not beside the original in someone else's folder.
#[test]
fn the_reproduce_command_shown_works_from_any_folder_into_the_members_own() {
    let s = Shared::new();
    let root = s.root();
    s.write("runvqgan.toml", common::tiny_models_toml());
    s.write(
        "output/dog_1.txt",
        "python generate.py -p 'A dog' -i 2 -s 32 32 -sd 1 -o output/dog_1.png\n",
    );
    image::RgbImage::from_pixel(32, 32, image::Rgb(MEMBER))
        .save(root.join("output/dog_1.png"))
        .unwrap();
    s.mkdir("bob");
    build_left_alone(&s);
    let page = std::fs::read_to_string(root.join("gallery/index.html")).unwrap();
    assert!(page.contains("in place of <code>YOUR-FOLDER&#x2f;NAME_1.png</code>"));
    let js = std::fs::read_to_string(root.join("gallery/data.js")).unwrap();
    let shown = js.split(r#""reproduce":""#).nth(1).unwrap();
    let shown = shown[..shown.find('"').unwrap()].to_string();
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |command: &str| {
        let words = shlex::split(command).unwrap();
        assert_eq!(words[0], "runvqgan");
        runvqgan(elsewhere.path(), &words[1..]).output().unwrap()
    };
    // As shown, it writes nothing: the placeholder names no folder.
    let out = run(&shown);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(!root.join("YOUR-FOLDER").exists());
    // With the member's folder and name in place of the placeholder, it makes the image there.
    let out = run(&shown.replace("YOUR-FOLDER/NAME_1.png", "bob/copy_1.png"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(root.join("bob/copy_1.png").is_file() && root.join("bob/copy_1.txt").is_file());
    assert!(!root.join("output/dog_2.png").exists());
}
