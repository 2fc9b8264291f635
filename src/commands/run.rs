//! `runvqgan run`: the nightly job. It plans the whole root first (invalid tasks get their
//! `_ERROR.txt` at once), loads the models once, then makes every planned image in order,
//! writing each PNG and its sidecar atomically, and renames each finished task to `.done`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use crate::config::{Config, ConfigOverrides};
use crate::engine::{Engine, GenerateError, PythonSetup};
use crate::exit_codes::ExitCode;
use crate::lifecycle;
use crate::plan::{PlannedImage, PlannedTask, Status, plan};
use crate::progress::{Progress, RunLog, timestamp};
use crate::root::Root;
use crate::runlock::RunLock;

/// Options of `run`.
#[derive(Debug, Clone)]
pub struct RunOptions<'a> {
    /// The shared folder.
    pub root: &'a Path,
    /// Flags that override `runvqgan.toml`.
    pub overrides: ConfigOverrides,
}

/// What the night came to.
#[derive(Debug, Default)]
struct Tally {
    done: usize,
    failed: usize,
    invalid: usize,
    skipped: usize,
    images: usize,
    interrupted: bool,
}

/// Runs the nightly job on `opts.root`.
pub fn run(opts: &RunOptions<'_>) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let root = Root::open(opts.root)?;
    let config = Config::load(root.path(), &opts.overrides)?;
    let Some(_lock) = RunLock::try_acquire(root.path())? else {
        tracing::warn!(
            "another runvqgan run is already working on {}; this one has nothing to do",
            root.path().display()
        );
        return Ok(ExitCode::Success);
    };
    let log = RunLog::open(&root.path().join(&config.log_file));
    let stop = crate::commands::stop_flag()?;

    let tasks = plan(&root, &config)
        .with_context(|| format!("cannot read the shared folder {}", root.path().display()))?;
    let mut tally = Tally::default();
    for task in &tasks {
        match task.status {
            Status::Invalid => {
                tally.invalid += 1;
                report_invalid(task, &log);
            }
            Status::Skipped => {
                tally.skipped += 1;
                if let Some(why) = &task.skip_reason {
                    tracing::info!("skipped: {why}");
                }
            }
            Status::Ok => {}
        }
    }
    let work: Vec<&PlannedTask> = tasks.iter().filter(|t| t.status == Status::Ok).collect();
    let total_images: usize = work.iter().map(|t| t.images.len()).sum();
    log.line(&format!(
        "run started: {} task(s) to do with {total_images} image(s), {} invalid, {} skipped",
        work.len(),
        tally.invalid,
        tally.skipped
    ));

    let engine = if total_images > 0 {
        Some(start_engine(&root, &config, stop.clone(), &log)?)
    } else {
        None
    };
    let progress = Progress::new(total_images as u64);
    let mut first = true;
    for task in work {
        if stop.load(Ordering::SeqCst) {
            tally.interrupted = true;
            break;
        }
        if !task.images.is_empty() {
            if !first && config.delay_seconds > 0.0 && !pause(config.delay_seconds, &stop) {
                tally.interrupted = true;
                break;
            }
            first = false;
        }
        let engine = engine.as_ref();
        match make_task(task, &root, &config, engine, &progress, &log, &mut tally) {
            TaskEnd::AllMade => match lifecycle::mark_done(&task.file.path) {
                Ok(done) => {
                    tally.done += 1;
                    log.line(&format!(
                        "task done: {} -> {}",
                        task.file.rel,
                        root.rel(&done)
                    ));
                    progress.say(|| tracing::info!("done: {}", task.file.rel));
                }
                Err(e) => {
                    tally.failed += 1;
                    let msg = format!(
                        "task {}: all images exist, but it cannot be renamed to .done: {e}",
                        task.file.rel
                    );
                    log.line(&msg);
                    progress.say(|| tracing::error!("{msg}"));
                }
            },
            TaskEnd::Failed => tally.failed += 1,
            TaskEnd::Interrupted => {
                tally.interrupted = true;
                break;
            }
        }
    }
    progress.finish();

    let summary = format!(
        "run {}: {} task(s) done, {} failed, {} invalid, {} skipped; {} image(s) written in {}",
        if tally.interrupted {
            "interrupted"
        } else {
            "finished"
        },
        tally.done,
        tally.failed,
        tally.invalid,
        tally.skipped,
        tally.images,
        humantime::format_duration(Duration::from_secs(started.elapsed().as_secs())),
    );
    log.line(&summary);
    tracing::info!("{summary}");
    Ok(if tally.interrupted {
        tracing::warn!(
            "interrupted: nothing partial was written; the next run makes the missing images"
        );
        ExitCode::Interrupted
    } else if tally.failed + tally.invalid > 0 {
        ExitCode::Partial
    } else {
        ExitCode::Success
    })
}

/// Writes the `_ERROR.txt` of an invalid task and logs it.
fn report_invalid(task: &PlannedTask, log: &RunLog) {
    let Some(problems) = &task.problems else {
        return;
    };
    match lifecycle::write_error_file(&task.file.path, problems) {
        Ok(path) => {
            log.line(&format!(
                "task invalid: {} (see {})",
                task.file.rel,
                path.display()
            ));
            tracing::warn!("invalid task: {problems}");
        }
        Err(e) => {
            log.line(&format!(
                "task invalid: {}: {problems}; and its error file cannot be written: {e}",
                task.file.rel
            ));
            tracing::error!("invalid task: {problems}; its error file cannot be written: {e}");
        }
    }
}

