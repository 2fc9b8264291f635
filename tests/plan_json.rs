//! `runvqgan plan --json`: the shape other tools read, and that plan writes nothing.

mod common;
use common::{Shared, task};
use serde_json::Value;

#[test]
fn plan_json_has_the_documented_shape() {
    let s = Shared::new();
    s.write(
        "tasks/ok.txt",
        r#"{"text": "dog", "out_file": "dog", "seed": 5, "iterations": 9999}"#,
    );
    s.write("tasks/bad.txt", r#"{"text": "dog"}"#);
    s.write("tasks/old.txt", r#"{"text": "dog"}"#);
    s.write("tasks/old_ERROR.txt", "error");
    s.set_mtime("tasks/old.txt", 1);
    s.write("tasks/sample.txt", task("sample"));
    let plan = s.plan_json();
    let tasks = plan.as_array().expect("one JSON array");
    assert_eq!(tasks.len(), 4);
    for t in tasks {
        let keys: Vec<&String> = t.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["error", "history", "images", "status", "task", "warnings"],
            "{t}"
        );
        assert!(t["task"].is_string());
        assert!(t["warnings"].is_array());
        assert!(t["images"].is_array());
    }
    let by = |name: &str| tasks.iter().find(|t| t["task"] == name).unwrap().clone();
    let ok = by("tasks/ok.txt");
    assert_eq!(ok["status"], "ok");
    assert_eq!(ok["error"], Value::Null);
    assert_eq!(ok["history"], Value::Null, "a new task");
    assert_eq!(
        ok["images"],
        serde_json::json!([{"output": "output/dog_1.png", "prompt": "dog", "size": [450, 300], "iterations": 6000, "seed": 5, "turn": 1, "start_seconds": null}])
    );
    let bad = by("tasks/bad.txt");
    assert_eq!(bad["status"], "invalid");
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("tasks/bad.txt: the required field `out_file` is missing")
    );
    assert_eq!(bad["images"], serde_json::json!([]));
    // An invalid task is checked again whatever its error file's age.
    let old = by("tasks/old.txt");
    assert_eq!(old["status"], "invalid");
    // A file that is not run is listed, last, with the reason.
    assert_eq!(tasks[3]["task"], "tasks/sample.txt");
    let sample = by("tasks/sample.txt");
    assert_eq!(sample["status"], "skipped");
    assert!(
        sample["error"]
            .as_str()
            .unwrap()
            .starts_with("tasks/sample.txt: not run: sample files")
    );
}

#[test]
fn plan_writes_nothing() {
    let s = Shared::new();
    s.write("tasks/ok.txt", task("dog"));
    s.write("tasks/bad.txt", "{");
    let before = listing(&s);
    s.cmd().args(["plan", "--root", "."]).assert().success();
    s.plan_json();
    assert_eq!(listing(&s), before);
}

#[test]
fn plan_takes_the_root_from_the_environment() {
    let s = Shared::new();
    s.write("tasks/ok.txt", task("dog"));
    let tmp = tempfile::tempdir().unwrap();
    let out = s
        .cmd()
        .current_dir(tmp.path())
        .env("RUNVQGAN_ROOT", s.root())
        .args(["plan", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["task"], "tasks/ok.txt");
}

#[test]
fn plan_human_output_names_each_task_and_image() {
    let s = Shared::new();
    s.write(
        "tasks/ok.txt",
        r#"{"text": "dog", "out_file": "dog", "style": ["", "Monet"]}"#,
    );
    s.cmd()
        .args(["plan", "--root", "."])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "1 task(s) (1 ok, 0 invalid, 0 skipped), 2 image(s) to make",
        ))
        .stdout(predicates::str::contains(
            "output/dog_2.png  448x288 (asked 450x300), 200 iterations, random seed, image 2 of 2",
        ))
        .stdout(predicates::str::contains(
            "prompt: \"dog in the style of Monet\"",
        ));
}

fn listing(s: &Shared) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(s.root())
        .into_iter()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    v.sort();
    v
}
