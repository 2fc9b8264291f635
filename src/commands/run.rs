//! `runvqgan run`: the nightly job. It plans the whole root first (invalid tasks get their
//! `_ERROR.txt` at once), loads the models once, then makes every planned image in order,
//! writing each PNG and its sidecar atomically, and renames each finished task to `.done`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use crate::budget::{self, Budget};
use crate::claim::{NamesLock, TaskClaim, claim_path};
use crate::config::{Config, ConfigError, ConfigOverrides};
use crate::engine::{Engine, GenerateError, Generated, ProgressSink};
use crate::exit_codes::ExitCode;
use crate::plan::{PlannedImage, PlannedTask, Planner, Status, plan};
use crate::progress::{Progress, RunLog, timestamp};
use crate::root::Root;
use crate::sidecar::Sidecar;
use crate::{lifecycle, naming, testhook};

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

/// What the night came to.
#[derive(Debug, Default)]
struct Tally {
    done: usize,
    failed: usize,
    invalid: usize,
    skipped: usize,
    /// Tasks claimed by another runvqgan process.
    busy: usize,
    /// Tasks changed or deleted while they ran.
    changed: usize,
    images: usize,
    interrupted: bool,
    /// Why the run stopped early for its time budget.
    out_of_time: Option<String>,
}

