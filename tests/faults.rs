//! Unattended and safe: the real binary with the embedded engine and the tiny models, killed
//! (SIGKILL, through the test hook `RUNVQGAN_TEST_ABORT_AT`) at every point of its work, run
//! twice at once on one root, stopped by its time budget, and given a folder it cannot write.
//! Each engine start costs seconds of Python imports, so these tests start few processes.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::{Shared, tiny_models_toml};

/// A shared folder on the CPU with the tiny models. One image per batch unless `extra`
/// says otherwise, so that the kill points fall between single images. The gallery is off:
/// these tests compare exactly the files that the night's images and tasks leave.
fn shared_with_models(extra: &str) -> Shared {
    let shared = Shared::new();
    let batch = if extra.contains("max_batch") {
        ""
    } else {
        "max_batch = 1\n"
    };
    shared.write(
        "runvqgan.toml",
        format!(
            "device = \"cpu\"\ngallery = false\n{batch}{extra}{}",
            tiny_models_toml()
        ),
    );
    shared
}

/// A small, fast task: `each` images per style, 32x32, 3 iterations, 4 cutouts.
fn tiny_task(out_file: &str, styles: &[&str], each: u32) -> String {
    serde_json::json!({
        "text": "A painting of a lighthouse",
        "style": styles,
        "each": each,
        "out_file": out_file,
        "iterations": 3,
        "resolution": [32, 32],
        "raw": "-cuts 4",
    })
    .to_string()
}

/// `runvqgan run --root ROOT`, killed by the test hook at `abort_at` when given.
fn run(shared: &Shared, abort_at: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = shared.cmd();
    cmd.arg("run").arg("--root").arg(shared.root()).args(args);
    if let Some(point) = abort_at {
        cmd.env("RUNVQGAN_TEST_ABORT_AT", point);
    }
    cmd.timeout(Duration::from_secs(300));
    cmd.output().unwrap()
}

fn killed(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(9)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under the root, hidden ones included, relative to the root.
fn all_files(root: &Path) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// The files a member sees (no hidden ones, no log).
fn visible(root: &Path) -> Vec<String> {
    all_files(root)
        .into_iter()
        .filter(|f| !f.split('/').any(|c| c.starts_with('.')) && f != "runvqgan.log")
        .collect()
}

/// No temporary file visible anywhere.
fn assert_no_visible_temporaries(root: &Path) {
    for f in visible(root) {
        assert!(
            !f.ends_with(".tmp") && !f.contains(".part"),
            "temporary file visible: {f}"
        );
    }
}

/// The `# task:` and `# image: k of N` of every sidecar in `folder`, by number.
fn sidecars(folder: &Path, base: &str) -> BTreeMap<u32, (String, String)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some((b, n, false)) = runvqgan::outputs::naming::parse_output_name(&name) else {
            continue;
        };
        if b != base {
            continue;
        }
        let text = std::fs::read_to_string(folder.join(&name)).unwrap();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
                .unwrap_or_default()
                .to_string()
        };
        out.insert(n, (field("task"), field("image")));
    }
    out
}

