//! The times a lease is judged by. Two clocks, for two questions:
//!
//! - the **wall clock** ([`Clock::now`]): what a lease file writes as its expiry, so that a
//!   lease left by a node that died long ago is free at first sight, on any machine whose
//!   clock agrees with the holder's to within the lease time;
//! - this machine's **boot clock** ([`Clock::since_boot`], `CLOCK_BOOTTIME`): never set by
//!   anyone, counting the time a process or the whole machine was stopped or suspended. A
//!   holder judges its own lease by it (the time since it last renewed), and an observer
//!   judges how long a lease has stayed unchanged by it, so neither needs any other
//!   machine's clock, nor the file server's (whose clock sets a file's modification time,
//!   which runvqgan never reads for a lease).
//!
//! Going through a [`Clock`] lets the tests move both forward at will (a lease expires
//! without waiting for it), while runs use the [`SystemClock`].

use std::fmt::Debug;
use std::time::{Duration, SystemTime};

/// Where a lease reads the current time for its expiry decisions.
pub trait Clock: Debug + Send + Sync {
    /// The wall-clock time now.
    fn now(&self) -> SystemTime;

    /// The time since this machine booted, counting time suspended or stopped.
    fn since_boot(&self) -> Duration;

    /// The time now, in milliseconds since the Unix epoch (as a lease file writes it).
    fn now_ms(&self) -> u64 {
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64
    }

    /// [`Clock::since_boot`] in milliseconds.
    fn boot_ms(&self) -> u64 {
        self.since_boot().as_millis() as u64
    }
}

/// The machine's clocks: what runs use.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn since_boot(&self) -> Duration {
        boot_time()
    }
}

/// `CLOCK_BOOTTIME`: monotonic, and unlike `CLOCK_MONOTONIC` (Rust's `Instant`) it keeps
/// counting while the machine is suspended, so a holder that slept through its lease knows.
pub(crate) fn boot_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
