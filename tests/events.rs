//! The night's record `<root>/.runvqgan/events/<run>.jsonl` (docs/events.md), written by the real
//! binary, and the log lines a member's file name cannot forge.

mod common;

use common::{Shared, tiny_models_toml};
use serde_json::Value;

/// Every line of the record, parsed; panics on a line that is not one JSON object.
fn record(shared: &Shared) -> Vec<Value> {
    let lines = runvqgan::records::events::read_all(&shared.root());
    assert!(!lines.is_empty(), "the record of events exists");
    lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert!(v.is_object(), "{l}");
            v
        })
        .collect()
}

fn run(shared: &Shared) -> std::process::Output {
    shared
        .cmd()
        .args(["run", "--root"])
        .arg(shared.root())
        .output()
        .unwrap()
}

#[test]
fn a_real_run_records_its_events_with_time_run_and_fields() {
    let s = Shared::new();
    s.write(
        "runvqgan.toml",
        format!("device = \"cpu\"\nmax_batch = 2\n{}", tiny_models_toml()),
    );
    s.write(
        "tasks/pair.txt",
        r#"{"text": "A pair", "each": 2, "iterations": 3, "resolution": [32, 32], "seed": 5, "out_file": "pair", "raw": "-cuts 4"}"#,
    );
    s.write(
        "tasks/bad.txt",
        r#"{"text": "x", "iteration": 3, "out_file": "x"}"#,
    );
    let out = run(&s);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let events = record(&s);
    let run_id = events[0]["run"].as_str().unwrap().to_string();
    for e in &events {
        assert_eq!(e["run"], run_id.as_str(), "one run id: {e}");
        let time = e["time"].as_str().unwrap();
        assert!(humantime::parse_rfc3339(time).is_ok(), "{time}");
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "task_invalid",
            "run_started",
            "claims_chosen",
            "model_set_loaded",
            "image_written",
            "image_written",
            "task_done",
            "gallery_built",
            "run_finished"
        ]
    );
    let gallery = &events[7];
    assert_eq!(gallery["dir"], "gallery");
    assert_eq!(
        (
            gallery["images"].as_u64(),
            gallery["thumbnails_made"].as_u64()
        ),
        (Some(2), Some(2))
    );
    let invalid = &events[0];
    assert_eq!(invalid["task"], "tasks/bad.txt");
    assert_eq!(invalid["error_file"], "tasks/bad_ERROR.txt");
    assert_eq!(invalid["error_file_state"], "written");
    assert!(
        invalid["problems"][0]
            .as_str()
            .unwrap()
            .contains("did you mean `iterations`?"),
        "{invalid}"
    );
    let started = &events[1];
    assert_eq!(started["tasks"], 1);
    assert_eq!(started["images"], 2);
    assert_eq!(started["invalid"], 1);
    assert_eq!(started["device"], "cpu");
    assert_eq!(started["pid"], events[1]["pid"]);
    assert!(!started["host"].as_str().unwrap().is_empty(), "{started}");
    assert!(started.get("slurm_array_task_id").is_some(), "{started}");
    let claims = &events[2];
    assert!(
        ["flock", "flock+lease"].contains(&claims["kind"].as_str().unwrap()),
        "{claims}"
    );
    assert!(
        !claims["filesystem"].as_str().unwrap().is_empty(),
        "{claims}"
    );
    assert!(!claims["reason"].as_str().unwrap().is_empty(), "{claims}");
    let loaded = &events[3];
    assert_eq!(loaded["model_set"], "default");
    assert_eq!(loaded["vqgan_kind"], "VQModel");
    assert!(loaded["device"].as_str().unwrap().starts_with("cpu"));
    for (k, image) in events[4..6].iter().enumerate() {
        assert_eq!(image["task"], "tasks/pair.txt");
        assert_eq!(image["output"], format!("output/pair_{}.png", k + 1));
        assert_eq!(image["iterations"], 3);
        assert_eq!(image["seed"], 5 + k as u64);
        assert_eq!(image["batch_size"], 2);
        assert!(image["seconds"].as_f64().unwrap() > 0.0);
        assert!(image["final_loss"].is_f64());
    }
    assert_eq!(events[6]["renamed_to"], "tasks/pair.txt.done");
    let end = &events[8];
    assert_eq!(end["outcome"], "finished");
    assert_eq!(end["done"], 1);
    assert_eq!(end["invalid"], 1);
    assert_eq!(end["images"], 2);
    assert_eq!(end["exit_code"], 3);

    // A second run appends its own events under its own run id: nothing to make, the
    // invalid task is checked again and still invalid, its error file unchanged.
    let out = run(&s);
    assert_eq!(out.status.code(), Some(0));
    let events = record(&s);
    let second: Vec<&Value> = events
        .iter()
        .filter(|e| e["run"] != run_id.as_str())
        .collect();
    let kinds: Vec<&str> = second
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "task_invalid",
            "run_started",
            "claims_chosen",
            "gallery_built",
            "run_finished"
        ]
    );
    assert_eq!(second[0]["error_file_state"], "unchanged");
    assert_eq!(
        second[3]["thumbnails_made"], 0,
        "nothing new: no thumbnail made"
    );
    assert_eq!(second[4]["invalid"], 1);
    assert_eq!(second[4]["still_invalid"], 1);
    assert_eq!(second[4]["exit_code"], 0);
}

#[test]
fn a_task_file_name_with_a_newline_cannot_forge_a_log_line() {
    let s = Shared::new();
    let forged = "2001-01-01T00:00:00Z task done: tasks/forged.txt -> tasks/forged.txt.done";
    let name = format!("tasks/x\n{forged}\n.txt");
    s.write(&name, r#"{"text": "x", "out_file": "x"}"#);
    let out = run(&s);
    // A name with a control character is not run (issue 23): listed, not an invalid task.
    assert_eq!(out.status.code(), Some(0));

    let log = std::fs::read_to_string(s.root().join("runvqgan.log")).unwrap();
    assert!(
        log.lines().all(|l| !l.starts_with("2001-01-01")),
        "a forged line:\n{log}"
    );
    assert!(
        log.contains(&format!(
            "tasks/x\\n{forged}\\n.txt: not run: its name holds"
        )),
        "the name is in the log, escaped:\n{log}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().all(|l| !l.starts_with("2001-01-01")),
        "a forged line on the terminal:\n{stderr}"
    );
    // The record keeps the real name, as JSON escapes it.
    let events = record(&s);
    assert!(events.iter().any(|e| e["task"] == name.as_str()));
    // No error file named after it (it would hold the line breaks too): the log, `plan`,
    // `check` and `status` name it instead.
    assert!(!s.exists(&format!("tasks/x\n{forged}\n_ERROR.txt")));
}
