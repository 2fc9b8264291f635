//! What the workstation owner relies on when the night runs unattended: the cron line works
//! from a bare environment, and a second run on a GPU already in use leaves at once.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{Shared, task, tiny_models_toml};
use runvqgan::shared_folder::locks::device::DeviceLock;

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
        // As on a machine with a GPU (the CUDA preflight would stop the run first here).
        .env("RUNVQGAN_TEST_GPU", "1")
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
        .env("RUNVQGAN_TEST_GPU", "1")
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
            0o3775,
            "{folder:?}: group-writable with setgid, and sticky"
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

/// The last line of the run log, checked to start with a local time and its offset
/// (`2026-11-29T23:00:01+01:00 `); what follows it.
fn last_log_line(root: &Path) -> String {
    let log = log_text(root);
    // The last entry: its other lines (an error's, a traceback's) follow it indented, and
    // belong to it.
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| !l.starts_with("    | "))
        .unwrap_or_default();
    let last = lines.get(start).copied().unwrap_or_default().to_string();
    let more: Vec<&str> = lines[start + 1..]
        .iter()
        .map(|l| l.trim_start_matches("    | "))
        .collect();
    let (stamp, rest) = last.split_once(' ').unwrap_or_default();
    let b = stamp.as_bytes();
    assert!(
        stamp.len() == 25
            && b[10] == b'T'
            && (b[19] == b'+' || b[19] == b'-')
            && b[22] == b':'
            && stamp[..4].parse::<u32>().is_ok(),
        "not a local time with offset: {last}"
    );
    std::iter::once(rest)
        .chain(more)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The one run summary in `.runvqgan/runs/`.
fn only_summary(root: &Path) -> serde_json::Value {
    let files: Vec<_> = std::fs::read_dir(root.join(".runvqgan/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap()
}

#[test]
fn a_failure_before_the_first_image_exits_2_and_ends_the_log_with_run_failed_naming_it() {
    let models = common::tiny_models();
    let run = |shared: &Shared| {
        shared
            .cmd()
            .args(["run", "--root"])
            .arg(shared.root())
            .timeout(Duration::from_secs(600))
            .output()
            .unwrap()
    };
    let empty_env = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(empty_env.path().join("lib/python3.11/site-packages")).unwrap();
    let near = format!("did you mean {}?", models.join("vqgan.ckpt").display());
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "no runvqgan.toml: the default models are not there",
            String::new(),
            vec!["models.default.vqgan_config", "does not exist"],
        ),
        (
            "a misspelt key",
            format!("max_iteration = 10\n{}", tiny_models_toml()),
            vec![
                "unknown field `max_iteration`",
                "did you mean `max_iterations`?",
            ],
        ),
        (
            "a misspelt model file",
            tiny_models_toml().replace("vqgan.ckpt", "vqgan.ckp"),
            vec![
                "models.default.vqgan_checkpoint",
                "vqgan.ckp, which does not exist",
                &near,
            ],
        ),
        (
            "a Python environment that is not there",
            format!("python_env = \"/nonexistent/venv\"\n{}", tiny_models_toml()),
            vec!["the Python environment /nonexistent/venv", "does not exist"],
        ),
        (
            "a Python environment without the engine's packages (found once Python runs)",
            format!(
                "python_env = \"{}\"\n{}",
                empty_env.path().display(),
                tiny_models_toml()
            ),
            vec!["the engine cannot start"],
        ),
    ];
    for (case, config, needles) in cases {
        let shared = Shared::new();
        if !config.is_empty() {
            shared.write("runvqgan.toml", &config);
        }
        shared.write("tasks/dog.txt", task("dog"));
        let out = run(&shared);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{case}:\n{stderr}");
        let last = last_log_line(&shared.root());
        assert!(last.starts_with("run failed: "), "{case}: {last}");
        for needle in needles {
            assert!(last.contains(needle), "{case}: `{needle}` not in: {last}");
        }
        // Nothing was done to the task.
        assert!(shared.exists("tasks/dog.txt"), "{case}");
        assert!(!shared.exists("tasks/dog_ERROR.txt"), "{case}");
        assert!(!shared.exists("output/dog_1.png"), "{case}");
        let summary = only_summary(&shared.root());
        assert_eq!(summary["outcome"], "failed", "{case}");
        assert_eq!(summary["exit_code"], 2, "{case}");
    }
}

