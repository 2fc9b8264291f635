//! Issue 23, round 3: what runvqgan reads back from its state folder (`.runvqgan/`) and the
//! names members choose, written as the attacks. Every member can write the shared folder,
//! so a forged speed must not stop the night, a forged run summary must not reach the
//! owner's terminal raw, a name with a tab or an escape must not breed error files or
//! escape sequences, and a prompt must not break the image's XMP packet.

mod common;

use std::time::{Duration, SystemTime};

use common::{Shared, task, tiny_models_toml};

/// Panics when `text` holds a control character other than a line feed (C0, DEL or C1: an
/// escape sequence, a bell, a carriage return that overwrites a line).
fn assert_no_raw_controls(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\n') {
        panic!(
            "{what} holds the raw control character U+{:04X}:\n{}",
            u32::from(c),
            text.escape_debug()
        );
    }
}

/// `text` as runvqgan shows a name: control characters as Rust escapes (`\t`, `\u{1b}`).
fn escaped(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("output is UTF-8")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `runvqgan <command> --root <root> [args]`.
fn cmd(s: &Shared, command: &str, args: &[&str]) -> std::process::Output {
    s.cmd()
        .arg(command)
        .arg("--root")
        .arg(s.root())
        .args(args)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap()
}

/// Every file under the root whose name ends in `_ERROR.txt`, relative.
fn error_files(s: &Shared) -> Vec<String> {
    let root = s.root();
    let mut out: Vec<String> = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with("_ERROR.txt"))
        .map(|e| e.path().strip_prefix(&root).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

// Finding 4 ---------------------------------------------------------------------------------

#[test]
fn a_forged_speed_does_not_stop_a_night_with_a_time_budget() {
    let s = Shared::new();
    s.write(
        "runvqgan.toml",
        format!(
            "device = \"cpu\"\ngallery = false\nmax_batch = 1\n{}",
            tiny_models_toml()
        ),
    );
    s.write(
        "tasks/dog.txt",
        r#"{"text": "A dog", "iterations": 3, "resolution": [32, 32], "raw": "-cuts 4", "out_file": "dog"}"#,
    );
    // A member writes "a billion seconds per iteration" for the size the task makes (32x32
    // at every factor up to 32), and nonsense for the rest.
    s.write(
        ".runvqgan/speeds.json",
        r#"{"per_iteration": {"default@cpu@32x32": 1e9, "default@cpu@16x16": -1,
            "default@cpu@48x48": 0},
            "startup": {"default@cpu": 1e12}, "factor": {"default": 100000},
            "last_device": {"default": "cpu\u001b[31m"}}"#,
    );
    // --until three hours from now (the child's clock is UTC).
    let minutes = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60
        + 180;
    let until = format!("{:02}:{:02}", minutes / 60 % 24, minutes % 60);
    let out = s
        .cmd()
        .args(["run", "--root"])
        .arg(s.root())
        .args(["--until", &until])
        .env("TZ", "UTC")
        .env_remove("RUNVQGAN_TEST_ABORT_AT")
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(s.exists("output/dog_1.png"), "no image was made:\n{err}");
    assert!(s.exists("tasks/dog.txt.done"), "{err}");
    assert!(
        !err.contains("time budget"),
        "stopped for the budget:\n{err}"
    );
    // The owner reads which file and value were ignored, escaped.
    assert!(
        err.contains(".runvqgan/speeds.json") && err.contains("1000000000"),
        "{err}"
    );
    assert!(err.contains("cpu\\u{1b}[31m"), "{err}");
    assert_no_raw_controls("run's output", &err);
    // The run measured the size itself: the forged values are gone from the file.
    let speeds: serde_json::Value = serde_json::from_str(&s.read(".runvqgan/speeds.json")).unwrap();
    let rate = speeds["per_iteration"]["default@cpu@32x32"]
        .as_f64()
        .unwrap();
    assert!(rate > 0.0 && rate < 60.0, "{speeds}");
    assert!(speeds["per_iteration"].get("default@cpu@16x16").is_none());
    assert!(speeds["startup"]["default@cpu"].as_f64().unwrap() < 3600.0);
}

// Finding 7 ---------------------------------------------------------------------------------

/// A run summary as runvqgan writes it, with `fields` replaced.
fn summary(run: &str, fields: serde_json::Value) -> String {
    let mut s = serde_json::json!({
        "run": run, "root": "/srv/vqgan",
        "started": "2099-12-31T23:00:00+01:00", "finished": "2099-12-31T23:10:00+01:00",
        "started_unix": 4_102_441_200u64, "finished_unix": 4_102_441_800u64, "seconds": 600,
        "outcome": "finished", "exit_code": 3, "error": null, "model_set": "default",
        "device": "cuda:0", "host": "gpu1", "images": 1,
        "tasks": {"done": 1, "failed": 1, "invalid": 0, "still_invalid": 0, "skipped": 0,
                  "busy": 0, "changed": 0},
        "done": ["tasks/a.txt"],
        "failed": [{"task": "tasks/b.txt", "kind": "engine", "message": "boom"}],
        "invalid": [], "budget_reached": null, "left": []
    });
    for (k, v) in fields.as_object().unwrap() {
        s[k] = v.clone();
    }
    s.to_string()
}

