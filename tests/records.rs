//! What runs leave for the owner when machines share the root, when a run is killed, while a
//! run works, and when a run starts outside the night window (docs/events.md, docs/owner.md,
//! docs/cluster.md).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Shared, tiny_models_toml};
use runvqgan::records::events::read_all;

fn run_cmd(s: &Shared) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_runvqgan"));
    c.arg("run")
        .arg("--root")
        .arg(s.root())
        .env_remove("RUNVQGAN_ROOT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// The events of `run` in the merged record, as JSON.
fn events_of(s: &Shared, run: &str) -> Vec<serde_json::Value> {
    read_all(&s.root())
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["run"] == run)
        .collect()
}

fn run_ids(s: &Shared) -> Vec<String> {
    let mut ids: Vec<String> = read_all(&s.root())
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "run_started")
        .map(|v| v["run"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// Two runs on one root at once, on a filesystem where appending is not atomic between
/// processes (the NFS client simulated by `RUNVQGAN_TEST_NFS_APPEND`: each open file writes
/// at the end it saw when it opened, as an NFS client with cached attributes does, so two
/// processes appending to one file overwrite each other's lines): every event of both runs
/// is in the record, every line whole, and the run log holds every line of both.
#[test]
fn two_runs_without_atomic_append_lose_no_event_and_no_log_line() {
    let s = Shared::new();
    // Leases, as on a network filesystem: the log is written in blocks.
    s.write(
        "runvqgan.toml",
        "claims = \"lease\"\nlease_seconds = 5\ngallery = false\n",
    );
    const TASKS: usize = 40;
    for i in 0..TASKS {
        s.write(
            &format!("tasks/bad{i:02}.txt"),
            r#"{"text": "a dog", "out_file": "dog", "colour": 1}"#,
        );
    }
    let start = |_| {
        run_cmd(&s)
            .env("RUNVQGAN_TEST_NFS_APPEND", "1")
            .spawn()
            .unwrap()
    };
    let runs: Vec<Child> = (0..2).map(start).collect();
    for r in runs {
        let out = r.wait_with_output().unwrap();
        // 3 for the run that wrote the error files first, 0 or 3 for the other.
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ids = run_ids(&s);
    assert_eq!(ids.len(), 2, "both runs started: {ids:?}");
    let log = s.read("runvqgan.log");
    for id in &ids {
        let events = events_of(&s, id);
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "task_invalid").count(),
            TASKS,
            "{id}: {kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "run_finished").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "run_started").count(),
            1,
            "{kinds:?}"
        );
        // The run log: every line of each run, each carrying the run's id (runs share it).
        let tag = format!("[run {id}] ");
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(&tag)).collect();
        assert_eq!(
            lines.iter().filter(|l| l.contains("] task ")).count(),
            TASKS,
            "{id}:\n{log}"
        );
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("] run finished: "))
                .count(),
            1
        );
    }
    // Each run's own log was moved into the shared one.
    let own_logs = std::fs::read_dir(s.root().join(".runvqgan/logs"))
        .unwrap()
        .count();
    assert_eq!(own_logs, 0, "a run's own log was left behind");
    // Nothing torn: every line of the log starts with a time stamp.
    for line in log.lines() {
        assert!(line.starts_with("20"), "a torn line: {line:?}\n{log}");
    }
}

