//! Keeping a held lease alive: the state a lease shares with its renewal thread
//! ([`Shared`]), one renewal step ([`Shared::step`]) and the background thread that makes
//! it every third of the lease time ([`Renewer`]). The step is a plain function so the
//! tests can call it with a clock they move, instead of waiting for the thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::clock::Clock;
use super::record::{LeaseFile, LeaseRecord, replace};

/// The state a lease's renewal thread shares with its holder.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) file: LeaseFile,
    pub(super) record: Mutex<LeaseRecord>,
    pub(super) ttl: Duration,
    pub(super) lost: AtomicBool,
    /// What the expiry is compared with.
    pub(super) clock: Arc<dyn Clock>,
    /// When the lease was last written (created or renewed), on the boot clock, taken just
    /// before the write: a lease time after it, the lease is lost to this holder.
    pub(super) renewed_boot_ms: AtomicU64,
}

impl Shared {
    /// Whether a lease time has passed since the lease was last written, on this machine's
    /// boot clock (which counts time frozen or suspended): then others may have taken it.
    fn outlived(&self) -> bool {
        let since = self
            .clock
            .boot_ms()
            .saturating_sub(self.renewed_boot_ms.load(Ordering::SeqCst));
        since >= self.ttl.as_millis() as u64
    }

    /// Renews the lease; `false` when it is lost (taken over, or a lease time passed since
    /// the last renewal).
    pub(super) fn renew(&self) -> bool {
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        if self.outlived() {
            return false;
        }
        match self.file.read(self.ttl, self.clock.as_ref()) {
            Ok(now) if now.token == record.token => {}
            Ok(_) => return false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
            Err(e) => {
                tracing::warn!("cannot read the lease {}: {e}", self.file.path.display());
                return !self.outlived();
            }
        }
        let written_at = self.clock.boot_ms();
        let mut next = record.clone();
        next.expires_ms = self.clock.now_ms() + self.ttl.as_millis() as u64;
        match replace(&self.file.dir, &self.file.name, &next) {
            Ok(()) => {
                *record = next;
                self.renewed_boot_ms.store(written_at, Ordering::SeqCst);
                true
            }
            Err(e) => {
                tracing::warn!("cannot renew the lease {}: {e}", self.file.path.display());
                !self.outlived()
            }
        }
    }

    /// One step of the renewal thread: renews the lease, or, when it is lost, marks it lost
    /// and says so. `false`: lost, stop renewing.
    pub(super) fn step(&self) -> bool {
        if self.renew() {
            return true;
        }
        if self.lost.swap(true, Ordering::SeqCst) {
            return false;
        }
        tracing::warn!(
            "the lease {} expired or was taken over by another run",
            self.file.path.display()
        );
        false
    }

    /// The lease this holder last wrote.
    pub(super) fn record(&self) -> LeaseRecord {
        self.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The background thread that renews a lease every third of its time, until it is stopped
/// or finds the lease lost.
#[derive(Debug)]
pub(super) struct Renewer {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Renewer {
    /// Starts renewing `shared`.
    pub(super) fn start(shared: Arc<Shared>) -> Renewer {
        let (stop, stopped) = channel::<()>();
        let every = shared.ttl / 3;
        let thread = std::thread::spawn(move || {
            loop {
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                if !shared.step() {
                    return;
                }
            }
        });
        Renewer { stop, thread }
    }

    /// Stops the thread and waits for it (a renewal under way finishes first).
    pub(super) fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}