#[test]
fn a_forged_run_summary_reaches_the_terminal_escaped_or_not_at_all() {
    let s = Shared::new();
    // A genuine-looking earlier run.
    let real = "20991231T220000Z-gpu1-17";
    s.write(
        &format!(".runvqgan/runs/{real}.json"),
        summary(real, serde_json::json!({})),
    );
    // The newest by name, its start time and failure kind holding escape sequences and
    // line breaks that would forge status lines.
    let forged = "20991231T235959Z-gpu1-4711";
    s.write(
        &format!(".runvqgan/runs/{forged}.json"),
        summary(
            forged,
            serde_json::json!({
                "started": "\u{1b}]0;owned\u{7}\u{1b}[2J\nLast run: started yesterday, finished",
                "failed": [{"task": "tasks/b.txt", "kind": "engine\u{1b}[31m\n  failed: all",
                            "message": "boom"}],
            }),
        ),
    );
    // Plausible in every number, with escapes in its free texts: shown, escaped.
    let texts = "20991231T230000Z-gpu2-5";
    s.write(
        &format!(".runvqgan/runs/{texts}.json"),
        summary(
            texts,
            serde_json::json!({
                "host": "gpu\u{1b}[5m", "error": "x\u{9b}2J", "outcome": "failed",
                "exit_code": 1, "budget_reached": "late\r\n  failed: all",
                "failed": [{"task": "tasks/\u{1b}[1mb.txt", "kind": "engine",
                            "message": "bo\u{7}om\nstopped: forged"}],
            }),
        ),
    );
    let out = cmd(&s, "status", &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_no_raw_controls("status", &text);
    assert_no_raw_controls("status's log lines", &stderr(&out));
    assert_eq!(
        text.lines().filter(|l| l.starts_with("Last run:")).count(),
        1,
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("failed: all")
                || l.trim_start().starts_with("stopped: forged")),
        "{text}"
    );
    // The forged start time is not a time: that summary is ignored, with a log line that
    // names it, and the newest believable one is shown, its texts escaped.
    assert!(
        stderr(&out).contains(&format!("{forged}.json")),
        "{}",
        stderr(&out)
    );
    assert!(text.contains("FAILED"), "{text}");
    assert!(text.contains("tasks/\\u{1b}[1mb.txt"), "{text}");
    let json = cmd(&s, "status", &["--json"]);
    let json_text = stdout(&json);
    assert_no_raw_controls("status --json", &json_text);
    let v: serde_json::Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(v["last_run"]["run"], texts);
    assert_eq!(v["last_run"]["error"], "x\u{9b}2J");
}

// Finding 13 --------------------------------------------------------------------------------

#[test]
fn a_task_name_with_a_tab_or_escape_breeds_no_error_files_and_is_named_instead() {
    let s = Shared::new();
    s.write("tasks/a\tb.txt", task("ab"));
    s.write("tasks/c\u{1b}[31md.txt", "{not json");
    s.write("anna/task_e\u{1b}f.txt", task("ef"));
    // An error file an earlier version wrote for such a name: runvqgan's own, whatever its
    // stem, so neither a task nor reported.
    s.write(
        "tasks/g\th_ERROR.txt",
        "runvqgan could not run the task file tasks/g\th.txt.\n\nrename it\n",
    );
    for _ in 0..2 {
        let (code, text) = s.check();
        assert_eq!(code, 0, "{text}");
        assert_no_raw_controls("check", &text);
        assert!(text.contains("tasks/a\\tb.txt: not run:"), "{text}");
        assert!(text.contains("anna/task_e\\u{1b}f.txt: not run:"), "{text}");
        assert!(
            text.contains("rename it to plain letters, digits, - and _"),
            "{text}"
        );
        assert!(!text.contains("g\\th_ERROR"), "{text}");
    }
    assert_eq!(error_files(&s), ["tasks/g\th_ERROR.txt"]);

    let plan = stdout(&cmd(&s, "plan", &[]));
    assert_no_raw_controls("plan", &plan);
    assert!(plan.contains("tasks/c\\u{1b}[31md.txt  not run"), "{plan}");
    assert!(!plan.contains("INVALID"), "{plan}");
    let not_run = s.not_run_paths();
    assert_eq!(
        not_run,
        [
            "anna/task_e\u{1b}f.txt",
            "tasks/a\tb.txt",
            "tasks/c\u{1b}[31md.txt"
        ]
    );

    let status = stdout(&cmd(&s, "status", &[]));
    assert_no_raw_controls("status", &status);
    assert!(status.contains("tasks/a\\tb.txt"), "{status}");
    assert!(
        status.contains("plain letters, digits, - and _"),
        "{status}"
    );

    // The night's log names them too, and writes nothing beside them.
    let out = cmd(&s, "run", &[]);
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert_no_raw_controls("run's log", &log);
    assert!(log.contains("tasks/a\\tb.txt"), "{log}");
    assert!(log.contains("plain letters, digits, - and _"), "{log}");
    assert_eq!(error_files(&s), ["tasks/g\th_ERROR.txt"]);
}

