//! `runvqgan run`: the nightly job. This file wires the parts together: the configuration
//! and time budget, the sinks of the night's events (the record `.runvqgan/events.jsonl`,
//! the members' error files, the run log, the terminal), and the embedded engine as the
//! night's [`Generator`]. The night itself is [`crate::night`].

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::call::job::Job;
use crate::commands::SetupFailed;
use crate::commands::exit_code_for;
use crate::config::window::NightWindow;
use crate::config::{Config, ConfigError, ConfigOverrides};
use crate::engine::models::{check_model_files, model_files, start_configured};
use crate::engine::{Engine, GenerateError, Generated, ModelInfo, ProgressSink, PythonSetup};
use crate::night::budget::{self, Budget, Clock, SystemClock};
use crate::night::{self, Generator, Night};
use crate::process::exit_codes::ExitCode;
use crate::process::slurm::SlurmJob;
use crate::queue::tonight::QueueNow;
use crate::records::events::{Event, JsonlSink, Reporter, run_id};
use crate::records::live::{Live, LiveSink};
use crate::records::progress::{Progress, RunLog, copy_block};
use crate::records::sinks::{ErrorFileSink, LogSink, TerminalSink};
use crate::records::speeds::{SpeedSink, Speeds};
use crate::records::summary::{Outputs, SummarySink};
use crate::records::unfinished;
use crate::shared_folder::locks::device::{self, DeviceLock};
use crate::shared_folder::locks::method::{self, ClaimMethod};
use crate::shared_folder::permissions;
use crate::shared_folder::root::Root;
use crate::shared_folder::state::StateDir;

/// Options of `run`.
#[derive(Debug, Clone)]
pub struct RunOptions<'a> {
    /// The shared folder.
    pub root: &'a Path,
    /// Flags that override `runvqgan.toml`.
    pub overrides: ConfigOverrides,
    /// `--until HH:MM`: start no image that cannot finish before this local time.
    pub until: Option<String>,
    /// `--ignore-window`: run even when started outside the night window.
    pub ignore_window: bool,
    /// `--failed-tasks-ok`: exit 0 instead of 3 when some tasks failed or were invalid.
    pub failed_tasks_ok: bool,
}

