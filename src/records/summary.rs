//! The morning after, machine-readable: every run's summary, built from its events, written
//! to `<root>/.runvqgan/runs/<run>.json` when the run ends (finished, stopped, interrupted or
//! failed). When configured, the same moment also writes a Prometheus textfile
//! (`metrics_file`) and runs the owner's `on_finish` command (a program and its arguments,
//! never a shell) with the summary JSON on its standard input, so that the owner can mail
//! or chat it with the tools they already use. `runvqgan status` reads the last summary.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::process::exit_codes::ExitCode;
use crate::process::text::{escape, local_timestamp};
use crate::records::events::{Event, Outcome, Sink, TaskCounts};
use crate::records::finish::{ON_FINISH_TIMEOUT, prometheus_label, run_on_finish, write_metrics};
use crate::records::plausible;
use crate::shared_folder::files::{RUNS_DIR, RUNS_NAME};

/// The outcome of a run that did not finish (killed, crashed): [`crate::records::unfinished`].
pub const DID_NOT_FINISH: &str = "did_not_finish";

/// A task that failed, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedTask {
    pub task: String,
    /// The failure kind (`out_of_memory`, `engine`, ...; see docs/events.md).
    pub kind: String,
    pub message: String,
}

/// A task that is invalid, and its problems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidTask {
    pub task: String,
    pub problems: Vec<String>,
}

/// What one run did. Written as `<root>/.runvqgan/runs/<run>.json`; the fields are
/// documented in docs/events.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run's id, as in `events.jsonl`.
    pub run: String,
    pub root: String,
    /// Local time with offset.
    pub started: String,
    pub finished: String,
    /// Seconds since 1970, for programs.
    pub started_unix: u64,
    pub finished_unix: u64,
    pub seconds: u64,
    /// `finished`, `budget_reached`, `interrupted` or `failed`.
    pub outcome: String,
    pub exit_code: u8,
    /// Why the run failed (`failed` only).
    pub error: Option<String>,
    pub model_set: String,
    /// The device the engine ran on, or the configured one when the engine never started.
    pub device: Option<String>,
    /// The machine the run ran on.
    #[serde(default)]
    pub host: String,
    /// `SLURM_JOB_ID`, when the run was a Slurm job.
    #[serde(default)]
    pub slurm_job_id: Option<String>,
    /// `SLURM_ARRAY_JOB_ID`, when it was an element of a Slurm job array.
    #[serde(default)]
    pub slurm_array_job_id: Option<String>,
    /// `SLURM_ARRAY_TASK_ID`, when it was an element of a Slurm job array.
    #[serde(default)]
    pub slurm_array_task_id: Option<String>,
    /// How it claimed tasks: `flock`, `lease` or `flock+lease`.
    #[serde(default)]
    pub claims: Option<String>,
    pub images: usize,
    pub tasks: TaskCounts,
    pub done: Vec<String>,
    pub failed: Vec<FailedTask>,
    pub invalid: Vec<InvalidTask>,
    /// The time budget's reason for stopping, and the tasks it left.
    pub budget_reached: Option<String>,
    pub left: Vec<String>,
    /// Runs this run found that had not finished (killed or crashed), by id.
    #[serde(default)]
    pub unfinished_found: Vec<String>,
}

impl RunSummary {
    /// The summary of the last run on `root` (by start time), if any: the newest one that a
    /// run can have written ([`RunSummary::read`]).
    pub fn last(root: &Path) -> Option<RunSummary> {
        let dir = root.join(RUNS_DIR);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
            .collect();
        names.sort_by_key(|n| std::cmp::Reverse(run_order(n)));
        names.iter().find_map(|n| RunSummary::read(&dir, n))
    }

    /// The summary in the file `name` of `dir`, when it is one that a run can have written:
    /// the file is untrusted (members can write the shared folder), so a summary whose name,
    /// times, outcome, exit code or failure kinds are not what runvqgan writes is ignored with
    /// a warning, never shown. Its free texts (task names, messages, host) are escaped where
    /// they are shown.
    fn read(dir: &Path, name: &str) -> Option<RunSummary> {
        let bytes = crate::records::speeds::read_state_file(&dir.join(name))?;
        let problem = match serde_json::from_slice::<RunSummary>(&bytes) {
            Ok(s) => match s.implausible(name) {
                None => return Some(s),
                Some(why) => why,
            },
            Err(e) => format!("it is not a run summary: {e}"),
        };
        tracing::warn!("ignoring {RUNS_DIR}/{}: {}", escape(name), escape(&problem));
        None
    }

