//! `runvqgan validate FILE...`: checks task files exactly as `run` would and explains every
//! problem. Writes nothing, except that a task's notes already beside it (`_ERROR.txt`,
//! `_WARNINGS.txt`) are brought up to date as `check` would: a stale `_ERROR.txt` goes at once.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigOverrides};
use crate::process::exit_codes::ExitCode;
use crate::process::text::{escape, terminal_safe};
use crate::queue::discover::{ReadProblem, SkipReason, TaskFile, read_task_file, skip_reason};
use crate::queue::lookalike;
use crate::queue::notes::{self, Change, Claim, Verdict};
use crate::shared_folder::files::{OUTPUT_DIR, TASKS_DIR};
use crate::shared_folder::locks::method::ClaimMethod;
use crate::shared_folder::root::{Root, RootError};
use crate::task::validate::{FolderCache, TaskContext, Validated, check_bytes};
use crate::task::{Problems, TaskError, TaskKind};

/// Options of `validate`.
#[derive(Debug, Clone)]
pub struct ValidateOptions<'a> {
    /// The task files.
    pub files: &'a [PathBuf],
    /// The shared folder; `None`: found above each file.
    pub root: Option<&'a Path>,
    /// Flags that override `runvqgan.toml`.
    pub overrides: ConfigOverrides,
}

/// Runs `validate`: exit code 0 when every file is valid, 1 otherwise.
pub fn run(opts: &ValidateOptions<'_>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let fixed_root = opts.root.map(Root::open).transpose()?;
    let mut configs: HashMap<PathBuf, Config> = HashMap::new();
    let mut all_valid = true;
    for file in opts.files {
        let shown = escape(&file.display().to_string());
        let canonical = match file.canonicalize() {
            Ok(c) => c,
            Err(e) => {
                writeln!(out, "{shown}: cannot be read: {}.", escape(&e.to_string()))?;
                all_valid = false;
                continue;
            }
        };
        // Outside every shared folder, a file is checked as if its folder were one, with
        // the default settings, and the output folder is not checked.
        let (root, standalone) = match &fixed_root {
            Some(r) => (r.clone(), false),
            None => match Root::find_above(&canonical) {
                Ok(r) => (r, false),
                Err(RootError::NotFound { .. }) => (
                    Root::open(canonical.parent().unwrap_or(Path::new("/")))?,
                    true,
                ),
                Err(e) => return Err(e.into()),
            },
        };
        if !root.contains(&canonical) {
            writeln!(
                out,
                "{shown}: is not inside the shared folder {}; move it into {}/ or your own folder.",
                root.path().display(),
                TASKS_DIR
            )?;
            all_valid = false;
            continue;
        }
        // Escaped: every line below starts with it.
        let rel = if standalone {
            shown.clone()
        } else {
            escape(&root.rel(&canonical))
        };
        // runvqgan's own files, matched by a glob such as `carla/task_*.txt`: not tasks.
        let top_in_tasks = root.rel(&canonical).starts_with(&format!("{TASKS_DIR}/"));
        if let Some(reason) = skip_reason(&canonical, top_in_tasks || standalone)
            && (is_own_file(&reason) || is_picture(&canonical))
        {
            writeln!(out, "{rel}: skipped: {}.", escape(&reason.to_string()))?;
            continue;
        }
        if standalone {
            writeln!(
                out,
                "{rel}: note: no shared folder found above this file: checked with the default settings, as a file of tasks/ (the output folder is not checked)."
            )?;
        }
        if !configs.contains_key(root.path()) {
            let config = Config::load_to_read(root.path(), &opts.overrides)?;
            configs.insert(root.path().to_path_buf(), config);
        }
        let config = &configs[root.path()];
        let kind = if standalone {
            TaskKind::Shared
        } else {
            TaskKind::from_rel(&root.rel(&canonical))
        };
        let folders = FolderCache::default();
        if standalone {
            folders.assume(OUTPUT_DIR, root.path().join(OUTPUT_DIR));
        }
        let ctx = TaskContext {
            root: &root,
            task: &canonical,
            kind: &kind,
            limits: &config.limits(),
            folders: Some(&folders),
        };
        let result = match read_task_file(&canonical) {
            Ok((bytes, _)) => check_bytes(&bytes, &ctx),
            Err(ReadProblem::Task(e)) => Err(vec![e]),
            Err(ReadProblem::Gone(e)) => Err(vec![TaskError::Read {
                message: e.to_string(),
            }]),
        };
        match &result {
            Ok(v) => {
                let spec = &v.spec;
                let [w, h] = spec.size;
                writeln!(
                    out,
                    "{rel}: valid: {} image(s) of {w}x{h} pixels, {} iterations each, into {}/{}_N.png.",
                    spec.total_images(),
                    spec.iterations,
                    escape(&spec.out_folder_rel),
                    escape(&spec.out_file)
                )?;
                let video = crate::task::video::describe(&spec.options, spec.iterations, spec.size);
                if let Some(line) = video {
                    writeln!(out, "{rel}: video: {}.", escape(&line))?;
                }
                for w in &v.warnings {
                    writeln!(out, "{rel}: warning: {}", escape(w))?;
                }
            }
            Err(errors) => {
                all_valid = false;
                let problems = Problems {
                    task: rel.clone(),
                    errors: errors.clone(),
                };
                for (line, e) in problems.lines().iter().zip(&problems.errors) {
                    writeln!(out, "{}", escape(line))?;
                    if let Some(place) = e.excerpt() {
                        // Escaped where it was made; only its own line break stays.
                        writeln!(out, "{}", terminal_safe(place))?;
                    }
                }
            }
        }
        if standalone {
            continue;
        }
        match run_would_skip(&root.rel(&canonical), &canonical) {
            Some(reason) => writeln!(
                out,
                "{rel}: note: `run` does not pick up this file: {}.",
                escape(&reason.to_string())
            )?,
            None => update_notes(&root, config, &canonical, &result, out)?,
        }
    }
    Ok(if all_valid {
        ExitCode::Success
    } else {
        ExitCode::Failure
    })
}

