//! The night's order of work: plan the whole root (invalid tasks get their `_ERROR.txt` at
//! once), then take the tasks in plan order (priority folder first, then round-robin over
//! members, see [`crate::queue::discover`]), claim each ([`crate::shared_folder::locks::claim`]; a task claimed by
//! another process is left to it), make its images, rename it to `.done`; tally what
//! happened and choose the exit code.

use std::sync::atomic::Ordering;

use anyhow::Context;

use crate::engine::failure::FailureKind;
use crate::outputs::lifecycle;
use crate::process::exit_codes::ExitCode;
use crate::process::slurm::SlurmJob;
use crate::process::testhook;
use crate::queue::notes::{self, Claim};
use crate::queue::plan::{PlannedTask, Verdict, plan};
use crate::records::events::{Event, NoteState, Outcome, TaskCounts};
use crate::shared_folder::locks::method::{self, ClaimMethod};

use super::produce::{Producer, TaskEnd};
use super::reserve::claim_task;
use super::{Generator, Night};
use super::{pause, report_failure};
use crate::records::sinks::deadline_text;
use crate::shared_folder::files::error_file_path;

/// What the night came to.
#[derive(Debug, Default)]
struct Tally {
    tasks: TaskCounts,
    /// Tasks this process claimed.
    claimed: usize,
    interrupted: bool,
    /// Why the run stopped early for its time budget.
    out_of_time: Option<String>,
    /// The tasks the time budget left for the next run.
    left: Vec<String>,
}

impl Tally {
    fn outcome(&self) -> Outcome {
        if self.interrupted {
            Outcome::Interrupted
        } else if self.out_of_time.is_some() {
            Outcome::BudgetReached
        } else {
            Outcome::Finished
        }
    }

    /// 130 when interrupted, 3 when a task failed or was newly invalid, else 0.
    fn exit_code(&self) -> ExitCode {
        if self.interrupted {
            ExitCode::Interrupted
        } else if self.tasks.failed + self.tasks.invalid - self.tasks.still_invalid > 0 {
            ExitCode::Partial
        } else {
            ExitCode::Success
        }
    }
}

