//! The runs working now: each run keeps `<root>/.runvqgan/live/<run>.json` up to date (who:
//! host, process, since; what: image k of N and its output; the expected end of the night)
//! and removes it when it ends, whatever way it ends short of being killed. `status` reads
//! these files to show a run in progress; a file whose process is gone is a run that did not
//! finish ([`crate::records::unfinished`]).
//!
//! The file is rewritten whole (a temporary file renamed over it) when the run starts an
//! image or finishes one, and every [`HEARTBEAT`] by a thread of its own, so that its
//! `updated_unix` says when the process was last seen working: the only sign of life a run
//! on another machine gives.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::process::slurm::SlurmJob;
use crate::records::events::{Event, Sink};
use crate::shared_folder::files::{LIVE_NAME, STATE_DIR};
use crate::shared_folder::state::StateDir;

/// How often a live run rewrites its file even when nothing changes.
pub const HEARTBEAT: Duration = Duration::from_secs(20);

/// What `.runvqgan/live/<run>.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveRecord {
    /// The run's id (as in its events and summary).
    pub run: String,
    pub host: String,
    pub pid: u32,
    /// The process's start time in clock ticks after boot (`/proc/PID/stat`, field 22): a
    /// process id reused by another process does not pass for the run.
    pub pid_start: Option<u64>,
    /// `/proc/sys/kernel/random/boot_id`: after a reboot no process of before is alive.
    pub boot_id: Option<String>,
    /// `/proc/self/ns/pid`: process ids are only comparable inside one PID namespace.
    pub pid_ns: Option<String>,
    pub slurm_job_id: Option<String>,
    pub slurm_array_job_id: Option<String>,
    pub slurm_array_task_id: Option<String>,
    /// When the run started (Unix seconds).
    pub since_unix: u64,
    /// When the file was last written (Unix seconds): the process was alive then.
    pub updated_unix: u64,
    /// When the models were loaded (Unix seconds), the start of the speed measured here.
    pub loaded_unix: Option<u64>,
    /// Images of the night (the plan's count).
    pub images: u64,
    /// Images finished (made or failed) so far.
    pub finished: u64,
    /// Images written so far.
    pub written: u64,
    /// Tasks done so far.
    pub tasks_done: u64,
    /// The image being made (`output/dog_3.png`, or `... (+3 more)` for a batch), and its
    /// number k of `images`.
    pub current: Option<String>,
    pub current_k: u64,
    /// The time budget's end, when there is one (Unix seconds).
    pub deadline_unix: Option<u64>,
}

impl LiveRecord {
    /// When the night is expected to end (Unix seconds): the images left at the pace of the
    /// images finished since the models loaded, no later than the deadline. `None` before
    /// the first image is finished.
    pub fn expected_end(&self) -> Option<u64> {
        let loaded = self.loaded_unix?;
        if self.finished == 0 {
            return None;
        }
        let per_image = self.updated_unix.saturating_sub(loaded) as f64 / self.finished as f64;
        let left = self.images.saturating_sub(self.finished) as f64;
        let end = self.updated_unix + (per_image * left).round() as u64;
        Some(self.deadline_unix.map_or(end, |d| end.min(d)))
    }

    /// Reads every live file of `root` (newest start first); files that are not runvqgan's
    /// are left out.
    pub fn all(root: &Path) -> Vec<LiveRecord> {
        let dir = root.join(STATE_DIR).join(LIVE_NAME);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut runs: Vec<LiveRecord> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
            .filter_map(|n| {
                let bytes = crate::records::speeds::read_state_file(&dir.join(&n))?;
                let r: LiveRecord = serde_json::from_slice(&bytes).ok()?;
                (crate::records::plausible::run_id(&r.run) && n == format!("{}.json", r.run))
                    .then_some(r)
            })
            .collect();
        runs.sort_by_key(|r| std::cmp::Reverse(r.since_unix));
        runs
    }
}

/// This process's identity as a live file records it.
pub fn this_process() -> (Option<u64>, Option<String>, Option<String>) {
    (
        process_start(std::process::id()),
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_string()),
        std::fs::read_link("/proc/self/ns/pid")
            .ok()
            .map(|p| p.to_string_lossy().into_owned()),
    )
}