/// Runs the nightly job on `opts.root`.
///
/// Several runs may share a root (for example one per GPU): each task is claimed by one
/// process at a time ([`crate::claim`]), and tasks claimed by another process are left to it.
pub fn run(opts: &RunOptions<'_>) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let root = Root::open(opts.root)?;
    let config = Config::load(root.path(), &opts.overrides)?;
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
    let mut budget = Budget::new(until, config.max_minutes, SystemTime::now());
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
        "run started (process {}{}): {} task(s) to do with {total_images} image(s), {} invalid, {} skipped{}",
        std::process::id(),
        config
            .device
            .as_deref()
            .map(|d| format!(", device {d}"))
            .unwrap_or_default(),
        work.len(),
        tally.invalid,
        tally.skipped,
        budget
            .deadline()
            .map(|d| format!("; no image starts that cannot end by {}", timestamp(d)))
            .unwrap_or_default(),
    ));

    let mut engine: Option<Engine> = None;
    let progress = Progress::new(total_images as u64);
    // Decided once the engine says which device it got (see `batch_size`).
    let batch = std::cell::Cell::new(1);
    let mut first = true;
    let mut claimed = 0usize;
    let mut left: Vec<String> = Vec::new();
    for task in &work {
        if stop.load(Ordering::SeqCst) {
            tally.interrupted = true;
            break;
        }
        if tally.out_of_time.is_some() {
            left.push(format!(
                "{} ({} image(s))",
                task.file.rel,
                task.images.len()
            ));
            continue;
        }
        let claim = match TaskClaim::try_claim(&task.file.path) {
            Ok(Some(c)) => c,
            Ok(None) => {
                tally.busy += 1;
                log.line(&format!(
                    "task {}: another runvqgan process is working on it; left to that process",
                    task.file.rel
                ));
                continue;
            }
            Err(e) => {
                tally.failed += 1;
                let msg = format!(
                    "task {}: cannot be claimed (the claim file {} cannot be written: {e}); \
                     the folder of the task must be writable for runvqgan",
                    task.file.rel,
                    root.rel(&claim_path(&task.file.path))
                );
                log.line(&msg);
                progress.say(|| tracing::error!("{msg}"));
                continue;
            }
        };
        claimed += 1;
        let fresh = match claim_task(task, &root, &config) {
            Ok(Some(fresh)) => fresh,
            Ok(None) => {
                claim.finish();
                tally.changed += 1;
                log.line(&format!(
                    "task {}: it was removed or renamed before it ran; nothing done",
                    task.file.rel
                ));
                continue;
            }
            Err(failure) => {
                tally.failed += 1;
                report_failure(task, "", &failure, &root, &log);
                continue;
            }
        };
        match fresh.status {
            Status::Ok => {}
            Status::Invalid => {
                claim.finish();
                tally.invalid += 1;
                report_invalid(&fresh, &log);
                continue;
            }
            Status::Skipped => {
                claim.finish();
                tally.skipped += 1;
                continue;
            }
        }
        if !fresh.images.is_empty() {
            if !first && config.delay_seconds > 0.0 && !pause(config.delay_seconds, &stop) {
                tally.interrupted = true;
                break;
            }
            first = false;
            if engine.is_none() {
                let (started, device) = start_engine(&root, &config, stop.clone(), &log)?;
                batch.set(batch_size(config.max_batch, &device));
                engine = Some(started);
            }
        }
        let ctx = TaskRun {
            task: &fresh,
            root: &root,
            config: &config,
            engine: engine.as_ref(),
            progress: &progress,
            log: &log,
            batch: &batch,
        };
        match ctx.make_all(&mut tally, &mut budget) {
            TaskEnd::AllMade => finish_task(&fresh, claim, &root, &progress, &log, &mut tally),
            TaskEnd::Failed => tally.failed += 1,
            TaskEnd::Changed(why) => {
                tally.changed += 1;
                let msg = format!(
                    "task {}: {why}; its remaining images are left for the next run",
                    task.file.rel
                );
                log.line(&msg);
                progress.say(|| tracing::warn!("{msg}"));
            }
            TaskEnd::OutOfTime(why) => {
                left.push(format!("{} (some of its images)", task.file.rel));
                tally.out_of_time = Some(why);
            }
            TaskEnd::Interrupted => {
                tally.interrupted = true;
                break;
            }
        }
    }
    progress.finish();

    if claimed == 0 && tally.busy > 0 {
        let msg = format!(
            "nothing left to claim: all {} task(s) to do are being run by other runvqgan processes",
            tally.busy
        );
        log.line(&msg);
        tracing::info!("{msg}");
    }
    if let Some(why) = &tally.out_of_time {
        let msg = format!(
            "stopped for the time budget: {why}. Left for the next run: {}",
            left.join(", ")
        );
        log.line(&msg);
        tracing::warn!("{msg}");
    }
    let mut summary = format!(
        "run {}: {} task(s) done, {} failed, {} invalid, {} skipped; {} image(s) written in {}",
        if tally.interrupted {
            "interrupted"
        } else if tally.out_of_time.is_some() {
            "stopped for the time budget"
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
    if tally.busy > 0 {
        summary.push_str(&format!(
            "; {} task(s) left to other runvqgan processes",
            tally.busy
        ));
    }
    if tally.changed > 0 {
        summary.push_str(&format!(
            "; {} task(s) changed or removed while running, left for the next run",
            tally.changed
        ));
    }
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

/// Plans a claimed task again from its current bytes, under the names lock, and reserves
/// the numbers of its missing images with pending markers (reusing those an interrupted run
/// left). `Ok(None)`: the task file is gone. `Err`: the output folder cannot be written.
fn claim_task(
    task: &PlannedTask,
    root: &Root,
    config: &Config,
) -> Result<Option<PlannedTask>, lifecycle::Failure> {
    let mut file = task.file.clone();
    match file.reread() {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(lifecycle::Failure {
                kind: "other".into(),
                message: format!("the task file cannot be read again: {e}"),
                size: None,
            });
        }
    }
    if let Some(dir) = file.path.parent() {
        lifecycle::remove_old_temporaries(dir);
    }
    let write_failure = |what: String, e: std::io::Error| lifecycle::Failure {
        kind: "write".into(),
        message: format!("{what}: {}", describe_io(&e)),
        size: None,
    };
    let _names = NamesLock::acquire(root.path()).map_err(|e| {
        write_failure(
            "the names lock of the shared folder cannot be taken".into(),
            e,
        )
    })?;
    let mut fresh = Planner::new(root, config).plan_task(&file);
    let Some(spec) = fresh.spec.clone() else {
        return Ok(Some(fresh));
    };
    let folder = &spec.out_folder;
    let base = &spec.out_file;
    lifecycle::remove_old_temporaries(folder);
    if !fresh.stale_pending.is_empty() {
        // Markers of this task's earlier contents, of images already made, or of tasks that
        // are gone: free their numbers, then plan again so that they can be used.
        for n in &fresh.stale_pending {
            let _ = std::fs::remove_file(folder.join(naming::pending_name(base, *n)));
            naming::remove_stale_temporaries(folder, base, *n);
        }
        fresh = Planner::new(root, config).plan_task(&file);
    }
    let mode = lifecycle::output_mode(&file.path);
    let sha = fresh.sha256.clone().unwrap_or_default();
    for image in &mut fresh.images {
        if image.reserved {
            naming::remove_stale_temporaries(folder, base, image.number);
            continue;
        }
        let marker = naming::Pending {
            task: file.rel.clone(),
            task_sha256: sha.clone(),
            image: image.index,
        };
        marker
            .write(folder, base, image.number, mode)
            .map_err(|e| {
                write_failure(
                    format!(
                        "the output folder {} cannot be written",
                        if spec.out_folder_rel.is_empty() {
                            "."
                        } else {
                            spec.out_folder_rel.as_str()
                        }
                    ),
                    e,
                )
            })?;
        image.reserved = true;
    }
    Ok(Some(fresh))
}

/// An I/O error in words, naming the usual causes of a write failure.
fn describe_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => format!("the disk is full ({e})"),
        Some(libc::EDQUOT) => format!("the disk quota is used up ({e})"),
        Some(libc::EROFS) => format!("the disk is read-only ({e})"),
        Some(libc::EACCES) | Some(libc::EPERM) => format!("permission denied ({e})"),
        _ => e.to_string(),
    }
}

