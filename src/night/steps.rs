//! The steps of the night around one task, for [`super::schedule`]: claiming it, keeping its
//! notes (`_ERROR.txt`, `_WARNINGS.txt`) in step, marking it done, and the tally of the night.

use crate::engine::failure::FailureKind;
use crate::outputs::lifecycle;
use crate::process::exit_codes::ExitCode;
use crate::process::testhook;
use crate::queue::notes::{self, Claim};
use crate::queue::plan::PlannedTask;
use crate::records::events::{Event, NoteState, Outcome, TaskCounts};
use crate::shared_folder::files::error_file_path;
use crate::shared_folder::locks::method::{self, ClaimMethod};

use super::{Night, report_failure};

/// What the night came to.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub tasks: TaskCounts,
    /// Tasks this process claimed.
    pub claimed: usize,
    pub interrupted: bool,
    /// Why the run stopped early for its time budget.
    pub out_of_time: Option<String>,
    /// The tasks the time budget left for the next run.
    pub left: Vec<String>,
}

impl Tally {
    pub fn outcome(&self) -> Outcome {
        if self.interrupted {
            Outcome::Interrupted
        } else if self.out_of_time.is_some() {
            Outcome::BudgetReached
        } else {
            Outcome::Finished
        }
    }

    /// 130 when interrupted, 3 when a task failed or was newly invalid, else 0.
    pub fn exit_code(&self) -> ExitCode {
        if self.interrupted {
            ExitCode::Interrupted
        } else if self.tasks.failed + self.tasks.invalid - self.tasks.still_invalid > 0 {
            ExitCode::Partial
        } else {
            ExitCode::Success
        }
    }
}

/// Claims `task` for this process; `None` when another process has it or the claim file
/// cannot be written (both reported).
pub(super) fn claim(
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
pub(super) fn report_invalid(
    night: &Night<'_>,
    task: &PlannedTask,
    problems: crate::task::Problems,
    claim: Claim<'_>,
    tally: &mut Tally,
) {
    let synced = notes::sync(&task.file, notes::Verdict::Invalid(&problems), claim);
    invalid_synced(night, task, problems, synced, tally);
}

/// Reports an invalid task whose error file was brought up to date (`synced`).
pub(super) fn invalid_synced(
    night: &Night<'_>,
    task: &PlannedTask,
    problems: crate::task::Problems,
    synced: std::io::Result<notes::Synced>,
    tally: &mut Tally,
) {
    let error_file = night.root.rel(&error_file_path(&task.file.path));
    let (state, failure) = match synced {
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

/// Reports what bringing a valid task's notes up to date (`synced`: its stale `_ERROR.txt`
/// removed, its `_WARNINGS.txt` written or removed, as `check` does) changed.
pub(super) fn notes_synced(
    night: &Night<'_>,
    task: &PlannedTask,
    synced: std::io::Result<notes::Synced>,
) {
    match synced {
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
pub(super) fn report_degraded(night: &Night<'_>) {
    if let Some((file, error)) = method::flock_refusal_to_report() {
        night.reporter.emit(Event::ClaimsDegraded {
            lock_file: night.root.rel(&file),
            error,
        });
    }
}

/// A task whose claim this run lost while working on it: left to the run that has it now,
/// counted as busy (not a failure).
pub(super) fn lost(night: &Night<'_>, task: &PlannedTask, tally: &mut Tally) {
    tally.tasks.busy += 1;
    night.reporter.emit(Event::ClaimLost {
        task: task.file.rel.clone(),
    });
}

/// Renames a task whose images all exist to `.done`, after checking that it was not changed
/// while it ran, and ends its claim.
pub(super) fn finish_task(
    night: &Night<'_>,
    task: &PlannedTask,
    claim: method::Claim,
    tally: &mut Tally,
) {
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
