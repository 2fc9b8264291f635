//! How a run shows its progress: bars on a terminal (one for the image being made, one for
//! the night), plain log lines under cron, and the run log file in the root with one line
//! per image for the owner to read in the morning.

use crate::process::text::local_timestamp;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::ProgressSink;
use crate::shared_folder::files::{LIVE_NAME, RUN_LOGS_NAME, STATE_DIR};
use crate::shared_folder::locks::method::ClaimMethod;
use crate::shared_folder::state::StateDir;

/// The run log file (`runvqgan.log` in the root unless configured): appended to, one line
/// per event, each starting with a timestamp. Writing it never stops a run: a failure to
/// write is reported once on stderr.
///
/// Two ways of writing it, by the root's claims ([`ClaimMethod`]):
/// - on a local disk (flock claims: every run on one machine) lines go straight to the log,
///   where the kernel appends each `write` whole;
/// - when runs of several machines may share the root (leases), appending from two NFS
///   clients to one file loses lines (each client writes at the end it last saw). Each run
///   then writes its lines to its own `.runvqgan/logs/<run>.log` and, when it ends, copies
///   them as one block into the log under the root's names lock; a run killed before that
///   leaves its file, which the next run copies ([`copy_block`]).
///
/// When runs share the log (leases, or another run working on the root now), each line
/// carries the run's id after its timestamp.
pub struct RunLog {
    file: Mutex<Option<File>>,
    path: PathBuf,
    run: String,
    /// The state folder's `live/` (to see other runs working now) and the last look at it.
    live: Option<(PathBuf, Mutex<LastLook>)>,
    /// Block mode: the log the block goes to, and the lock taken to copy it.
    block: Option<(PathBuf, ClaimMethod)>,
}

impl RunLog {
    /// Opens (creates) the log file for appending, without following a link: a link that a
    /// member planted at its place is left alone, and the run goes on without the file.
    pub fn open(path: &Path) -> RunLog {
        RunLog::with_file(path, open_append(path), String::new(), None, None)
    }

    fn with_file(
        path: &Path,
        file: std::io::Result<File>,
        run: String,
        live: Option<PathBuf>,
        block: Option<(PathBuf, ClaimMethod)>,
    ) -> RunLog {
        if let Err(e) = &file {
            tracing::warn!(
                "cannot write the log file {}: {}; the run goes on without it",
                path.display(),
                crate::shared_folder::confined::describe(e)
            );
        }
        RunLog {
            file: Mutex::new(file.ok()),
            path: path.to_path_buf(),
            run,
            live: live.map(|l| (l, Mutex::new((None, false)))),
            block,
        }
    }

    /// The log of run `run` on `root`, written to `path` as the claims `method` call for.
    pub fn for_run(root: &Path, path: &Path, run: &str, method: &ClaimMethod) -> RunLog {
        let live = Some(root.join(STATE_DIR).join(LIVE_NAME));
        if !method.plan.lease {
            return RunLog::with_file(path, open_append(path), run.into(), live, None);
        }
        let name = format!("{run}.log");
        let own = root.join(STATE_DIR).join(RUN_LOGS_NAME).join(&name);
        let file = StateDir::open(root)
            .and_then(|s| s.sub(RUN_LOGS_NAME))
            .map_err(std::io::Error::from)
            .and_then(|logs| logs.append(&name));
        let block = Some((path.to_path_buf(), method.clone()));
        RunLog::with_file(&own, file, run.into(), live, block)
    }

    /// Whether the log is shared with other runs now, so that lines carry the run's id.
    fn shared(&self) -> bool {
        if self.block.is_some() {
            return true;
        }
        let Some((dir, seen)) = &self.live else {
            return false;
        };
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.0.is_none_or(|t| t.elapsed().as_secs() >= 10) {
            let own = format!("{}.json", self.run);
            let others = std::fs::read_dir(dir).is_ok_and(|entries| {
                entries.filter_map(|e| e.ok()).any(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.ends_with(".json") && !n.starts_with('.') && n != own
                })
            });
            *seen = (Some(Instant::now()), others);
        }
        seen.1
    }

    /// Appends one line (the local time with its offset is put in front, and the run's id
    /// when the log is shared).
    pub fn line(&self, text: &str) {
        let tag = if !self.run.is_empty() && self.shared() {
            format!("[run {}] ", self.run)
        } else {
            String::new()
        };
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = guard.as_mut() {
            let stamped = format!("{} {tag}{}\n", local_timestamp(SystemTime::now()), text);
            if let Err(e) = f.write_all(stamped.as_bytes()) {
                tracing::warn!("cannot write the log file {}: {e}", self.path.display());
                *guard = None;
            }
        }
    }
}

impl Drop for RunLog {
    /// In block mode, the run's lines go into the shared log as one block.
    fn drop(&mut self) {
        if let Some((log, method)) = &self.block
            && let Err(e) = copy_block(log, &self.path, method, None)
        {
            tracing::warn!(
                "cannot copy this run's log {} into {}: {e}; the lines stay in the first",
                self.path.display(),
                log.display()
            );
        }
    }
}

