//! What happened during a night, as typed values. Every outcome of `run` is one [`Event`];
//! the run log, the terminal, the members' `_ERROR.txt` files and the machine-readable record
//! `<root>/.runvqgan/events/<run>.jsonl` are all [`Sink`]s of the same events, so a new consumer
//! (a status command, a gallery, a monitor) reads the record instead of parsing free text.
//! The record's schema is documented in `docs/events.md`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use crate::engine::failure::FailureKind;
use crate::task::Problems;

/// How a night ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every task it could claim was tried.
    Finished,
    /// Stopped before an image (or a pause) that would end after the time budget.
    BudgetReached,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// What became of an invalid task's `_ERROR.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteState {
    /// Written: new, or its problems changed.
    Written,
    /// It already said the same; not rewritten.
    Unchanged,
    /// Another runvqgan process holds the task; left to it.
    Busy,
    /// It could not be written (an [`Event::ErrorFileFailed`] follows).
    Failed,
}

/// What became of the night's tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TaskCounts {
    /// Renamed to `.done`.
    pub done: usize,
    /// Failed while generating (or could not be claimed or renamed).
    pub failed: usize,
    /// Invalid: their `_ERROR.txt` says why.
    pub invalid: usize,
    /// Of `invalid`, those whose `_ERROR.txt` already said the same (reported by an earlier
    /// run or by `check`, or left to another process): they do not make the exit code 3.
    pub still_invalid: usize,
    /// Files where a task could be that are not run (templates, notes beside a picture,
    /// ...), each listed with the reason.
    pub skipped: usize,
    /// Claimed by another runvqgan process.
    pub busy: usize,
    /// Changed or removed while they ran.
    pub changed: usize,
}

