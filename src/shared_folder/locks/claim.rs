//! Several `runvqgan run` processes on one root (one per GPU, or a second cron entry): each
//! task is worked on by one process at a time, and output numbers are handed out one
//! process at a time.
//!
//! - A **task claim** is an exclusive OS file lock (`flock`) on the task's claim file in the
//!   owner's state folder, `.runvqgan/claims/<key>.claim` (mode 0600: members cannot open
//!   it, so cannot hold it). The operating system releases it when the process ends,
//!   however it ends, so a claim held by a process that died (kill -9, power cut) is free for
//!   the next run. The claim file is removed when the task is done.
//! - The **names lock** is an exclusive lock on `.runvqgan/names.lock` ([`FolderLock`]), held
//!   for the few milliseconds in which a run lists an output folder and reserves numbers in
//!   it (see [`crate::outputs::naming`]), so two runs never choose the same output name.
//!
//! Removing a lock file that another process may have opened is a race (it would lock the
//! removed file while a third process locks a new one); [`TaskClaim::try_claim`] therefore
//! checks after locking that the path still names the file it locked, and tries again if not.
//!
//! Claim files are opened through [`crate::shared_folder::state::StateDir::lock_file`]:
//! never through a link, never blocking; anything else in a claim's place is replaced.

use std::fs::{File, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::FileType;

use crate::shared_folder::confined;
use crate::shared_folder::files::{CLAIMS_NAME, claim_path, task_key};
use crate::shared_folder::state::StateDir;

/// Takes an exclusive `flock` on `file` without waiting: `Ok(true)` taken, `Ok(false)` held
/// by another process. Every `flock` of runvqgan goes through here, so that the test hook
/// [`crate::process::testhook::flock_refused`] reaches them all.
pub fn try_flock(file: &File) -> std::io::Result<bool> {
    if crate::process::testhook::flock_refused() {
        return Err(std::io::Error::from_raw_os_error(libc::ENOLCK));
    }
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Whether `e` is the filesystem refusing `flock` altogether rather than a problem of one
/// file: ENOLCK (NFS without a lock daemon, or out of locks), ENOSYS (Lustre mounted
/// `noflock`), EOPNOTSUPP (a FUSE or other filesystem without locks).
pub fn flock_refused(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOLCK | libc::ENOSYS | libc::EOPNOTSUPP)
    )
}

/// The first `flock` the filesystem refused in this process (a run is one process): the
/// lock file and the error.
static REFUSAL: std::sync::OnceLock<(PathBuf, String)> = std::sync::OnceLock::new();
/// Whether [`REFUSAL`] was handed to [`flock_refusal_to_report`].
static REPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notes that the filesystem refused `flock` on `file` and that a lease stands in: the first
/// refusal of the process is kept for [`flock_refusal_to_report`].
pub fn note_flock_refused(file: &Path, e: &std::io::Error) {
    let _ = REFUSAL.set((file.to_path_buf(), e.to_string()));
    tracing::debug!("flock refused on {}: {e}", file.display());
}

/// The first refused `flock` of this process (lock file, error), once: the run reports it
/// in its log once, whichever lock (a task's, the names lock, the GPU's) met it first.
pub fn flock_refusal_to_report() -> Option<(PathBuf, String)> {
    let refusal = REFUSAL.get()?;
    (!REPORTED.swap(true, std::sync::atomic::Ordering::SeqCst)).then(|| refusal.clone())
}

/// A task this process works on; dropping it releases the claim (the file stays, unlocked,
/// until [`TaskClaim::finish`]).
#[derive(Debug)]
pub struct TaskClaim {
    file: File,
    claims: StateDir,
    name: String,
}

