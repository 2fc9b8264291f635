//! What the workstation owner relies on when the night runs unattended: the cron line works
//! from a bare environment, and a second run on a GPU already in use leaves at once.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{Shared, task, tiny_models_toml};
use runvqgan::device_lock::DeviceLock;

/// Every file under `root` with its contents, except the log and runvqgan's own records.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy();
            (rel.into_owned(), std::fs::read(e.path()).unwrap())
        })
        .filter(|(rel, _)| rel != "runvqgan.log" && !rel.starts_with(".runvqgan/"))
        .collect()
}

fn log_text(root: &Path) -> String {
    std::fs::read_to_string(root.join("runvqgan.log")).unwrap_or_default()
}

/// A Python installation that is not the one runvqgan was built against: a `python3` that
/// only fails, beside a standard library whose `os` module cannot be imported. An embedded
/// interpreter that looked for its home through `PATH` would find this one first.
fn foreign_python(dir: &Path) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(dir.join("lib/python3.11/lib-dynload")).unwrap();
    std::fs::write(
        dir.join("lib/python3.11/os.py"),
        "raise ImportError('the standard library of a foreign python3 was used')\n",
    )
    .unwrap();
    let python = bin.join("python3");
    std::fs::write(
        &python,
        "#!/bin/sh\necho 'a foreign python3 was run' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn the_cron_line_makes_images_from_a_bare_environment_with_a_foreign_python3_first_on_path() {
    let shared = Shared::new();
    shared.write("runvqgan.toml", tiny_models_toml());
    shared.write(
        "tasks/dog.txt",
        r#"{"text": "A dog", "iterations": 2, "out_file": "dog", "resolution": [32, 32], "raw": "-cuts 4"}"#,
    );
    let home = tempfile::tempdir().unwrap();
    let foreign = foreign_python(&home.path().join("foreign"));
    // What cron gives a job: no variables but these (no VIRTUAL_ENV, no PYTHONHOME), and
    // cron's PATH with another python3 in front of it.
    let out = shared
        .cmd()
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", foreign.display()))
        .env("HOME", home.path())
        .args(["run", "--root"])
        .arg(shared.root())
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(shared.exists("output/dog_1.png"), "stderr:\n{stderr}");
    assert!(shared.exists("output/dog_1.txt"));
    assert!(shared.exists("tasks/dog.txt.done"));
    assert!(!stderr.contains("foreign"), "{stderr}");
}

#[test]
fn a_second_run_on_a_busy_gpu_exits_at_once_and_touches_no_task() {
    let shared = Shared::new();
    shared.write("runvqgan.toml", tiny_models_toml());
    shared.write("tasks/dog.txt", task("dog"));
    shared.write("anna/task_typo.txt", r#"{"text": "x", "out_fil": "x"}"#);
    // The first run of the night holds cuda:0.
    let first = DeviceLock::acquire(&shared.root(), Some("cuda:0")).unwrap();
    assert!(matches!(first, DeviceLock::Held(_)), "{first:?}");
    let before = snapshot(&shared.root());

    let out = shared
        .cmd()
        .args(["run", "--device", "cuda:0", "--root"])
        .arg(shared.root())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert_eq!(
        snapshot(&shared.root()),
        before,
        "the second run wrote files"
    );
    let log = log_text(&shared.root());
    let expected = format!(
        "run not started: device cuda:0 is in use by another runvqgan run (process {} since ",
        std::process::id()
    );
    assert!(log.contains(&expected), "{log}");
    assert!(!log.contains("run started"), "{log}");
    assert!(
        stderr.contains("is in use by another runvqgan run"),
        "{stderr}"
    );

    // A run on another GPU shares the root as before: it reaches the tasks (the invalid one
    // gets its error file; the valid one waits for an engine, which this test does not start).
    shared.write("tasks/dog.txt.done", task("dog"));
    std::fs::remove_file(shared.root().join("tasks/dog.txt")).unwrap();
    let other = shared
        .cmd()
        .args(["run", "--device", "cuda:1", "--root"])
        .arg(shared.root())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(
        other.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    assert!(shared.exists("anna/task_typo_ERROR.txt"));
    drop(first);
}

#[test]
fn init_makes_a_shared_folder_that_the_next_run_works_in_and_refuses_an_existing_one() {
    use std::os::unix::fs::MetadataExt;
    let parent = tempfile::tempdir().unwrap();
    let lab = parent.path().join("lab");
    let init = |dir: &Path| {
        assert_cmd::Command::cargo_bin("runvqgan")
            .unwrap()
            .env_remove("RUNVQGAN_ROOT")
            .arg("init")
            .arg(dir)
            .output()
            .unwrap()
    };
    let out = init(&lab);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |rel: &str| std::fs::metadata(lab.join(rel)).unwrap().mode() & 0o7777;
    for folder in ["", "tasks", "output"] {
        assert_eq!(
            mode(folder),
            0o2775,
            "{folder:?}: group-writable with setgid"
        );
    }
    for file in ["runvqgan.toml", "README.txt", "tasks/task_sample.txt"] {
        assert_eq!(mode(file), 0o644, "{file}");
    }
    let readme = std::fs::read_to_string(lab.join("README.txt")).unwrap();
    assert!(
        readme.contains("_ERROR.txt") && readme.contains(".done"),
        "{readme}"
    );

    // The sample is a valid task once copied to a name of one's own; it is never run itself.
    let sample = std::fs::read(lab.join("tasks/task_sample.txt")).unwrap();
    std::fs::write(lab.join("tasks/mine.txt"), &sample).unwrap();
    let validate = assert_cmd::Command::cargo_bin("runvqgan")
        .unwrap()
        .current_dir(&lab)
        .env_remove("RUNVQGAN_ROOT")
        .args(["validate", "tasks/mine.txt"])
        .output()
        .unwrap();
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&validate.stdout)
    );
    std::fs::remove_file(lab.join("tasks/mine.txt")).unwrap();

    // The owner adds the models and a member a task: the night runs in the new folder.
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(lab.join("runvqgan.toml"))
        .unwrap();
    std::io::Write::write_all(&mut config, tiny_models_toml().as_bytes()).unwrap();
    std::fs::write(
        lab.join("tasks/dog.txt"),
        r#"{"text": "A dog", "iterations": 2, "out_file": "dog", "resolution": [32, 32], "raw": "-cuts 4"}"#,
    )
    .unwrap();
    let run = assert_cmd::Command::cargo_bin("runvqgan")
        .unwrap()
        .env_remove("RUNVQGAN_ROOT")
        .args(["run", "--root"])
        .arg(&lab)
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(lab.join("output/dog_1.png").exists(), "{stderr}");
    assert!(lab.join("tasks/dog.txt.done").exists());
    assert!(
        lab.join("tasks/task_sample.txt").exists(),
        "the sample never runs"
    );

    // A folder that holds anything is refused, and left as it was.
    let before = snapshot(&lab);
    let again = init(&lab);
    assert_eq!(again.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("already exists and is not empty"),
        "{stderr}"
    );
    assert_eq!(snapshot(&lab), before);

    // An empty folder that exists is taken.
    let empty = parent.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(init(&empty).status.code(), Some(0));
    assert!(empty.join("tasks/task_sample.txt").exists());
}