/// One thing that happened during a run. Paths are relative to the root (`/`-separated);
/// `task` is a task file, `output` a PNG.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The plan is made; nothing is generated yet.
    RunStarted {
        /// The machine's host name.
        host: String,
        pid: u32,
        /// `SLURM_JOB_ID` when the run is a Slurm job.
        slurm_job_id: Option<String>,
        /// `SLURM_ARRAY_JOB_ID` when the run is an element of a Slurm job array.
        slurm_array_job_id: Option<String>,
        /// `SLURM_ARRAY_TASK_ID` when the run is an element of a Slurm job array.
        slurm_array_task_id: Option<String>,
        device: Option<String>,
        tasks: usize,
        images: usize,
        invalid: usize,
        skipped: usize,
        /// RFC 3339: no image starts that cannot end by then.
        deadline: Option<String>,
    },
    /// How this run claims tasks on the root's filesystem, and why.
    ClaimsChosen {
        /// `flock`, `lease` or `flock+lease`.
        kind: String,
        /// The filesystem type (`ext4`, `nfs4`, `lustre`).
        filesystem: String,
        mount_point: String,
        /// The mount options that decide whether flock crosses machines.
        lock_options: Vec<String>,
        /// Lease time in seconds, when leases are used.
        lease_seconds: Option<f64>,
        reason: String,
    },
    /// The filesystem refused `flock` (no lock daemon, Lustre `noflock`) and, as
    /// `claims = "auto"` allows, leases stand in for every lock of this run from then on.
    ClaimsDegraded {
        /// The lock file whose `flock` was refused first.
        lock_file: String,
        error: String,
    },
    /// This run's lease on a task expired or was taken over while it worked on it: another
    /// run may finish it, so this run leaves it (what it made stays).
    ClaimLost { task: String },
    /// A claim whose holder had stopped renewing it (a node that died) was taken over.
    ClaimTakenOver {
        task: String,
        /// The old holder's host and process.
        host: String,
        pid: u32,
    },
    /// A file where a task could be that is not run, and why (`reason` names the file).
    TaskSkipped { task: String, reason: String },
    /// A task that cannot run; `error_file` is its `_ERROR.txt`, brought up to date by
    /// [`crate::queue::notes::sync`] before this event (`error_file_state` says what it did).
    TaskInvalid {
        task: String,
        error_file: String,
        #[serde(serialize_with = "problem_sentences")]
        problems: Problems,
        error_file_state: NoteState,
    },
    /// A valid task's notes changed: a stale `_ERROR.txt` removed, its `_WARNINGS.txt`
    /// written or removed (paths relative to the root).
    TaskNotes {
        task: String,
        wrote: Vec<String>,
        removed: Vec<String>,
    },
    /// A cap was applied to a task (iterations, each, resolution).
    TaskWarning { task: String, warning: String },
    /// Another runvqgan process holds the task's claim.
    TaskBusy { task: String },
    /// The task's claim file cannot be written.
    ClaimFailed {
        task: String,
        claim_file: String,
        error: String,
    },
    /// The task file was removed or renamed between planning and claiming.
    TaskGone { task: String },
    /// The model set is loaded (once per run, before the first image).
    ModelSetLoaded {
        model_set: String,
        vqgan_kind: String,
        factor: u32,
        n_embed: u32,
        clip_model: String,
        device: String,
        seconds: f64,
    },
    /// A batch ran out of memory; this and later batches are `to` images.
    BatchSplit {
        task: String,
        output: String,
        from: usize,
        to: usize,
    },
    /// An image and its sidecar are in place.
    ImageWritten {
        task: String,
        output: String,
        seconds: f64,
        iterations: u32,
        final_loss: f64,
        seed: u64,
        batch_size: u32,
        /// `[w, h]` as the engine made it (rounded down to the VQGAN's factor).
        size: [u32; 2],
    },
    /// The engine (or writing the sidecar) failed for an image or a batch.
    ImageFailed {
        task: String,
        output: String,
        kind: FailureKind,
        message: String,
        /// The Python traceback, for the owner (empty when there is none).
        traceback: String,
    },
    /// A task failed while generating; `error_file` is where its `_ERROR.txt` goes.
    TaskFailed {
        task: String,
        output: String,
        error_file: String,
        kind: FailureKind,
        message: String,
        /// The size that was asked for, for the out-of-memory hint.
        size: Option<[u32; 2]>,
    },
    /// An `_ERROR.txt` could not be written.
    ErrorFileFailed {
        task: String,
        error_file: String,
        error: String,
    },
    /// The task file changed or vanished while it ran; what was made stays.
    TaskChanged {
        task: String,
        reason: String,
        /// False: stopped between images; true: all images exist but it was not marked done.
        all_made: bool,
    },
    /// Every image exists; the task file was renamed.
    TaskDone { task: String, renamed_to: String },
    /// Every image exists, but the task cannot be renamed to `.done`.
    DoneRenameFailed { task: String, error: String },
    /// Every task to do is claimed by other processes.
    NothingToClaim { busy: usize },
    /// The run stops for its time budget; `left` are the tasks left for the next run.
    BudgetReached { reason: String, left: Vec<String> },
    /// Ctrl-C or SIGTERM: the run stops; nothing partial was written.
    Interrupted {},
    /// The run ended; `exit_code` is the process's exit status.
    RunFinished {
        outcome: Outcome,
        #[serde(flatten)]
        tasks: TaskCounts,
        images: usize,
        seconds: u64,
        exit_code: u8,
    },
    /// The run could not go on (no usable configuration, a missing model file, the engine
    /// did not start, the root cannot be read); `exit_code` is the process's exit status.
    RunFailed { error: String, exit_code: u8 },
    /// After the night: the gallery (`dir`, relative to the root) is up to date.
    GalleryBuilt {
        dir: String,
        images: usize,
        thumbnails_made: usize,
        seconds: f64,
    },
    /// After the night: the gallery could not be built; the night's outcome stands.
    GalleryFailed { dir: String, error: String },
    /// Another run holds the lock of this run's GPU: this run ends at once, touching no task.
    DeviceBusy {
        /// The device as this run named it.
        device: String,
        /// The other run's line in the lock file (`process 123 since ...`), or empty.
        holder: String,
    },
    /// At the start of a run: an earlier run on the root did not finish (its process was
    /// killed or crashed); its summary now says so ([`crate::records::unfinished`]).
    UnfinishedRunFound {
        run: String,
        host: String,
        pid: u32,
        /// Local time with offset.
        started: String,
        /// When it was last seen alive (local time with offset).
        last_seen: String,
        images: usize,
        tasks_done: usize,
    },
    /// The run started outside the night window (`window` in runvqgan.toml): it ends at
    /// once, touching no task (`run --ignore-window` runs anyway).
    OutsideWindow {
        /// The window, `HH:MM-HH:MM`.
        window: String,
        /// The local time the run started, `HH:MM`.
        time: String,
    },
    /// At the start of a run: something in the shared folder is not as the permission model
    /// says (a member's folder the owner cannot write, a root without the sticky bit), with
    /// the command that fixes it ([`crate::shared_folder::permissions`]).
    PermissionProblem {
        /// The folder, relative to the root.
        folder: String,
        /// What is wrong and what follows.
        problem: String,
        /// The command that fixes it.
        fix: String,
    },
}

fn problem_sentences<S: Serializer>(problems: &Problems, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(problems.errors.iter().map(ToString::to_string))
}

/// A consumer of events. `follow` takes events that handling this one caused (an error file
/// that cannot be written); they are handed to every sink after this one.
pub trait Sink: Send + Sync {
    /// Handles `event`, which happened at `at`.
    fn event(&self, event: &Event, at: SystemTime, follow: &mut Vec<Event>);
}

/// Hands every event to every sink, in order.
pub struct Reporter {
    sinks: Vec<Box<dyn Sink>>,
    now: Box<dyn Fn() -> SystemTime + Send + Sync>,
}

impl Reporter {
    /// A reporter to `sinks`, stamping events with `now()`.
    pub fn new(
        sinks: Vec<Box<dyn Sink>>,
        now: impl Fn() -> SystemTime + Send + Sync + 'static,
    ) -> Reporter {
        Reporter {
            sinks,
            now: Box::new(now),
        }
    }

    /// Reports `event`, and then what handling it caused.
    pub fn emit(&self, event: Event) {
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            let at = (self.now)();
            let mut follow = Vec::new();
            for sink in &self.sinks {
                sink.event(&event, at, &mut follow);
            }
            queue.extend(follow);
        }
    }
}

mod record;
pub use record::{JsonlSink, read_all, run_id};

/// Keeps every event in memory: for tests, and for anything that wants to look back.
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Sink for std::sync::Arc<Recorder> {
    fn event(&self, event: &Event, _at: SystemTime, _follow: &mut Vec<Event>) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
    }
}

#[cfg(test)]
mod tests;