#[test]
fn killed_at_every_point_the_next_runs_end_with_exactly_the_expected_files() {
    let s = shared_with_models("");
    // Someone else's image already holds number 1 of `light`.
    s.write("output/light_1.png", b"not ours");
    s.write(
        "output/light_1.txt",
        "python generate.py -p 'x' -o output/light_1.png\n",
    );
    s.write("tasks/light.txt", tiny_task("light", &["", "Turner"], 2));
    s.set_mtime("tasks/light.txt", 1);
    s.write("anna/task_sea.txt", tiny_task("sea", &[""], 2));
    s.set_mtime("anna/task_sea.txt", 2);
    let root = s.root();
    let before = visible(&root);

    // Killed before the first image: only hidden bookkeeping exists.
    let out = run(&s, Some("before-image:1"), &[]);
    assert!(killed(&out), "{}", stderr(&out));
    assert_eq!(visible(&root), before);
    assert!(
        s.exists("output/.light_2.runvqgan-pending"),
        "the first number is reserved"
    );

    // The night shares its time: light's and anna's images alternate (light, sea, light,
    // sea, light, light).
    // Killed in the middle of the second image (anna's first): the first one is complete.
    let out = run(&s, Some("mid-image:2"), &[]);
    assert!(killed(&out), "{}", stderr(&out));
    assert_no_visible_temporaries(&root);
    assert!(s.exists("output/light_2.png") && s.exists("output/light_2.txt"));
    assert!(!s.exists("anna/sea_1.png") && !s.exists("output/light_3.png"));

    // Killed between the PNG and its sidecar of the second image made by this run (anna's
    // first, after light's second).
    let out = run(&s, Some("after-png:2"), &[]);
    assert!(killed(&out), "{}", stderr(&out));
    assert_no_visible_temporaries(&root);
    assert!(s.exists("output/light_3.txt"));
    assert!(s.exists("anna/sea_1.png") && !s.exists("anna/sea_1.txt"));
    assert!(s.exists("tasks/light.txt"), "not renamed while incomplete");

    // Killed after every image of the first task exists, before its rename (light's third
    // and fourth, anna's first between them).
    let out = run(&s, Some("before-done:1"), &[]);
    assert!(killed(&out), "{}", stderr(&out));
    assert!(s.exists("tasks/light.txt"));
    assert!(
        s.exists("anna/sea_1.txt"),
        "the orphan PNG's number was reused"
    );
    assert!(s.exists("output/light_4.txt") && s.exists("output/light_5.txt"));
    assert!(!s.exists("output/light_6.png"), "no image made twice");
    assert!(!s.exists("anna/sea_2.png"));

    // A clean run finishes both tasks.
    let out = run(&s, None, &[]);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut expected: Vec<String> = vec![
        "anna/sea_1.png",
        "anna/sea_1.txt",
        "anna/sea_2.png",
        "anna/sea_2.txt",
        "anna/task_sea.txt.done",
        "output/light_1.png",
        "output/light_1.txt",
        "output/light_2.png",
        "output/light_2.txt",
        "output/light_3.png",
        "output/light_3.txt",
        "output/light_4.png",
        "output/light_4.txt",
        "output/light_5.png",
        "output/light_5.txt",
        "runvqgan.toml",
        "tasks/light.txt.done",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    expected.sort();
    let mut got = visible(&root);
    got.sort();
    assert_eq!(got, expected);
    // Only runvqgan's records (one file of events per run, speeds, one summary per run that
    // ended or was found killed) and the names
    // lock stay hidden, in the owner's state folder: no claims, markers or temporaries.
    let mut hidden: Vec<String> = all_files(&root)
        .into_iter()
        .filter(|f| f.split('/').any(|c| c.starts_with('.')))
        .filter(|f| {
            let summary = f.starts_with(".runvqgan/runs/")
                && f.ends_with(".json")
                && !f[15..].starts_with('.');
            let record = f.starts_with(".runvqgan/events/") && f.ends_with(".jsonl");
            !(summary || record)
        })
        .collect();
    hidden.sort();
    assert_eq!(hidden, [".runvqgan/names.lock", ".runvqgan/speeds.json"]);

    let light = sidecars(&root.join("output"), "light");
    let images: Vec<&str> = light.range(2..).map(|(_, (_, k))| k.as_str()).collect();
    assert_eq!(images, ["1 of 4", "2 of 4", "3 of 4", "4 of 4"]);
    assert!(light.range(2..).all(|(_, (t, _))| t == "tasks/light.txt"));
    let sea = sidecars(&root.join("anna"), "sea");
    let images: Vec<&str> = sea.values().map(|(_, k)| k.as_str()).collect();
    assert_eq!(images, ["1 of 2", "2 of 2"]);
}

#[test]
fn two_runs_on_one_root_make_every_image_exactly_once() {
    let s = shared_with_models("");
    // Two tasks share one out_file in one folder: their numbers must never collide.
    s.write("tasks/a.txt", tiny_task("same", &[""], 2));
    s.write("tasks/b.txt", tiny_task("same", &["", "Monet"], 1));
    s.write("anna/task_c.txt", tiny_task("c", &[""], 2));
    s.write("ben/task_d.txt", tiny_task("d", &[""], 2));
    let spawn = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_runvqgan"));
        cmd.arg("run")
            .arg("--root")
            .arg(s.root())
            .args(["--device", "cpu"])
            .env_remove("RUNVQGAN_TEST_ABORT_AT")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let first = spawn();
    let second = spawn();
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(second.status.success(), "{}", stderr(&second));

    let root = s.root();
    for t in [
        "tasks/a.txt",
        "tasks/b.txt",
        "anna/task_c.txt",
        "ben/task_d.txt",
    ] {
        assert!(s.exists(&format!("{t}.done")), "{t} not done");
    }
    let same = sidecars(&root.join("output"), "same");
    assert_eq!(same.keys().copied().collect::<Vec<_>>(), [1, 2, 3, 4]);
    let mut made: Vec<(String, String)> = same.into_values().collect();
    made.sort();
    assert_eq!(
        made,
        [
            ("tasks/a.txt".to_string(), "1 of 2".to_string()),
            ("tasks/a.txt".to_string(), "2 of 2".to_string()),
            ("tasks/b.txt".to_string(), "1 of 2".to_string()),
            ("tasks/b.txt".to_string(), "2 of 2".to_string()),
        ]
    );
    assert_eq!(sidecars(&root.join("anna"), "c").len(), 2);
    assert_eq!(sidecars(&root.join("ben"), "d").len(), 2);
    for n in 1..=4 {
        assert!(s.exists(&format!("output/same_{n}.png")));
    }
    assert!(!s.exists("output/same_5.png"));
    assert_no_visible_temporaries(&root);
}

#[test]
fn a_run_with_nothing_left_to_claim_exits_at_once_and_says_so() {
    let s = Shared::new();
    s.write("tasks/a.txt", tiny_task("a", &[""], 1));
    s.write("anna/task_b.txt", tiny_task("b", &[""], 1));
    // Another live process holds both claims (in the owner's state folder).
    let root = s.root().canonicalize().unwrap();
    let held: Vec<runvqgan::shared_folder::locks::claim::TaskClaim> =
        ["tasks/a.txt", "anna/task_b.txt"]
            .iter()
            .map(|rel| {
                runvqgan::shared_folder::locks::claim::TaskClaim::try_claim(&root, rel)
                    .unwrap()
                    .unwrap()
            })
            .collect();
    let started = Instant::now();
    let out = run(&s, None, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it started the engine"
    );
    assert!(
        stderr(&out).contains("nothing left to claim"),
        "{}",
        stderr(&out)
    );
    assert!(s.exists("tasks/a.txt") && s.exists("anna/task_b.txt"));
    drop(held);
}

#[test]
fn the_time_budget_stops_before_an_image_that_cannot_finish() {
    let s = shared_with_models("max_minutes = 3\n");
    s.write("tasks/quick.txt", tiny_task("quick", &[""], 2));
    s.set_mtime("tasks/quick.txt", 1);
    let mut long: serde_json::Value = serde_json::from_str(&tiny_task("long", &[""], 1)).unwrap();
    long["iterations"] = 6000.into();
    s.write("tasks/long.txt", long.to_string());
    s.set_mtime("tasks/long.txt", 2);
    let out = run(&s, None, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(s.exists("tasks/quick.txt.done"));
    assert!(s.exists("tasks/long.txt"), "left for the next night");
    assert!(!s.exists("output/long_1.png"));
    let log = std::fs::read_to_string(s.root().join("runvqgan.log")).unwrap();
    assert!(
        log.contains("stopped for the time budget") && log.contains("tasks/long.txt"),
        "{log}"
    );
    assert!(log.contains("max_minutes"), "{log}");
}

/// Makes a folder unwritable, also for root (through the immutable attribute); undone on drop.
struct ReadOnly(PathBuf, bool);

impl ReadOnly {
    fn new(dir: &Path) -> Option<ReadOnly> {
        use std::os::unix::fs::PermissionsExt;
        let chattr = std::process::Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        if !chattr {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
        let guard = ReadOnly(dir.to_path_buf(), chattr);
        // Root ignores permission bits: without chattr the folder may still be writable.
        File::create(dir.join("probe")).is_err().then_some(guard)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.1 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(&self.0)
                .status();
        }
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn a_read_only_output_folder_fails_the_task_with_an_error_that_says_so() {
    let s = Shared::new();
    s.write("output/old_1.png", b"an older image");
    s.write("tasks/a.txt", tiny_task("a", &[""], 1));
    let Some(_ro) = ReadOnly::new(&s.root().join("output")) else {
        eprintln!("skipped: cannot make a folder read-only here (root without chattr)");
        return;
    };
    let out = run(&s, None, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let error = std::fs::read_to_string(s.root().join("tasks/a_ERROR.txt")).unwrap();
    assert!(
        error.contains("output folder output cannot be written"),
        "{error}"
    );
    assert!(error.contains("permissions and free space"), "{error}");
    assert_eq!(
        std::fs::read(s.root().join("output/old_1.png")).unwrap(),
        b"an older image"
    );
    assert!(s.exists("tasks/a.txt"));
}

#[test]
fn a_task_changed_while_it_runs_is_not_marked_done_and_keeps_what_was_made() {
    let s = shared_with_models("");
    let mut grow: serde_json::Value = serde_json::from_str(&tiny_task("grow", &[""], 3)).unwrap();
    grow["iterations"] = 12.into();
    s.write("tasks/grow.txt", grow.to_string());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runvqgan"))
        .arg("run")
        .arg("--root")
        .arg(s.root())
        .env_remove("RUNVQGAN_TEST_ABORT_AT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = s.root().join("runvqgan.log");
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("image tasks/grow.txt ->") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "no image made:\n{text}"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The member edits the task while its images are being made.
    s.write("tasks/grow.txt", tiny_task("grow", &["Monet"], 1));
    let status = child.wait().unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("the task file was changed while it ran"),
        "{text}"
    );
    assert!(s.exists("tasks/grow.txt") && !s.exists("tasks/grow.txt.done"));
    let made = sidecars(&s.root().join("output"), "grow");
    assert!(
        !made.is_empty() && made.len() < 3,
        "stopped before its last image: {made:?}"
    );
    assert!(s.exists("output/grow_1.png"));
    assert_no_visible_temporaries(&s.root());
}

#[test]
fn killed_between_a_batchs_pngs_and_their_sidecars_the_next_run_completes_the_same_numbers() {
    let s = shared_with_models("max_batch = 2\n");
    s.write("tasks/pair.txt", tiny_task("pair", &[""], 2));
    let root = s.root();

    // Both images are optimised in one batch; the engine writes both PNGs, then the run
    // dies before the first sidecar.
    let out = run(&s, Some("after-png:1"), &[]);
    assert!(killed(&out), "{}", stderr(&out));
    assert_no_visible_temporaries(&root);
    assert!(s.exists("output/pair_1.png") && !s.exists("output/pair_1.txt"));
    assert!(s.exists("output/pair_2.png") && !s.exists("output/pair_2.txt"));

    let out = run(&s, None, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut got = visible(&root);
    got.sort();
    assert_eq!(
        got,
        [
            "output/pair_1.png",
            "output/pair_1.txt",
            "output/pair_2.png",
            "output/pair_2.txt",
            "runvqgan.toml",
            "tasks/pair.txt.done",
        ]
    );
    let made = sidecars(&root.join("output"), "pair");
    assert_eq!(made[&1].1, "1 of 2");
    assert_eq!(made[&2].1, "2 of 2");
    assert_eq!(
        all_files(&root)
            .iter()
            .filter(|f| f.contains("runvqgan-pending") || f.ends_with(".claim"))
            .count(),
        0,
        "the bookkeeping is cleaned up when the task is done"
    );
}
