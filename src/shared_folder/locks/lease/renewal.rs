//! Keeping a held lease alive: the state a lease shares with its renewal thread
//! ([`Shared`]), one renewal step ([`Shared::step`]) and the background thread that makes
//! it every third of the lease time ([`Renewer`]). The step is a plain function so the
//! tests can call it with a clock they move, instead of waiting for the thread.

use std::sync::atomic::{AtomicBool, Ordering};
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
}

impl Shared {
    /// Renews the lease; `false` when it is lost (taken over, or expired before renewal).
    pub(super) fn renew(&self) -> bool {
        let now_ms = || self.clock.now_ms();
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        match self.file.read(self.ttl, now_ms()) {
            Ok(now) if now.token == record.token => {}
            Ok(_) => return false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
            Err(e) => {
                tracing::warn!("cannot read the lease {}: {e}", self.file.path.display());
                return now_ms() <= record.expires_ms;
            }
        }
        if now_ms() > record.expires_ms {
            return false;
        }
        let mut next = record.clone();
        next.expires_ms = now_ms() + self.ttl.as_millis() as u64;
        match replace(&self.file.dir, &self.file.name, &next) {
            Ok(()) => {
                *record = next;
                true
            }
            Err(e) => {
                tracing::warn!("cannot renew the lease {}: {e}", self.file.path.display());
                now_ms() <= record.expires_ms
            }
        }
    }

    /// One step of the renewal thread: renews the lease, or, when it is lost, marks it lost
    /// and says so. `false`: lost, stop renewing.
    pub(super) fn step(&self) -> bool {
        if self.renew() {
            return true;
        }
        self.lost.store(true, Ordering::SeqCst);
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