/// The start time of process `pid` in clock ticks after boot, `None` when there is none.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// This run's live file, kept up to date until the run ends.
pub struct Live {
    dir: Option<StateDir>,
    path: PathBuf,
    record: Mutex<LiveRecord>,
    ended: Mutex<bool>,
}

impl Live {
    /// Writes the live file of run `run`, started at `started`, and starts its heartbeat.
    /// A file that cannot be written is reported once; the run goes on without it.
    pub fn start(root: &Path, run: &str, started: SystemTime) -> Arc<Live> {
        let (pid_start, boot_id, pid_ns) = this_process();
        let slurm = SlurmJob::from_env().unwrap_or_default();
        let record = LiveRecord {
            run: run.to_string(),
            host: crate::process::host_name(),
            pid: std::process::id(),
            pid_start,
            boot_id,
            pid_ns,
            slurm_job_id: (!slurm.job_id.is_empty()).then_some(slurm.job_id),
            slurm_array_job_id: slurm.array_job_id,
            slurm_array_task_id: slurm.array_task_id,
            since_unix: unix(started),
            updated_unix: unix(started),
            ..LiveRecord::default()
        };
        let dir = StateDir::open(root).and_then(|s| s.sub(LIVE_NAME));
        if let Err(e) = &dir {
            tracing::warn!("cannot keep this run's live file in {STATE_DIR}/{LIVE_NAME}: {e}");
        }
        let live = Arc::new(Live {
            dir: dir.ok(),
            path: root.join(STATE_DIR).join(LIVE_NAME),
            record: Mutex::new(record),
            ended: Mutex::new(false),
        });
        live.write();
        let weak: Weak<Live> = Arc::downgrade(&live);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(HEARTBEAT);
                match weak.upgrade() {
                    Some(live) if !*live.ended.lock().unwrap_or_else(|e| e.into_inner()) => {
                        live.update(|_| {})
                    }
                    _ => return,
                }
            }
        });
        live
    }

    /// Changes the record and rewrites the file.
    pub fn update(&self, f: impl FnOnce(&mut LiveRecord)) {
        {
            let mut r = self.record.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut r);
        }
        self.write();
    }

    fn write(&self) {
        let ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        if *ended {
            return;
        }
        let Some(dir) = &self.dir else { return };
        let json = {
            let mut r = self.record.lock().unwrap_or_else(|e| e.into_inner());
            r.updated_unix = unix(SystemTime::now());
            serde_json::to_vec_pretty(&*r).expect("a live record always serialises")
        };
        let name = format!("{}.json", self.run());
        if let Err(e) = dir.write_atomic(&name, &json, 0o644) {
            tracing::debug!("cannot write {}: {e}", self.path.join(&name).display());
        }
    }

    /// The run's id.
    pub fn run(&self) -> String {
        self.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .run
            .clone()
    }

    /// The run ended (its summary is written): the file goes.
    pub fn end(&self) {
        let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        if !*ended {
            *ended = true;
            if let Some(dir) = &self.dir {
                let _ = dir.remove(&format!("{}.json", self.run()));
            }
        }
    }
}

/// The live file as a sink of the run's events.
pub struct LiveSink(pub Arc<Live>);

impl Sink for LiveSink {
    fn event(&self, event: &Event, at: SystemTime, _follow: &mut Vec<Event>) {
        match event {
            Event::RunStarted {
                images, deadline, ..
            } => self.0.update(|r| {
                r.images = *images as u64;
                r.deadline_unix = deadline
                    .as_deref()
                    .and_then(|d| humantime::parse_rfc3339(d).ok())
                    .map(unix);
            }),
            Event::ModelSetLoaded { .. } => self.0.update(|r| r.loaded_unix = Some(unix(at))),
            Event::ImageWritten { .. } => self.0.update(|r| r.written += 1),
            Event::TaskDone { .. } => self.0.update(|r| r.tasks_done += 1),
            Event::RunFinished { .. }
            | Event::RunFailed { .. }
            | Event::DeviceBusy { .. }
            | Event::OutsideWindow { .. } => self.0.end(),
            _ => {}
        }
    }
}
