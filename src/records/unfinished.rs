//! Runs that did not finish: a process killed with SIGKILL (the OOM killer, `kill -9`), a
//! power cut or a crash writes no summary and never removes its live file
//! ([`crate::records::live`]). A live file whose process is gone is such a run: `status`
//! shows it as "did not finish (killed or crashed at about ...)" with what it had done (from
//! its own record of events), and the next run says in its log that it found one and
//! writes the run's summary (outcome `did_not_finish`), so that the summary files and the
//! metrics say so too.
//!
//! Whether the process is gone: on the same machine (host name, boot and PID namespace
//! alike) its process id and start time tell; for a Slurm job, `squeue` tells whether the
//! job still exists (a suspended job is alive); otherwise a live file not rewritten for
//! [`STALE`] (its heartbeat is every 20 s) is taken for a dead run.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::process::text::local_timestamp;
use crate::records::live::{LiveRecord, process_start, this_process, unix};
use crate::records::summary::{FailedTask, InvalidTask, RunSummary};
use crate::shared_folder::files::{EVENTS_DIR_NAME, LIVE_NAME, RUNS_NAME, STATE_DIR};
use crate::shared_folder::state::StateDir;

/// A live file of another machine not rewritten for this long is a run that did not finish.
pub const STALE: Duration = Duration::from_secs(600);

pub use crate::records::summary::DID_NOT_FINISH;

/// Whether the run of `r` is dead, seen at `now`.
pub fn is_dead(r: &LiveRecord, now: SystemTime) -> bool {
    let (_, boot, ns) = this_process();
    if r.host == crate::process::host_name() {
        if r.boot_id.is_some() && boot.is_some() && r.boot_id != boot {
            return true;
        }
        if r.pid_ns.is_some() && r.pid_ns == ns {
            return match (process_start(r.pid), r.pid_start) {
                (None, _) => true,
                (Some(now_start), Some(then)) => now_start != then,
                (Some(_), None) => false,
            };
        }
    }
    if let Some(job) = &r.slurm_job_id
        && let Some(listed) = slurm_job_listed(job)
    {
        return !listed;
    }
    unix(now).saturating_sub(r.updated_unix) > STALE.as_secs()
}

/// Whether Slurm still lists job `job` (running, suspended, requeued); `None` when Slurm
/// cannot be asked here.
fn slurm_job_listed(job: &str) -> Option<bool> {
    let out = std::process::Command::new("squeue")
        .args(["--noheader", "--jobs", job, "--format", "%T"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        // squeue fails on a job id it no longer knows; it cannot be asked when slurmctld
        // is down, which it does not tell apart: only an empty answer counts as gone.
        return String::from_utf8_lossy(&out.stdout)
            .trim()
            .is_empty()
            .then_some(false)
            .or(None);
    }
    Some(!String::from_utf8_lossy(&out.stdout).trim().is_empty())
}

/// The live runs of `root` whose processes are gone, each with the summary of what it did.
pub fn find(root: &Path, now: SystemTime) -> Vec<(LiveRecord, RunSummary)> {
    LiveRecord::all(root)
        .into_iter()
        .filter(|r| is_dead(r, now))
        .map(|r| {
            let s = summarise(root, &r);
            (r, s)
        })
        .collect()
}

/// The summary of a run that did not finish: what its record of events says it did, up to
/// the last time it was seen alive.
pub fn summarise(root: &Path, r: &LiveRecord) -> RunSummary {
    let mut s = RunSummary {
        run: r.run.clone(),
        root: root.display().to_string(),
        started: local_timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(r.since_unix)),
        finished: local_timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(r.updated_unix)),
        started_unix: r.since_unix,
        finished_unix: r.updated_unix.max(r.since_unix),
        seconds: r.updated_unix.saturating_sub(r.since_unix),
        outcome: DID_NOT_FINISH.into(),
        exit_code: crate::process::exit_codes::ExitCode::Failure.code(),
        error: None,
        model_set: String::new(),
        device: None,
        host: r.host.clone(),
        slurm_job_id: r.slurm_job_id.clone(),
        slurm_array_job_id: r.slurm_array_job_id.clone(),
        slurm_array_task_id: r.slurm_array_task_id.clone(),
        claims: None,
        images: 0,
        tasks: Default::default(),
        done: Vec::new(),
        failed: Vec::new(),
        invalid: Vec::new(),
        budget_reached: None,
        left: Vec::new(),
        unfinished_found: Vec::new(),
    };
    let file = root
        .join(STATE_DIR)
        .join(EVENTS_DIR_NAME)
        .join(format!("{}.jsonl", r.run));
    let text = crate::shared_folder::confined::read_own_file(&file, 256 << 20)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let str_of = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    for v in text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    {
        match v["event"].as_str().unwrap_or_default() {
            "image_written" => s.images += 1,
            "task_done" => s.done.push(str_of(&v, "task")),
            "task_failed" => s.failed.push(FailedTask {
                task: str_of(&v, "task"),
                kind: str_of(&v, "kind"),
                message: str_of(&v, "message"),
            }),
            "task_invalid" => s.invalid.push(InvalidTask {
                task: str_of(&v, "task"),
                problems: Vec::new(),
            }),
            "claims_chosen" => s.claims = Some(str_of(&v, "kind")),
            "model_set_loaded" => {
                s.model_set = str_of(&v, "model_set");
                s.device = Some(str_of(&v, "device"));
            }
            _ => {}
        }
    }
    s.tasks.done = s.done.len();
    s.tasks.failed = s.failed.len();
    s.tasks.invalid = s.invalid.len();
    s.error = Some(format!(
        "did not finish (killed or crashed at about {}): it had written {} image(s) and done {} \
         task(s); the next run makes what is missing",
        s.finished, s.images, s.tasks.done
    ));
    s
}

/// Records a run that did not finish: its summary in `.runvqgan/runs/` (unless one exists:
/// another run recorded it first, or a run taken for dead came back and wrote its own),
/// then its live file goes. `Ok(false)`: it was recorded already.
pub fn settle(root: &Path, summary: &RunSummary) -> std::io::Result<bool> {
    let state = StateDir::open(root)?;
    let runs = state.sub(RUNS_NAME)?;
    let name = format!("{}.json", summary.run);
    let new = runs.stat(&name).is_err();
    if new {
        let json = serde_json::to_vec_pretty(summary).expect("a summary always serialises");
        runs.write_atomic(&name, &json, 0o644)?;
    }
    match state.sub(LIVE_NAME)?.remove(&name) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(new),
    }
}