impl TaskClaim {
    /// Claims the task whose path relative to `root` is `task_rel`, or returns `None` when
    /// another live process holds its claim. An error says why the claim file cannot be used.
    pub fn try_claim(root: &Path, task_rel: &str) -> std::io::Result<Option<TaskClaim>> {
        let claims = StateDir::open(root)?.sub(CLAIMS_NAME)?;
        let name = format!("{}.claim", task_key(task_rel));
        for _ in 0..10 {
            // Owner-only, in the owner-only state folder; anything else in its place is
            // replaced, never followed (StateDir::lock_file).
            let file = claims.lock_file(&name)?;
            if !try_flock(&file)? {
                return Ok(None);
            }
            let locked = file.metadata()?;
            match claims.stat(&name) {
                Ok(now) if now.st_dev == locked.dev() && now.st_ino == locked.ino() => {
                    return Ok(Some(TaskClaim { file, claims, name }));
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
        let _ = self.claims.remove(&self.name);
        drop(self.file);
    }
}

/// The process on this machine that holds the claim of `task` now, from the kernel's
/// table of file locks (`/proc/locks`): read-only, so looking never disturbs a run's
/// `try_lock` (as taking even a shared lock to test it would). `None`: unclaimed, or held
/// from another machine (a network filesystem's lock server knows that, this table not).
pub fn flock_holder(root: &Path, task_rel: &str, locks: &ProcLocks) -> Option<u32> {
    let st = confined::stat_nofollow(&claim_path(root, task_rel)).ok()?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return None;
    }
    locks.holder(st.st_dev as u64, st.st_ino as u64)
}

/// The `flock` locks held on this machine (`/proc/locks`), by device and inode.
#[derive(Debug, Default, Clone)]
pub struct ProcLocks {
    holders: std::collections::HashMap<(u32, u32, u64), u32>,
}

impl ProcLocks {
    /// The process that holds a `flock` on the file with device `dev` and inode `ino`.
    pub fn holder(&self, dev: u64, ino: u64) -> Option<u32> {
        let key = (rustix::fs::major(dev), rustix::fs::minor(dev), ino);
        self.holders.get(&key).copied()
    }

    /// Reads `/proc/locks` (empty when it cannot be read).
    pub fn read() -> ProcLocks {
        ProcLocks::parse(&std::fs::read_to_string("/proc/locks").unwrap_or_default())
    }

    /// Parses lines such as `1: FLOCK  ADVISORY  WRITE 4711 00:2d:1234 0 EOF` (or `READ`: a
    /// shared lock also keeps others' exclusive ones out; waiters,
    /// `1: -> FLOCK ...`, hold nothing and are skipped).
    fn parse(text: &str) -> ProcLocks {
        let mut holders = std::collections::HashMap::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [_, "FLOCK", _, "WRITE" | "READ", pid, file, ..] = fields.as_slice() else {
                continue;
            };
            let parts: Vec<&str> = file.split(':').collect();
            let [major, minor, inode] = parts.as_slice() else {
                continue;
            };
            let (Ok(major), Ok(minor), Ok(inode), Ok(pid)) = (
                u32::from_str_radix(major, 16),
                u32::from_str_radix(minor, 16),
                inode.parse::<u64>(),
                pid.parse::<u32>(),
            ) else {
                continue;
            };
            holders.insert((major, minor, inode), pid);
        }
        ProcLocks { holders }
    }
}

/// An exclusive `flock` on a lock file in a folder under the root, held until dropped: the
/// root's names lock (held while output numbers are chosen and reserved) and the gallery's
/// lock.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
}

/// How long a run waits for the names lock or the gallery's lock. runvqgan's own holders keep
/// the names lock for moments and the gallery's lock for one build, but `flock` needs only a
/// file that can be opened for reading, so any member can hold either for ever: after this
/// long the wait ends with an error naming the holder instead of hanging the night.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Calls `attempt` with growing pauses (5 ms up to 1 s) until it gives `Some`, or until
/// [`LOCK_WAIT`] (in debug builds `RUNVQGAN_TEST_LOCK_WAIT_SECONDS` when set) has passed;
/// then the error is `TimedOut` with `who()`'s words on the holder. A stop (Ctrl-C, SIGTERM;
/// [`crate::process::stop`]) ends the wait within a second with `Interrupted`.
pub fn wait_for<T>(
    what: &Path,
    mut attempt: impl FnMut() -> std::io::Result<Option<T>>,
    who: impl Fn() -> String,
) -> std::io::Result<T> {
    let wait = crate::process::testhook::lock_wait(LOCK_WAIT);
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        if let Some(t) = attempt()? {
            return Ok(t);
        }
        if crate::process::stop::requested() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                format!(
                    "stopped (Ctrl-C or SIGTERM) while waiting for {}",
                    what.display()
                ),
            ));
        }
        if start.elapsed() >= wait {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "{} has been held for {} by {}; runvqgan's own runs hold it for moments, so \
                     stop that process (or, if it is a run of runvqgan, wait for it)",
                    what.display(),
                    humantime::format_duration(std::time::Duration::from_secs(wait.as_secs())),
                    who()
                ),
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_secs(1));
    }
}

impl FolderLock {
    /// Waits (at most [`LOCK_WAIT`]) for the lock on the lock file `file` (at `path`, for
    /// messages) and takes it.
    pub fn acquire(file: File, path: &Path) -> std::io::Result<FolderLock> {
        wait_for(
            path,
            || try_flock(&file).map(|taken| taken.then_some(())),
            || lock_holder_words(&file),
        )?;
        Ok(FolderLock { _file: file })
    }
}