/// Renames a task whose images all exist to `.done`, after checking that it was not changed
/// while it ran, and ends its claim.
fn finish_task(
    task: &PlannedTask,
    claim: TaskClaim,
    root: &Root,
    progress: &Progress,
    log: &RunLog,
    tally: &mut Tally,
) {
    testhook::reached("before-done");
    if let Err(why) = unchanged(task) {
        tally.changed += 1;
        let msg = format!(
            "task {}: {why}; it is not marked done, the next run looks at it again",
            task.file.rel
        );
        log.line(&msg);
        progress.say(|| tracing::warn!("{msg}"));
        return;
    }
    match lifecycle::mark_done(&task.file.path) {
        Ok(done) => {
            claim.finish();
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
    }
}

/// `Ok` when the task file still holds the bytes the task was planned from.
fn unchanged(task: &PlannedTask) -> Result<(), String> {
    let mut now = task.file.clone();
    match now.reread() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("the task file was removed or renamed while it ran".into())
        }
        Err(e) => Err(format!("the task file cannot be read again: {e}")),
        Ok(()) if now.problem.is_some() || *now.bytes != *task.file.bytes => {
            Err("the task file was changed while it ran".into())
        }
        Ok(()) => Ok(()),
    }
}

/// Writes the failure `_ERROR.txt` of a task and logs it.
fn report_failure(
    task: &PlannedTask,
    output_rel: &str,
    reason: &lifecycle::Failure,
    root: &Root,
    log: &RunLog,
) {
    let text = lifecycle::failure_report(&task.file.rel, output_rel, reason);
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
/// Returns the engine and the device it runs on.
fn start_engine(
    root: &Root,
    config: &Config,
    stop: Arc<AtomicBool>,
    log: &RunLog,
) -> anyhow::Result<(Engine, String)> {
    let files = crate::commands::models::model_files(root.path(), config, None);
    let (engine, info) = crate::commands::models::start_configured(config, &files, stop)?;
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
    Ok((engine, info.device))
}

/// How many images of a task are optimised together: `max_batch` when configured, else 4
/// on a GPU and 1 on the CPU, where CLIP's 32 cutouts of 224 pixels per image already fill
/// the cores and a batch only adds memory traffic (measured with scripts/bench_run.py).
fn batch_size(configured: Option<u32>, device: &str) -> usize {
    match configured {
        Some(n) => n as usize,
        None if device.starts_with("cuda") => 4,
        None => 1,
    }
}

enum TaskEnd {
    AllMade,
    Failed,
    Interrupted,
    /// The task file changed or disappeared; why.
    Changed(String),
    /// The next image would not finish within the time budget; why.
    OutOfTime(String),
}

enum ImageEnd {
    Interrupted,
    Failed(lifecycle::Failure),
}

/// One claimed task being made.
struct TaskRun<'a> {
    task: &'a PlannedTask,
    root: &'a Root,
    config: &'a Config,
    engine: Option<&'a Engine>,
    progress: &'a Progress,
    log: &'a RunLog,
    /// The batch size in force (starts at `max_batch`, halved on out-of-memory).
    batch: &'a std::cell::Cell<usize>,
}

