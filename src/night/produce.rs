//! Making a claimed task's images: in batches of up to `max_batch` (a task's images share one
//! size and one model set), each batch checked first against the time budget and the task
//! file (unchanged?), a batch that runs out of memory split in halves for the rest of the
//! night, and each finished image placed (from the engine's private work folder, through
//! the root's handle, never replacing a file) and completed with its sidecar and marker.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::engine::{GenerateError, Generated};
use crate::night::budget::Budget;
use crate::outputs::lifecycle::{self, Failure};
use crate::outputs::naming;
use crate::process::testhook;
use crate::process::text::escape;
use crate::queue::plan::{PlannedImage, PlannedTask, ReadyTask};
use crate::records::events::Event;
use crate::shared_folder::locks::method::Claim;

use super::{Generator, Night, batch_size, record_result, report_failure};

mod sink;
use crate::call::sidecar::LOSS_CURVE;
use crate::engine::failure::FailureKind;
use sink::HookedSink;

/// How making a task's images ended.
#[derive(Debug, PartialEq)]
pub enum TaskEnd {
    /// Every image exists.
    AllMade,
    /// An image failed; its `_ERROR.txt` is written.
    Failed,
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The task file changed or disappeared; why.
    Changed(String),
    /// The next batch would not finish within the time budget; why.
    OutOfTime(String),
    /// The task's lease was found expired or taken over (the run was frozen or cut off for
    /// longer than `lease_seconds`): another run may be making these images, so this one
    /// stopped, placing nothing more and reporting no failure.
    ClaimLost,
}

/// Why a batch stopped short.
enum Stop {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The claim was lost; `finished` images of the batch were completed before.
    Lost { finished: usize },
    /// A failure, not yet reported.
    Failed(Failure),
}

/// The engine's side of the night: started on the first image, then kept.
pub struct Producer<'a> {
    generator: &'a mut dyn Generator,
    /// The batch size in force once the engine runs (`max_batch`, halved on out-of-memory).
    batch: Option<usize>,
    /// The deadline and what images have cost so far.
    pub budget: Budget,
    /// Images written.
    pub images: usize,
    /// The engine's private work folder ([`crate::engine::workdir`]), made on first use.
    work: Option<crate::engine::workdir::WorkDir>,
    /// The engine's device and VQGAN factor, once started.
    engine: Option<(String, u32)>,
}