/// Runs the nightly job on `opts.root`. Every run that finds its root ends with one final
/// line in the log: "run finished: ..." (or stopped, interrupted) or "run failed: <reason>",
/// even when the configuration cannot be read (then in the default log file).
pub fn run(opts: &RunOptions<'_>) -> anyhow::Result<ExitCode> {
    let clock = SystemClock;
    let started = clock.now();
    let root = Root::open(opts.root)?;
    let run = run_id(started, &crate::process::host_name(), std::process::id());
    let (config, budget, outside) = match settings(&root, opts, started) {
        Ok(settings) => settings,
        Err(e) => {
            let config = Config::default();
            let reporter = Reporter::new(
                vec![
                    Box::new(JsonlSink::open(root.path(), &run)),
                    Box::new(SummarySink::new(
                        root.path(),
                        &run,
                        started,
                        &config.model,
                        None,
                        Outputs::default(),
                    )),
                    Box::new(LogSink(RunLog::open(&root.path().join(&config.log_file)))),
                ],
                move || clock.now(),
            );
            reporter.emit(Event::RunFailed {
                error: format!("{e:#}"),
                exit_code: exit_code_for(&e).code(),
            });
            return Err(e);
        }
    };
    let stop = crate::commands::stop_flag()?;

    let progress = Arc::new(Progress::new(0));
    let live = Live::start(root.path(), &run, started);
    progress.set_live(live.clone());
    let method = ClaimMethod::for_root(root.path(), config.claims, config.lease_seconds);
    let log_path = root.path().join(&config.log_file);
    let reporter = Reporter::new(
        vec![
            // First: an error file that cannot be written is reported to the sinks after it.
            Box::new(ErrorFileSink {
                root: root.path().to_path_buf(),
            }),
            Box::new(JsonlSink::open(root.path(), &run)),
            Box::new(SpeedSink::new(root.path(), &config.model, started)),
            Box::new(SummarySink::new(
                root.path(),
                &run,
                started,
                &config.model,
                config.device.as_deref(),
                Outputs {
                    metrics_file: config.metrics_file.as_ref().map(|m| root.path().join(m)),
                    on_finish: config.on_finish.clone(),
                },
            )),
            Box::new(LogSink(RunLog::for_run(
                root.path(),
                &log_path,
                &run,
                &method,
            ))),
            Box::new(TerminalSink(progress.clone())),
            Box::new(LiveSink(live.clone())),
        ],
        move || clock.now(),
    );
    report_unfinished(root.path(), &run, &log_path, &method, &reporter);
    for f in permissions::check(root.path(), config.gallery_dir().as_deref(), &[]) {
        reporter.emit(Event::PermissionProblem {
            folder: f.folder,
            problem: f.problem,
            fix: f.fix,
        });
    }
    if let Some(window) = outside {
        reporter.emit(Event::OutsideWindow {
            window: window.to_string(),
            time: {
                let m = crate::config::window::local_minute(started);
                format!("{:02}:{:02}", m / 60, m % 60)
            },
        });
        return Ok(ExitCode::Success);
    }
    // Held (or not needed) until the run ends.
    let lock_setting = device::LockSetting {
        claims: config.claims,
        lease: std::time::Duration::from_secs_f64(config.lease_seconds),
    };
    let _gpu = match device::for_run(root.path(), config.device.as_deref(), lock_setting)? {
        DeviceLock::Busy { device, holder } => {
            if let Some((file, error)) = method::flock_refusal_to_report() {
                reporter.emit(Event::ClaimsDegraded {
                    lock_file: root.rel(&file),
                    error,
                });
            }
            reporter.emit(Event::DeviceBusy { device, holder });
            return Ok(ExitCode::Success);
        }
        lock => lock,
    };
    let mut engine = NightEngine {
        root: &root,
        config: &config,
        stop: stop.clone(),
        engine: None,
    };
    let gallery_dir = config.gallery_dir();
    let (root_ref, config_ref) = (&root, &config);
    let gallery = gallery_dir
        .as_deref()
        .map(|dir| move || build_gallery(root_ref, dir, config_ref));
    let queue_page = gallery_dir
        .as_deref()
        .map(|dir| move |q: QueueNow<'_>| write_queue_page(root_ref, config_ref, dir, &q));
    let night = Night {
        root: &root,
        config: &config,
        budget,
        stop: &stop,
        clock: &clock,
        reporter: &reporter,
        progress,
        speeds: Speeds::load(root.path()),
        epilogue: gallery.as_ref().map(|f| f as &dyn Fn() -> Event),
        queue_page: queue_page.as_ref().map(|f| f as &dyn Fn(QueueNow<'_>)),
    };
    let code = night::run(night, &mut engine).inspect_err(|e| {
        reporter.emit(Event::RunFailed {
            error: format!("{e:#}"),
            exit_code: exit_code_for(e).code(),
        })
    })?;
    if opts.failed_tasks_ok && code == ExitCode::Partial {
        // The summary and the log keep exit code 3 and the failed tasks.
        return Ok(ExitCode::Success);
    }
    Ok(code)
}

/// Reports the earlier runs on `root` that did not finish (killed or crashed) and writes
/// their summaries; in block mode their own logs go into the shared log, with a last line.
fn report_unfinished(
    root: &Path,
    run: &str,
    log_path: &Path,
    method: &ClaimMethod,
    reporter: &Reporter,
) {
    for (live, s) in unfinished::find(root, std::time::SystemTime::now()) {
        if s.run == run {
            continue;
        }
        match unfinished::settle(root, &s) {
            Ok(true) => {}
            // Another run starting now recorded it first, and reports it.
            Ok(false) => continue,
            Err(e) => tracing::warn!("cannot record that run {} did not finish: {e}", s.run),
        }
        if method.plan.lease {
            let own = root
                .join(crate::shared_folder::files::STATE_DIR)
                .join(crate::shared_folder::files::RUN_LOGS_NAME)
                .join(format!("{}.log", s.run));
            let trailer = format!(
                "[run {}] did not finish (killed or crashed at about {})",
                s.run, s.finished
            );
            if let Err(e) = copy_block(log_path, &own, method, Some(&trailer)) {
                tracing::warn!("cannot copy the log of run {} into the log: {e}", s.run);
            }
        }
        reporter.emit(Event::UnfinishedRunFound {
            run: s.run.clone(),
            host: s.host.clone(),
            pid: live.pid,
            started: s.started.clone(),
            last_seen: s.finished.clone(),
            images: s.images,
            tasks_done: s.tasks.done,
        });
    }
}

/// Writes the gallery's queue page (`queue.html`) for the queue at `q`, and once the night
/// is over what is left for the next one; a page that cannot be written is a warning in the
/// log, the night goes on.
fn write_queue_page(root: &Root, config: &Config, dir: &str, q: &QueueNow<'_>) {
    crate::gallery::queue_inputs::forget(root.path());
    let written = if q.next >= q.tonight.turns.len() {
        crate::queue::plan::plan(root, config)
            .map_err(|source| crate::gallery::disk::GalleryError::Io {
                path: root.path().to_path_buf(),
                source,
            })
            .and_then(|tasks| {
                crate::gallery::queue::write_planned(root, config, dir, q.now, &tasks)
            })
    } else {
        crate::gallery::queue::write(root, dir, q)
    };
    if let Err(e) = written {
        tracing::warn!(
            "the queue page cannot be written: {}",
            crate::process::text::escape(&format!("{e:#}"))
        );
    }
}

/// Brings the gallery up to date after the night (`gallery` in runvqgan.toml). A gallery
/// that cannot be built is reported; it does not change how the night ended.
/// Several runs ending at once (a Slurm job array) build it one after another under the
/// gallery's lock ([`crate::gallery::build_exclusive`]).
fn build_gallery(root: &Root, dir: &str, config: &Config) -> Event {
    let options = crate::gallery::GalleryOptions {
        dir: dir.to_string(),
    };
    let claims = crate::shared_folder::locks::method::ClaimMethod::for_root(
        root.path(),
        config.claims,
        config.lease_seconds,
    );
    match crate::gallery::build_exclusive(root, &options, &claims) {
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

/// The configuration with the command line applied, the time budget from `started`, and the
/// night window when the run started outside it (and was not told to ignore it).
fn settings(
    root: &Root,
    opts: &RunOptions<'_>,
    started: std::time::SystemTime,
) -> anyhow::Result<(Config, Budget, Option<NightWindow>)> {
    let config = Config::load(root.path(), &opts.overrides)?;
    // The owner's state is the owner's, or the night does not start (exit 2, with the fix).
    StateDir::open(root.path())?;
    device::preflight(config.device.as_deref()).map_err(|problem| ConfigError::Value {
        path: "--device (or device in runvqgan.toml)".into(),
        key: "device".into(),
        problem,
    })?;
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
    let mut budget = Budget::new(until, config.max_minutes, started);
    if let Some(job) = SlurmJob::from_env()
        && let Some(end) = job.end(started)
    {
        // Slurm sends SIGTERM a minute before the end (the script's --signal); leave that
        // minute for the last rename.
        budget = budget.limit_to(
            end - std::time::Duration::from_secs(60),
            format!("the end of {} less a minute", job.describe()),
        );
    }
    let window = config
        .window
        .as_deref()
        .map(NightWindow::parse)
        .transpose()
        .map_err(|problem| ConfigError::Value {
            path: "runvqgan.toml (or --window)".into(),
            key: "window".into(),
            problem,
        })?;
    let mut outside = None;
    if let Some(w) = window {
        if w.contains(started) {
            let (h, m) = w.end_hm();
            budget = budget.limit_to(
                budget::next_local(h, m, started),
                format!("the end of the night window {w}"),
            );
        } else if !opts.ignore_window {
            outside = Some(w);
        }
    }
    Ok((config, budget, outside))
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
    fn preflight(&self) -> anyhow::Result<()> {
        check_model_files(self.root.path(), self.config)?;
        let setup = PythonSetup::locate(self.config.python_env.as_deref())?;
        crate::engine::pyhome::locate(&setup.env_dir, &setup.env_source)?;
        Ok(())
    }

    fn start(&mut self) -> anyhow::Result<ModelInfo> {
        let files = model_files(self.root.path(), self.config, None);
        // Whatever stops the engine from starting is the owner's setup (exit code 2).
        let (engine, info) = start_configured(self.config, &files, self.stop.clone())
            .map_err(|e| e.context(SetupFailed))?;
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