impl TaskRun<'_> {
    /// Makes the missing images of the task, checking before each that the task file is
    /// unchanged and that the image fits the time budget.
    fn make_all(&self, tally: &mut Tally, budget: &mut Budget) -> TaskEnd {
        let task = self.task;
        for warning in &task.warnings {
            self.log
                .line(&format!("task {}: warning: {warning}", task.file.rel));
        }
        // A task's images share one size and one model set, so up to `max_batch` of
        // them are optimised together. A batch that runs out of GPU memory is split in
        // halves, and the smaller batch size holds for the rest of the run.
        let mut start = 0;
        while start < task.images.len() {
            let Some(engine) = self.engine else {
                unreachable!("the engine is started whenever an image is planned")
            };
            if let Err(why) = unchanged(task) {
                return TaskEnd::Changed(why);
            }
            let size = self.batch.get().clamp(1, task.images.len() - start);
            let batch: Vec<&PlannedImage> = task.images[start..start + size].iter().collect();
            let iterations = batch[0].job.iterations.unwrap_or(500);
            if let Err(why) = budget.check(iterations, SystemTime::now()) {
                return TaskEnd::OutOfTime(why);
            }
            testhook::reached("before-image");
            match self.make_batch(&batch, engine) {
                Ok((seconds, made)) => {
                    tally.images += made;
                    budget.record(iterations, seconds);
                    if made < batch.len() {
                        // The first failure was reported by finish_image.
                        return TaskEnd::Failed;
                    }
                    start += size;
                }
                Err(ImageEnd::Interrupted) => return TaskEnd::Interrupted,
                Err(ImageEnd::Failed(reason)) if reason.kind == "out_of_memory" && size > 1 => {
                    let smaller = size / 2;
                    self.batch.set(smaller);
                    let msg = format!(
                        "a batch of {size} images of {} ran out of GPU memory; trying batches of {smaller}",
                        batch[0].output_rel
                    );
                    self.log.line(&msg);
                    self.progress.say(|| tracing::warn!("{msg}"));
                }
                Err(ImageEnd::Failed(reason)) => {
                    report_failure(task, &batch[0].output_rel, &reason, self.root, self.log);
                    return TaskEnd::Failed;
                }
            }
        }
        TaskEnd::AllMade
    }

    /// Makes a batch of images of one task: the engine writes each PNG atomically, then
    /// each image's sidecar is written atomically beside it and its pending marker is
    /// removed. Returns the seconds the engine took and how many images were finished.
    fn make_batch(
        &self,
        batch: &[&PlannedImage],
        engine: &Engine,
    ) -> Result<(f64, usize), ImageEnd> {
        let (task, root, config, progress, log) =
            (self.task, self.root, self.config, self.progress, self.log);
        let first = batch[0];
        let iterations = first.job.iterations.unwrap_or(500);
        let label = match batch.len() {
            1 => first.output_rel.clone(),
            n => format!("{} (+{} more)", first.output_rel, n - 1),
        };
        let shown = Arc::new(progress.image(&label, iterations));
        let sink = Arc::new(HookedSink(shown.clone()));
        let started_at = SystemTime::now();
        let jobs: Vec<serde_json::Value> = batch
            .iter()
            .map(|image| {
                serde_json::to_value(image.job.resolved(root.path()))
                    .expect("a job always serialises")
            })
            .collect();
        let result = engine.generate_batch(&config.model, &jobs, sink);
        shown.finish();
        for _ in batch {
            progress.image_done();
        }
        let made = match result {
            Ok(made) => made,
            Err(GenerateError::Interrupted) => return Err(ImageEnd::Interrupted),
            Err(GenerateError::Failed {
                kind,
                message,
                traceback,
            }) => {
                log.line(&format!(
                    "image failed: {} -> {label}: {message}\n{traceback}",
                    task.file.rel
                ));
                progress.say(|| {
                    tracing::error!("{} -> {label}: {message}", task.file.rel);
                    tracing::debug!("{traceback}");
                });
                return Err(ImageEnd::Failed(lifecycle::Failure {
                    kind,
                    message,
                    size: first.job.size,
                }));
            }
        };
        let seconds = made.first().map_or(0.0, |m| m.seconds);
        let mode = lifecycle::output_mode(&task.file.path);
        let mut finished = 0;
        for (image, made) in batch.iter().zip(made) {
            match self.finish_image(image, made, started_at, mode) {
                Ok(()) => finished += 1,
                Err(reason) => {
                    report_failure(task, &image.output_rel, &reason, root, log);
                    break;
                }
            }
        }
        Ok((seconds, finished))
    }

    /// Completes one image whose PNG the engine wrote: permissions (`mode`, those of the
    /// task's outputs), sidecar, marker, log.
    fn finish_image(
        &self,
        image: &PlannedImage,
        made: Generated,
        started_at: SystemTime,
        mode: u32,
    ) -> Result<(), lifecycle::Failure> {
        let (task, root, config, progress, log) =
            (self.task, self.root, self.config, self.progress, self.log);
        testhook::reached("after-png");
        // Always: the engine's PNG has whatever the process umask gave it.
        {
            use std::os::unix::fs::PermissionsExt;
            if let Err(e) =
                std::fs::set_permissions(&image.output, std::fs::Permissions::from_mode(mode))
            {
                tracing::warn!("cannot set the permissions of {}: {e}", image.output_rel);
            }
        }
        let mut sidecar = image.sidecar(task, config, root);
        sidecar.call.deterministic = config.deterministic;
        record_result(&mut sidecar, &made, started_at, config.engine_mode.as_str());
        if let Err(e) = sidecar.write_new_with_mode(&image.sidecar_path, mode) {
            let message = format!("the image was made but its .txt cannot be written: {e}");
            log.line(&format!(
                "image failed: {} -> {}: {message}",
                task.file.rel, image.output_rel
            ));
            return Err(lifecycle::Failure {
                kind: "write".into(),
                message,
                size: image.job.size,
            });
        }
        if let Some(folder) = image.output.parent()
            && let Some(spec) = &task.spec
        {
            let marker = folder.join(naming::pending_name(&spec.out_file, image.number));
            if let Err(e) = std::fs::remove_file(&marker)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!("cannot remove {}: {e}", marker.display());
            }
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
}