/// Runs the night on `night.root` with `generator`.
///
/// Several runs may share a root (for example one per GPU): each task is claimed by one
/// process at a time, and tasks claimed by another process are left to it. `Err`: the root
/// cannot be read or the engine cannot start.
pub fn run(night: Night<'_>, generator: &mut dyn Generator) -> anyhow::Result<ExitCode> {
    let started = night.clock.now();
    let tasks = plan(night.root, night.config).with_context(|| {
        format!(
            "cannot read the shared folder {}",
            night.root.path().display()
        )
    })?;
    let mut tally = Tally::default();
    let mut work: Vec<&PlannedTask> = Vec::new();
    let claims = ClaimMethod::for_root(
        night.root.path(),
        night.config.claims,
        night.config.lease_seconds,
    );
    for task in &tasks {
        match &task.verdict {
            Verdict::Ready(ready) => {
                keep_notes(&night, &claims, task, &ready.warnings);
                work.push(task);
            }
            Verdict::Invalid(problems) => {
                report_invalid(
                    &night,
                    task,
                    problems.clone(),
                    Claim::Take(&claims),
                    &mut tally,
                );
            }
            Verdict::Skipped(_) => {
                tally.tasks.skipped += 1;
                night.reporter.emit(Event::TaskSkipped {
                    task: task.file.rel.clone(),
                    reason: task.error_text().unwrap_or_default(),
                });
            }
        }
    }
    let total_images: usize = work.iter().map(|t| t.images().len()).sum();
    night.progress.set_total(total_images as u64);
    let slurm = SlurmJob::from_env();
    night.reporter.emit(Event::RunStarted {
        host: claims.holder.host.clone(),
        pid: std::process::id(),
        slurm_job_id: slurm.as_ref().map(|j| j.job_id.clone()),
        slurm_array_job_id: slurm.as_ref().and_then(|j| j.array_job_id.clone()),
        slurm_array_task_id: slurm.and_then(|j| j.array_task_id),
        device: night.config.device.clone(),
        tasks: work.len(),
        images: total_images,
        invalid: tally.tasks.invalid,
        skipped: tally.tasks.skipped,
        deadline: deadline_text(night.budget.deadline()),
    });
    night.reporter.emit(Event::ClaimsChosen {
        kind: claims.plan.kind().into(),
        filesystem: claims.fs.fs_type.clone(),
        mount_point: claims.fs.mount_point.display().to_string(),
        lock_options: claims
            .fs
            .lock_options()
            .into_iter()
            .map(String::from)
            .collect(),
        lease_seconds: claims.plan.lease.then_some(night.config.lease_seconds),
        reason: claims.plan.reason.clone(),
    });
    report_degraded(&night);

    let mut producer = Producer::new(generator, night.budget.clone());
    let mut first = true;
    for task in &work {
        if night.stop.load(Ordering::SeqCst) {
            tally.interrupted = true;
            break;
        }
        if tally.out_of_time.is_some() {
            let n = task.images().len();
            tally.left.push(format!("{} ({n} image(s))", task.file.rel));
            continue;
        }
        let Some(claim) = claim(&night, &claims, task, &mut tally) else {
            continue;
        };
        let fresh = claim_task(task, night.root, night.config, &claims);
        report_degraded(&night);
        let fresh = match fresh {
            Ok(Some(fresh)) => fresh,
            Ok(None) => {
                claim.finish();
                tally.tasks.changed += 1;
                night.reporter.emit(Event::TaskGone {
                    task: task.file.rel.clone(),
                });
                continue;
            }
            Err(failure) if failure.kind == FailureKind::Interrupted => {
                // Stopped while waiting for the names lock: nothing was reserved.
                tally.interrupted = true;
                break;
            }
            Err(failure) => {
                tally.tasks.failed += 1;
                report_failure(&night, task, "", &failure);
                continue;
            }
        };
        let ready = match &fresh.verdict {
            Verdict::Ready(ready) => ready,
            Verdict::Invalid(problems) => {
                report_invalid(&night, &fresh, problems.clone(), Claim::Held, &mut tally);
                claim.finish();
                continue;
            }
            Verdict::Skipped(_) => {
                claim.finish();
                tally.tasks.skipped += 1;
                continue;
            }
        };
        if !ready.images.is_empty() {
            let delay = night.config.delay_seconds;
            if !first && delay > 0.0 {
                if let Err(why) = producer.budget.check_pause(delay, night.clock.now()) {
                    let n = ready.images.len();
                    tally.left.push(format!("{} ({n} image(s))", task.file.rel));
                    tally.out_of_time = Some(why);
                    continue;
                }
                if !pause(&night, delay) {
                    tally.interrupted = true;
                    break;
                }
            }
            first = false;
            producer.start(&night)?;
        }
        match producer.make_all(&night, &fresh, ready, &claim) {
            TaskEnd::AllMade => finish_task(&night, &fresh, claim, &mut tally),
            TaskEnd::Failed => tally.tasks.failed += 1,
            TaskEnd::ClaimLost => lost(&night, task, &mut tally),
            TaskEnd::Changed(reason) => {
                tally.tasks.changed += 1;
                night.reporter.emit(Event::TaskChanged {
                    task: task.file.rel.clone(),
                    reason,
                    all_made: false,
                });
            }
            TaskEnd::OutOfTime(why) => {
                tally
                    .left
                    .push(format!("{} (some of its images)", task.file.rel));
                tally.out_of_time = Some(why);
            }
            TaskEnd::Interrupted => {
                tally.interrupted = true;
                break;
            }
        }
    }
    night.progress.finish();

    if tally.claimed == 0 && tally.tasks.busy > 0 {
        night.reporter.emit(Event::NothingToClaim {
            busy: tally.tasks.busy,
        });
    }
    if let Some(reason) = &tally.out_of_time {
        night.reporter.emit(Event::BudgetReached {
            reason: reason.clone(),
            left: std::mem::take(&mut tally.left),
        });
    }
    if tally.interrupted {
        night.reporter.emit(Event::Interrupted {});
    } else if let Some(epilogue) = night.epilogue {
        night.reporter.emit(epilogue());
    }
    let code = tally.exit_code();
    night.reporter.emit(Event::RunFinished {
        outcome: tally.outcome(),
        tasks: tally.tasks,
        images: producer.images,
        seconds: night
            .clock
            .now()
            .duration_since(started)
            .unwrap_or_default()
            .as_secs(),
        exit_code: code.code(),
    });
    Ok(code)
}

/// Claims `task` for this process; `None` when another process has it or the claim file
/// cannot be written (both reported).
fn claim(
    night: &Night<'_>,
    claims: &ClaimMethod,
    task: &PlannedTask,
    tally: &mut Tally,
) -> Option<method::Claim> {
    let claimed = claims.claim(&task.file.path);
    report_degraded(night);
    match claimed {
        Ok(Some(c)) => {
            tally.claimed += 1;
            if let Some(old) = c.took_over() {
                night.reporter.emit(Event::ClaimTakenOver {
                    task: task.file.rel.clone(),
                    host: old.host.clone(),
                    pid: old.pid,
                });
            }
            Some(c)
        }
        Ok(None) => {
            tally.tasks.busy += 1;
            night.reporter.emit(Event::TaskBusy {
                task: task.file.rel.clone(),
            });
            None
        }
        Err(e) => {
            tally.tasks.failed += 1;
            let claim_file = night.root.rel(&e.file);
            night.reporter.emit(Event::ClaimFailed {
                task: task.file.rel.clone(),
                claim_file: claim_file.clone(),
                error: e.source.to_string(),
            });
            // The member learns that the task waits, and that it is not their doing: claim
            // files and leases are runvqgan's own, in the owner's state folder.
            let failure = crate::outputs::lifecycle::Failure {
                kind: FailureKind::TaskFile,
                message: format!(
                    "runvqgan could not claim the task: its own claim file {claim_file}, in the \
                     workstation owner's state folder, cannot be used ({}). This is not a \
                     problem of your task; the owner finds the details in runvqgan.log, and \
                     the next run tries again",
                    crate::shared_folder::confined::describe(&e.source)
                ),
                size: None,
            };
            report_failure(night, task, "", &failure);
            None
        }
    }
}

