//! Several `runvqgan run` processes on one root (one per GPU, or a second cron entry): each
//! task is worked on by one process at a time, and output numbers are handed out one
//! process at a time.
//!
//! - A **task claim** is an exclusive OS file lock (`flock`) on a hidden file beside the task,
//!   `.<name>.runvqgan-claim`. The operating system releases it when the process ends, however
//!   it ends, so a claim held by a process that died (kill -9, power cut) is free for the next
//!   run. The claim file is removed when the task is done.
//! - The **names lock** is an exclusive lock on `<root>/.runvqgan.lock`, held for the few
//!   milliseconds in which a process lists an output folder and reserves numbers in it (see
//!   [`crate::naming`]), so two processes never choose the same output name.
//!
//! Removing a lock file that another process may have opened is a race (it would lock the
//! removed file while a third process locks a new one); [`TaskClaim::try_claim`] therefore
//! checks after locking that the path still names the file it locked, and tries again if not.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The claim file of a task: `dir/name.txt` -> `dir/.name.txt.runvqgan-claim`.
pub fn claim_path(task: &Path) -> PathBuf {
    let name = task
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    task.with_file_name(format!(".{name}.runvqgan-claim"))
}

/// A task this process works on; dropping it releases the claim (the file stays, unlocked,
/// until [`TaskClaim::finish`]).
#[derive(Debug)]
pub struct TaskClaim {
    file: File,
    path: PathBuf,
}

impl TaskClaim {
    /// Claims `task`, or returns `None` when another live process holds its claim.
    pub fn try_claim(task: &Path) -> std::io::Result<Option<TaskClaim>> {
        let path = claim_path(task);
        for _ in 0..10 {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => return Err(e),
            }
            let locked = file.metadata()?;
            match std::fs::symlink_metadata(&path) {
                Ok(now) if now.dev() == locked.dev() && now.ino() == locked.ino() => {
                    return Ok(Some(TaskClaim { file, path }));
                }
                // The holder removed the file after finishing the task: try again (on a
                // fresh file, whose task is then usually gone).
                _ => continue,
            }
        }
        Ok(None)
    }

    /// Ends the claim of a finished task: removes the claim file, then releases the lock.
    pub fn finish(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// The root's names lock, held while output numbers are chosen and reserved.
#[derive(Debug)]
pub struct NamesLock {
    _file: File,
}

impl NamesLock {
    /// Waits for the names lock of `root` and takes it.
    pub fn acquire(root: &Path) -> std::io::Result<NamesLock> {
        let path = root.join(".runvqgan.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok(NamesLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_exclusive_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let task = dir.path().join("dog.txt");
        std::fs::write(&task, "{}").unwrap();
        let first = TaskClaim::try_claim(&task).unwrap().expect("free");
        assert!(TaskClaim::try_claim(&task).unwrap().is_none());
        drop(first);
        let again = TaskClaim::try_claim(&task).unwrap().expect("released");
        assert!(claim_path(&task).exists());
        again.finish();
        assert!(!claim_path(&task).exists());
    }
}
