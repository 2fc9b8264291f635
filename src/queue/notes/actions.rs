//! What a task's notes should become ([`Verdict`] to planned [`Action`]s) and the small file
//! operations both [`super::sync`] and [`super::sync_all`] carry them out with.

use std::path::{Path, PathBuf};

use crate::outputs::lifecycle;
use crate::queue::classify::{self, WARNINGS_HEADER};
use crate::queue::discover::TaskFile;
use crate::shared_folder::files::{error_file_path, warnings_file_path};
use crate::shared_folder::locks::method::ClaimMethod;
use crate::task::Problems;

/// The text of a warnings note: every warning, then what to do.
pub fn warnings_report(task_rel: &str, warnings: &[String]) -> String {
    let mut text = format!("{WARNINGS_HEADER} {task_rel}, but please check:\n\n");
    for w in warnings {
        text.push_str(&format!("  - {w}\n"));
    }
    text.push_str(
        "\nThe task runs as it is. If that is what you want, nothing needs doing; this note \
         goes away when the task is done. Otherwise fix the task file and save it: it is \
         checked again within a few minutes.\n",
    );
    text
}

/// What the notes of a task should say now.
#[derive(Debug, Clone, Copy)]
pub enum Verdict<'a> {
    /// Valid, with these warnings (maybe none).
    Valid(&'a [String]),
    /// Invalid, with these problems.
    Invalid(&'a Problems),
    /// Invalid, with this error file's text, as made from its problems by an earlier pass
    /// that validated this very version of the task ([`crate::queue::known`]).
    Reported(&'a str),
}

/// Whether [`sync`] must take the task's claim itself.
#[derive(Debug, Clone, Copy)]
pub enum Claim<'a> {
    /// Take it for the moment of writing, as the root's runs claim tasks (a lease too on a
    /// network filesystem, so that a `check` on one machine leaves alone a task that a run
    /// on another works on); leave the task alone when another process holds it.
    Take(&'a ClaimMethod),
    /// The caller holds it already.
    Held,
}

/// A change made to a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Written (new, or its text changed).
    Wrote(PathBuf),
    /// Removed (no longer true).
    Removed(PathBuf),
}

/// What [`sync`] did.
#[derive(Debug, Default)]
pub struct Synced {
    /// The files written or removed (none when everything was up to date).
    pub changes: Vec<Change>,
    /// Another runvqgan process holds the task's claim: nothing was touched.
    pub busy: bool,
}

/// One planned change.
pub(super) enum Action {
    Write(PathBuf, String),
    Remove(PathBuf),
}

/// Takes the task's claim for writing its notes as `claim` says: `Ok(None)` when the caller
/// holds it or it cannot be taken at all, `Err` (a busy [`Synced`]) when another process
/// holds it.
pub(super) fn take_claim(
    file: &TaskFile,
    claim: Claim<'_>,
) -> Result<Option<crate::shared_folder::locks::method::Claim>, Synced> {
    match claim {
        Claim::Held => Ok(None),
        // A claim that cannot be taken at all (its file name too long, a read-only folder)
        // does not keep the member's error file from being written.
        Claim::Take(method) => match method.claim(&file.path) {
            Ok(Some(c)) => Ok(Some(c)),
            Ok(None) => Err(Synced {
                changes: Vec::new(),
                busy: true,
            }),
            Err(e) => {
                tracing::debug!("{}: no claim for its notes: {e}", file.rel);
                Ok(None)
            }
        },
    }
}

/// The changes `verdict` calls for, decided from what discovery saw and the notes' contents.
pub(super) fn plan_actions(file: &TaskFile, verdict: Verdict<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    let (want_error, want_warnings) = match verdict {
        Verdict::Invalid(problems) => (Some(lifecycle::error_report(problems)), None),
        Verdict::Reported(text) => (Some(text.to_string()), None),
        Verdict::Valid([]) => (None, None),
        Verdict::Valid(w) => (None, Some(warnings_report(&file.rel, w))),
    };
    let error_path = || error_file_path(&file.path);
    match (want_error, file.error_modified) {
        (Some(text), Some(_)) => {
            if read_note(&error_path()).as_deref() != Some(text.as_bytes()) {
                actions.push(Action::Write(error_path(), text));
            }
        }
        (Some(text), None) => actions.push(Action::Write(error_path(), text)),
        (None, Some(error_modified)) => {
            let recent_failure = error_modified >= file.modified
                && read_note(&error_path()).is_some_and(|t| lifecycle::is_failure_text(&t));
            if !recent_failure {
                actions.push(Action::Remove(error_path()));
            }
        }
        (None, None) => {}
    }
    if want_warnings.is_none() && !file.has_warnings_file {
        return actions;
    }
    let warnings_path = warnings_file_path(&file.path);
    match want_warnings {
        Some(text)
            if !file.has_warnings_file
                || read_note(&warnings_path).as_deref() != Some(text.as_bytes()) =>
        {
            actions.push(Action::Write(warnings_path, text));
        }
        // Only a note runvqgan wrote; a member's own file of that name stays.
        None if file.has_warnings_file
            && read_note(&warnings_path).is_some_and(|t| classify::is_warnings_note(&t)) =>
        {
            actions.push(Action::Remove(warnings_path));
        }
        _ => {}
    }
    actions
}

/// Writes a note beside `task`, atomically, with the permissions of the task's outputs.
pub(super) fn write_note(task: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    crate::shared_folder::atomic::write(
        path,
        ".runvqgan-",
        text.as_bytes(),
        lifecycle::output_mode(task),
        crate::shared_folder::atomic::Existing::Replace,
    )
}

/// The contents of a note (which members can write too): a regular file only, not through
/// a link, without blocking, at most 64 KiB (more is never equal to a note runvqgan writes).
fn read_note(path: &Path) -> Option<Vec<u8>> {
    crate::shared_folder::confined::read_nofollow(path, 64 * 1024)
        .ok()
        .map(|f| f.bytes)
}

/// Removes a note through its folder's handle (a link in its place is removed, not followed):
/// the change made, or `None` when it was gone already.
pub(super) fn remove_note(path: PathBuf) -> std::io::Result<Option<Change>> {
    let (dir, name) = crate::shared_folder::confined::parent(&path)?;
    match dir.remove(&name) {
        Ok(()) => Ok(Some(Change::Removed(path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
