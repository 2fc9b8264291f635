//! The night's order of work: plan the whole root (invalid tasks get their `_ERROR.txt` at
//! once), then take the turns of tonight's fair share ([`crate::queue::tonight`]: the
//! priority folder first, then a batch at a time for the member who has used least of the
//! night), claim the task of each turn ([`crate::shared_folder::locks::claim`]; a task claimed
//! by another process is left to it), make that turn's images, and rename a task whose
//! images all exist to `.done`; tally what happened and choose the exit code.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use anyhow::Context;

use crate::engine::failure::FailureKind;
use crate::process::exit_codes::ExitCode;
use crate::process::slurm::SlurmJob;
use crate::queue::notes::{self, Claim};
use crate::queue::plan::{PlannedTask, Verdict, plan};
use crate::queue::tonight::{QueueNow, Tonight, tonight};
use crate::records::events::Event;
use crate::shared_folder::locks::method::ClaimMethod;

use super::produce::{Producer, TaskEnd};
use super::reserve::claim_task;
use super::steps::{
    Tally, claim, finish_task, invalid_synced, lost, notes_synced, report_degraded, report_invalid,
};
use super::{Generator, Night};
use super::{pause, report_failure};
use crate::records::sinks::deadline_text;

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
    let claims = ClaimMethod::for_root(
        night.root.path(),
        night.config.claims,
        night.config.lease_seconds,
    );
    // Every task's notes brought up to date in one batch (one flush to disk for all, as
    // `check` does), then reported one by one.
    let noted: Vec<(&crate::queue::discover::TaskFile, notes::Verdict<'_>)> = tasks
        .iter()
        .filter_map(|t| match &t.verdict {
            Verdict::Ready(ready) => Some((&t.file, notes::Verdict::Valid(&ready.warnings))),
            Verdict::Invalid(problems) => Some((&t.file, notes::Verdict::Invalid(problems))),
            Verdict::Skipped(_) => None,
        })
        .collect();
    let mut synced = notes::sync_all(&noted, Claim::Take(&claims)).into_iter();
    for task in &tasks {
        match &task.verdict {
            Verdict::Ready(_) => {
                notes_synced(&night, task, synced.next().expect("one result per task"));
            }
            Verdict::Invalid(problems) => {
                let result = synced.next().expect("one result per task");
                invalid_synced(&night, task, problems.clone(), result, &mut tally);
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
    let order = tonight(&tasks, night.config, &night.speeds);
    let total_images: usize = order.turns.iter().map(|t| t.images.len()).sum();
    let ready_tasks = order
        .turns
        .iter()
        .map(|t| t.task)
        .collect::<HashSet<_>>()
        .len();
    night.progress.set_total(total_images as u64);
    let slurm = SlurmJob::from_env();
    night.reporter.emit(Event::RunStarted {
        host: claims.holder.host.clone(),
        pid: std::process::id(),
        slurm_job_id: slurm.as_ref().map(|j| j.job_id.clone()),
        slurm_array_job_id: slurm.as_ref().and_then(|j| j.array_job_id.clone()),
        slurm_array_task_id: slurm.and_then(|j| j.array_task_id),
        device: night.config.device.clone(),
        tasks: ready_tasks,
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
    // Tasks finished with for tonight (done, failed, changed, left to another run).
    let mut closed: HashSet<usize> = HashSet::new();
    // Tasks with a turn begun tonight (their warnings are reported once).
    let mut begun: HashSet<usize> = HashSet::new();
    let mut last: Option<usize> = None;
    let by_task = order.by_task(tasks.len());
    let mut next = 0;
    while next < order.turns.len() {
        // This turn, with the turns of the same task right after it (one claim for all).
        let n = next;
        let i = order.turns[n].task;
        let task = &tasks[i];
        next = n + order.turns[n..].iter().take_while(|t| t.task == i).count();
        let count: usize = order.turns[n..next].iter().map(|t| t.images.len()).sum();
        if closed.contains(&i) {
            continue;
        }
        if night.stop.load(Ordering::SeqCst) {
            tally.interrupted = true;
            break;
        }
        if tally.out_of_time.is_some() {
            closed.insert(i);
            let left = remaining(&order, &by_task[i], n);
            tally
                .left
                .push(format!("{} ({left} image(s))", task.file.rel));
            continue;
        }
        show_queue(&night, &tasks, &order, n, started);
        let Some(claimed) = claim(&night, &claims, task, &mut tally) else {
            closed.insert(i);
            continue;
        };
        let fresh = claim_task(task, night.root, night.config, &claims);
        report_degraded(&night);
        let fresh = match fresh {
            Ok(Some(fresh)) => fresh,
            Ok(None) => {
                claimed.finish();
                closed.insert(i);
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
                closed.insert(i);
                tally.tasks.failed += 1;
                report_failure(&night, task, "", &failure);
                continue;
            }
        };
        let ready = match &fresh.verdict {
            Verdict::Ready(ready) => ready,
            Verdict::Invalid(problems) => {
                report_invalid(&night, &fresh, problems.clone(), Claim::Held, &mut tally);
                claimed.finish();
                closed.insert(i);
                continue;
            }
            Verdict::Skipped(_) => {
                claimed.finish();
                closed.insert(i);
                tally.tasks.skipped += 1;
                continue;
            }
        };
        // This turn's part of the task (its last turn makes whatever is still missing).
        let mut part = (**ready).clone();
        let last_turn = by_task[i].last().is_none_or(|&l| l < next);
        if !last_turn {
            part.images.truncate(count);
        }
        if !begun.insert(i) {
            part.warnings.clear();
        }
        // The sidecars say what the task was at the night's start (new, resumed, a rerun),
        // not that this night's earlier turns made some of it.
        let mut whole = last_turn || part.images.len() == ready.images.len();
        if let Verdict::Ready(at_start) = &task.verdict {
            if at_start.request == part.request {
                part.already_made = at_start.already_made.clone();
            } else if part.request > at_start.request {
                // Its images were all made since the night started (by another run that
                // then lost its claim, say): it is done, not a new request.
                part.images.clear();
                whole = true;
            }
        }
        if !part.images.is_empty() {
            let delay = night.config.delay_seconds;
            if last.is_some_and(|l| l != i) && delay > 0.0 {
                if let Err(why) = producer.budget.check_pause(delay, night.clock.now()) {
                    closed.insert(i);
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
            last = Some(i);
            producer.start(&night)?;
        }
        match producer.make_all(&night, &fresh, &part, &claimed) {
            TaskEnd::AllMade if whole => {
                closed.insert(i);
                finish_task(&night, &fresh, claimed, &mut tally);
            }
            // More of this task in a later turn: let go of it meanwhile.
            TaskEnd::AllMade => claimed.finish(),
            TaskEnd::Failed => {
                closed.insert(i);
                tally.tasks.failed += 1;
            }
            TaskEnd::ClaimLost => {
                closed.insert(i);
                lost(&night, task, &mut tally);
            }
            TaskEnd::Changed(reason) => {
                closed.insert(i);
                tally.tasks.changed += 1;
                night.reporter.emit(Event::TaskChanged {
                    task: task.file.rel.clone(),
                    reason,
                    all_made: false,
                });
            }
            TaskEnd::OutOfTime(why) => {
                closed.insert(i);
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
    show_queue(&night, &tasks, &order, order.turns.len(), started);
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

/// The images of a task in turns `from..` of tonight's order, given its turns (`mine`).
fn remaining(order: &Tonight, mine: &[usize], from: usize) -> usize {
    mine.iter()
        .filter(|&&n| n >= from)
        .map(|&n| order.turns[n].images.len())
        .sum()
}

/// Hands the queue as it stands before turn `next` to the night's queue page, if any.
fn show_queue(
    night: &Night<'_>,
    tasks: &[PlannedTask],
    order: &Tonight,
    next: usize,
    started: std::time::SystemTime,
) {
    if let Some(show) = night.queue_page {
        show(QueueNow {
            tasks,
            tonight: order,
            next,
            started: Some(started),
            expected_start: None,
            now: night.clock.now(),
        });
    }
}
