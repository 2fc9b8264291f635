//! Tests of `events`.

use super::*;
use crate::shared_folder::files::EVENTS_FILE;

#[test]
fn glue_kinds_become_failure_kinds() {
    assert_eq!(
        FailureKind::from_glue("out_of_memory"),
        FailureKind::OutOfMemory
    );
    assert_eq!(
        FailureKind::from_glue("missing_file"),
        FailureKind::MemberInput
    );
    assert_eq!(FailureKind::from_glue("write"), FailureKind::Write);
    assert_eq!(FailureKind::from_glue("anything"), FailureKind::Engine);
}

#[test]
fn the_record_has_one_json_object_per_line_with_time_run_and_event() {
    let dir = tempfile::tempdir().unwrap();
    let sink = JsonlSink::open(dir.path(), "r1");
    let mut follow = Vec::new();
    let at = SystemTime::UNIX_EPOCH;
    sink.event(
        &Event::TaskBusy {
            task: "a\nb".into(),
        },
        at,
        &mut follow,
    );
    sink.event(&Event::Interrupted {}, at, &mut follow);
    let text = std::fs::read_to_string(dir.path().join(".runvqgan/events/r1.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["event"], "task_busy");
    assert_eq!(lines[0]["task"], "a\nb");
    assert_eq!(lines[0]["run"], "r1");
    assert_eq!(lines[0]["time"], "1970-01-01T00:00:00.000Z");
    assert_eq!(lines[1]["event"], "interrupted");
}

#[test]
fn the_record_is_not_written_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, "").unwrap();
    std::fs::create_dir_all(dir.path().join(".runvqgan/events")).unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join(".runvqgan/events/r1.jsonl")).unwrap();
    let sink = JsonlSink::open(dir.path(), "r1");
    sink.event(&Event::Interrupted {}, SystemTime::now(), &mut Vec::new());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
}

/// The records of several runs (and the single file of older versions) read as one, in time
/// order, each run's lines in their order.
#[test]
fn the_records_of_every_run_are_read_merged_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let t = |ms: u64| SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let a = JsonlSink::open(dir.path(), "a");
    let b = JsonlSink::open(dir.path(), "b");
    a.event(&Event::Interrupted {}, t(1000), &mut Vec::new());
    b.event(&Event::Interrupted {}, t(2000), &mut Vec::new());
    a.event(&Event::NothingToClaim { busy: 1 }, t(3000), &mut Vec::new());
    std::fs::write(
        dir.path().join(EVENTS_FILE),
        "{\"time\":\"1970-01-01T00:00:00.500Z\",\"run\":\"old\",\"event\":\"interrupted\"}\nnot json\n",
    )
    .unwrap();
    let runs: Vec<String> = crate::records::events::read_all(dir.path())
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["run"].to_string())
        .collect();
    assert_eq!(runs, ["\"old\"", "\"a\"", "\"b\"", "\"a\""]);
}
