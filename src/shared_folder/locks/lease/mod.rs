//! Claims that hold across machines on a shared filesystem: a **lease** is a small file that
//! names its holder (host, process, a random token) and the time it expires. The holder
//! renews it from a background thread while it works; anyone may take it over once it has
//! expired, so a task claimed by a node that died is free again after `lease_seconds`.
//!
//! Every step is a single atomic operation of the filesystem, so it works over NFS, Lustre,
//! BeeGFS and GPFS whatever their lock settings:
//!
//! - **Create**: the content is written to a temporary file, which is then `link(2)`ed to the
//!   lease's name. `link` fails if the name exists, and a reader never sees half a lease. (On
//!   NFS a retransmitted `link` can report failure after it succeeded; the temporary file's
//!   link count tells.)
//! - **Renew**: the holder checks that the lease still names its token and has not expired,
//!   then renames a new copy over it. A holder that finds its lease expired or taken stops
//!   renewing and reports it lost ([`Lease::is_lost`]).
//! - **Take over**: one process wins the right to replace an expired lease by creating the
//!   marker `<lease>.takeover-<token of the expired lease>` (the same link-based create); it
//!   reads the lease again, and only if it still holds that expired token renames its own
//!   lease over it, then removes the marker. A marker left by a process that died while
//!   taking over expires like a lease.
//!
//! Lease files sit in folders members write, so every one of these steps goes through the
//! root's confined access ([`crate::shared_folder::confined`]): the folder is opened beneath the root's
//! handle, a lease is read without following a link or blocking on a fifo, and the
//! temporaries, links and renames all act on names inside that folder handle. A link,
//! fifo or socket planted in a lease's place counts as expired and is replaced by the
//! takeover's rename (which replaces the entry and never follows it); a folder there is an
//! error that says so (it reaches the task's `_ERROR.txt`).
//!
//! **Time.** The holder judges its own lease by its boot clock ([`Clock::since_boot`]): once a
//! lease time has passed since it last renewed (it was frozen, suspended or cut off), the
//! lease is lost to it, whatever any file says. A reader judges a lease by what it observed
//! itself: a lease whose content stayed the same for a lease time on the reader's boot clock
//! is free, and so is one whose written expiry is more than a lease time behind the reader's
//! wall clock (see `record.rs`, `effective_expiry`). So the machines' wall clocks may
//! disagree by up to `lease_seconds` without a live lease being taken, and the file
//! server's clock (which sets modification times) plays no part. The holder renews every
//! third of the lease time and checks its lease again ([`Lease::confirm`]) before work that
//! must not be done twice. A lease whose holder process is gone is taken over at once, but
//! only when host name, boot id and PID namespace all say the process is one this process
//! can see.
//!
//! Here is the [`Lease`] itself: taking it, taking an expired one over, releasing it. The
//! file's format and its single steps are in `record.rs`, the renewal thread in
//! `renewal.rs`, the time expiry is decided by in `clock.rs` ([`Clock`]); when a run uses
//! leases rather than `flock` is [`crate::shared_folder::locks::method`]'s choice.

mod clock;
mod record;
mod renewal;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use clock::{Clock, SystemClock};
pub(crate) use record::read_at;
pub use record::{Holder, LeaseRecord};
use record::{LeaseFile, create_exclusive, new_token, read_record, replace};
use renewal::{Renewer, Shared};

/// A lease this process holds. Dropping it stops the renewal and removes the lease file
/// (when it still names this holder).
#[derive(Debug)]
pub struct Lease {
    shared: Arc<Shared>,
    renewer: Option<Renewer>,
    /// The holder whose expired lease this one replaced, if any.
    pub took_over: Option<LeaseRecord>,
}

impl Lease {
    /// Takes the lease at `path` for `holder` for `ttl`, taking over an expired one.
    /// `Ok(None)`: a live holder has it (or another process is taking it over).
    pub fn try_acquire(
        path: &Path,
        holder: &Holder,
        ttl: Duration,
    ) -> std::io::Result<Option<Lease>> {
        Lease::try_acquire_with(path, holder, ttl, Arc::new(SystemClock))
    }

