//! Tests of `summary`.

use super::*;
use crate::records::finish::run_on_finish;
use std::time::Duration;

#[test]
fn metrics_are_prometheus_gauges_labelled_with_the_root() {
    let sink = SummarySink::new(
        Path::new("/srv/va\"lab"),
        "20261129T230000Z-1",
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        "default",
        None,
        Outputs::default(),
    );
    let mut s = sink.state.lock().unwrap().clone();
    s.images = 7;
    s.exit_code = 3;
    s.tasks.done = 2;
    let text = s.metrics();
    assert!(
        text.contains("# TYPE runvqgan_last_run_images_written gauge\n"),
        "{text}"
    );
    assert!(
        text.contains("runvqgan_last_run_images_written{root=\"/srv/va\\\"lab\"} 7\n"),
        "{text}"
    );
    assert!(
        text.contains("runvqgan_last_run_tasks{root=\"/srv/va\\\"lab\",state=\"done\"} 2\n"),
        "{text}"
    );
    assert!(text.contains(
        "runvqgan_last_run_start_timestamp_seconds{root=\"/srv/va\\\"lab\"} 1800000000\n"
    ));
    assert!(text.contains("runvqgan_last_run_exit_code{root=\"/srv/va\\\"lab\"} 3\n"));
}

#[test]
fn on_finish_gets_the_summary_on_stdin_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("got; rm -rf x");
    let argv = vec![
        "/bin/cp".to_string(),
        "/dev/stdin".to_string(),
        out.display().to_string(),
    ];
    run_on_finish(&argv, b"{\"run\": 1}", Duration::from_secs(30)).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"{\"run\": 1}");
}

#[test]
fn on_finish_failures_and_overruns_are_reported() {
    let fails = vec!["/bin/false".to_string()];
    assert!(
        run_on_finish(&fails, b"", Duration::from_secs(30))
            .unwrap_err()
            .contains("exited")
    );
    let missing = vec!["/nonexistent/mailer".to_string()];
    assert!(
        run_on_finish(&missing, b"", Duration::from_secs(30))
            .unwrap_err()
            .contains("cannot start")
    );
    let slow = vec!["/bin/sleep".to_string(), "30".to_string()];
    let err = run_on_finish(&slow, b"", Duration::from_millis(200)).unwrap_err();
    assert!(err.contains("was stopped"), "{err}");
}

#[test]
fn the_last_summary_is_the_newest_run() {
    assert!(run_order("20261129T230000Z-99.json") < run_order("20261130T230000Z-1.json"));
    assert!(
        run_order("20261129T230000Z-node9-99.json") < run_order("20261129T230001Z-node1-1.json")
    );
    assert!(run_order("20261129T230000Z-99.json") < run_order("20261129T230000Z-100.json"));
}

#[test]
fn a_summary_as_a_run_writes_it_is_believed_and_a_forged_one_is_not() {
    let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let run = crate::records::events::run_id(started, "gpu1.lab", 4711);
    let name = format!("{run}.json");
    let sink = SummarySink::new(
        Path::new("/srv/lab"),
        &run,
        started,
        "default",
        None,
        Outputs::default(),
    );
    let mut s = sink.state.lock().unwrap().clone();
    let end = started + Duration::from_secs(600);
    s.finished = local_timestamp(end);
    s.finished_unix = unix(end);
    s.seconds = 600;
    s.outcome = "finished".into();
    s.failed.push(FailedTask {
        task: "tasks/\u{1b}[31mx.txt".into(),
        kind: "out_of_memory".into(),
        message: "free texts are escaped where they are shown".into(),
    });
    assert_eq!(s.implausible(&name), None);
    assert!(s.implausible("20991231T235959Z-x-1.json").is_some());
    let forged: [&dyn Fn(&mut RunSummary); 5] = [
        &|r| r.started = "\u{1b}[2J".into(),
        &|r| r.seconds = 1,
        &|r| r.outcome = "finished\n".into(),
        &|r| r.exit_code = 27,
        &|r| r.failed[0].kind = "engine\u{1b}[31m".into(),
    ];
    for forge in forged {
        let mut f = s.clone();
        forge(&mut f);
        assert!(f.implausible(&name).is_some(), "{f:?}");
    }
}
