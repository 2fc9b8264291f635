//! A test hook for fault-injection tests: with `RUNVQGAN_TEST_ABORT_AT=POINT:N` in the
//! environment, the process kills itself with SIGKILL (exactly a kill -9: no clean-up at all)
//! the `N`th time it reaches `POINT`. The points are `before-image` (after the image's number
//! is reserved, before the engine starts on it), `mid-image` (after the second iteration of an
//! image), `before-place` (the engine made a batch's PNGs in its work folder, none is placed
//! yet), `after-png` (the PNG is placed, the sidecar is not written yet) and `before-done`
//! (every image of a task exists, the task is not renamed yet); `reproduce` has `reserved`
//! (its output number is reserved, the engine has not started).
//!
//! With `RUNVQGAN_TEST_PAUSE_AT=POINT:N` the process instead stops itself (SIGSTOP) there,
//! after printing `runvqgan: test hook: paused at POINT:N` on stderr: an attack test
//! (tests/attacks.rs) changes the shared folder at that moment (swaps a folder for a link),
//! then sends SIGCONT.
//!
//! `RUNVQGAN_TEST_LOCK_WAIT_SECONDS` shortens the wait for a held lock ([`lock_wait`]), and
//! `RUNVQGAN_TEST_PYTHON_HOME` stands in for the Python home recorded at build time
//! ([`python_home`]).
//!
//! Compiled only into debug builds (which `cargo test` uses): a release build never reads
//! the variables, and [`reached`] does nothing.

#[cfg(debug_assertions)]
mod armed {
    use std::sync::Mutex;
    use std::sync::OnceLock;

    /// (point, n) from the environment, and how often each point was reached.
    struct Hook {
        point: String,
        n: u32,
        seen: Mutex<u32>,
    }

    fn parse(var: &str) -> Option<Hook> {
        let value = std::env::var(var).ok()?;
        let (point, n) = value.split_once(':').unwrap_or((value.as_str(), "1"));
        Some(Hook {
            point: point.to_string(),
            n: n.parse().ok()?,
            seen: Mutex::new(0),
        })
    }

    /// Whether this is the hook's `n`th arrival at `point`.
    fn arrives(hook: Option<&Hook>, point: &str) -> bool {
        let Some(h) = hook else { return false };
        if h.point != point {
            return false;
        }
        let mut seen = h.seen.lock().unwrap_or_else(|e| e.into_inner());
        *seen += 1;
        *seen == h.n
    }

    fn abort_hook() -> Option<&'static Hook> {
        static HOOK: OnceLock<Option<Hook>> = OnceLock::new();
        HOOK.get_or_init(|| parse("RUNVQGAN_TEST_ABORT_AT"))
            .as_ref()
    }

    fn pause_hook() -> Option<&'static Hook> {
        static HOOK: OnceLock<Option<Hook>> = OnceLock::new();
        HOOK.get_or_init(|| parse("RUNVQGAN_TEST_PAUSE_AT"))
            .as_ref()
    }

    /// Stops or aborts the process if a test hook asks for it at this (the `n`th) arrival at
    /// `point`.
    pub fn reached(point: &str) {
        if arrives(pause_hook(), point) {
            let n = pause_hook().map_or(0, |h| h.n);
            eprintln!("runvqgan: test hook: paused at {point}:{n}");
            // SAFETY: raising a signal in this process has no memory-safety preconditions.
            unsafe {
                libc::raise(libc::SIGSTOP);
            }
        }
        if arrives(abort_hook(), point) {
            let n = abort_hook().map_or(0, |h| h.n);
            eprintln!("runvqgan: test hook: killing this process at {point}:{n}");
            // SAFETY: sending a signal to this process has no memory-safety preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            std::process::abort();
        }
    }
}

#[cfg(debug_assertions)]
pub use armed::reached;

/// Release builds: no hook.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn reached(_point: &str) {}

/// How long to wait for a lock ([`crate::shared_folder::locks::claim::LOCK_WAIT`]): in debug builds
/// `RUNVQGAN_TEST_LOCK_WAIT_SECONDS` when set (so that a test of a lock a member holds for
/// ever does not wait half an hour); `default` otherwise.
pub fn lock_wait(default: std::time::Duration) -> std::time::Duration {
    #[cfg(debug_assertions)]
    if let Some(s) = std::env::var("RUNVQGAN_TEST_LOCK_WAIT_SECONDS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
    {
        return std::time::Duration::from_secs_f64(s);
    }
    default
}

/// In debug builds, `RUNVQGAN_TEST_PYTHON_HOME` when set: a Python home (`prefix` or
/// `prefix:exec_prefix`) that stands in for the one recorded at build time, so that a test
/// can show what an account that cannot read the recorded home is told
/// ([`crate::engine::pyhome`]). Release builds: always `None`.
pub fn python_home() -> Option<String> {
    #[cfg(debug_assertions)]
    if let Some(home) = std::env::var("RUNVQGAN_TEST_PYTHON_HOME")
        .ok()
        .filter(|h| !h.is_empty())
    {
        return Some(home);
    }
    None
}

/// In debug builds, `RUNVQGAN_TEST_FLOCK=refused`: every `flock` this process tries fails
/// with ENOLCK, as on an NFS mount without a lock daemon, so that the tests of the fallback
/// to leases hold on any filesystem. Release builds: always `false`.
pub fn flock_refused() -> bool {
    #[cfg(debug_assertions)]
    if std::env::var("RUNVQGAN_TEST_FLOCK").as_deref() == Ok("refused") {
        return true;
    }
    false
}

/// In debug builds, `RUNVQGAN_TEST_GPU`: `0` makes the machine count as having no GPU, `1`
/// as having one, so that the tests of the CUDA preflight and of the GPU lock hold on any
/// machine. `None` (and always in release builds): look at the machine.
pub fn gpu() -> Option<bool> {
    #[cfg(debug_assertions)]
    match std::env::var("RUNVQGAN_TEST_GPU").as_deref() {
        Ok("0") => return Some(false),
        Ok("1") => return Some(true),
        _ => {}
    }
    None
}

/// In debug builds, `RUNVQGAN_TEST_NFS_APPEND=1`: files opened for appending in the shared
/// folder behave as on an NFS client, which has no atomic `O_APPEND` across machines: each
/// open file writes at the end it saw when it was opened, then on from there, so two
/// processes appending to one file overwrite each other's lines. The tests of the records
/// (tests/records.rs) show that runvqgan's records lose nothing all the same. Release
/// builds: always `false`.
pub fn nfs_append() -> bool {
    #[cfg(debug_assertions)]
    if std::env::var("RUNVQGAN_TEST_NFS_APPEND").as_deref() == Ok("1") {
        return true;
    }
    false
}