    /// Why this summary, read from the file `name`, cannot have been written by a run.
    fn implausible(&self, name: &str) -> Option<String> {
        let bad = |what: &str, value: &dyn std::fmt::Debug| Some(format!("its {what} {value:?}"));
        if !plausible::run_id(&self.run) || name != format!("{}.json", self.run) {
            return bad("run id", &self.run);
        }
        for stamp in [&self.started, &self.finished] {
            if !plausible::timestamp(stamp) {
                return bad("time stamp", stamp);
            }
        }
        // As the sink computes it (0 when the clock was set back during the run).
        let length = self.finished_unix.saturating_sub(self.started_unix);
        if length > plausible::RUN_SECONDS || length != self.seconds {
            return bad("length in seconds", &self.seconds);
        }
        let outcomes = ["finished", "budget_reached", "interrupted", "failed"];
        if !outcomes.contains(&&*self.outcome) && self.outcome != DID_NOT_FINISH {
            return bad("outcome", &self.outcome);
        }
        if !ExitCode::ALL.iter().any(|c| c.code() == self.exit_code) {
            return bad("exit code", &self.exit_code);
        }
        if let Some(f) = self.failed.iter().find(|f| !plausible::word(&f.kind)) {
            return bad("failure kind", &f.kind);
        }
        None
    }

    /// The summaries of every element of the Slurm job array `array_job_id` on `root`, by
    /// element (a resubmitted array has new ids; an element run twice shows twice).
    pub fn of_array(root: &Path, array_job_id: &str) -> Vec<RunSummary> {
        let dir = root.join(RUNS_DIR);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut runs: Vec<RunSummary> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
            .filter_map(|n| RunSummary::read(&dir, &n))
            .filter(|r| r.slurm_array_job_id.as_deref() == Some(array_job_id))
            .collect();
        let element = |r: &RunSummary| {
            r.slurm_array_task_id
                .as_deref()
                .and_then(|i| i.parse::<u64>().ok())
                .unwrap_or(u64::MAX)
        };
        runs.sort_by(|a, b| {
            element(a)
                .cmp(&element(b))
                .then(a.started_unix.cmp(&b.started_unix))
        });
        runs
    }

    /// The Prometheus textfile of this run (node_exporter's textfile collector format).
    pub fn metrics(&self) -> String {
        let root = prometheus_label(&self.root);
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, samples: &[(String, f64)]| {
            out.push_str(&format!(
                "# HELP runvqgan_{name} {help}\n# TYPE runvqgan_{name} gauge\n"
            ));
            for (labels, value) in samples {
                out.push_str(&format!(
                    "runvqgan_{name}{{root=\"{root}\"{labels}}} {value}\n"
                ));
            }
        };
        let one = |v: f64| [(String::new(), v)];
        gauge(
            "last_run_start_timestamp_seconds",
            "When the last run started.",
            &one(self.started_unix as f64),
        );
        gauge(
            "last_run_end_timestamp_seconds",
            "When the last run ended.",
            &one(self.finished_unix as f64),
        );
        gauge(
            "last_run_duration_seconds",
            "How long the last run took.",
            &one(self.seconds as f64),
        );
        gauge(
            "last_run_exit_code",
            "The exit code of the last run (0 all good, 3 some tasks failed or invalid).",
            &one(f64::from(self.exit_code)),
        );
        gauge(
            "last_run_finished",
            "1 when the last run ended by itself, 0 when it did not finish (killed or crashed).",
            &one(if self.outcome == DID_NOT_FINISH {
                0.0
            } else {
                1.0
            }),
        );
        gauge(
            "last_run_unfinished_runs_found",
            "Runs the last run found that had not finished (killed or crashed).",
            &one(self.unfinished_found.len() as f64),
        );
        gauge(
            "last_run_images_written",
            "Images the last run wrote.",
            &one(self.images as f64),
        );
        let t = &self.tasks;
        let states: Vec<(String, f64)> = [
            ("done", t.done),
            ("failed", t.failed),
            ("invalid", t.invalid),
            ("skipped", t.skipped),
            ("busy", t.busy),
            ("changed", t.changed),
        ]
        .iter()
        .map(|(s, n)| (format!(",state=\"{s}\""), *n as f64))
        .collect();
        gauge(
            "last_run_tasks",
            "Tasks of the last run, by what became of them.",
            &states,
        );
        out
    }
}

/// Run ids start with their UTC start time (`20261129T230000Z-gpu1-4711`): ordering by the
/// name orders by start.
fn run_order(name: &str) -> (String, u64) {
    let stem = name.trim_end_matches(".json");
    let (time, pid) = stem.rsplit_once('-').unwrap_or((stem, "0"));
    (time.to_string(), pid.parse().unwrap_or(0))
}

/// Where the summary goes besides `.runvqgan/runs/`: the configured textfile and command.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// `metrics_file`, made absolute.
    pub metrics_file: Option<PathBuf>,
    /// `on_finish`.
    pub on_finish: Option<Vec<String>>,
}