/// Starts Python and loads the configured model set, once for the whole run.
fn start_engine(
    root: &Root,
    config: &Config,
    stop: Arc<AtomicBool>,
    log: &RunLog,
) -> anyhow::Result<Engine> {
    let setup = PythonSetup::locate(None, config.python_env.as_deref())?;
    let engine = Engine::start(&setup, stop)?;
    let files = crate::commands::models::model_files(root.path(), config, None);
    let info = engine
        .load_models(
            &config.model,
            &files,
            config.device.as_deref(),
            config.deterministic,
        )
        .with_context(|| format!("cannot load the model set `{}`", config.model))?;
    if config.device.is_none() && info.device.starts_with("cpu") {
        tracing::warn!("no CUDA GPU found: generating on the CPU, which is very slow");
    }
    log.line(&format!(
        "loaded model set {}: {} f{} ({} codes), CLIP {}, on {} in {:.1} s",
        config.model,
        info.vqgan_kind,
        info.factor,
        info.n_embed,
        info.clip_model,
        info.device,
        info.load_seconds
    ));
    Ok(engine)
}

enum TaskEnd {
    AllMade,
    Failed,
    Interrupted,
}

/// Makes the missing images of one task.
fn make_task(
    task: &PlannedTask,
    root: &Root,
    config: &Config,
    engine: Option<&Engine>,
    progress: &Progress,
    log: &RunLog,
    tally: &mut Tally,
) -> TaskEnd {
    for warning in &task.warnings {
        log.line(&format!("task {}: warning: {warning}", task.file.rel));
    }
    for image in &task.images {
        let Some(engine) = engine else {
            unreachable!("the engine is started whenever an image is planned")
        };
        match make_image(task, image, root, config, engine, progress, log) {
            Ok(()) => tally.images += 1,
            Err(ImageEnd::Interrupted) => return TaskEnd::Interrupted,
            Err(ImageEnd::Failed(reason)) => {
                let text = lifecycle::failure_report(&task.file.rel, &image.output_rel, &reason);
                match lifecycle::write_failure_file(&task.file.path, &text) {
                    Ok(path) => log.line(&format!(
                        "task failed: {}: {} (see {})",
                        task.file.rel,
                        reason.message,
                        root.rel(&path)
                    )),
                    Err(e) => log.line(&format!(
                        "task failed: {}: {}; its error file cannot be written: {e}",
                        task.file.rel, reason.message
                    )),
                }
                return TaskEnd::Failed;
            }
        }
    }
    TaskEnd::AllMade
}

enum ImageEnd {
    Interrupted,
    Failed(lifecycle::Failure),
}

/// Makes one image: the engine writes the PNG atomically, then the sidecar is written
/// atomically beside it.
fn make_image(
    task: &PlannedTask,
    image: &PlannedImage,
    root: &Root,
    config: &Config,
    engine: &Engine,
    progress: &Progress,
    log: &RunLog,
) -> Result<(), ImageEnd> {
    let iterations = image.job.iterations.unwrap_or(500);
    let shown = progress.image(&image.output_rel, iterations);
    let shown = Arc::new(shown);
    let started_at = SystemTime::now();
    let job = image.job.resolved(root.path());
    let job = serde_json::to_value(&job).expect("a job always serialises");
    let result = engine.generate(&config.model, &job, shown.clone());
    shown.finish();
    progress.image_done();
    let made = match result {
        Ok(made) => made,
        Err(GenerateError::Interrupted) => return Err(ImageEnd::Interrupted),
        Err(GenerateError::Failed {
            kind,
            message,
            traceback,
        }) => {
            log.line(&format!(
                "image failed: {} -> {}: {message}\n{traceback}",
                task.file.rel, image.output_rel
            ));
            progress.say(|| {
                tracing::error!("{} -> {}: {message}", task.file.rel, image.output_rel);
                tracing::debug!("{traceback}");
            });
            return Err(ImageEnd::Failed(lifecycle::Failure {
                kind,
                message,
                size: image.job.size,
            }));
        }
    };
    let mut sidecar = image.sidecar(task, config, root);
    sidecar.call.job.seed = Some(made.seed);
    sidecar.call.deterministic = config.deterministic;
    sidecar.provenance.device = Some(made.device.clone());
    sidecar.provenance.started = Some(timestamp(started_at));
    sidecar.provenance.seconds = Some((made.seconds * 100.0).round() / 100.0);
    sidecar.provenance.final_loss = Some(made.final_loss);
    if let Err(e) = sidecar.write_new(&image.sidecar_path) {
        let message = format!("the image was made but its .txt cannot be written: {e}");
        log.line(&format!(
            "image failed: {} -> {}: {message}",
            task.file.rel, image.output_rel
        ));
        return Err(ImageEnd::Failed(lifecycle::Failure {
            kind: "write".into(),
            message,
            size: image.job.size,
        }));
    }
    let rate = f64::from(made.iterations) / made.seconds.max(1e-9);
    log.line(&format!(
        "image {} -> {}: {:.1} s, {rate:.2} it/s, final loss {:.4}, seed {}",
        task.file.rel, image.output_rel, made.seconds, made.final_loss, made.seed
    ));
    progress.say(|| {
        tracing::info!(
            "wrote {} ({:.1} s, {rate:.2} it/s, loss {:.4}, seed {})",
            image.output_rel,
            made.seconds,
            made.final_loss,
            made.seed
        )
    });
    Ok(())
}

/// Waits `seconds`, waking early on a stop. Returns false when stopped.
fn pause(seconds: f64, stop: &AtomicBool) -> bool {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < until {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100).min(until - Instant::now()));
    }
    !stop.load(Ordering::SeqCst)
}
