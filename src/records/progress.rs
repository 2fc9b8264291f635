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

/// The run log file (`runvqgan.log` in the root unless configured): appended to, one line
/// per event, each starting with a timestamp. Writing it never stops a run: a failure to
/// write is reported once on stderr.
pub struct RunLog {
    file: Mutex<Option<File>>,
    path: PathBuf,
}

impl RunLog {
    /// Opens (creates) the log file for appending, without following a link: a link that a
    /// member planted at its place is left alone, and the run goes on without the file.
    pub fn open(path: &Path) -> RunLog {
        let file = open_append(path);
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
        }
    }

    /// Appends one line (the local time with its offset is put in front).
    pub fn line(&self, text: &str) {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = guard.as_mut() {
            let stamped = format!("{} {}\n", local_timestamp(SystemTime::now()), text);
            if let Err(e) = f.write_all(stamped.as_bytes()) {
                tracing::warn!("cannot write the log file {}: {e}", self.path.display());
                *guard = None;
            }
        }
    }
}

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
    total_images: AtomicU64,
    done_images: Mutex<u64>,
}

impl Progress {
    /// No bars, whatever stderr is (tests of the night).
    pub fn hidden() -> Progress {
        Progress {
            bars: None,
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
            total_images: AtomicU64::new(total_images),
            done_images: Mutex::new(0),
        }
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
        *self.done_images.lock().unwrap_or_else(|e| e.into_inner()) += 1;
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
