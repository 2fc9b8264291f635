//! The pipeline of `runvqgan run`, in parts with one job each:
//!
//! - [`schedule`]: plans the root, takes the turns of tonight's order, claims each turn's
//!   task, tallies the night and chooses the exit code;
//! - [`reserve`]: plans a claimed task again and reserves its output numbers;
//! - `steps`: claiming a task, its notes, marking it done, the tally;
//! - [`produce`]: makes a task's images in batches through a [`Generator`], within the time
//!   budget, halving the batch on out-of-memory, stopping on an interrupt;
//!
//! Data flows one way: `schedule` calls `reserve`, then `produce`; the pieces they share
//! (the [`Night`], [`report_failure`], [`pause`]) live here. Every outcome is an
//! [`crate::records::events::Event`], consumed by the sinks in [`crate::records`].
//!
//! Only the [`Generator`] crosses into Python; [`crate::engine`] implements it for the real
//! engine and the tests implement it with a fake, so every rule of the night is tested
//! without Python.

pub mod budget;
pub mod produce;
pub mod reserve;
pub mod schedule;
mod steps;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use crate::call::job::Job;
use crate::call::sidecar::Sidecar;
use crate::config::{Config, ConfigError, EngineMode};
use crate::engine::{GenerateError, Generated, ModelInfo, ProgressSink};
use crate::night::budget::{Budget, Clock};
use crate::outputs::lifecycle::Failure;
use crate::process::text::timestamp;
use crate::queue::plan::PlannedTask;
use crate::records::events::{Event, Reporter};
use crate::records::progress::Progress;
use crate::shared_folder::files::error_file_path;
use crate::shared_folder::root::Root;

pub use schedule::run;

/// What makes images: the embedded engine at night, a fake in tests.
pub trait Generator {
    /// Cheap checks before Python starts (files exist, the environment is there), so that
    /// a broken setup fails the night with a plain message; called just before [`start`].
    ///
    /// [`start`]: Generator::start
    fn preflight(&self) -> anyhow::Result<()> {
        Ok(())
    }

    /// Starts the engine and loads the configured model set. Called once, before the first
    /// image; a night with nothing to make never calls it.
    fn start(&mut self) -> anyhow::Result<ModelInfo>;

    /// Makes `jobs` (one size) together and writes each PNG to its `output` (absolute),
    /// returning one result per job, in order. A stop or a failure writes none of them.
    fn generate(
        &mut self,
        jobs: &[Job],
        progress: Arc<dyn ProgressSink>,
    ) -> Result<Vec<Generated>, GenerateError>;
}

/// Everything a night works with.
pub struct Night<'a> {
    /// The shared folder.
    pub root: &'a Root,
    /// The effective configuration.
    pub config: &'a Config,
    /// The deadline (`--until`, `max_minutes`).
    pub budget: Budget,
    /// Set by Ctrl-C and SIGTERM.
    pub stop: &'a AtomicBool,
    /// Where the time comes from.
    pub clock: &'a dyn Clock,
    /// Where the events go.
    pub reporter: &'a Reporter,
    /// The progress display.
    pub progress: Arc<Progress>,
    /// Work after the last image and before the run's final line (the gallery); skipped
    /// after an interrupt. Its event is reported like every other.
    pub epilogue: Option<&'a dyn Fn() -> Event>,
    /// What earlier runs measured (`.runvqgan/speeds.json`): the time budget's guess for
    /// the first batch, before this run has measured one, and tonight's order.
    pub speeds: crate::records::speeds::Speeds,
    /// Shows the queue as the night goes (the gallery's queue page): called before each
    /// turn and once at the end.
    pub queue_page: Option<&'a dyn Fn(crate::queue::tonight::QueueNow<'_>)>,
}

/// The longest pause between tasks (`delay_seconds`) a night accepts: an hour. A larger
/// value is almost certainly a mistake (minutes or milliseconds meant) and would let the
/// night sleep through its time budget.
pub const MAX_DELAY_SECONDS: f64 = 3600.0;

/// Refuses a `delay_seconds` above [`MAX_DELAY_SECONDS`] (exit code 2).
pub fn check_delay(config: &Config) -> Result<(), ConfigError> {
    if config.delay_seconds > MAX_DELAY_SECONDS {
        return Err(ConfigError::Value {
            path: "runvqgan.toml or --delay-seconds".into(),
            key: "delay_seconds".into(),
            problem: format!(
                "is {} seconds; the most is {MAX_DELAY_SECONDS} (an hour) between tasks; \
                 lower it (it is seconds, not milliseconds)",
                config.delay_seconds
            ),
        });
    }
    Ok(())
}

/// Records in a sidecar what the engine reported for its image: the seed it used, the
/// device, when it started, the seconds it took, its final loss, the engine mode, the
/// method its image follows, (when more than one) the batch size, and the torch, CUDA and
/// driver versions and determinism switches (`torch`, `cuda`, `driver`, `determinism`).
/// Used by `run` and by `reproduce`.
pub fn record_result(
    sidecar: &mut Sidecar,
    made: &Generated,
    started_at: SystemTime,
    engine_mode: EngineMode,
) {
    sidecar.call.job.seed = Some(made.seed);
    let p = &mut sidecar.provenance;
    p.device = Some(made.device.clone());
    p.started = Some(timestamp(started_at));
    p.seconds = Some((made.seconds * 100.0).round() / 100.0);
    p.final_loss = Some(made.final_loss);
    p.extra.retain(|(k, _)| {
        k != "engine-mode"
            && k != crate::call::sidecar::LOSS_CURVE
            && k != "batch-size"
            && k != "method"
            && !made.environment.contains_key(k)
    });
    p.extra
        .push(("engine-mode".into(), engine_mode.as_str().into()));
    p.extra.push(("method".into(), made.method.clone()));
    if made.batch_size > 1 {
        p.extra
            .push(("batch-size".into(), made.batch_size.to_string()));
    }
    p.extra
        .extend(made.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
}

pub use crate::queue::fair::batch_size;

/// Reports a task that failed while generating; the error-file sink writes its `_ERROR.txt`.
pub fn report_failure(night: &Night<'_>, task: &PlannedTask, output_rel: &str, reason: &Failure) {
    night.reporter.emit(Event::TaskFailed {
        task: task.file.rel.clone(),
        output: output_rel.to_string(),
        error_file: night.root.rel(&error_file_path(&task.file.path)),
        kind: reason.kind,
        message: reason.message.clone(),
        size: reason.size,
    });
}

/// Waits `seconds` on `night`'s clock, waking early on a stop. Returns false when stopped.
pub fn pause(night: &Night<'_>, seconds: f64) -> bool {
    let until = night.clock.now() + Duration::from_secs_f64(seconds);
    loop {
        if night.stop.load(Ordering::SeqCst) {
            return false;
        }
        let Ok(left) = until.duration_since(night.clock.now()) else {
            return true;
        };
        if left.is_zero() {
            return true;
        }
        night.clock.sleep(Duration::from_millis(100).min(left));
    }
}
