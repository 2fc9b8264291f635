//! The run log's line for each event: what the owner reads in the morning.

use std::time::Duration;

use crate::process::text::escape;
use crate::records::events::{Event, NoteState, Outcome, TaskCounts};

/// The line the run log gets for `event` (without its timestamp), or `None`.
pub fn log_line(event: &Event) -> Option<String> {
    Some(match event {
        Event::RunStarted {
            host,
            pid,
            slurm_job_id,
            slurm_array_job_id,
            slurm_array_task_id,
            device,
            tasks,
            images,
            invalid,
            skipped,
            deadline,
        } => format!(
            "run started (host {host}, process {pid}{}{}): {tasks} task(s) to do with \
             {images} image(s), {invalid} invalid, {skipped} skipped{}",
            slurm_job_id
                .as_deref()
                .map(|j| format!(
                    ", {}",
                    crate::process::slurm::describe_job(
                        j,
                        slurm_array_job_id.as_deref(),
                        slurm_array_task_id.as_deref()
                    )
                ))
                .unwrap_or_default(),
            device
                .as_deref()
                .map(|d| format!(", device {d}"))
                .unwrap_or_default(),
            deadline
                .as_deref()
                .map(|d| format!("; no image starts that cannot end by {d}"))
                .unwrap_or_default(),
        ),
        Event::ClaimsChosen { kind, reason, .. } => format!("claims: {kind}; {reason}"),
        Event::ClaimsDegraded { lock_file, error } => format!(
            "claims: the filesystem refuses flock ({error}, on {lock_file}); this run uses \
             leases instead for tasks, output numbers, the gallery and the GPU, as claims = \
             \"auto\" allows (set claims = \"lease\" in runvqgan.toml to choose them from the \
             start)"
        ),
        Event::ClaimLost { task } => format!(
            "task {task}: this run's lease on it expired or was taken over by another run \
             (this run was frozen, suspended or cut off for longer than lease_seconds); it \
             stopped working on the task and left it to that run (the images it placed stay; \
             not a failure)"
        ),
        Event::ClaimTakenOver { task, host, pid } => format!(
            "task {task}: took over the claim of process {pid} on host {host}, which stopped \
             renewing it"
        ),
        Event::TaskSkipped { reason, .. } => reason.clone(),
        Event::TaskInvalid {
            task,
            error_file,
            error_file_state,
            ..
        } => match error_file_state {
            NoteState::Unchanged => {
                format!("task still invalid: {task} (unchanged, see {error_file})")
            }
            NoteState::Busy => format!(
                "task invalid: {task}; another runvqgan process holds it, its error file is left to that process"
            ),
            NoteState::Written | NoteState::Failed => {
                format!("task invalid: {task} (see {error_file})")
            }
        },
        Event::TaskNotes {
            task,
            wrote,
            removed,
        } => {
            let mut parts: Vec<String> = wrote.iter().map(|w| format!("wrote {w}")).collect();
            parts.extend(
                removed
                    .iter()
                    .map(|r| format!("removed {r}, which no longer applies")),
            );
            format!("task {task}: {}", parts.join("; "))
        }
        Event::TaskWarning { task, warning } => format!("task {task}: warning: {warning}"),
        Event::TaskBusy { task } => {
            format!("task {task}: another runvqgan process is working on it; left to that process")
        }
        Event::ClaimFailed {
            task,
            claim_file,
            error,
        } => format!(
            "task {task}: cannot be claimed (runvqgan's claim file {claim_file}, in the state \
             folder, cannot be used: {error})"
        ),
        Event::TaskGone { task } => {
            format!("task {task}: it was removed or renamed before it ran; nothing done")
        }
        Event::ModelSetLoaded {
            model_set,
            vqgan_kind,
            factor,
            n_embed,
            clip_model,
            device,
            seconds,
        } => format!(
            "loaded model set {model_set}: {vqgan_kind} f{factor} ({n_embed} codes), \
             CLIP {clip_model}, on {device} in {seconds:.1} s"
        ),
        Event::BatchSplit {
            output, from, to, ..
        } => format!(
            "a batch of {from} images of {output} ran out of GPU memory; trying batches of {to}"
        ),
        Event::ImageWritten {
            task,
            output,
            seconds,
            iterations,
            final_loss,
            seed,
            ..
        } => format!(
            "image {task} -> {output}: {seconds:.1} s, {:.2} it/s, final loss {final_loss:.4}, \
             seed {seed}",
            f64::from(*iterations) / seconds.max(1e-9)
        ),
        Event::ImageFailed {
            task,
            output,
            message,
            traceback,
            ..
        } => {
            // The traceback follows, indented, one escaped line each: it cannot start a line
            // that looks like an event.
            let mut line = escape(&format!("image failed: {task} -> {output}: {message}"));
            for tb in traceback.lines() {
                line.push_str("\n    | ");
                line.push_str(&escape(tb));
            }
            return Some(line);
        }
        Event::TaskFailed {
            task,
            error_file,
            message,
            ..
        } => format!("task failed: {task}: {message} (see {error_file})"),
        Event::ErrorFileFailed { task, error, .. } => {
            format!("task {task}: its error file cannot be written: {error}")
        }
        Event::TaskChanged {
            task,
            reason,
            all_made: false,
        } => format!("task {task}: {reason}; its remaining images are left for the next run"),
        Event::TaskChanged {
            task,
            reason,
            all_made: true,
        } => {
            format!("task {task}: {reason}; it is not marked done, the next run looks at it again")
        }
        Event::TaskDone { task, renamed_to } => format!("task done: {task} -> {renamed_to}"),
        Event::DoneRenameFailed { task, error } => {
            format!("task {task}: all images exist, but it cannot be renamed to .done: {error}")
        }
        Event::NothingToClaim { busy } => format!(
            "nothing left to claim: all {busy} task(s) to do are being run by other runvqgan \
             processes"
        ),
        Event::BudgetReached { reason, left } => format!(
            "stopped for the time budget: {reason}. Left for the next run: {}",
            left.join(", ")
        ),
        Event::Interrupted {} => {
            "interrupted (Ctrl-C or SIGTERM): nothing partial was written; the next run makes \
             the missing images"
                .to_string()
        }
        Event::RunFinished {
            outcome,
            tasks:
                TaskCounts {
                    done,
                    failed,
                    invalid,
                    still_invalid,
                    skipped,
                    busy,
                    changed,
                },
            images,
            seconds,
            ..
        } => {
            let mut s = format!(
                "run {}: {done} task(s) done, {failed} failed, {invalid} invalid, {skipped} \
                 skipped; {images} image(s) written in {}",
                match outcome {
                    Outcome::Interrupted => "interrupted",
                    Outcome::BudgetReached => "stopped for the time budget",
                    Outcome::Finished => "finished",
                },
                humantime::format_duration(Duration::from_secs(*seconds)),
            );
            if *still_invalid > 0 {
                s.push_str(&format!(
                    "; {still_invalid} of the invalid task(s) already had the same error file"
                ));
            }
            if *busy > 0 {
                s.push_str(&format!(
                    "; {busy} task(s) left to other runvqgan processes"
                ));
            }
            if *changed > 0 {
                s.push_str(&format!(
                    "; {changed} task(s) changed or removed while running, left for the next run"
                ));
            }
            s
        }
        Event::RunFailed { error, .. } => {
            // A Python traceback keeps its lines, indented under the entry, one escaped line
            // each: none of them can start a line that looks like an entry.
            let mut lines = error.lines();
            let mut line = escape(&format!("run failed: {}", lines.next().unwrap_or_default()));
            for more in lines {
                line.push_str("\n    | ");
                line.push_str(&escape(more));
            }
            return Some(line);
        }
        Event::GalleryBuilt {
            dir,
            images,
            thumbnails_made,
            seconds,
        } => format!(
            "gallery: {images} image(s), {thumbnails_made} new thumbnail(s), in {seconds:.1} s \
             -> {dir}/index.html"
        ),
        Event::GalleryFailed { dir, error } => format!("gallery {dir} not built: {error}"),
        Event::PermissionProblem {
            folder,
            problem,
            fix,
        } => format!(
            "permissions: {}: {}; fix: {}",
            escape(folder),
            escape(problem),
            escape(fix)
        ),
        Event::UnfinishedRunFound {
            run,
            host,
            pid,
            started,
            last_seen,
            images,
            tasks_done,
        } => format!(
            "found run {run} (host {host}, process {pid}, started {started}) that did not finish: \
             killed or crashed at about {last_seen}, after {images} image(s), {tasks_done} task(s) done"
        ),
        Event::OutsideWindow { window, time } => format!(
            "run not started: it is {time}, outside the night window {window} (window in \
             runvqgan.toml or --window); no task touched: run with --ignore-window to work now"
        ),
        Event::DeviceBusy { device, holder } => format!(
            "run not started: device {device} is in use by another runvqgan run ({}); this run \
             touches no task",
            if holder.is_empty() {
                "process unknown"
            } else {
                holder
            }
        ),
    })
    .map(|line| escape(&line))
}
