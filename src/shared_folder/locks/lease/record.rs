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
//! The expiry is compared with this machine's clock, so the machines' clocks must agree to
//! well within `lease_seconds` (NTP does that). The holder renews every third of the lease
//! time, so a renewal may be late by two thirds of it. On this machine a lease whose holder
//! process is gone is taken over at once.

use crate::host::host_name;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::host::slurm::SlurmJob;
use crate::shared_folder::confined::{self, Dir, Place};
use crate::shared_folder::files::{
    GALLERY_LEASE, GALLERY_LOCK, NAMES_LEASE, NAMES_LOCK, lease_path,
};
use crate::shared_folder::locks::claim::{FolderLock, TaskClaim};
use crate::shared_folder::locks::filesystem::{ClaimPlan, FsInfo};
use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;

/// The most bytes of a lease file that are read (a member could put anything there).
const MAX_LEASE_BYTES: u64 = 4096;

/// Who holds a lease: a process on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The host name (`gethostname`).
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// The Slurm job (array element) the process runs in, if any.
    pub slurm: Option<SlurmJob>,
}

impl Holder {
    /// This process on this machine.
    pub fn this_process() -> Holder {
        Holder {
            host: host_name(),
            pid: std::process::id(),
            slurm: SlurmJob::from_env(),
        }
    }
}

/// What a lease file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// The holder's host name.
    pub host: String,
    /// The holder's process id.
    pub pid: u32,
    /// The holder's random token; names this holding of the lease.
    pub token: String,
    /// When it expires, in milliseconds since the Unix epoch.
    pub expires_ms: u64,
    /// `SLURM_JOB_ID` of the holder, when it runs in a Slurm job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job_id: Option<String>,
    /// `SLURM_ARRAY_JOB_ID` of the holder, for an array element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_array_job_id: Option<String>,
    /// `SLURM_ARRAY_TASK_ID` of the holder, for an array element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_array_task_id: Option<String>,
}

impl LeaseRecord {
    /// A lease of `holder` with `token`, expiring at `expires_ms`.
    fn of(holder: &Holder, token: String, expires_ms: u64) -> LeaseRecord {
        let slurm = holder.slurm.as_ref();
        LeaseRecord {
            host: holder.host.clone(),
            pid: holder.pid,
            token,
            expires_ms,
            slurm_job_id: slurm.map(|j| j.job_id.clone()),
            slurm_array_job_id: slurm.and_then(|j| j.array_job_id.clone()),
            slurm_array_task_id: slurm.and_then(|j| j.array_task_id.clone()),
        }
    }

