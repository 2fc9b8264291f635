//! `runvqgan check --root DIR`: the daytime check. It validates every task file exactly as
//! `run` does and brings the files members read up to date (error files written, updated or
//! removed; warnings notes likewise) without generating anything, so a member who saves a
//! task with a mistake reads why within minutes instead of the next morning.
//!
//! Safe to run from cron every few minutes, also while a night runs: it writes only what
//! changed, and it never touches the files of a task another runvqgan process has claimed
//! (see [`crate::queue::notes::sync`]).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::config::{Config, ConfigOverrides};
use crate::gallery::queue_inputs;
use crate::process::exit_codes::ExitCode;
use crate::process::text::escape;
use crate::queue::discover::{Found, TaskFile};
use crate::queue::known::{self, Outcome};
use crate::queue::notes::{self, Change, Claim, Verdict};
use crate::queue::plan::plan_found;
use crate::shared_folder::locks::method::ClaimMethod;
use crate::shared_folder::permissions;
use crate::shared_folder::root::Root;
use crate::shared_folder::state::StateDir;

/// Options of `check`.
#[derive(Debug, Clone)]
pub struct CheckOptions<'a> {
    /// The shared folder.
    pub root: &'a Path,
    /// Flags that override `runvqgan.toml`.
    pub overrides: ConfigOverrides,
}

/// What one pass of `check` found and did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CheckTally {
    /// Task files checked.
    pub tasks: usize,
    /// Valid ones.
    pub valid: usize,
    /// Valid ones with warnings.
    pub warned: usize,
    /// Invalid ones.
    pub invalid: usize,
    /// Files written (error files and warnings notes).
    pub written: usize,
    /// Files removed.
    pub removed: usize,
    /// Tasks left alone because another runvqgan process holds them.
    pub busy: usize,
    /// Files where a task could be that are not run.
    pub not_run: usize,
    /// Notes that could not be written or removed.
    pub failed: usize,
}

/// Runs `check`: exit code 0 when every error file and note is up to date (whatever the
/// tasks' state), 1 when one could not be written.
pub fn run(opts: &CheckOptions<'_>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let root = Root::open(opts.root)?;
    let config = Config::load_to_read(root.path(), &opts.overrides)?;
    let (tally, found, outcomes) = check_root(&root, &config, out)?;
    queue_page(&root, &config, found, outcomes, out)?;
    writeln!(
        out,
        "Checked {} task file(s) in {}: {} valid ({} with warnings), {} invalid; {} file(s) written, {} removed{}{}.",
        tally.tasks,
        root.path().display(),
        tally.valid,
        tally.warned,
        tally.invalid,
        tally.written,
        tally.removed,
        if tally.busy > 0 {
            format!(
                ", {} task(s) left to a running runvqgan process",
                tally.busy
            )
        } else {
            String::new()
        },
        if tally.not_run > 0 {
            format!("; {} file(s) not run (listed above)", tally.not_run)
        } else {
            String::new()
        },
    )?;
    Ok(if tally.failed > 0 {
        ExitCode::Failure
    } else {
        ExitCode::Success
    })
}

/// Writes the gallery's queue page (`queue.html`, tonight's order if the night started now)
/// when the gallery is on and this account owns the state folder (the owner's check; a
/// member's check only looks). A page that cannot be written is said, not fatal. The
/// night is planned from the pass's own discovery and validation (`found`, `checked`).
fn queue_page(
    root: &Root,
    config: &Config,
    mut found: Found,
    outcomes: Vec<Outcome>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let Some(dir) = config.gallery_dir() else {
        return Ok(());
    };
    if StateDir::open(root.path()).is_err() {
        return Ok(());
    }
    let now = std::time::SystemTime::now();
    let digest = queue_inputs::digest(root.path(), config, &found, &outcomes, now);
    let page = root
        .path()
        .join(&dir)
        .join(crate::gallery::queue::QUEUE_PAGE);
    if queue_inputs::unchanged(root.path(), &page, &digest) {
        return Ok(());
    }
    let checked = known::into_checked(&mut found.tasks, outcomes, root, config);
    let tasks = plan_found(root, config, found, checked);
    let written = crate::gallery::queue::write_planned(root, config, &dir, now, &tasks);
    // Many small allocations, and the process ends soon: not freed one by one.
    std::mem::forget(tasks);
    if written.is_ok() {
        queue_inputs::remember(root.path(), &digest);
    }
    if let Err(e) = written {
        writeln!(
            out,
            "The queue page cannot be written: {}",
            escape(&format!("{e:#}"))
        )?;
    }
    Ok(())
}