/// Brings an invalid task's `_ERROR.txt` up to date ([`notes::sync`], as `check` does) and
/// reports it. An error file that already said the same counts as still invalid.
fn report_invalid(
    night: &Night<'_>,
    task: &PlannedTask,
    problems: crate::task::Problems,
    claim: Claim<'_>,
    tally: &mut Tally,
) {
    let error_file = night.root.rel(&error_file_path(&task.file.path));
    let (state, failure) = match notes::sync(&task.file, notes::Verdict::Invalid(&problems), claim)
    {
        Ok(s) if s.busy => (NoteState::Busy, None),
        Ok(s) if s.changes.is_empty() => (NoteState::Unchanged, None),
        Ok(_) => (NoteState::Written, None),
        Err(e) => (NoteState::Failed, Some(e.to_string())),
    };
    tally.tasks.invalid += 1;
    if matches!(state, NoteState::Unchanged | NoteState::Busy) {
        tally.tasks.still_invalid += 1;
    }
    night.reporter.emit(Event::TaskInvalid {
        task: task.file.rel.clone(),
        error_file: error_file.clone(),
        problems,
        error_file_state: state,
    });
    if let Some(error) = failure {
        night.reporter.emit(Event::ErrorFileFailed {
            task: task.file.rel.clone(),
            error_file,
            error,
        });
    }
}

/// Removes a valid task's stale `_ERROR.txt` and writes or removes its `_WARNINGS.txt`
/// ([`notes::sync`], as `check` does), reporting what changed.
fn keep_notes(night: &Night<'_>, claims: &ClaimMethod, task: &PlannedTask, warnings: &[String]) {
    match notes::sync(
        &task.file,
        notes::Verdict::Valid(warnings),
        Claim::Take(claims),
    ) {
        Ok(synced) if !synced.changes.is_empty() => {
            let (mut wrote, mut removed) = (Vec::new(), Vec::new());
            for change in synced.changes {
                match change {
                    notes::Change::Wrote(p) => wrote.push(night.root.rel(&p)),
                    notes::Change::Removed(p) => removed.push(night.root.rel(&p)),
                }
            }
            night.reporter.emit(Event::TaskNotes {
                task: task.file.rel.clone(),
                wrote,
                removed,
            });
        }
        Ok(_) => {}
        Err(e) => night.reporter.emit(Event::ErrorFileFailed {
            task: task.file.rel.clone(),
            error_file: night.root.rel(&error_file_path(&task.file.path)),
            error: e.to_string(),
        }),
    }
}

/// Reports, once per run, that the filesystem refused `flock` and leases stand in (whichever
/// lock met it first: the GPU's, a task's, the names lock).
fn report_degraded(night: &Night<'_>) {
    if let Some((file, error)) = method::flock_refusal_to_report() {
        night.reporter.emit(Event::ClaimsDegraded {
            lock_file: night.root.rel(&file),
            error,
        });
    }
}

/// A task whose claim this run lost while working on it: left to the run that has it now,
/// counted as busy (not a failure).
fn lost(night: &Night<'_>, task: &PlannedTask, tally: &mut Tally) {
    tally.tasks.busy += 1;
    night.reporter.emit(Event::ClaimLost {
        task: task.file.rel.clone(),
    });
}

/// Renames a task whose images all exist to `.done`, after checking that it was not changed
/// while it ran, and ends its claim.
fn finish_task(night: &Night<'_>, task: &PlannedTask, claim: method::Claim, tally: &mut Tally) {
    testhook::reached("before-done");
    if !claim.confirm() {
        lost(night, task, tally);
        return;
    }
    if let Err(reason) = task.file.unchanged() {
        tally.tasks.changed += 1;
        night.reporter.emit(Event::TaskChanged {
            task: task.file.rel.clone(),
            reason,
            all_made: true,
        });
        return;
    }
    match lifecycle::mark_done(&task.file.path) {
        Ok(done) => {
            claim.finish();
            tally.tasks.done += 1;
            night.reporter.emit(Event::TaskDone {
                task: task.file.rel.clone(),
                renamed_to: night.root.rel(&done),
            });
        }
        Err(e) => {
            tally.tasks.failed += 1;
            night.reporter.emit(Event::DoneRenameFailed {
                task: task.file.rel.clone(),
                error: e.to_string(),
            });
        }
    }
}