impl<'a> Producer<'a> {
    /// A producer that starts `generator` when it is first needed.
    pub fn new(generator: &'a mut dyn Generator, budget: Budget) -> Producer<'a> {
        Producer {
            generator,
            batch: None,
            budget,
            images: 0,
            work: None,
            engine: None,
        }
    }

    /// Starts the engine unless it runs already.
    pub fn start(&mut self, night: &Night<'_>) -> anyhow::Result<()> {
        if self.batch.is_some() {
            return Ok(());
        }
        self.generator.preflight()?;
        let info = self.generator.start()?;
        night.reporter.emit(Event::ModelSetLoaded {
            model_set: night.config.model.clone(),
            vqgan_kind: info.vqgan_kind,
            factor: info.factor,
            n_embed: info.n_embed,
            clip_model: info.clip_model,
            device: info.device.clone(),
            seconds: info.load_seconds,
        });
        self.batch = Some(batch_size(night.config.max_batch, &info.device).max(1));
        self.engine = Some((info.device.clone(), info.factor));
        Ok(())
    }

    /// Makes the missing images of `task`, checking before each batch that the task file is
    /// unchanged, that this run still holds its `claim` and that the batch fits the time
    /// budget; the claim is checked again before the images are placed. The engine must be
    /// started.
    pub fn make_all(
        &mut self,
        night: &Night<'_>,
        task: &PlannedTask,
        ready: &ReadyTask,
        claim: &Claim,
    ) -> TaskEnd {
        for warning in &ready.warnings {
            night.reporter.emit(Event::TaskWarning {
                task: task.file.rel.clone(),
                warning: warning.clone(),
            });
        }
        let images = &ready.images;
        let mut start = 0;
        while start < images.len() {
            if let Err(why) = task.file.unchanged() {
                return TaskEnd::Changed(why);
            }
            if !claim.confirm() {
                return TaskEnd::ClaimLost;
            }
            let size = self
                .batch
                .expect("the engine is started whenever an image is planned")
                .clamp(1, images.len() - start);
            let batch = &images[start..start + size];
            // a video's frames count as extra iterations, as in the estimate
            let first = &batch[0];
            let iterations =
                crate::call::video::work_iterations(first.options(), first.iterations());
            if !self.budget.measured()
                && let Some((device, factor)) = &self.engine
            {
                let engine_size = crate::records::speeds::engine_size(batch[0].size(), *factor);
                if let Some(rate) =
                    night
                        .speeds
                        .seconds_per_iteration(&night.config.model, device, engine_size)
                {
                    // A batch of n costs each image its share: n times one image's time.
                    self.budget.assume(rate * size as f64);
                }
            }
            if let Err(why) = self.budget.check(iterations, night.clock.now()) {
                return TaskEnd::OutOfTime(why);
            }
            testhook::reached("before-image");
            match self.make_batch(night, task, ready, batch, claim) {
                Ok((seconds, made)) => {
                    self.images += made;
                    self.budget.record(iterations, seconds);
                    if made < batch.len() {
                        // The failure was reported by make_batch.
                        return TaskEnd::Failed;
                    }
                    start += size;
                }
                Err(Stop::Interrupted) => return TaskEnd::Interrupted,
                Err(Stop::Lost { finished }) => {
                    self.images += finished;
                    return TaskEnd::ClaimLost;
                }
                // A task lost meanwhile is another run's now: its failure is not reported.
                Err(Stop::Failed(_)) if !claim.confirm() => return TaskEnd::ClaimLost,
                Err(Stop::Failed(reason))
                    if reason.kind == FailureKind::OutOfMemory && size > 1 =>
                {
                    let smaller = size / 2;
                    self.batch = Some(smaller);
                    night.reporter.emit(Event::BatchSplit {
                        task: task.file.rel.clone(),
                        output: batch[0].output_rel.clone(),
                        from: size,
                        to: smaller,
                    });
                }
                Err(Stop::Failed(reason)) => {
                    report_failure(night, task, &batch[0].output_rel, &reason);
                    return TaskEnd::Failed;
                }
            }
        }
        TaskEnd::AllMade
    }

    /// Makes a batch of images of one task: the engine writes each PNG atomically, then
    /// each image's sidecar is written atomically beside it and its pending marker is
    /// removed. Returns the seconds the engine took and how many images were finished (a
    /// failure after the first is reported here). Nothing is placed once `claim` is found
    /// lost: checked before the first PNG is placed and again before a failure is reported.
    fn make_batch(
        &mut self,
        night: &Night<'_>,
        task: &PlannedTask,
        ready: &ReadyTask,
        batch: &[PlannedImage],
        claim: &Claim,
    ) -> Result<(f64, usize), Stop> {
        let first = &batch[0];
        let label = escape(&match batch.len() {
            1 => first.output_rel.clone(),
            n => format!("{} (+{} more)", first.output_rel, n - 1),
        });
        let shown = Arc::new(night.progress.image(&label, first.iterations()));
        let sink = Arc::new(HookedSink(shown.clone(), Mutex::default()));
        let started_at = night.clock.now();
        if self.work.is_none() {
            let made = crate::engine::workdir::WorkDir::new().map_err(|e| {
                shown.finish();
                Stop::Failed(Failure {
                    kind: FailureKind::Write,
                    message: format!("the engine's private work folder cannot be made: {e}"),
                    size: Some(first.size()),
                })
            })?;
            self.work = Some(made);
        }
        let work = self.work.as_ref().expect("made above");
        let mut jobs = Vec::new();
        for image in batch {
            // Input images copied in through the root's handle, the output into the work
            // folder: the engine never opens a path into the shared folder.
            let job = work
                .engine_job(&image.job(), night.root.path())
                .map_err(|e| {
                    shown.finish();
                    Stop::Failed(Failure {
                        kind: FailureKind::MemberInput,
                        message: e.to_string(),
                        size: Some(first.size()),
                    })
                })?;
            jobs.push(job);
        }
        let result = self.generator.generate(&jobs, sink.clone());
        let curve = sink.curve();
        shown.finish();
        for _ in batch {
            night.progress.image_done();
        }
        let made = match result {
            Ok(made) => made,
            Err(GenerateError::Interrupted) => return Err(Stop::Interrupted),
            Err(GenerateError::Failed {
                kind,
                message,
                traceback,
            }) => {
                night.reporter.emit(Event::ImageFailed {
                    task: task.file.rel.clone(),
                    output: label,
                    kind,
                    message: message.clone(),
                    traceback,
                });
                return Err(Stop::Failed(Failure {
                    kind,
                    message,
                    size: Some(first.size()),
                }));
            }
        };
        let seconds = made.first().map_or(0.0, |m| m.seconds);
        // The engine may have run for long (or the process been frozen): whoever holds the
        // task now may have placed these very images.
        testhook::reached("before-place");
        if !claim.confirm() {
            return Err(Stop::Lost { finished: 0 });
        }
        let mode = lifecycle::output_mode(&task.file.path);
        // Every PNG of the batch is placed first (the engine made them all), then the
        // sidecars are written.
        let work = self.work.as_ref().expect("made above");
        let mut placed = 0;
        let mut unplaced = None;
        for image in batch {
            match place_png(work, image, mode) {
                Ok(()) => placed += 1,
                Err(reason) => {
                    unplaced = Some((image, reason));
                    break;
                }
            }
        }
        let mut finished = 0;
        for (image, made) in batch.iter().zip(made).take(placed) {
            testhook::reached("after-png");
            // Frozen here, a run that took the task over may have replaced this PNG (a
            // reserved image without a sidecar is an orphan to it): its sidecar is not ours.
            if !claim.confirm() {
                return Err(Stop::Lost { finished });
            }
            match finish_image(night, task, ready, image, made, started_at, mode, &curve) {
                Ok(()) => finished += 1,
                Err(_) if !claim.confirm() => return Err(Stop::Lost { finished }),
                Err(reason) => {
                    report_failure(night, task, &image.output_rel, &reason);
                    return Ok((seconds, finished));
                }
            }
        }
        if unplaced.is_some() && !claim.confirm() {
            return Err(Stop::Lost { finished });
        }
        if let Some((image, reason)) = unplaced {
            night.reporter.emit(Event::ImageFailed {
                task: task.file.rel.clone(),
                output: image.output_rel.clone(),
                kind: reason.kind,
                message: reason.message.clone(),
                traceback: String::new(),
            });
            report_failure(night, task, &image.output_rel, &reason);
        }
        Ok((seconds, finished))
    }
}

/// Moves the PNG the engine wrote into the work folder to its place in the output folder,
/// with the task's output mode, through the folder's handle. It never replaces a file,
/// except runvqgan's own PNG of an image whose number this task reserved and which has no
/// sidecar yet (left by a run that died before writing the sidecar).
fn place_png(
    work: &crate::engine::workdir::WorkDir,
    image: &PlannedImage,
    mode: u32,
) -> Result<(), Failure> {
    let own_orphan = image.reserved
        && crate::shared_folder::confined::stat_nofollow(&image.sidecar_path()).is_err();
    let place = if own_orphan {
        crate::shared_folder::confined::Place::Replace
    } else {
        crate::shared_folder::confined::Place::NoReplace
    };
    let output = image.output_rel.as_str();
    // a video first: once the PNG is there, so is its video
    let video = crate::call::video::VideoPlan::of(image.options(), image.iterations());
    let png = image.output();
    let video_dest = naming::video_path(&png);
    video
        .map_or(Ok(()), |_| {
            work.place_video(output, &video_dest, mode, place)
        })
        .and_then(|()| work.place(output, &png, mode, place))
        .map_err(|e| Failure {
            kind: FailureKind::Write,
            message: if e.kind() == std::io::ErrorKind::AlreadyExists {
                format!(
                    "the image was made, but a file named {} (or its .mp4) appeared meanwhile; \
                     runvqgan never replaces a file, and the next run uses a new number",
                    image.output_rel
                )
            } else {
                format!(
                    "the image was made, but it cannot be placed in its output folder: {}",
                    crate::shared_folder::confined::describe(&e)
                )
            },
            size: Some(image.size()),
        })
}

/// Completes one image whose PNG is in place: sidecar (with `mode`, that of the task's
/// outputs, and the batch's loss `curve`), marker, event.
#[allow(clippy::too_many_arguments)]
fn finish_image(
    night: &Night<'_>,
    task: &PlannedTask,
    ready: &ReadyTask,
    image: &PlannedImage,
    made: Generated,
    started_at: SystemTime,
    mode: u32,
    curve: &str,
) -> Result<(), Failure> {
    let config = night.config;
    let mut sidecar = image.sidecar(
        &task.file.rel,
        &ready.sha256,
        &ready.request_line(),
        config,
        night.root,
    );
    sidecar.call.deterministic = config.deterministic;
    record_result(&mut sidecar, &made, started_at, config.engine_mode);
    if !curve.is_empty() {
        sidecar
            .provenance
            .extra
            .push((LOSS_CURVE.into(), curve.to_string()));
    }
    if let Err(e) = sidecar.write_new_with_mode(&image.sidecar_path(), mode) {
        let message = format!("the image was made but its .txt cannot be written: {e}");
        night.reporter.emit(Event::ImageFailed {
            task: task.file.rel.clone(),
            output: image.output_rel.clone(),
            kind: FailureKind::Write,
            message: message.clone(),
            traceback: String::new(),
        });
        return Err(Failure {
            kind: FailureKind::Write,
            message,
            size: Some(image.size()),
        });
    }
    if let Some(folder) = image.output().parent()
        && let Err(e) = naming::remove_pending(folder, &ready.spec.out_file, image.number)
    {
        tracing::warn!(
            "cannot remove the pending marker of {}: {e}",
            escape(&image.output_rel)
        );
    }
    night.reporter.emit(Event::ImageWritten {
        task: task.file.rel.clone(),
        output: image.output_rel.clone(),
        seconds: made.seconds,
        iterations: made.iterations,
        final_loss: made.final_loss,
        seed: made.seed,
        batch_size: made.batch_size,
        size: match made.size[..] {
            [w, h] => [w, h],
            _ => image.size(),
        },
    });
    Ok(())
}
