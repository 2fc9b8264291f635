//! The time a lease's expiry is decided by. Leases compare their expiry with this machine's
//! clock; going through a [`Clock`] instead of calling [`SystemTime::now`] lets the tests
//! move time forward at will (a lease expires without waiting for it), while runs use the
//! [`SystemClock`].

use std::fmt::Debug;
use std::time::SystemTime;

/// Where a lease reads the current time for its expiry decisions.
pub trait Clock: Debug + Send + Sync {
    /// The time now.
    fn now(&self) -> SystemTime;

    /// The time now, in milliseconds since the Unix epoch (as a lease file writes it).
    fn now_ms(&self) -> u64 {
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64
    }
}

/// The machine's clock: what runs use.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
