//! One `runvqgan run` at a time per root: an exclusive lock on `<root>/.runvqgan.lock`,
//! held for the life of the run and released by the operating system when the process
//! ends, however it ends (so a crashed run never leaves a stale lock behind).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use anyhow::Context;

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock, or returns `None` when another process holds it.
    pub fn try_acquire(root: &Path) -> anyhow::Result<Option<RunLock>> {
        let path = root.join(".runvqgan.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RunLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}
