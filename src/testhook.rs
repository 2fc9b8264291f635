//! A test hook for fault-injection tests: with `RUNVQGAN_TEST_ABORT_AT=POINT:N` in the
//! environment, the process kills itself with SIGKILL (exactly a kill -9: no clean-up at all)
//! the `N`th time it reaches `POINT`. The points are `before-image` (after the image's number
//! is reserved, before the engine starts on it), `mid-image` (after the second iteration of an
//! image), `after-png` (the engine wrote the PNG, the sidecar is not written yet) and
//! `before-done` (every image of a task exists, the task is not renamed yet).
//!
//! Compiled only into debug builds (which `cargo test` uses): a release build never reads
//! the variable, and [`reached`] does nothing.

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

    fn hook() -> Option<&'static Hook> {
        static HOOK: OnceLock<Option<Hook>> = OnceLock::new();
        HOOK.get_or_init(|| {
            let value = std::env::var("RUNVQGAN_TEST_ABORT_AT").ok()?;
            let (point, n) = value.split_once(':').unwrap_or((value.as_str(), "1"));
            Some(Hook {
                point: point.to_string(),
                n: n.parse().ok()?,
                seen: Mutex::new(0),
            })
        })
        .as_ref()
    }

    /// Aborts the process if the test hook asks for it at this (the `n`th) arrival at `point`.
    pub fn reached(point: &str) {
        let Some(h) = hook() else { return };
        if h.point != point {
            return;
        }
        let mut seen = h.seen.lock().unwrap_or_else(|e| e.into_inner());
        *seen += 1;
        if *seen == h.n {
            eprintln!(
                "runvqgan: test hook: killing this process at {point}:{}",
                h.n
            );
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