/// Records in a sidecar what the engine reported for its image: the seed it used, the
/// device, when it started, the seconds it took, its final loss, the engine mode and (when
/// more than one) the batch size. Used by `run` and by `reproduce`.
pub(crate) fn record_result(
    sidecar: &mut Sidecar,
    made: &Generated,
    started_at: SystemTime,
    engine_mode: &str,
) {
    sidecar.call.job.seed = Some(made.seed);
    let p = &mut sidecar.provenance;
    p.device = Some(made.device.clone());
    p.started = Some(timestamp(started_at));
    p.seconds = Some((made.seconds * 100.0).round() / 100.0);
    p.final_loss = Some(made.final_loss);
    p.extra
        .retain(|(k, _)| k != "engine-mode" && k != "batch-size");
    p.extra.push(("engine-mode".into(), engine_mode.into()));
    if made.batch_size > 1 {
        p.extra
            .push(("batch-size".into(), made.batch_size.to_string()));
    }
}

/// The progress display of one image, with the `mid-image` test hook after iteration 2.
struct HookedSink(Arc<crate::progress::ImageProgress>);

impl ProgressSink for HookedSink {
    fn step(&self, iteration: u32, total: u32, loss: f64) {
        self.0.step(iteration, total, loss);
        if iteration == 2 {
            testhook::reached("mid-image");
        }
    }
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