/// Brings the notes already beside a task that `run` picks up (its `_ERROR.txt`,
/// `_WARNINGS.txt`) in line with this check, as `check` does, so that a fixed task does not keep its old error
/// file: written by the account whose `check` writes them, under the task's claim; another
/// account (a member: the claims are the owner's) is told when they will be.
fn update_notes(
    root: &Root,
    config: &Config,
    path: &Path,
    result: &Result<Validated, Vec<TaskError>>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let rel = root.rel(path);
    let mut file = TaskFile::unread(path.to_path_buf(), rel.clone());
    // Only notes already there can be stale; new ones are left to `check` and the night
    // (the report above says everything they would).
    if file.reread().is_err() || (file.error_modified.is_none() && !file.has_warnings_file) {
        return Ok(());
    }
    let problems;
    let verdict = match result {
        Ok(v) => Verdict::Valid(&v.warnings),
        Err(errors) => {
            problems = Problems {
                task: rel.clone(),
                errors: errors.clone(),
            };
            Verdict::Invalid(&problems)
        }
    };
    if !notes::out_of_date(&file, verdict) {
        return Ok(());
    }
    let shown = escape(&rel);
    let later = "the owner's `runvqgan check` brings them up to date within a few minutes where it runs from cron, and every night does at its start";
    if let Some(why) = super::notes_reader(root.path()) {
        writeln!(
            out,
            "{shown}: note: the notes beside it (_ERROR.txt, _WARNINGS.txt) still say what an earlier check found; this account does not write them ({}): {later}.",
            escape(&why.to_string())
        )?;
        return Ok(());
    }
    let claims = ClaimMethod::for_root(root.path(), config.claims, config.lease_seconds);
    match notes::sync(&file, verdict, Claim::Take(&claims)) {
        Ok(synced) if synced.busy => writeln!(
            out,
            "{shown}: note: its notes are left alone while a running runvqgan process works on it."
        )?,
        Ok(synced) => {
            for change in &synced.changes {
                match change {
                    Change::Wrote(p) => writeln!(out, "{shown}: wrote {}", escape(&root.rel(p)))?,
                    Change::Removed(p) => writeln!(
                        out,
                        "{shown}: removed {}, which no longer applies",
                        escape(&root.rel(p))
                    )?,
                }
            }
        }
        Err(e) => writeln!(
            out,
            "{shown}: note: the notes beside it are out of date and cannot be written ({}); {later}.",
            escape(&e.to_string())
        )?,
    }
    Ok(())
}

/// Whether a file is named like a picture (`validate carla/*` matches the images too):
/// passed over with a note, like runvqgan's own files.
fn is_picture(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str()))
}

/// Whether a file is one runvqgan (or the R runner) writes, which `validate` passes over.
fn is_own_file(reason: &SkipReason) -> bool {
    matches!(
        reason,
        SkipReason::ErrorFile | SkipReason::WarningsFile | SkipReason::Sidecar | SkipReason::Done
    )
}

fn run_would_skip(rel: &str, path: &Path) -> Option<SkipReason> {
    let mut parts = rel.split('/');
    let top = parts.next().unwrap_or_default();
    if parts.next().is_none() {
        return Some(lookalike::in_root(top).unwrap_or(SkipReason::OutsideTaskFolders));
    }
    if rel.split('/').any(|c| c.starts_with('.')) {
        return Some(SkipReason::Hidden);
    }
    skip_reason(path, top == TASKS_DIR)
}
