//! The files runvqgan writes beside a task for its member, kept in step with the task file
//! rather than with the night (DESIGN section 6): `<name>_ERROR.txt` while the task is
//! invalid, `<name>_WARNINGS.txt` while it is valid but runs differently from what it seems to
//! ask (a value cut to the workstation's limit, a "weight" that looks like a ratio or a time,
//! a style list written as one text with commas).
//!
//! Members only see files, so a warning printed by `plan` would never reach them; a note
//! beside the task does, within minutes when `check` runs from cron, and goes away by itself
//! once the task no longer deserves it.
//!
//! [`sync`] is shared by `check` and `run`, so both write exactly the same files. It writes
//! only what differs from what is there (a folder synced to members' laptops sees no churn
//! when nothing changed), and it takes the task's claim before touching anything, so a `check`
//! from cron never writes beside a task that a running night is working on.

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
enum Action {
    Write(PathBuf, String),
    Remove(PathBuf),
}

/// Brings the error file and the warnings note of `file` in line with `verdict`:
/// - invalid: the error file holds the report of its problems (rewritten only when the
///   report changed; an older report, a failure report or an R runner's error file is
///   replaced); the warnings note goes;
/// - valid: an error file goes, unless it reports a failure while generating that happened
///   after the task file was last saved (the member should still read it); the warnings note
///   holds the warnings, or goes when there are none.
pub fn sync(file: &TaskFile, verdict: Verdict<'_>, claim: Claim<'_>) -> std::io::Result<Synced> {
    let actions = plan_actions(file, verdict);
    if actions.is_empty() {
        return Ok(Synced::default());
    }
    let held = match claim {
        Claim::Held => None,
        // A claim that cannot be taken at all (its file name too long, a read-only folder)
        // does not keep the member's error file from being written.
        Claim::Take(method) => match method.claim(&file.path) {
            Ok(Some(c)) => Some(c),
            Ok(None) => {
                return Ok(Synced {
                    changes: Vec::new(),
                    busy: true,
                });
            }
            Err(e) => {
                tracing::debug!("{}: no claim for its notes: {e}", file.rel);
                None
            }
        },
    };
    let mut changes = Vec::new();
    let mut result = Ok(());
    for action in actions {
        let done = match action {
            Action::Write(path, text) => {
                write_note(&file.path, &path, &text).map(|()| Change::Wrote(path))
            }
            Action::Remove(path) => match remove_note(&path) {
                Ok(()) => Ok(Change::Removed(path)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => Err(e),
            },
        };
        match done {
            Ok(c) => changes.push(c),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if let Some(c) = held {
        c.finish();
    }
    result.map(|()| Synced {
        changes,
        busy: false,
    })
}

/// Whether the notes beside `file` differ from what `verdict` calls for: whether [`sync`]
/// would change anything.
pub fn out_of_date(file: &TaskFile, verdict: Verdict<'_>) -> bool {
    !plan_actions(file, verdict).is_empty()
}

/// The changes `verdict` calls for, decided from what discovery saw and the notes' contents.
fn plan_actions(file: &TaskFile, verdict: Verdict<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    let error_path = error_file_path(&file.path);
    let warnings_path = warnings_file_path(&file.path);
    let (want_error, want_warnings) = match verdict {
        Verdict::Invalid(problems) => (Some(lifecycle::error_report(problems)), None),
        Verdict::Valid([]) => (None, None),
        Verdict::Valid(w) => (None, Some(warnings_report(&file.rel, w))),
    };
    match (want_error, file.error_modified) {
        (Some(text), Some(_)) => {
            if read_note(&error_path).as_deref() != Some(text.as_bytes()) {
                actions.push(Action::Write(error_path, text));
            }
        }
        (Some(text), None) => actions.push(Action::Write(error_path, text)),
        (None, Some(error_modified)) => {
            let recent_failure = error_modified >= file.modified
                && read_note(&error_path).is_some_and(|t| lifecycle::is_failure_text(&t));
            if !recent_failure {
                actions.push(Action::Remove(error_path));
            }
        }
        (None, None) => {}
    }
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
fn write_note(task: &Path, path: &Path, text: &str) -> std::io::Result<()> {
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

/// Removes a note through its folder's handle (a link in its place is removed, not followed).
fn remove_note(path: &Path) -> std::io::Result<()> {
    let (dir, name) = crate::shared_folder::confined::parent(path)?;
    dir.remove(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskError;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    fn file(dir: &Path) -> TaskFile {
        // Every file operation goes through a registered shared folder.
        let root = crate::shared_folder::root::Root::open(dir).unwrap();
        let path = root.path().join("dog.txt");
        std::fs::write(&path, "{}").unwrap();
        let mut f = TaskFile {
            path,
            rel: "tasks/dog.txt".into(),
            kind: crate::task::TaskKind::Shared,
            modified: SystemTime::UNIX_EPOCH,
            priority: false,
            error_modified: None,
            has_warnings_file: false,
            bytes: Arc::from(&b"{}"[..]),
            problem: None,
        };
        f.reread().unwrap();
        f
    }

    fn problems() -> Problems {
        Problems {
            task: "tasks/dog.txt".into(),
            errors: vec![TaskError::Missing {
                field: "out_file",
                example: "\"out_file\": \"dog\"",
            }],
        }
    }

    /// The claims of the root `dir` (registered by [`file`]) with `claims` in its config.
    fn method(dir: &Path, claims: &str) -> ClaimMethod {
        let root = dir.canonicalize().unwrap();
        let config = crate::config::Config::from_toml(&format!("claims = \"{claims}\"\n")).unwrap();
        ClaimMethod::for_root(&root, config.claims, config.lease_seconds)
    }

    #[test]
    fn an_unchanged_report_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        let p = problems();
        let first = sync(
            &f,
            Verdict::Invalid(&p),
            Claim::Take(&method(dir.path(), "flock")),
        )
        .unwrap();
        assert_eq!(first.changes.len(), 1);
        let error = error_file_path(&f.path);
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&error)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut again = f.clone();
        again.reread().unwrap();
        let second = sync(
            &again,
            Verdict::Invalid(&p),
            Claim::Take(&method(dir.path(), "flock")),
        )
        .unwrap();
        assert!(second.changes.is_empty());
        assert_eq!(
            std::fs::metadata(&error).unwrap().modified().unwrap(),
            old,
            "untouched"
        );
    }

    #[test]
    fn a_task_claimed_by_another_process_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        let root = dir.path().canonicalize().unwrap();
        let held = crate::shared_folder::locks::claim::TaskClaim::try_claim(&root, "dog.txt")
            .unwrap()
            .unwrap();
        let p = problems();
        let s = sync(
            &f,
            Verdict::Invalid(&p),
            Claim::Take(&method(dir.path(), "flock")),
        )
        .unwrap();
        assert!(s.busy);
        assert!(!error_file_path(&f.path).exists());
        held.finish();
    }

    #[test]
    fn a_task_whose_lease_another_machine_holds_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let f = file(dir.path());
        let elsewhere = crate::shared_folder::locks::lease::Holder {
            host: "node7".into(),
            pid: 4711,
            slurm: None,
        };
        let root = dir.path().canonicalize().unwrap();
        let leases = crate::shared_folder::state::StateDir::open(&root).unwrap();
        leases
            .sub(crate::shared_folder::files::LEASES_NAME)
            .unwrap();
        let held = crate::shared_folder::locks::lease::Lease::try_acquire(
            &crate::shared_folder::files::lease_path(&root, "dog.txt"),
            &elsewhere,
            Duration::from_secs(60),
        )
        .unwrap()
        .unwrap();
        let p = problems();
        let lease = method(dir.path(), "lease");
        let s = sync(&f, Verdict::Invalid(&p), Claim::Take(&lease)).unwrap();
        assert!(s.busy);
        assert!(!error_file_path(&f.path).exists());
        drop(held);
        let s3 = sync(&f, Verdict::Invalid(&p), Claim::Take(&lease)).unwrap();
        assert!(!s3.busy);
        assert!(error_file_path(&f.path).exists());
        assert!(
            !crate::shared_folder::files::lease_path(&root, "dog.txt").exists(),
            "its own lease is gone"
        );
    }

    #[test]
    fn a_recent_failure_report_stays_until_the_task_is_saved_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = file(dir.path());
        let failure = lifecycle::failure_report(
            "tasks/dog.txt",
            "output/dog_1.png",
            &lifecycle::Failure {
                kind: crate::engine::failure::FailureKind::Engine,
                message: "boom".into(),
                size: None,
            },
        );
        lifecycle::write_failure_file(&f.path, &failure).unwrap();
        f.reread().unwrap();
        let s = sync(
            &f,
            Verdict::Valid(&[]),
            Claim::Take(&method(dir.path(), "flock")),
        )
        .unwrap();
        assert!(s.changes.is_empty());
        // The member saves the task after the failure: the report is about an older version.
        f.modified = SystemTime::now() + Duration::from_secs(5);
        let s = sync(
            &f,
            Verdict::Valid(&[]),
            Claim::Take(&method(dir.path(), "flock")),
        )
        .unwrap();
        assert_eq!(s.changes, [Change::Removed(error_file_path(&f.path))]);
    }
}