/// Builds the summary from the run's events and writes it when the run ends.
pub struct SummarySink {
    root: PathBuf,
    outputs: Outputs,
    state: Mutex<RunSummary>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl SummarySink {
    /// A sink for the run `run` of `model_set` on `root` that started at `started`,
    /// configured to run on `device` (`None`: the default).
    pub fn new(
        root: &Path,
        run: &str,
        started: SystemTime,
        model_set: &str,
        device: Option<&str>,
        outputs: Outputs,
    ) -> SummarySink {
        SummarySink {
            root: root.to_path_buf(),
            outputs,
            state: Mutex::new(RunSummary {
                run: run.to_string(),
                root: root.display().to_string(),
                started: local_timestamp(started),
                finished: String::new(),
                started_unix: unix(started),
                finished_unix: 0,
                seconds: 0,
                outcome: String::new(),
                exit_code: 0,
                error: None,
                model_set: model_set.to_string(),
                device: device.map(str::to_string),
                host: crate::process::host_name(),
                slurm_job_id: None,
                slurm_array_job_id: None,
                slurm_array_task_id: None,
                claims: None,
                images: 0,
                tasks: TaskCounts::default(),
                done: Vec::new(),
                failed: Vec::new(),
                invalid: Vec::new(),
                budget_reached: None,
                left: Vec::new(),
                unfinished_found: Vec::new(),
            }),
        }
    }

    fn finish(&self, summary: &RunSummary) {
        let json = serde_json::to_vec_pretty(summary).expect("a summary always serialises");
        let written = crate::shared_folder::state::StateDir::open(&self.root)
            .and_then(|state| state.sub(RUNS_NAME))
            .map_err(std::io::Error::from)
            .and_then(|runs| runs.write_atomic(&format!("{}.json", summary.run), &json, 0o644));
        if let Err(e) = written {
            tracing::warn!(
                "cannot write the run's summary in {}: {e}",
                self.root.join(RUNS_DIR).display()
            );
        }
        if let Some(path) = &self.outputs.metrics_file
            && let Err(e) = write_metrics(path, &summary.metrics())
        {
            tracing::warn!("cannot write metrics_file {}: {e}", path.display());
        }
        if let Some(argv) = &self.outputs.on_finish
            && let Err(e) = run_on_finish(argv, &json, ON_FINISH_TIMEOUT)
        {
            tracing::warn!("on_finish {argv:?}: {e}");
        }
    }
}

impl Sink for SummarySink {
    fn event(&self, event: &Event, at: SystemTime, _follow: &mut Vec<Event>) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::TaskInvalid { task, problems, .. } => s.invalid.push(InvalidTask {
                task: task.clone(),
                problems: problems.errors.iter().map(ToString::to_string).collect(),
            }),
            Event::ModelSetLoaded { device, .. } => s.device = Some(device.clone()),
            Event::RunStarted {
                host,
                slurm_job_id,
                slurm_array_job_id,
                slurm_array_task_id,
                ..
            } => {
                s.host = host.clone();
                s.slurm_job_id = slurm_job_id.clone();
                s.slurm_array_job_id = slurm_array_job_id.clone();
                s.slurm_array_task_id = slurm_array_task_id.clone();
            }
            Event::ClaimsChosen { kind, .. } => s.claims = Some(kind.clone()),
            Event::UnfinishedRunFound { run, .. } => s.unfinished_found.push(run.clone()),
            Event::TaskFailed {
                task,
                kind,
                message,
                ..
            } => s.failed.push(FailedTask {
                task: task.clone(),
                kind: serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                message: message.clone(),
            }),
            Event::ClaimFailed { task, error, .. } => s.failed.push(FailedTask {
                task: task.clone(),
                kind: "task_file".into(),
                message: error.clone(),
            }),
            Event::DoneRenameFailed { task, error } => s.failed.push(FailedTask {
                task: task.clone(),
                kind: "write".into(),
                message: error.clone(),
            }),
            Event::TaskDone { task, .. } => s.done.push(task.clone()),
            Event::BudgetReached { reason, left } => {
                s.budget_reached = Some(reason.clone());
                s.left = left.clone();
            }
            Event::RunFinished {
                outcome,
                tasks,
                images,
                exit_code,
                ..
            } => {
                s.outcome = match outcome {
                    Outcome::Finished => "finished",
                    Outcome::BudgetReached => "budget_reached",
                    Outcome::Interrupted => "interrupted",
                }
                .into();
                s.tasks = *tasks;
                s.images = *images;
                s.exit_code = *exit_code;
                s.finished = local_timestamp(at);
                s.finished_unix = unix(at);
                // From the command's start (the night's own count starts after the
                // configuration is read), so that it is the difference of the two stamps.
                s.seconds = s.finished_unix.saturating_sub(s.started_unix);
                let summary = s.clone();
                drop(s);
                self.finish(&summary);
            }
            Event::RunFailed { error, exit_code } => {
                s.outcome = "failed".into();
                s.error = Some(error.clone());
                s.exit_code = *exit_code;
                s.finished = local_timestamp(at);
                s.finished_unix = unix(at);
                s.seconds = s.finished_unix.saturating_sub(s.started_unix);
                s.tasks.invalid = s.invalid.len();
                s.tasks.failed = s.failed.len();
                s.tasks.done = s.done.len();
                let summary = s.clone();
                drop(s);
                self.finish(&summary);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
