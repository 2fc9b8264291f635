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

mod actions;
mod batch;

use crate::queue::discover::TaskFile;
use actions::{Action, plan_actions, remove_note, take_claim, write_note};
pub use actions::{Change, Claim, Synced, Verdict, warnings_report};
pub use batch::sync_all;

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
    let held = match take_claim(file, claim) {
        Ok(held) => held,
        Err(busy) => return Ok(busy),
    };
    let mut changes = Vec::new();
    let mut result = Ok(());
    for action in actions {
        let done = match action {
            Action::Write(path, text) => {
                write_note(&file.path, &path, &text).map(|()| Some(Change::Wrote(path)))
            }
            Action::Remove(path) => remove_note(path),
        };
        match done {
            Ok(c) => changes.extend(c),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::lifecycle;
    use crate::shared_folder::files::error_file_path;
    use crate::shared_folder::locks::method::ClaimMethod;
    use crate::task::Problems;
    use crate::task::TaskError;
    use std::path::Path;
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
            stamp: None,
            reused: false,
            known_sha256: None,
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
            boot_id: None,
            pid_ns: None,
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
