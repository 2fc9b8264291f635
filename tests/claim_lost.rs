//! A run that loses its claim while it works (issue 25, item 1): Slurm's suspend preemption
//! sends SIGSTOP, and a run frozen longer than its lease finds, when it wakes, that another
//! run took the task over and finished it. The real binary with the tiny models, leases of
//! a few seconds (`lease_seconds` in runvqgan.toml), the freeze made by the test hook
//! `RUNVQGAN_TEST_PAUSE_AT` (the process stops itself with SIGSTOP mid-image).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Shared, tiny_models_toml, wait_paused};

const LEASE_SECONDS: u64 = 3;

fn shared() -> Shared {
    let s = Shared::new();
    s.write(
        "runvqgan.toml",
        format!(
            "device = \"cpu\"\ngallery = false\nmax_batch = 1\nclaims = \"lease\"\n\
             lease_seconds = {LEASE_SECONDS}\n{}",
            tiny_models_toml()
        ),
    );
    s.write(
        "tasks/dog.txt",
        serde_json::json!({
            "text": "A painting of a lighthouse",
            "each": 2,
            "out_file": "dog",
            "iterations": 4,
            "resolution": [32, 32],
            "raw": "-cuts 4",
        })
        .to_string(),
    );
    s
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn a_run_frozen_past_its_lease_leaves_the_task_to_the_run_that_took_it_over() {
    frozen_at("mid-image:1");
}

/// Frozen after placing its first PNG, before writing its sidecar: the run that takes over
/// makes that image again in its place (a reserved image without a sidecar), and the frozen
/// run, on waking, writes no sidecar for a PNG that is no longer its own.
#[test]
fn a_run_frozen_between_a_png_and_its_sidecar_writes_no_sidecar_once_it_lost_the_task() {
    frozen_at("after-png:1");
}

/// Freezes a run at the test hook's `point` past its lease, lets another run take the task
/// over and finish it, wakes the frozen run, and checks that nothing was failed, left or
/// made twice.
fn frozen_at(point: &str) {
    let s = shared();
    // An error file runvqgan wrote for this task on an earlier night.
    s.write(
        "tasks/dog_ERROR.txt",
        "runvqgan could not finish the task file tasks/dog.txt.\n\nWhile making output/dog_1.png:\n  the engine crashed\n",
    );
    let log = s.root().join("frozen.stderr");
    let mut frozen = s
        .run_process()
        .env("RUNVQGAN_TEST_PAUSE_AT", point)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_paused(&mut frozen, &log);
    // Frozen (as Slurm suspends a job) until its lease has run out by a lease time more,
    // when another run takes the task over at first sight.
    std::thread::sleep(Duration::from_secs(2 * LEASE_SECONDS + 2));
    let taker = s.run_process().output().unwrap();
    let taker_said = String::from_utf8_lossy(&taker.stderr).into_owned();
    assert_eq!(taker.status.code(), Some(0), "the taker: {taker_said}");
    assert!(s.exists("tasks/dog.txt.done"), "{taker_said}");
    assert_eq!(s.events("claim_taken_over").len(), 1, "{taker_said}");

    // SAFETY: waking our own child.
    unsafe { libc::kill(frozen.id() as libc::pid_t, libc::SIGCONT) };
    let status = frozen.wait().unwrap();
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "losing a claim is not a failure (exit code 3 would mark a Slurm element FAILED):\n{said}"
    );
    let lost = s.events("claim_lost");
    assert_eq!(lost.len(), 1, "{said}");
    assert_eq!(lost[0]["task"], "tasks/dog.txt");
    assert!(s.events("task_failed").is_empty(), "{said}");
    assert!(
        std::fs::read_to_string(s.root().join("runvqgan.log"))
            .unwrap()
            .contains("stopped working on the task and left it to that run"),
        "the log says why"
    );
    // No false failure, no stale error file, no duplicate image.
    assert_eq!(files_in(&s.root().join("tasks")), ["dog.txt.done"]);
    assert_eq!(
        files_in(&s.root().join("output")),
        ["dog_1.png", "dog_1.txt", "dog_2.png", "dog_2.txt"]
    );
    assert_eq!(s.events("image_written").len(), 2);
}