/// Who holds the `flock` on `file`, in words: the process, its user and its program, from
/// `/proc/locks` and `/proc/PID`; or why that cannot be said.
fn lock_holder_words(file: &File) -> String {
    let Ok(meta) = file.metadata() else {
        return "another process".into();
    };
    let Some(pid) = ProcLocks::read().holder(meta.dev(), meta.ino()) else {
        return "a process of another machine, or one this user cannot see".into();
    };
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let program = std::fs::read_to_string(proc.join("comm"))
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let uid = std::fs::metadata(&proc).map(|m| m.uid()).ok();
    let user = uid.map_or_else(|| "?".to_string(), crate::process::user_name);
    crate::process::text::escape(&format!("process {pid} (program {program}, user {user})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_exclusive_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let root = crate::shared_folder::root::Root::open(dir.path()).unwrap();
        let task = root.path().join("dog.txt");
        std::fs::write(&task, "{}").unwrap();
        let first = TaskClaim::try_claim(root.path(), "dog.txt")
            .unwrap()
            .expect("free");
        assert!(
            TaskClaim::try_claim(root.path(), "dog.txt")
                .unwrap()
                .is_none()
        );
        drop(first);
        let again = TaskClaim::try_claim(root.path(), "dog.txt")
            .unwrap()
            .expect("released");
        assert!(claim_path(root.path(), "dog.txt").exists());
        again.finish();
        assert!(!claim_path(root.path(), "dog.txt").exists());
    }
}

#[cfg(test)]
mod holders {
    use super::*;

    #[test]
    fn the_holder_of_a_claim_on_this_machine_is_found_in_the_lock_table_without_locking() {
        let dir = tempfile::tempdir().unwrap();
        let root = crate::shared_folder::root::Root::open(dir.path()).unwrap();
        let task = root.path().join("dog.txt");
        let free = root.path().join("cat.txt");
        std::fs::write(&task, "{}").unwrap();
        std::fs::write(&free, "{}").unwrap();
        let claim = TaskClaim::try_claim(root.path(), "dog.txt")
            .unwrap()
            .unwrap();
        let unlocked = TaskClaim::try_claim(root.path(), "cat.txt")
            .unwrap()
            .unwrap();
        drop(unlocked);
        let locks = ProcLocks::read();
        assert_eq!(
            flock_holder(root.path(), "dog.txt", &locks),
            Some(std::process::id())
        );
        assert_eq!(flock_holder(root.path(), "cat.txt", &locks), None);
        // Looking took no lock: the claim is still this process's, and cat's is free.
        assert!(
            TaskClaim::try_claim(root.path(), "cat.txt")
                .unwrap()
                .is_some()
        );
        claim.finish();
        assert_eq!(
            flock_holder(root.path(), "dog.txt", &ProcLocks::read()),
            None
        );
    }

    #[test]
    fn the_lock_table_is_parsed_and_waiters_and_posix_locks_are_skipped() {
        let locks = ProcLocks::parse(
            "1: FLOCK  ADVISORY  WRITE 4711 00:2d:1234 0 EOF
             1: -> FLOCK  ADVISORY  WRITE 4712 00:2d:1234 0 EOF
             2: POSIX  ADVISORY  WRITE 99 fd:01:55 0 EOF
             3: FLOCK  ADVISORY  WRITE 5 103:0a:77 0 EOF
",
        );
        assert_eq!(locks.holders.get(&(0, 0x2d, 1234)), Some(&4711));
        assert_eq!(locks.holders.get(&(0x103, 0x0a, 77)), Some(&5));
        assert_eq!(locks.holders.len(), 2);
    }
}

#[cfg(test)]
mod hostile {
    use super::*;

    #[test]
    fn a_claim_that_is_a_link_is_replaced_without_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = crate::shared_folder::root::Root::open(dir.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let task = root.path().join("dog.txt");
        std::fs::write(&task, "{}").unwrap();
        let target = outside.path().join("created-by-owner");
        StateDir::open(root.path())
            .unwrap()
            .sub(CLAIMS_NAME)
            .unwrap();
        std::os::unix::fs::symlink(&target, claim_path(root.path(), "dog.txt")).unwrap();
        let claim = TaskClaim::try_claim(root.path(), "dog.txt")
            .unwrap()
            .expect("free");
        assert!(!target.exists(), "the link was followed");
        assert!(
            std::fs::symlink_metadata(claim_path(root.path(), "dog.txt"))
                .unwrap()
                .is_file()
        );
        claim.finish();
    }

    #[test]
    fn a_claim_that_is_a_folder_is_an_error_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let root = crate::shared_folder::root::Root::open(dir.path()).unwrap();
        StateDir::open(root.path())
            .unwrap()
            .sub(CLAIMS_NAME)
            .unwrap();
        std::fs::create_dir(claim_path(root.path(), "dog.txt")).unwrap();
        let e = TaskClaim::try_claim(root.path(), "dog.txt").unwrap_err();
        assert!(e.to_string().contains("a folder"), "{e}");
    }
}