    /// Whether a record read from a lease file could have been written by runvqgan. A
    /// member can write anything there, and the token becomes part of a file name (the
    /// takeover marker), the host and Slurm ids part of log lines: a token that is not a
    /// plain word (`../..` would lead the marker out of the folder), a host with control
    /// characters or overlong fields make the file count as foreign.
    fn is_plausible(&self) -> bool {
        let word = |s: &str, max: usize| {
            !s.is_empty()
                && s.len() <= max
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        let slurm_ok = [
            &self.slurm_job_id,
            &self.slurm_array_job_id,
            &self.slurm_array_task_id,
        ]
        .iter()
        .all(|v| v.as_deref().is_none_or(|v| word(v, 32)));
        word(&self.token, 64)
            && !self.host.is_empty()
            && self.host.len() <= 255
            && !self.host.chars().any(char::is_control)
            && slurm_ok
    }

    /// A file in a lease's place that runvqgan did not write (see [`read_record`]).
    fn foreign(token: String, expires_ms: u64) -> LeaseRecord {
        LeaseRecord::of(
            &Holder {
                host: String::new(),
                pid: 0,
                slurm: None,
            },
            token,
            expires_ms,
        )
    }

    /// Whether another process may take the lease over at `now_ms`, seen from `me`: it has
    /// expired, or its holder ran on this host and is gone.
    fn is_free(&self, now_ms: u64, me: &Holder) -> bool {
        now_ms > self.expires_ms
            || (self.host == me.host && self.pid != me.pid && !process_alive(self.pid))
    }
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn new_token(holder: &Holder) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    h.update(holder.host.as_bytes());
    h.update(holder.pid.to_le_bytes());
    h.update(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            .to_le_bytes(),
    );
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the lease `name` in `dir` as untrusted input (members can write the folder): never
/// through a link, never blocking on a fifo, at most [`MAX_LEASE_BYTES`]. A regular file
/// that is not a lease runvqgan wrote counts as a lease of nobody that expires `ttl` after it
/// was last written; a link, fifo, socket or device in its place was planted (runvqgan
/// never makes one), so it counts as expired at once and is replaced by a takeover (a rename
/// replaces the entry itself and never follows it). A folder is an error that says so.
fn read_record(dir: &Dir, name: &OsStr, ttl: Duration) -> std::io::Result<LeaseRecord> {
    let file = match dir.read(name, MAX_LEASE_BYTES) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(e),
        Err(e) => {
            let st = dir.stat(name)?;
            return match FileType::from_raw_mode(st.st_mode) {
                FileType::Directory | FileType::RegularFile => Err(e),
                _ => Ok(LeaseRecord::foreign(format!("planted-{}", st.st_ino), 0)),
            };
        }
    };
    let parsed = (file.bytes.len() as u64 <= MAX_LEASE_BYTES)
        .then(|| std::str::from_utf8(&file.bytes).ok())
        .flatten()
        .and_then(|text| serde_json::from_str::<LeaseRecord>(text.trim()).ok())
        .filter(LeaseRecord::is_plausible);
    // A lease nobody could have renewed lately (its expiry far ahead, or no lease at all)
    // expires `ttl` after it was last written.
    let written_ms =
        (file.stat.st_mtime.max(0) as u64) * 1000 + (file.stat.st_mtime_nsec as u64) / 1_000_000;
    let latest = written_ms + 2 * ttl.as_millis() as u64;
    Ok(match parsed {
        Some(mut r) => {
            r.expires_ms = r.expires_ms.min(latest);
            r
        }
        None => LeaseRecord::foreign(
            format!("unreadable-{}", file.stat.st_ino),
            written_ms + ttl.as_millis() as u64,
        ),
    })
}

/// A new hidden temporary file in `dir` holding `record`, flushed to disk; its name.
fn write_temporary(dir: &Dir, record: &LeaseRecord) -> std::io::Result<OsString> {
    let (mut file, tmp) = dir.create_temp(TEMP_PREFIX, 0o644)?;
    let mut text = serde_json::to_string(record).map_err(std::io::Error::other)?;
    text.push('\n');
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = dir.remove(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// The prefix of a lease's temporary files (hidden, so never listed as a task).
const TEMP_PREFIX: &str = ".runvqgan-lease-";

/// Creates `name` in `dir` holding `record` if no entry has that name (a link counts as
/// one and is never followed: `link(2)` does not follow its target name). `Ok(false)`: it
/// exists.
fn create_exclusive(dir: &Dir, name: &OsStr, record: &LeaseRecord) -> std::io::Result<bool> {
    let tmp = write_temporary(dir, record)?;
    let linked = match rustix::fs::linkat(dir.fd(), &tmp, dir.fd(), name, AtFlags::empty()) {
        Ok(()) => Ok(true),
        // A retransmitted NFS `link` may fail after succeeding: the link count tells.
        Err(e) => match dir.stat(&tmp) {
            Ok(st) if st.st_nlink == 2 => Ok(true),
            _ if e == Errno::EXIST => Ok(false),
            _ => Err(std::io::Error::from_raw_os_error(e.raw_os_error())),
        },
    };
    let _ = dir.remove(&tmp);
    linked
}

/// Replaces `name` in `dir` with a file holding `record` (a rename: whatever was there, a
/// planted link included, is replaced, not followed).
fn replace(dir: &Dir, name: &OsStr, record: &LeaseRecord) -> std::io::Result<()> {
    let mut text = serde_json::to_string(record).map_err(std::io::Error::other)?;
    text.push('\n');
    dir.write_atomic(name, TEMP_PREFIX, text.as_bytes(), 0o644, Place::Replace)
}

/// Where a lease lives: a folder under the root, opened beneath the root's handle, and the
/// lease's name in it.
#[derive(Debug)]
struct LeaseFile {
    dir: Dir,
    name: OsString,
    /// The whole path, for messages.
    path: PathBuf,
}

impl LeaseFile {
    /// The lease at `path` (under a registered root): its folder is opened through
    /// [`fsroot`], so a folder swapped for a link out of the root is refused.
    fn open(path: &Path) -> std::io::Result<LeaseFile> {
        let (dir, name) = confined::parent(path)?;
        Ok(LeaseFile {
            dir,
            name,
            path: path.to_path_buf(),
        })
    }

    fn read(&self, ttl: Duration) -> std::io::Result<LeaseRecord> {
        read_record(&self.dir, &self.name, ttl)
    }
}

/// The state a lease's renewal thread shares with its holder.
#[derive(Debug)]
struct Shared {
    file: LeaseFile,
    record: Mutex<LeaseRecord>,
    ttl: Duration,
    lost: AtomicBool,
}

impl Shared {
    /// Renews the lease; `false` when it is lost (taken over, or expired before renewal).
    fn renew(&self) -> bool {
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        match self.file.read(self.ttl) {
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
}

/// A lease this process holds. Dropping it stops the renewal and removes the lease file
/// (when it still names this holder).
#[derive(Debug)]
pub struct Lease {
    shared: Arc<Shared>,
    renewer: Option<(Sender<()>, JoinHandle<()>)>,
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
        let record = LeaseRecord::of(holder, new_token(holder), now_ms() + ttl.as_millis() as u64);
        let file = LeaseFile::open(path)?;
        for _ in 0..5 {
            if create_exclusive(&file.dir, &file.name, &record)? {
                return Ok(Some(Lease::held(file, record, ttl, None)));
            }
            let theirs = match file.read(ttl) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if !theirs.is_free(now_ms(), holder) {
                return Ok(None);
            }
            if theirs.token.starts_with("planted-") {
                tracing::warn!(
                    "{}: the lease was not a file runvqgan wrote; replacing it (not followed)",
                    file.path.display()
                );
            }
            return take_over(file, holder, record, theirs, ttl);
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
            || match LeaseFile::open(path).and_then(|f| f.read(ttl)) {
                Ok(r) if !r.host.is_empty() => crate::text::escape(&format!(
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
    ) -> Lease {
        Lease {
            shared: Arc::new(Shared {
                file,
                record: Mutex::new(record),
                ttl,
                lost: AtomicBool::new(false),
            }),
            renewer: None,
            took_over: took,
        }
    }

    /// Starts the background thread that renews the lease every third of its time, until
    /// the lease is dropped or found lost.
    pub fn keep_renewed(mut self) -> Lease {
        let (stop, stopped) = channel::<()>();
        let shared = self.shared.clone();
        let every = shared.ttl / 3;
        let thread = std::thread::spawn(move || {
            loop {
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                if !shared.renew() {
                    shared.lost.store(true, Ordering::SeqCst);
                    tracing::warn!(
                        "the lease {} expired or was taken over by another run",
                        shared.file.path.display()
                    );
                    return;
                }
            }
        });
        self.renewer = Some((stop, thread));
        self
    }

    /// Whether the lease was found taken over or expired: the work it guards may now be
    /// done by another process.
    pub fn is_lost(&self) -> bool {
        self.shared.lost.load(Ordering::SeqCst)
    }

    /// What the lease file says now (for tests and messages).
    pub fn record(&self) -> LeaseRecord {
        self.shared
            .record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops renewing without removing the lease, as a process that hangs or dies would.
    #[cfg(test)]
    fn abandon(mut self) {
        self.stop_renewing();
        std::mem::forget(self);
    }

    fn stop_renewing(&mut self) {
        if let Some((stop, thread)) = self.renewer.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop_renewing();
        let token = self.record().token;
        let file = &self.shared.file;
        if let Ok(now) = file.read(self.shared.ttl)
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
) -> std::io::Result<Option<Lease>> {
    let mut marker = file.name.clone();
    marker.push(format!(".takeover-{}", theirs.token));
    if !create_exclusive(&file.dir, &marker, &ours)? {
        // Another process is taking it over, or died doing so: its marker expires too.
        if let Ok(m) = read_record(&file.dir, &marker, ttl)
            && m.is_free(now_ms(), holder)
        {
            let _ = file.dir.remove(&marker);
        }
        return Ok(None);
    }
    let still = matches!(file.read(ttl), Ok(r) if r.token == theirs.token);
    let result = if still {
        match replace(&file.dir, &file.name, &ours) {
            Ok(()) => {
                let _ = file.dir.remove(&marker);
                return Ok(Some(Lease::held(file, ours, ttl, Some(theirs))));
            }
            Err(e) => Err(e),
        }
    } else {
        Ok(None)
    };
    let _ = file.dir.remove(&marker);
    result
}

/// How this run claims tasks and reserves output numbers on its root: `flock`
/// ([`crate::shared_folder::locks::claim`]), a lease, or both, as [`ClaimPlan::choose`] decided for the root's
/// filesystem.
#[derive(Debug, Clone)]
pub struct ClaimMethod {
    /// Which claims are taken, and why.
    pub plan: ClaimPlan,
    /// The root's filesystem.
    pub fs: FsInfo,
    /// This process.
    pub holder: Holder,
    /// How long a lease lasts unless renewed (`lease_seconds`).
    pub ttl: Duration,
    /// Why the names lock could not be taken, once a wait for it ran out: the later tasks
    /// of the run fail at once with the same words instead of each waiting again.
    names_blocked: std::sync::OnceLock<String>,
}

impl ClaimMethod {
    /// The claims the runs on `root` use under `config`.
    pub fn for_root(root: &Path, config: &Config) -> ClaimMethod {
        let fs = FsInfo::of(root);
        ClaimMethod {
            plan: ClaimPlan::choose(config.claims, &fs),
            fs,
            holder: Holder::this_process(),
            ttl: Duration::from_secs_f64(config.lease_seconds),
            names_blocked: std::sync::OnceLock::new(),
        }
    }

    /// Claims `task`, or `None` when another live run holds its claim. An error names the
    /// hidden file (claim or lease) that cannot be used, for the task's `_ERROR.txt`.
    pub fn claim(&self, task: &Path) -> Result<Option<Claim>, ClaimFileError> {
        let flock = if self.plan.flock {
            match TaskClaim::try_claim(task).map_err(|source| ClaimFileError {
                file: crate::shared_folder::files::claim_path(task),
                source,
            })? {
                Some(c) => Some(c),
                None => return Ok(None),
            }
        } else {
            None
        };
        let lease = if self.plan.lease {
            let file = lease_path(task);
            match Lease::try_acquire(&file, &self.holder, self.ttl)
                .map_err(|source| ClaimFileError { file, source })?
            {
                Some(l) => Some(l.keep_renewed()),
                None => return Ok(None),
            }
        } else {
            None
        };
        Ok(Some(Claim { lease, flock }))
    }

    /// Waits for the root's names lock (see [`crate::outputs::naming`]) and takes it.
    pub fn lock_names(&self, root: &Path) -> std::io::Result<LockGuard> {
        if let Some(why) = self.names_blocked.get() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                why.clone(),
            ));
        }
        self.lock(root, NAMES_LOCK, NAMES_LEASE).inspect_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                let _ = self.names_blocked.set(e.to_string());
            }
        })
    }

    /// Waits for the gallery's lock (in `<root>/.runvqgan/`) and takes it: one gallery build
    /// at a time on a root, whichever run or machine makes it.
    pub fn lock_gallery(&self, root: &Path) -> std::io::Result<LockGuard> {
        let dir = crate::shared_folder::locks::device::state_dir(root)?;
        self.lock(&dir, GALLERY_LOCK, GALLERY_LEASE)
    }

    /// The lock `flock_name` and/or the lease `lease_name` in `dir`, as the plan says.
    fn lock(&self, dir: &Path, flock_name: &str, lease_name: &str) -> std::io::Result<LockGuard> {
        let flock = if self.plan.flock {
            Some(FolderLock::acquire(dir, flock_name)?)
        } else {
            None
        };
        let lease = if self.plan.lease {
            Some(Lease::acquire(&dir.join(lease_name), &self.holder, self.ttl)?.keep_renewed())
        } else {
            None
        };
        Ok(LockGuard {
            _lease: lease,
            _flock: flock,
        })
    }
}

/// Who holds the lease of `task` now (it may have expired: a node that died), read without
/// following a link or blocking; `None` when there is none, or nothing runvqgan wrote.
pub fn lease_holder(task: &Path, ttl: Duration) -> Option<LeaseRecord> {
    let record = LeaseFile::open(&lease_path(task)).ok()?.read(ttl).ok()?;
    (!record.host.is_empty()).then_some(record)
}

/// A task's claim file or lease cannot be used (a folder in its place, a folder runvqgan
/// cannot write, a folder swapped for a link out of the root).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", file.display())]
pub struct ClaimFileError {
    /// The hidden file beside the task.
    pub file: PathBuf,
    pub source: std::io::Error,
}

/// A task this run works on. Dropping it releases the claim.
#[derive(Debug)]
pub struct Claim {
    lease: Option<Lease>,
    flock: Option<TaskClaim>,
}

impl Claim {
    /// Whether the task's lease expired or was taken over while this run worked on it: then
    /// another run may be finishing it, and this one must not mark it done.
    pub fn is_lost(&self) -> bool {
        self.lease.as_ref().is_some_and(Lease::is_lost)
    }

    /// The lease this claim replaced (its holder had stopped renewing it), if any.
    pub fn took_over(&self) -> Option<&LeaseRecord> {
        self.lease.as_ref().and_then(|l| l.took_over.as_ref())
    }

    /// Ends the claim of a finished task: removes the lease, then the claim file.
    pub fn finish(self) {
        drop(self.lease);
        if let Some(flock) = self.flock {
            flock.finish();
        }
    }
}

/// The root's names lock or the gallery's lock while it is held.
#[derive(Debug)]
pub struct LockGuard {
    _lease: Option<Lease>,
    _flock: Option<FolderLock>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary folder registered as a root (lease files live under one).
    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = crate::shared_folder::root::Root::open(dir.path()).unwrap();
        let path = root.path().to_path_buf();
        (dir, path)
    }

    fn read_at(path: &Path, ttl: Duration) -> std::io::Result<LeaseRecord> {
        LeaseFile::open(path)?.read(ttl)
    }

    fn host(name: &str) -> Holder {
        Holder {
            host: name.into(),
            pid: 1,
            slurm: None,
        }
    }

    #[test]
    fn a_lease_is_exclusive_until_dropped() {
        let (_dir, root) = root();
        let path = root.as_path().join(".t.lease");
        let ttl = Duration::from_secs(30);
        let a = Lease::try_acquire(&path, &host("a"), ttl).unwrap().unwrap();
        assert!(
            Lease::try_acquire(&path, &host("b"), ttl)
                .unwrap()
                .is_none()
        );
        assert_eq!(read_at(&path, ttl).unwrap().host, "a");
        drop(a);
        assert!(!path.exists());
        assert!(
            Lease::try_acquire(&path, &host("b"), ttl)
                .unwrap()
                .is_some()
        );
        let left: Vec<_> = std::fs::read_dir(root.as_path()).unwrap().collect();
        assert!(left.len() <= 1, "temporaries left: {left:?}");
    }

    #[test]
    fn an_expired_lease_is_taken_over_and_its_holder_learns_it_lost() {
        let (_dir, root) = root();
        let path = root.as_path().join(".t.lease");
        let short = Duration::from_millis(300);
        let a = Lease::try_acquire(&path, &host("a"), short)
            .unwrap()
            .unwrap();
        assert!(
            Lease::try_acquire(&path, &host("b"), short)
                .unwrap()
                .is_none()
        );
        std::thread::sleep(Duration::from_millis(400));
        let b = Lease::try_acquire(&path, &host("b"), short)
            .unwrap()
            .unwrap();
        assert_eq!(b.took_over.as_ref().unwrap().host, "a");
        assert_eq!(read_at(&path, short).unwrap().host, "b");
        // The old holder cannot renew any more, and dropping it leaves b's lease alone.
        assert!(!a.shared.renew());
        drop(a);
        assert_eq!(read_at(&path, short).unwrap().host, "b");
        drop(b);
        assert!(!path.exists());
    }

    #[test]
    fn a_renewed_lease_outlives_its_time_and_one_not_renewed_does_not() {
        let (_dir, root) = root();
        let renewed = root.as_path().join(".r.lease");
        let stalled = root.as_path().join(".s.lease");
        let ttl = Duration::from_millis(600);
        let r = Lease::try_acquire(&renewed, &host("a"), ttl)
            .unwrap()
            .unwrap()
            .keep_renewed();
        let s = Lease::try_acquire(&stalled, &host("a"), ttl)
            .unwrap()
            .unwrap()
            .keep_renewed();
        s.abandon();
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            Lease::try_acquire(&renewed, &host("b"), ttl)
                .unwrap()
                .is_none()
        );
        assert!(!r.is_lost());
        let taken = Lease::try_acquire(&stalled, &host("b"), ttl).unwrap();
        assert!(
            taken.is_some(),
            "a holder that stopped renewing keeps its lease"
        );
    }

    #[test]
    fn a_lease_of_a_dead_process_on_this_host_is_free_at_once() {
        let (_dir, root) = root();
        let path = root.as_path().join(".t.lease");
        let ttl = Duration::from_secs(3600);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = Holder::this_process();
        let gone = Holder {
            host: me.host.clone(),
            pid: dead,
            slurm: None,
        };
        Lease::try_acquire(&path, &gone, ttl)
            .unwrap()
            .unwrap()
            .abandon();
        let elsewhere = Holder {
            host: format!("{}-other", me.host),
            pid: dead,
            slurm: None,
        };
        // Another host cannot see the process, so it waits for the expiry; this host can.
        assert!(
            Lease::try_acquire(&path, &elsewhere, ttl)
                .unwrap()
                .is_none()
        );
        let taken = Lease::try_acquire(&path, &me, ttl).unwrap().unwrap();
        assert_eq!(taken.took_over.as_ref().unwrap().pid, dead);
    }

    #[test]
    fn a_foreign_file_in_the_leases_place_expires_after_the_lease_time() {
        let (_dir, root) = root();
        let path = root.as_path().join(".t.lease");
        std::fs::write(&path, "not a lease").unwrap();
        let ttl = Duration::from_millis(300);
        assert!(
            Lease::try_acquire(&path, &host("a"), ttl)
                .unwrap()
                .is_none()
        );
        std::thread::sleep(Duration::from_millis(400));
        assert!(
            Lease::try_acquire(&path, &host("a"), ttl)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn hosts_racing_for_the_same_tasks_each_get_every_task_at_most_once() {
        let (_dir, root) = root();
        let ttl = Duration::from_millis(200);
        let tasks: Vec<PathBuf> = (0..40)
            .map(|i| root.as_path().join(format!(".task{i}.lease")))
            .collect();
        // Half the tasks start with the lease of a node that died: the racers take it over.
        for path in tasks.iter().step_by(2) {
            let dead = LeaseRecord::of(
                &host("dead-node"),
                new_token(&host("dead-node")),
                now_ms() - 1000,
            );
            let file = LeaseFile::open(path).unwrap();
            assert!(create_exclusive(&file.dir, &file.name, &dead).unwrap());
        }
        let done = Arc::new(Mutex::new(Vec::<(usize, String)>::new()));
        std::thread::scope(|s| {
            for h in ["node1", "node2", "node3", "node4"] {
                let (tasks, done) = (&tasks, done.clone());
                s.spawn(move || {
                    for (i, path) in tasks.iter().enumerate() {
                        if let Some(lease) = Lease::try_acquire(path, &host(h), ttl).unwrap() {
                            let lease = lease.keep_renewed();
                            std::thread::sleep(Duration::from_millis(2));
                            assert!(!lease.is_lost());
                            done.lock().unwrap().push((i, h.to_string()));
                            // Finished tasks keep their lease file, like a `.done` task
                            // that is no longer listed.
                            std::mem::forget(lease);
                        }
                    }
                });
            }
        });
        let mut got = done.lock().unwrap().clone();
        got.sort();
        let numbers: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
        assert_eq!(numbers, (0..40).collect::<Vec<_>>(), "{got:?}");
    }

    #[test]
    fn a_link_or_fifo_planted_at_a_lease_is_replaced_without_following_or_blocking() {
        let (_dir, root) = root();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("owners-file");
        std::fs::write(&target, "the owner's").unwrap();
        let link = root.join(".l.lease");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let fifo = root.join(".f.lease");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
        let ttl = Duration::from_secs(60);
        for path in [&link, &fifo] {
            let lease = Lease::try_acquire(path, &host("a"), ttl)
                .unwrap()
                .expect("a planted entry holds nothing");
            assert!(std::fs::symlink_metadata(path).unwrap().is_file());
            assert_eq!(read_at(path, ttl).unwrap().host, "a");
            drop(lease);
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "the owner's");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_folder_at_a_lease_or_a_folder_swapped_for_a_link_out_is_an_error() {
        let (_dir, root) = root();
        let path = root.join(".d.lease");
        std::fs::create_dir(&path).unwrap();
        let e = Lease::try_acquire(&path, &host("a"), Duration::from_secs(60)).unwrap_err();
        assert!(e.to_string().contains("a folder"), "{e}");
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        let e = Lease::try_acquire(
            &root.join("out/.t.lease"),
            &host("a"),
            Duration::from_secs(60),
        )
        .unwrap_err();
        assert!(crate::shared_folder::confined::is_escape(&e), "{e}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_forged_lease_whose_token_would_lead_the_takeover_marker_out_is_foreign() {
        let (_dir, root) = root();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("owners-file");
        std::fs::write(&victim, "the owner's").unwrap();
        let path = root.join(".t.lease");
        // The folder the forged token walks through exists: a member made it.
        std::fs::create_dir(root.join(".t.lease.takeover-x")).unwrap();
        let up = "../".repeat(root.components().count() + 2);
        let token = format!(
            "x/{up}{}",
            victim.display().to_string().trim_start_matches('/')
        );
        let forged = format!(
            r#"{{"host": "node\u001b[31m", "pid": 1, "token": {token:?}, "expires_ms": 0}}"#
        );
        std::fs::write(&path, forged).unwrap();
        let ttl = Duration::from_millis(300);
        let read = read_at(&path, ttl).unwrap();
        assert!(
            read.host.is_empty() && read.token.starts_with("unreadable-"),
            "{read:?}"
        );
        std::thread::sleep(Duration::from_millis(400));
        let lease = Lease::try_acquire(&path, &host("a"), ttl).unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "the owner's");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
        drop(lease);
    }
}
