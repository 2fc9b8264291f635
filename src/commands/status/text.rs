//! `status` as text, for the owner.

use std::io::Write;

use super::{ClaimsNow, Status};
use crate::commands::write_permissions;
use crate::process::slurm::describe_job;
use crate::process::text::escape;
use crate::records::speeds::about;
use crate::records::unfinished::DID_NOT_FINISH;

/// The runs working now: who, since when, image k of N, the expected end.
fn write_running(s: &Status, out: &mut dyn Write) -> std::io::Result<()> {
    for r in &s.running {
        let l = &r.record;
        let slurm = l
            .slurm_job_id
            .as_deref()
            .map(|j| {
                let job = describe_job(
                    j,
                    l.slurm_array_job_id.as_deref(),
                    l.slurm_array_task_id.as_deref(),
                );
                format!(", {}", escape(&job))
            })
            .unwrap_or_default();
        writeln!(
            out,
            "Running now: run {} on host {}, process {}{slurm}, since {}.",
            escape(&l.run),
            escape(&l.host),
            l.pid,
            escape(&r.since)
        )?;
        let doing = match (&l.current, l.current_k) {
            (Some(image), k) if k > 0 => format!(
                "image {k} of {} ({}){}",
                l.images,
                escape(image),
                r.task
                    .as_deref()
                    .map(|t| format!(" of task {}", escape(t)))
                    .unwrap_or_default()
            ),
            _ => format!(
                "{} image(s) to make; starting (loading the models)",
                l.images
            ),
        };
        writeln!(
            out,
            "  {doing}; {} written, {} task(s) done so far; {}.",
            l.written,
            l.tasks_done,
            match &r.expected_end {
                Some(end) => format!("expected end about {}", escape(end)),
                None => "expected end known after the first image".into(),
            }
        )?;
    }
    Ok(())
}