/// Copies the run log `own` into the shared log `log` as one block, under the root's names
/// lock, then `trailer` as a line of its own, and removes `own`: one writer at a time, each
/// opening the file anew, so that on NFS (close-to-open consistency) every block lands after
/// the last.
pub fn copy_block(
    log: &Path,
    own: &Path,
    method: &ClaimMethod,
    trailer: Option<&str>,
) -> std::io::Result<()> {
    let Some(mut text) = crate::shared_folder::confined::read_own_file(own, 256 << 20) else {
        return Ok(());
    };
    if let Some(t) = trailer {
        text.extend_from_slice(format!("{} {t}\n", local_timestamp(SystemTime::now())).as_bytes());
    }
    if text.is_empty() {
        return Ok(());
    }
    let _lock = method.lock_names(&method.root)?;
    let mut f = open_append(log)?;
    f.write_all(&text)?;
    f.sync_all()?;
    // Its lines are in the shared log now; a file left behind would be copied again.
    std::fs::remove_file(own)
}

/// When the run log last looked for other live runs, and whether it saw one.
type LastLook = (Option<Instant>, bool);

/// Opens (creates, `rw-r--r--` before the umask) a file in the root for appending: not
/// through a link, not blocking on a fifo, and only a regular file, since members can plant
/// anything under the root.
pub fn open_append(path: &Path) -> std::io::Result<File> {
    // Inside the root, the folders on the way are also resolved beneath its handle.
    crate::shared_folder::confined::open_append(path)
}

/// The progress display of one run.
pub struct Progress {
    bars: Option<(MultiProgress, ProgressBar)>,
    /// The run's live file, told of each image ([`crate::records::live`]).
    live: std::sync::OnceLock<std::sync::Arc<crate::records::live::Live>>,
    total_images: AtomicU64,
    done_images: Mutex<u64>,
}

impl Progress {
    /// No bars, whatever stderr is (tests of the night).
    pub fn hidden() -> Progress {
        Progress {
            bars: None,
            live: std::sync::OnceLock::new(),
            total_images: AtomicU64::new(0),
            done_images: Mutex::new(0),
        }
    }

    /// Sets the number of images of the night, once it is planned.
    pub fn set_total(&self, total_images: u64) {
        self.total_images.store(total_images, Ordering::Relaxed);
        if let Some((_, night)) = &self.bars {
            night.set_length(total_images);
        }
    }

    /// Bars when stderr is a terminal, plain log lines otherwise.
    pub fn new(total_images: u64) -> Progress {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let night = multi.add(ProgressBar::new(total_images));
            night.set_style(
                ProgressStyle::with_template(
                    "night  [{bar:30}] {pos}/{len} images  {elapsed_precise} elapsed",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            (multi, night)
        });
        Progress {
            bars,
            live: std::sync::OnceLock::new(),
            total_images: AtomicU64::new(total_images),
            done_images: Mutex::new(0),
        }
    }

    /// Tells `live` of every image from now on.
    pub fn set_live(&self, live: std::sync::Arc<crate::records::live::Live>) {
        let _ = self.live.set(live);
    }

    /// Shows a message without breaking the bars.
    pub fn say(&self, f: impl FnOnce()) {
        match &self.bars {
            Some((multi, _)) => multi.suspend(f),
            None => f(),
        }
    }

    /// Starts the display of one image.
    pub fn image(&self, label: &str, iterations: u32) -> ImageProgress {
        let n = *self.done_images.lock().unwrap_or_else(|e| e.into_inner()) + 1;
        if let Some(live) = self.live.get() {
            live.update(|r| {
                r.current = Some(label.to_string());
                r.current_k = n;
            });
        }
        let bar = self.bars.as_ref().map(|(multi, _)| {
            let bar = multi.insert(0, ProgressBar::new(u64::from(iterations)));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix}  [{bar:30}] {pos}/{len} it  {per_sec}  ETA {eta}  loss {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar
        });
        if bar.is_none() {
            tracing::info!(
                "image {n}/{}: {label}: {iterations} iterations",
                self.total_images.load(Ordering::Relaxed)
            );
        }
        ImageProgress {
            label: label.to_string(),
            bar,
            started: Instant::now(),
            last_logged: Mutex::new(0),
        }
    }

    /// Counts one image as finished (made or failed).
    pub fn image_done(&self) {
        let done = {
            let mut d = self.done_images.lock().unwrap_or_else(|e| e.into_inner());
            *d += 1;
            *d
        };
        if let Some(live) = self.live.get() {
            live.update(|r| r.finished = done);
        }
        if let Some((_, night)) = &self.bars {
            night.inc(1);
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        if let Some((_, night)) = &self.bars {
            night.finish_and_clear();
        }
    }
}

/// The progress of the image being made; the engine calls it after every iteration.
pub struct ImageProgress {
    label: String,
    bar: Option<ProgressBar>,
    started: Instant,
    last_logged: Mutex<u32>,
}

impl ImageProgress {
    /// Removes this image's bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl ProgressSink for ImageProgress {
    fn step(&self, iteration: u32, total: u32, loss: f64) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(u64::from(iteration));
                bar.set_message(format!("{loss:.4}"));
            }
            None => {
                // Under cron: a line at each quarter, so the log shows a live run without
                // a line per iteration.
                let quarter = (iteration.saturating_mul(4)) / total.max(1);
                let mut last = self.last_logged.lock().unwrap_or_else(|e| e.into_inner());
                if quarter > *last && iteration < total {
                    *last = quarter;
                    let secs = self.started.elapsed().as_secs_f64().max(1e-9);
                    tracing::info!(
                        "{}: iteration {iteration}/{total}, {:.2} it/s, loss {loss:.4}",
                        self.label,
                        f64::from(iteration) / secs
                    );
                }
            }
        }
    }
}
