//! What happened during a night, as typed values. Every outcome of `run` is one [`Event`];
//! the run log, the terminal, the members' `_ERROR.txt` files and the machine-readable record
//! `<root>/.runvqgan/events.jsonl` are all [`Sink`]s of the same events, so a new consumer
//! (a status command, a gallery, a monitor) reads the record instead of parsing free text.
//! The record's schema is documented in `docs/events.md`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use crate::engine::failure::FailureKind;
use crate::shared_folder::files::{EVENTS_DIR_NAME, EVENTS_FILE, STATE_DIR};
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

/// A run's identity in the record: its start time, host and process id, e.g.
/// `20261129T230000Z-gpu1-4711`. The host keeps apart the runs of several machines on one
/// root (the elements of a Slurm job array start in the same second, and process ids repeat
/// across machines); it is reduced to characters safe in a file name.
pub fn run_id(started: SystemTime, host: &str, pid: u32) -> String {
    let stamp = humantime::format_rfc3339_seconds(started)
        .to_string()
        .replace(['-', ':'], "");
    format!("{stamp}-{}-{pid}", crate::process::file_safe(host))
}

/// One line of `events.jsonl`.
#[derive(Serialize)]
struct Record<'a> {
    time: String,
    run: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

/// The machine-readable record of a run, `<root>/.runvqgan/events/<run>.jsonl`: one JSON
/// object per line. Each run writes its own file and no other process writes it, so nothing
/// depends on `O_APPEND` being atomic between writers, which NFS does not give across
/// machines (two hosts appending to one file overwrite each other's lines). Readers merge
/// the files by time ([`read_all`]). The file is opened without following links.
pub struct JsonlSink {
    file: Mutex<Option<File>>,
    path: PathBuf,
    run: String,
}

impl JsonlSink {
    /// Opens (creates) the record of `root` for run `run`. A record that cannot be opened
    /// is reported once and the run goes on without it.
    pub fn open(root: &Path, run: &str) -> JsonlSink {
        let name = format!("{run}.jsonl");
        let path = root.join(STATE_DIR).join(EVENTS_DIR_NAME).join(&name);
        let file = crate::shared_folder::state::StateDir::open(root)
            .and_then(|state| state.sub(EVENTS_DIR_NAME))
            .map_err(std::io::Error::from)
            .and_then(|events| events.append(&name));
        if let Err(e) = &file {
            tracing::warn!("cannot write the record of events {}: {e}", path.display());
        }
        JsonlSink {
            file: Mutex::new(file.ok()),
            path,
            run: run.to_string(),
        }
    }
}

impl Sink for JsonlSink {
    fn event(&self, event: &Event, at: SystemTime, _follow: &mut Vec<Event>) {
        let record = Record {
            time: humantime::format_rfc3339_millis(at).to_string(),
            run: &self.run,
            event,
        };
        let mut line = serde_json::to_vec(&record).expect("an event always serialises");
        line.push(b'\n');
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = guard.as_mut() {
            // One write call per line, by the file's only writer.
            match f.write(&line) {
                Ok(n) if n == line.len() => {}
                Ok(n) => {
                    tracing::warn!(
                        "the record of events {} is full: wrote {n} of {} bytes",
                        self.path.display(),
                        line.len()
                    );
                    *guard = None;
                }
                Err(e) => {
                    tracing::warn!(
                        "cannot write the record of events {}: {e}",
                        self.path.display()
                    );
                    *guard = None;
                }
            }
        }
    }
}

/// Every line of the root's record of events, of every run, merged in time order: the files
/// `.runvqgan/events/<run>.jsonl` and the single `.runvqgan/events.jsonl` of older versions.
/// Each line starts with its `time` (RFC 3339 in UTC, fixed width), so ordering by the text
/// orders by time; the lines of one run keep their order. A line that is not JSON (a file a
/// member could not have written, but a disk that filled) is left out.
pub fn read_all(root: &Path) -> Vec<String> {
    let mut files = vec![root.join(EVENTS_FILE)];
    let dir = root.join(STATE_DIR).join(EVENTS_DIR_NAME);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        names.sort();
        files.extend(names);
    }
    let mut lines: Vec<String> = Vec::new();
    for f in files {
        let Some(bytes) = crate::shared_folder::confined::read_own_file(&f, 256 << 20) else {
            continue;
        };
        lines.extend(
            String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
                .map(str::to_string),
        );
    }
    lines.sort_by(|a, b| time_of(a).cmp(time_of(b)));
    lines
}

/// The `time` of a record line (its first key), for ordering.
fn time_of(line: &str) -> &str {
    line.strip_prefix("{\"time\":\"")
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
}

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