    /// [`Lease::try_acquire`] with the expiry decided by `clock` (which the lease keeps for
    /// its renewals).
    pub fn try_acquire_with(
        path: &Path,
        holder: &Holder,
        ttl: Duration,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Option<Lease>> {
        let expires_ms = clock.now_ms() + ttl.as_millis() as u64;
        let record = LeaseRecord::of(holder, new_token(holder), expires_ms);
        let file = LeaseFile::open(path)?;
        for _ in 0..5 {
            let written_at = clock.boot_ms();
            if create_exclusive(&file.dir, &file.name, &record)? {
                return Ok(Some(Lease::held(
                    file, record, ttl, None, clock, written_at,
                )));
            }
            let theirs = match file.read(ttl, clock.as_ref()) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if !theirs.is_free(clock.now_ms(), holder) {
                return Ok(None);
            }
            if theirs.token.starts_with("planted-") {
                tracing::warn!(
                    "{}: the lease was not a file runvqgan wrote; replacing it (not followed)",
                    file.path.display()
                );
            }
            return take_over(file, holder, record, theirs, ttl, clock);
        }
        Ok(None)
    }

    /// Waits until the lease at `path` can be taken (polling; a live holder keeps it for
    /// milliseconds, a dead one until it expires), then takes it; at most
    /// [`crate::shared_folder::locks::claim::LOCK_WAIT`].
    pub fn acquire(path: &Path, holder: &Holder, ttl: Duration) -> std::io::Result<Lease> {
        crate::shared_folder::locks::claim::wait_for(
            path,
            || Lease::try_acquire(path, holder, ttl),
            || match read_at(path, ttl) {
                Ok(r) if !r.host.is_empty() => crate::process::text::escape(&format!(
                    "host {}, process {} (its lease file says)",
                    r.host, r.pid
                )),
                _ => "a file runvqgan did not write, rewritten again and again".into(),
            },
        )
    }

    fn held(
        file: LeaseFile,
        record: LeaseRecord,
        ttl: Duration,
        took: Option<LeaseRecord>,
        clock: Arc<dyn Clock>,
        written_at: u64,
    ) -> Lease {
        Lease {
            shared: Arc::new(Shared {
                file,
                record: Mutex::new(record),
                ttl,
                lost: AtomicBool::new(false),
                clock,
                renewed_boot_ms: AtomicU64::new(written_at),
            }),
            renewer: None,
            took_over: took,
        }
    }

    /// Starts the background thread that renews the lease every third of its time, until
    /// the lease is dropped or found lost.
    pub fn keep_renewed(mut self) -> Lease {
        self.renewer = Some(Renewer::start(self.shared.clone()));
        self
    }

    /// Whether the lease was found taken over or expired: the work it guards may now be
    /// done by another process.
    pub fn is_lost(&self) -> bool {
        self.shared.lost.load(Ordering::SeqCst)
    }

    /// Checks the lease now and renews it: `true` when this process still holds it, for at
    /// least a lease time from now on; `false` when it is lost (taken over, or a lease time
    /// passed since the last renewal on this machine's boot clock: the process was frozen or
    /// suspended). Called before work that must not be done twice: an image, its placing.
    pub fn confirm(&self) -> bool {
        !self.is_lost() && self.shared.step()
    }

    /// What the lease file says now (for tests and messages).
    pub fn record(&self) -> LeaseRecord {
        self.shared.record()
    }

    /// Stops renewing without removing the lease, as a process that hangs or dies would.
    #[cfg(test)]
    fn abandon(mut self) {
        self.stop_renewing();
        std::mem::forget(self);
    }

    fn stop_renewing(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.stop();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop_renewing();
        let token = self.record().token;
        let file = &self.shared.file;
        if let Ok(now) = file.read(self.shared.ttl, self.shared.clock.as_ref())
            && now.token == token
        {
            let _ = file.dir.remove(&file.name);
        }
    }
}

/// Replaces the expired lease `theirs` in `file` with `ours`, if this process wins the
/// takeover marker of `theirs`.
fn take_over(
    file: LeaseFile,
    holder: &Holder,
    ours: LeaseRecord,
    theirs: LeaseRecord,
    ttl: Duration,
    clock: Arc<dyn Clock>,
) -> std::io::Result<Option<Lease>> {
    let mut marker = file.name.clone();
    marker.push(format!(".takeover-{}", theirs.token));
    if !create_exclusive(&file.dir, &marker, &ours)? {
        // Another process is taking it over, or died doing so: its marker expires too.
        if let Ok(m) = read_record(&file.dir, &marker, ttl, clock.as_ref())
            && m.is_free(clock.now_ms(), holder)
        {
            let _ = file.dir.remove(&marker);
        }
        return Ok(None);
    }
    let still = matches!(file.read(ttl, clock.as_ref()), Ok(r) if r.token == theirs.token);
    let result = if still {
        let written_at = clock.boot_ms();
        match replace(&file.dir, &file.name, &ours) {
            Ok(()) => {
                let _ = file.dir.remove(&marker);
                return Ok(Some(Lease::held(
                    file,
                    ours,
                    ttl,
                    Some(theirs),
                    clock,
                    written_at,
                )));
            }
            Err(e) => Err(e),
        }
    } else {
        Ok(None)
    };
    let _ = file.dir.remove(&marker);
    result
}