// Finding 14 --------------------------------------------------------------------------------

#[test]
fn plan_check_and_validate_print_member_chosen_names_escaped() {
    let s = Shared::new();
    // A folder name, a member folder, a field name and a value holding escape sequences
    // (C0 ESC, bell, and the one-character C1 CSI U+009B).
    s.write("tasks/\u{1b}]0;owned\u{7}/dog.txt", task("dog"));
    s.write("anna\u{9b}2J/task_cat.txt", task("cat"));
    s.write(
        "tasks/bad.txt",
        r#"{"text": "x", "out_file": "x", "\u001b[2Jcolour": 1, "style": ["a\u009b1m"]}"#,
    );
    s.write("tasks/pic\u{9b}.txt", "my notes");
    s.write("tasks/pic\u{9b}.png", "not really a picture");
    // A line break would forge a line of its own: escaped by each command, not only
    // kept from the terminal.
    s.write(
        "tasks/line\n  2. tasks/forged.txt  ok/dog.txt",
        task("line"),
    );

    let plan = stdout(&cmd(&s, "plan", &[]));
    assert_no_raw_controls("plan", &plan);
    assert!(
        plan.contains("tasks/\\u{1b}]0;owned\\u{7}/dog.txt  ok"),
        "{plan}"
    );
    assert!(plan.contains("\\u{1b}[2Jcolour"), "{plan}");
    assert!(
        plan.contains("tasks/line\\n  2. tasks/forged.txt  ok/dog.txt  ok"),
        "{plan}"
    );
    assert!(
        !plan.lines().any(|l| l.starts_with("  2. tasks/forged")),
        "{plan}"
    );

    let json = stdout(&cmd(&s, "plan", &["--json"]));
    assert_no_raw_controls("plan --json", &json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let tasks: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"].as_str().unwrap())
        .collect();
    assert!(tasks.contains(&"anna\u{9b}2J/task_cat.txt"), "{tasks:?}");

    let (_, check) = s.check();
    assert_no_raw_controls("check", &check);
    assert!(
        check.contains("tasks/bad.txt: wrote tasks/bad_ERROR.txt"),
        "{check}"
    );
    assert!(
        !check.lines().any(|l| l.starts_with("  2. tasks/forged")),
        "{check}"
    );

    for rel in [
        "tasks/bad.txt",
        "tasks/\u{1b}]0;owned\u{7}/dog.txt",
        "anna\u{9b}2J/task_cat.txt",
        "tasks/line\n  2. tasks/forged.txt  ok/dog.txt",
    ] {
        let (_, text) = s.validate(rel);
        assert_no_raw_controls("validate", &text);
        assert_eq!(text.lines().count(), text.matches("\n").count());
        assert!(text.lines().all(|l| l.starts_with(&escaped(rel))), "{text}");
    }

    let status = stdout(&cmd(&s, "status", &[]));
    assert_no_raw_controls("status", &status);
    assert!(status.contains("anna\\u{9b}2J"), "{status}");
}

// Finding 15 --------------------------------------------------------------------------------

#[test]
fn a_prompt_with_a_character_xml_cannot_hold_is_refused_with_its_position() {
    let s = Shared::new();
    s.write(
        "tasks/dog.txt",
        "{\"text\": \"A dog\u{fffe} in the rain\", \"out_file\": \"dog\"}",
    );
    s.write(
        "tasks/cat.txt",
        r#"{"text": "A cat", "style": ["Monet\uffff"], "out_file": "cat"}"#,
    );
    let (code, text) = s.validate("tasks/dog.txt");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("remove the invisible character U+FFFE at position 6"),
        "{text}"
    );
    let (code, text) = s.validate("tasks/cat.txt");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("U+FFFF"), "{text}");
    assert_no_raw_controls("validate", &text);
    // The member reads it in the error file too.
    s.check();
    assert!(
        s.read("tasks/dog_ERROR.txt")
            .contains("U+FFFE at position 6")
    );
}
