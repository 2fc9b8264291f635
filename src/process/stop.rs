//! The process's stop request: Ctrl-C, SIGTERM (systemd, Slurm's `--signal`) or SIGHUP. The
//! handlers set one flag; the engine stops within an iteration, and every wait (for a lock,
//! a pause between tasks) looks at the same flag at least once a second, so a stop is never
//! ignored while the run waits for something.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// The flag, with the signal handlers installed on first use: the first signal sets it
/// (the run stops at the next safe point, writes its summary and exits 130); a second
/// signal while the first is being handled ends the process at once with exit code 130.
pub fn install() -> std::io::Result<Arc<AtomicBool>> {
    if let Some(flag) = STOP.get() {
        return Ok(flag.clone());
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, stop.clone())?;
        signal_hook::flag::register(signal, stop.clone())?;
    }
    Ok(STOP.get_or_init(|| stop).clone())
}

/// Whether a stop was asked for (false when no handler was installed).
pub fn requested() -> bool {
    STOP.get().is_some_and(|s| s.load(Ordering::SeqCst))
}