/// Waits until `f()` holds, for at most four minutes (tiny models on a loaded machine).
fn wait_for(what: &str, child: &mut Child, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(240);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn status_text(s: &Shared) -> String {
    let out = s
        .cmd()
        .args(["status", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// While a run works, `status` shows who runs it (host, process, since), the image k of N
/// it is making and of which task, and the expected end; once it is killed (`kill -9`: no
/// summary, no last line), `status` shows it as a run that did not finish, with what it had
/// done; the next run says in its log that it found it, and its summary and the metrics say
/// so.
#[test]
fn a_run_in_progress_shows_in_status_and_a_killed_one_as_did_not_finish() {
    let s = Shared::new();
    s.write(
        "runvqgan.toml",
        format!(
            "gallery = false\nmetrics_file = \"night.prom\"\n{}",
            tiny_models_toml()
        ),
    );
    let task = |name: &str, each: u32, iterations: u32| {
        format!(
            r#"{{"text": "a {name}", "each": {each}, "iterations": {iterations}, "resolution": [32, 32], "raw": "-cuts 4", "out_file": "{name}"}}"#
        )
    };
    s.write("tasks/quick.txt", task("quick", 1, 2));
    s.set_mtime("tasks/quick.txt", 0);
    s.write("tasks/slow.txt", task("slow", 2, 5000));
    s.set_mtime("tasks/slow.txt", 10);
    let mut child = run_cmd(&s).arg("--device").arg("cpu").spawn().unwrap();
    let pid = child.id();
    wait_for("the second task's first image", &mut child, || {
        status_text(&s).contains("image 2 of 3")
    });
    let text = status_text(&s);
    assert!(
        text.contains(&format!(
            "on host {}, process {pid}, since ",
            runvqgan::process::host_name()
        )),
        "{text}"
    );
    assert!(
        text.contains("image 2 of 3 (output/slow_1.png) of task tasks/slow.txt; 1 written, 1 task(s) done so far; expected end about "),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_slice(
        &s.cmd()
            .args(["status", "--json", "--root"])
            .arg(s.root())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let running = &json["running"][0];
    assert_eq!(running["pid"], pid, "{json}");
    assert_eq!(
        (running["current_k"].as_u64(), running["images"].as_u64()),
        (Some(2), Some(3))
    );
    assert!(running["expected_end"].is_string(), "{running}");

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let text = status_text(&s);
    assert!(!text.contains("Running now"), "{text}");
    assert!(
        text.contains("did not finish (killed or crashed at about "),
        "{text}"
    );
    assert!(
        text.contains("  1 image(s) written; tasks: 1 done,"),
        "{text}"
    );
    let run = run_ids(&s).pop().unwrap();

    // The next run finds it.
    s.write("tasks/slow.txt", task("slow", 1, 2));
    let out = run_cmd(&s).arg("--device").arg("cpu").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = s.read("runvqgan.log");
    assert!(
        log.contains(&format!("found run {run} (host "))
            && log.contains("that did not finish: killed or crashed at about "),
        "{log}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&s.read(&format!(".runvqgan/runs/{run}.json"))).unwrap();
    assert_eq!(summary["outcome"], "did_not_finish", "{summary}");
    assert_eq!(summary["images"], 1);
    assert_eq!(summary["done"][0], "tasks/quick.txt");
    let metrics = s.read("night.prom");
    assert!(
        metrics.contains("runvqgan_last_run_unfinished_runs_found{"),
        "{metrics}"
    );
    assert!(
        metrics.lines().any(
            |l| l.starts_with("runvqgan_last_run_unfinished_runs_found{") && l.ends_with(" 1")
        ),
        "{metrics}"
    );
    // Found once: the run after that finds nothing.
    let out = run_cmd(&s).arg("--device").arg("cpu").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        s.read("runvqgan.log")
            .matches("that did not finish")
            .count(),
        1
    );
}

/// `window` in runvqgan.toml: a run started outside it (a timer that fired late, a
/// resubmitted array element) touches nothing and says so, exit 0; `--ignore-window` runs
/// anyway; a window that is not two times of day is refused with an example.
#[test]
fn a_run_started_outside_the_night_window_does_nothing_and_says_so() {
    let s = Shared::new();
    // A window that starts two hours from now: now is outside it.
    let now = runvqgan::config::window::local_minute(std::time::SystemTime::now());
    let hm = |m: u32| format!("{:02}:{:02}", (m / 60) % 24, m % 60);
    let window = format!("{}-{}", hm(now + 120), hm(now + 180));
    s.write(
        "runvqgan.toml",
        format!("gallery = false\nwindow = \"{window}\"\n"),
    );
    s.write("tasks/dog.txt", common::task("dog"));
    let out = run_cmd(&s).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = s.read("runvqgan.log");
    assert!(
        log.contains(&format!(
            "run not started: it is {}, outside the night window {window}",
            hm(now)
        )) || log.contains(&format!("outside the night window {window}")),
        "{log}"
    );
    assert!(log.contains("--ignore-window"), "{log}");
    assert!(s.exists("tasks/dog.txt") && !s.exists("tasks/dog.txt.done"));
    assert!(
        std::fs::read_dir(s.root().join("output"))
            .unwrap()
            .next()
            .is_none()
    );
    let events = read_all(&s.root());
    assert!(
        events
            .iter()
            .any(|l| l.contains("\"event\":\"outside_window\"")),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|l| l.contains("\"event\":\"run_started\"")),
        "{events:?}"
    );
    assert!(!status_text(&s).contains("Running now"));

    // Asked to: it runs (nothing to make here, so no engine starts).
    std::fs::remove_file(s.root().join("tasks/dog.txt")).unwrap();
    let out = run_cmd(&s).arg("--ignore-window").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.read("runvqgan.log").contains("run finished"));

    s.write("runvqgan.toml", "window = \"tonight\"\n");
    let out = run_cmd(&s).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("window") && err.contains("23:00-06:30"),
        "{err}"
    );
}