/// One pass over `root`: every task validated and its notes synced; one line per change, per
/// invalid task and per file not run written to `out`. Gives back what it found and each
/// task's validation, for the queue page.
pub fn check_root(
    root: &Root,
    config: &Config,
    out: &mut dyn Write,
) -> anyhow::Result<(CheckTally, Found, Vec<Outcome>)> {
    // The owner's index of the task files checked before: a task known in its present
    // version is neither read nor validated again (a member's check reads every one).
    let reader = super::notes_reader(root.path());
    let state = match reader {
        None => StateDir::open(root.path()).ok(),
        Some(_) => None,
    };
    let known::Pass {
        mut index,
        found,
        outcomes,
        folders: out_folders,
    } = known::pass(root, config, || {
        state.as_ref().map(|s| known::load(s, config))
    })
    .with_context(|| format!("cannot read the shared folder {}", root.path().display()))?;
    let mut tally = CheckTally {
        tasks: found.tasks.len(),
        not_run: found.skipped.len(),
        ..CheckTally::default()
    };
    // Notes are written under the task's claim, taken as the root's runs take it; the
    // claims are the owner's, so another account (a member) only reads: it sees what the
    // owner's check writes into the notes.
    let claims = ClaimMethod::for_root(root.path(), config.claims, config.lease_seconds);
    if let Some(why) = &reader {
        writeln!(
            out,
            "Only looking: {why}. The notes below are what the owner's check writes beside each \
             task within minutes."
        )?;
    }
    // Validated in parallel (each task on its own, in `known::pass`), then the notes of all
    // of them synced in one batch (one flush to disk for all, not one per note).
    let reused = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Known(_)))
        .count();
    tracing::debug!(
        "{reused} task file(s) known from the last check, {} read and validated",
        outcomes.len() - reused
    );
    let items: Vec<(&TaskFile, Verdict<'_>)> = found
        .tasks
        .iter()
        .zip(&outcomes)
        .map(|(file, outcome)| (file, outcome.verdict()))
        .collect();
    for (_, verdict) in &items {
        match verdict {
            Verdict::Valid(w) => {
                tally.valid += 1;
                if !w.is_empty() {
                    tally.warned += 1;
                }
            }
            Verdict::Invalid(_) | Verdict::Reported(_) => tally.invalid += 1,
        }
    }
    if reader.is_some() {
        for (file, verdict) in &items {
            match verdict {
                Verdict::Invalid(p) => writeln!(out, "{}: invalid:\n{p}", escape(&file.rel))?,
                Verdict::Reported(report) => {
                    writeln!(out, "{}: invalid:\n{}", escape(&file.rel), escape(report))?
                }
                Verdict::Valid(w) if !w.is_empty() => writeln!(
                    out,
                    "{}: valid, with warnings: {}",
                    escape(&file.rel),
                    escape(&w.join("; "))
                )?,
                Verdict::Valid(_) => writeln!(out, "{}: valid", escape(&file.rel))?,
            }
        }
    } else {
        let synced = notes::sync_all(&items, Claim::Take(&claims));
        for ((file, verdict), synced) in items.iter().zip(synced) {
            report(file, verdict, synced, root, &mut tally, out)?;
        }
    }
    for s in &found.skipped {
        writeln!(
            out,
            "{}: not run: {}",
            escape(&s.rel),
            escape(&s.reason.to_string())
        )?;
    }
    // Each task's folder once (a member's folder holds many tasks).
    let folders: std::collections::HashSet<&Path> =
        found.tasks.iter().filter_map(|f| f.path.parent()).collect();
    let mut folders: Vec<std::path::PathBuf> = folders.into_iter().map(Path::to_path_buf).collect();
    folders.sort();
    let findings = permissions::check(root.path(), config.gallery_dir().as_deref(), &folders);
    crate::commands::write_permissions(&findings, out)?;
    drop(items);
    if let (Some(index), Some(state)) = (&mut index, &state) {
        known::remember(index, &found.tasks, &outcomes, root, &out_folders);
        if let Err(e) = index.save(state) {
            tracing::debug!("cannot keep the index of the task files checked: {e}");
        }
    }
    Ok((tally, found, outcomes))
}

/// One task's line(s): what its notes sync did.
fn report(
    file: &TaskFile,
    verdict: &Verdict<'_>,
    synced: std::io::Result<notes::Synced>,
    root: &Root,
    tally: &mut CheckTally,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let rel = escape(&file.rel);
    match synced {
        Ok(synced) if synced.busy => {
            tally.busy += 1;
            writeln!(
                out,
                "{rel}: left alone: a running runvqgan process is working on it"
            )?;
        }
        Ok(synced) => {
            for change in &synced.changes {
                match change {
                    Change::Wrote(p) => {
                        tally.written += 1;
                        writeln!(out, "{rel}: wrote {}", escape(&root.rel(p)))?;
                    }
                    Change::Removed(p) => {
                        tally.removed += 1;
                        writeln!(
                            out,
                            "{rel}: removed {}, which no longer applies",
                            escape(&root.rel(p))
                        )?;
                    }
                }
            }
            if matches!(verdict, Verdict::Invalid(_) | Verdict::Reported(_))
                && synced.changes.is_empty()
            {
                writeln!(out, "{rel}: still invalid, its error file is up to date")?;
            }
        }
        Err(e) => {
            tally.failed += 1;
            writeln!(
                out,
                "{rel}: its error or warnings file cannot be written: {}{}",
                escape(&e.to_string()),
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    " (see Permissions below for the fix)"
                } else {
                    ""
                }
            )?;
            tracing::error!(
                "{rel}: cannot update its error or warnings file: {}",
                escape(&e.to_string())
            );
        }
    }
    Ok(())
}
