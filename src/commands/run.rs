//! `runvqgan run`: the nightly job. This file wires the parts together: the configuration
//! and time budget, the sinks of the night's events (the record `.runvqgan/events.jsonl`,
//! the members' error files, the run log, the terminal), and the embedded engine as the
//! night's [`Generator`]. The night itself is [`crate::night`].

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::budget::{self, Budget, Clock, SystemClock};
use crate::commands::models::{model_files, start_configured};
use crate::config::{Config, ConfigError, ConfigOverrides};
use crate::engine::{Engine, GenerateError, Generated, ModelInfo, ProgressSink};
use crate::events::{Event, JsonlSink, Reporter, run_id};
use crate::exit_codes::ExitCode;
use crate::job::Job;
use crate::night::sinks::{ErrorFileSink, LogSink, TerminalSink};
use crate::night::{self, Generator, Night};
use crate::progress::{Progress, RunLog};
use crate::root::Root;
use crate::slurm::SlurmJob;

/// Options of `run`.
#[derive(Debug, Clone)]
pub struct RunOptions<'a> {
    /// The shared folder.
    pub root: &'a Path,
    /// Flags that override `runvqgan.toml`.
    pub overrides: ConfigOverrides,
    /// `--until HH:MM`: start no image that cannot finish before this local time.
    pub until: Option<String>,
}

/// Runs the nightly job on `opts.root`.
pub fn run(opts: &RunOptions<'_>) -> anyhow::Result<ExitCode> {
    let clock = SystemClock;
    let root = Root::open(opts.root)?;
    let config = Config::load(root.path(), &opts.overrides)?;
    night::check_delay(&config)?;
    let until = opts
        .until
        .as_deref()
        .map(budget::parse_until)
        .transpose()
        .map_err(|problem| ConfigError::Value {
            path: "the command line".into(),
            key: "until".into(),
            problem,
        })?;
    let mut budget = Budget::new(until, config.max_minutes, clock.now());
    if let Some(job) = SlurmJob::from_env()
        && let Some(end) = job.end(clock.now())
    {
        // Slurm sends SIGTERM a minute before the end (the script's --signal); leave that
        // minute for the last rename.
        budget = budget.limit_to(
            end - std::time::Duration::from_secs(60),
            format!("the end of {} less a minute", job.describe()),
        );
    }
    let stop = crate::commands::stop_flag()?;

    let progress = Arc::new(Progress::new(0));
    let reporter = Reporter::new(
        vec![
            // First: an error file that cannot be written is reported to the sinks after it.
            Box::new(ErrorFileSink {
                root: root.path().to_path_buf(),
            }),
            Box::new(JsonlSink::open(
                root.path(),
                &run_id(clock.now(), std::process::id()),
            )),
            Box::new(LogSink(RunLog::open(&root.path().join(&config.log_file)))),
            Box::new(TerminalSink(progress.clone())),
        ],
        move || clock.now(),
    );
    let mut engine = NightEngine {
        root: &root,
        config: &config,
        stop: stop.clone(),
        engine: None,
    };
    let night = Night {
        root: &root,
        config: &config,
        budget,
        stop: &stop,
        clock: &clock,
        reporter: &reporter,
        progress,
    };
    let code = night::run(night, &mut engine).inspect_err(|e| {
        reporter.emit(Event::RunFailed {
            error: format!("{e:#}"),
        })
    })?;
    if let Some(dir) = &config.gallery_dir()
        && code != ExitCode::Interrupted
    {
        reporter.emit(build_gallery(&root, dir));
    }
    Ok(code)
}

/// Brings the gallery up to date after the night (`gallery` in runvqgan.toml). A gallery
/// that cannot be built is reported; it does not change how the night ended.
fn build_gallery(root: &Root, dir: &str) -> Event {
    let options = crate::gallery::GalleryOptions {
        dir: dir.to_string(),
    };
    match crate::gallery::build(root, &options) {
        Ok(report) => Event::GalleryBuilt {
            dir: dir.to_string(),
            images: report.images,
            thumbnails_made: report.thumbs.made,
            seconds: (report.elapsed.as_secs_f64() * 100.0).round() / 100.0,
        },
        Err(e) => Event::GalleryFailed {
            dir: dir.to_string(),
            error: format!("{e:#}"),
        },
    }
}

/// The embedded Python engine as the night's [`Generator`]: Python starts and the configured
/// model set loads on the first image, once for the whole run.
struct NightEngine<'a> {
    root: &'a Root,
    config: &'a Config,
    stop: Arc<AtomicBool>,
    engine: Option<Engine>,
}

impl Generator for NightEngine<'_> {
    fn start(&mut self) -> anyhow::Result<ModelInfo> {
        let files = model_files(self.root.path(), self.config, None);
        let (engine, info) = start_configured(self.config, &files, self.stop.clone())?;
        if self.config.device.is_none() && info.device.starts_with("cpu") {
            tracing::warn!("no CUDA GPU found: generating on the CPU, which is very slow");
        }
        self.engine = Some(engine);
        Ok(info)
    }

    fn generate(
        &mut self,
        jobs: &[Job],
        progress: Arc<dyn ProgressSink>,
    ) -> Result<Vec<Generated>, GenerateError> {
        self.engine
            .as_ref()
            .expect("the night starts the engine before its first image")
            .generate_batch(&self.config.model, jobs, progress)
    }
}