#[test]
fn status_json_after_a_real_run_reports_it_field_by_field_and_so_do_the_summary_outputs() {
    let shared = Shared::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let got = elsewhere.path().join("summary from on_finish.json");
    let metrics = elsewhere.path().join("runvqgan.prom");
    shared.write(
        "runvqgan.toml",
        format!(
            "device = \"cpu\"\ngallery = false\nmetrics_file = \"{}\"\non_finish = [\"/bin/cp\", \"/dev/stdin\", \"{}\"]\n{}",
            metrics.display(),
            got.display(),
            tiny_models_toml()
        ),
    );
    shared.write(
        "tasks/dog.txt",
        r#"{"text": "A dog", "each": 2, "iterations": 2, "out_file": "dog", "resolution": [50, 40], "raw": "-cuts 4"}"#,
    );
    shared.write("anna/task_typo.txt", r#"{"text": "x", "out_fil": "x"}"#);
    let out = shared
        .cmd()
        .args(["run", "--root"])
        .arg(shared.root())
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(last_log_line(&shared.root()).starts_with("run finished: 1 task(s) done"));
    // A task queued for tonight.
    shared.write(
        "anna/task_cat.txt",
        r#"{"text": "A cat", "iterations": 4, "out_file": "cat", "resolution": [50, 40], "raw": "-cuts 4"}"#,
    );

    let status = shared
        .cmd()
        .args(["status", "--json", "--root"])
        .arg(shared.root())
        .output()
        .unwrap();
    assert!(status.status.success());
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let last = &status["last_run"];
    let events: Vec<serde_json::Value> = runvqgan::records::events::read_all(&shared.root())
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(last["run"], events[0]["run"]);
    assert_eq!(last["root"], shared.root().display().to_string());
    assert_eq!(last["outcome"], "finished");
    assert_eq!(last["exit_code"], 3);
    assert_eq!(last["error"], serde_json::Value::Null);
    assert_eq!(last["model_set"], "default");
    assert_eq!(last["device"], "cpu");
    assert_eq!(last["images"], 2);
    assert_eq!(
        last["tasks"],
        serde_json::json!({"done": 1, "failed": 0, "invalid": 1, "still_invalid": 0, "skipped": 0, "busy": 0, "changed": 0})
    );
    assert_eq!(last["done"], serde_json::json!(["tasks/dog.txt"]));
    assert_eq!(last["failed"], serde_json::json!([]));
    assert_eq!(last["invalid"][0]["task"], "anna/task_typo.txt");
    assert!(
        last["invalid"][0]["problems"][0]
            .as_str()
            .unwrap()
            .contains("did you mean `out_file`?")
    );
    assert_eq!(last["budget_reached"], serde_json::Value::Null);
    let (started, finished) = (
        last["started_unix"].as_u64().unwrap(),
        last["finished_unix"].as_u64().unwrap(),
    );
    assert_eq!(last["seconds"].as_u64().unwrap(), finished - started);
    assert_eq!(last["started"].as_str().unwrap().len(), 25, "{last}");

    assert_eq!(status["queue"]["tasks"], 1);
    assert_eq!(status["queue"]["images"], 1);
    let anna = &status["queue"]["members"][0];
    assert_eq!(status["queue"]["members"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&anna["member"], &anna["tasks"], &anna["images"]),
        (
            &serde_json::json!("anna"),
            &serde_json::json!(1),
            &serde_json::json!(1)
        )
    );
    assert!(
        anna["finish_seconds"].as_f64().unwrap() > 0.0,
        "measured speeds give the member's expected finish: {anna}"
    );
    assert_eq!(
        status["queue"]["invalid"],
        serde_json::json!(["anna/task_typo.txt"]),
        "the invalid task is checked again and still waits for a fix"
    );
    assert_eq!(status["queue"]["skipped"], 0);
    let estimate = &status["estimate"];
    assert_eq!(estimate["device"], "cpu");
    assert_eq!(estimate["model_set"], "default");
    assert_eq!(estimate["images_scaled"], 0, "48x32 was measured");
    assert!(estimate["seconds"].as_f64().unwrap() > 0.0);
    assert!(estimate["text"].as_str().unwrap().starts_with("about "));

    // plan says the same estimate, and the size the engine makes.
    let plan = shared
        .cmd()
        .args(["plan", "--root"])
        .arg(shared.root())
        .output()
        .unwrap();
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan.contains(&format!(
            "Estimate: {} on cpu (model set default)",
            estimate["text"].as_str().unwrap()
        )),
        "{plan}"
    );
    assert!(
        plan.contains("anna/cat_1.png  48x32 (asked 50x40)"),
        "{plan}"
    );

    // The summary file, the command's standard input and the metrics say the same.
    let summary = only_summary(&shared.root());
    assert_eq!(&summary, last);
    let fed: serde_json::Value = serde_json::from_slice(&std::fs::read(&got).unwrap()).unwrap();
    assert_eq!(fed, summary);
    let metrics = std::fs::read_to_string(&metrics).unwrap();
    let label = format!("{{root=\"{}\"}}", shared.root().display());
    assert!(
        metrics.contains(&format!("runvqgan_last_run_images_written{label} 2\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("runvqgan_last_run_exit_code{label} 3\n")),
        "{metrics}"
    );
}