pub(super) fn write_human(s: &Status, out: &mut dyn Write) -> std::io::Result<()> {
    write_running(s, out)?;
    match &s.last_run {
        None => writeln!(
            out,
            "Last run: none recorded yet (.runvqgan/runs/ is empty)."
        )?,
        Some(r) => {
            let took = crate::records::speeds::about(r.seconds as f64).replacen("about ", "", 1);
            let how = outcome_words(&r.outcome);
            if r.outcome == DID_NOT_FINISH {
                writeln!(
                    out,
                    "Last run: started {} on {}, did not finish (killed or crashed at about {}).",
                    escape(&r.started),
                    escape(&r.host),
                    escape(&r.finished)
                )?;
            } else {
                writeln!(
                    out,
                    "Last run: started {}, {how} after {took} (exit code {}).",
                    escape(&r.started),
                    r.exit_code
                )?;
            }
            if let Some(error) = &r.error
                && r.outcome != DID_NOT_FINISH
            {
                writeln!(out, "  why: {}", crate::process::text::escape(error))?;
            }
            let t = &r.tasks;
            writeln!(
                out,
                "  {} image(s) written; tasks: {} done, {} failed, {} invalid, {} skipped{}",
                r.images,
                t.done,
                t.failed,
                t.invalid,
                t.skipped,
                if t.busy > 0 {
                    format!(", {} left to another run", t.busy)
                } else {
                    String::new()
                }
            )?;
            for f in &r.failed {
                writeln!(
                    out,
                    "  failed: {} ({}): {}",
                    crate::process::text::escape(&f.task),
                    crate::process::text::escape(&f.kind),
                    crate::process::text::escape(&f.message)
                )?;
            }
            for i in &r.invalid {
                writeln!(
                    out,
                    "  invalid: {}: {}",
                    crate::process::text::escape(&i.task),
                    crate::process::text::escape(i.problems.first().map_or("", String::as_str))
                )?;
            }
            if let Some(why) = &r.budget_reached {
                writeln!(out, "  stopped: {}", crate::process::text::escape(why))?;
            }
            if let (Some(array), false) = (&r.slurm_array_job_id, s.last_array.is_empty()) {
                writeln!(
                    out,
                    "  it was an element of Slurm array job {}:",
                    crate::process::text::escape(array)
                )?;
                for e in &s.last_array {
                    writeln!(
                        out,
                        "    element {} on {}: {}, {} image(s), exit code {}",
                        crate::process::text::escape(
                            e.slurm_array_task_id.as_deref().unwrap_or("?")
                        ),
                        crate::process::text::escape(&e.host),
                        outcome_words(&e.outcome),
                        e.images,
                        e.exit_code
                    )?;
                }
            }
        }
    }
    let q = &s.queue;
    writeln!(
        out,
        "Queued now: {} task(s), {} image(s).",
        q.tasks, q.images
    )?;
    for m in &q.members {
        // `2026-12-03T23:10:00+01:00`: the local HH:MM.
        let finish = match (&m.finish_at, m.finish_seconds) {
            (Some(at), _) => format!(", done by about {}", at.get(11..16).unwrap_or(at)),
            (None, Some(s)) => format!(", done {} after the night's start", about(s)),
            (None, None) => String::new(),
        };
        writeln!(
            out,
            "  {:<16} {} task(s), {} image(s){finish}",
            crate::process::text::escape(&m.member),
            m.tasks,
            m.images
        )?;
    }
    if !q.invalid.is_empty() {
        let names: Vec<String> = q
            .invalid
            .iter()
            .map(|t| crate::process::text::escape(t))
            .collect();
        writeln!(
            out,
            "  {} invalid task(s) wait for a fix: {}",
            q.invalid.len(),
            names.join(", ")
        )?;
    }
    for line in &q.not_run {
        writeln!(out, "  {}", crate::process::text::escape(line))?;
    }
    match &s.estimate {
        Some(e) if q.images > 0 => writeln!(
            out,
            "Tonight: {} on {} (model set {}), from the speeds of earlier runs{}.",
            e.text,
            crate::process::text::escape(&e.device),
            crate::process::text::escape(&e.model_set),
            if e.images_scaled > 0 {
                format!(
                    "; {} image(s) of sizes never made, scaled by pixels",
                    e.images_scaled
                )
            } else {
                String::new()
            }
        )?,
        Some(_) => writeln!(out, "Tonight: nothing to do.")?,
        None if q.images == 0 => writeln!(out, "Tonight: nothing to do.")?,
        None => writeln!(
            out,
            "Tonight: no estimate yet (no earlier run measured this model set on this device)."
        )?,
    }
    write_claims(&s.claims, out)?;
    write_permissions(&s.permissions, out)
}

/// How a run ended, in words.
fn outcome_words(outcome: &str) -> &'static str {
    match outcome {
        "finished" => "finished",
        "budget_reached" => "stopped for its time budget",
        "interrupted" => "was interrupted",
        DID_NOT_FINISH => "did not finish (killed or crashed)",
        _ => "FAILED",
    }
}

fn write_claims(c: &ClaimsNow, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Claims: {}{} ({}).",
        c.kind,
        c.lease_seconds
            .map(|s| format!(", leases of {s} s"))
            .unwrap_or_default(),
        crate::process::text::escape(&c.reason)
    )?;
    for h in &c.held {
        let slurm = h
            .slurm_job_id
            .as_deref()
            .map(|j| {
                let job = describe_job(
                    j,
                    h.slurm_array_job_id.as_deref(),
                    h.slurm_array_task_id.as_deref(),
                );
                format!(", {}", crate::process::text::escape(&job))
            })
            .unwrap_or_default();
        let state = match h.lease_expires_in {
            Some(s) if s < 0.0 => format!(
                "; its lease expired {:.0} s ago: the next run takes it over",
                -s
            ),
            Some(s) => format!("; lease renewed, {s:.0} s left"),
            None => String::new(),
        };
        writeln!(
            out,
            "  working now: {} (host {}, process {}{slurm}, {}{state})",
            crate::process::text::escape(&h.task),
            crate::process::text::escape(&h.host),
            h.pid,
            h.claim
        )?;
    }
    Ok(())
}
