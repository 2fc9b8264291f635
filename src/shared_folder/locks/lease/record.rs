//! The lease file itself: what it says ([`LeaseRecord`], naming its [`Holder`]) and the
//! single atomic steps that read, create and replace one through the root's confined
//! [`Dir`]. Kept apart from [`super::Lease`], which decides when to take, take over and
//! release, so that the file's format and its untrusted reading are in one place.
//!
//! Lease files sit in folders members write: a lease is read without following a link or
//! blocking on a fifo, at most [`MAX_LEASE_BYTES`], and anything that is not a lease
//! runvqgan wrote counts as a lease of nobody (see [`read_record`]).

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clock::Clock;
use crate::process::host_name;
use crate::process::slurm::SlurmJob;
use crate::shared_folder::confined::{self, Dir, Place};

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
    /// The boot of the host the process runs in ([`crate::process::boot_id`]).
    pub boot_id: Option<String>,
    /// The PID namespace its process id belongs to ([`crate::process::pid_namespace`]).
    pub pid_ns: Option<u64>,
}

impl Holder {
    /// This process on this machine.
    pub fn this_process() -> Holder {
        Holder {
            host: host_name(),
            pid: std::process::id(),
            slurm: SlurmJob::from_env(),
            boot_id: crate::process::boot_id(),
            pid_ns: crate::process::pid_namespace(),
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
    /// The boot id of the holder's host: with `host` and `pid_ns` it says whether `pid` is a
    /// process this machine can see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// The holder's PID namespace (an inode number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_ns: Option<u64>,
}

impl LeaseRecord {
    /// A lease of `holder` with `token`, expiring at `expires_ms`.
    pub(super) fn of(holder: &Holder, token: String, expires_ms: u64) -> LeaseRecord {
        let slurm = holder.slurm.as_ref();
        LeaseRecord {
            host: holder.host.clone(),
            pid: holder.pid,
            token,
            expires_ms,
            slurm_job_id: slurm.map(|j| j.job_id.clone()),
            slurm_array_job_id: slurm.and_then(|j| j.array_job_id.clone()),
            slurm_array_task_id: slurm.and_then(|j| j.array_task_id.clone()),
            boot_id: holder.boot_id.clone(),
            pid_ns: holder.pid_ns,
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
            && self.boot_id.as_deref().is_none_or(|b| word(b, 64))
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
                boot_id: None,
                pid_ns: None,
            },
            token,
            expires_ms,
        )
    }

    /// Whether another process may take the lease over at `now_ms`, seen from `me`: it has
    /// expired (as [`read_record`] judged it), or its holder is dead on this host.
    pub(super) fn is_free(&self, now_ms: u64, me: &Holder) -> bool {
        now_ms > self.expires_ms || self.holder_is_dead_here(me)
    }

    /// Whether the holder's process is one `me` can see, and it is gone: only when the host
    /// name, the boot id and the PID namespace all match (a container on this host shares
    /// its name and boot, not its process ids; a host that rebooted reuses them), otherwise
    /// the lease is left to expire.
    fn holder_is_dead_here(&self, me: &Holder) -> bool {
        let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
        self.host == me.host
            && same(&self.boot_id, &me.boot_id)
            && self.pid_ns.is_some()
            && self.pid_ns == me.pid_ns
            && self.pid != me.pid
            && !process_alive(self.pid)
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

/// A new random token for a holding of `holder`.
pub(super) fn new_token(holder: &Holder) -> String {
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

/// When this process first saw each lease's content (by file, token and expiry), on its
/// boot clock ([`super::clock`]): a lease's life is judged from what the run itself
/// observed, never from a file's modification time (the file server's clock sets it).
static OBSERVED: std::sync::Mutex<Option<std::collections::HashMap<String, u64>>> =
    std::sync::Mutex::new(None);

/// How long (milliseconds on the boot clock, `boot_ms` now) this process has seen the
/// content `key` unchanged: 0 the first time; entries unseen for long are dropped.
fn unchanged_for(key: String, boot_ms: u64, ttl: Duration) -> u64 {
    let mut guard = OBSERVED.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(Default::default);
    if map.len() > 4096 {
        let horizon = boot_ms.saturating_sub(10 * ttl.as_millis() as u64);
        map.retain(|_, seen| *seen >= horizon);
    }
    boot_ms.saturating_sub(*map.entry(key).or_insert(boot_ms))
}

/// When the lease `written` (an expiry in its holder's wall-clock milliseconds), seen
/// unchanged for `unchanged_ms`, counts as expired, in the reader's wall-clock milliseconds
/// (`now_ms`). Whichever comes first:
///
/// - one lease time after the written expiry: the holder renews every third of the lease
///   time, so a live lease says it lasts two thirds of it at least; a reader whose clock
///   runs ahead of the holder's by less than the lease time never takes a live lease, and a
///   lease of a node that died long ago is free at first sight;
/// - one lease time after the reader first saw this content: a live holder rewrites it
///   every third of the lease time, and gives the lease up itself once a lease time has
///   passed on its own clock since it last did; this needs no clock but the reader's own.
fn effective_expiry(written: u64, unchanged_ms: u64, now_ms: u64, ttl: Duration) -> u64 {
    let ttl = ttl.as_millis() as u64;
    let observed = (now_ms + ttl).saturating_sub(unchanged_ms);
    written.saturating_add(ttl).min(observed)
}

/// Reads the lease `name` in `dir` as untrusted input (never through a link, never blocking
/// on a fifo, at most [`MAX_LEASE_BYTES`]); `clock` is the reader's. The record's
/// `expires_ms` is returned as this reader judges it ([`effective_expiry`]): a record that
/// stays the same for a lease time is a holder that stopped, or a forgery, whatever expiry
/// it claims. A regular file that is not a lease runvqgan wrote counts as a lease of nobody
/// that expires `ttl` after this process first saw it unchanged; a link, fifo, socket or
/// device in its place was planted (runvqgan never makes one), so it counts as expired at
/// once and is replaced by a takeover (a rename replaces the entry itself and never follows
/// it). A folder is an error that says so.
pub(super) fn read_record(
    dir: &Dir,
    name: &OsStr,
    ttl: Duration,
    clock: &dyn Clock,
) -> std::io::Result<LeaseRecord> {
    let (now_ms, boot_ms) = (clock.now_ms(), clock.boot_ms());
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
    let place = format!("{}/{}", file.stat.st_dev, name.to_string_lossy());
    Ok(match parsed {
        Some(mut r) => {
            let key = format!("{place}/{}/{}", r.token, r.expires_ms);
            let unchanged = unchanged_for(key, boot_ms, ttl);
            r.expires_ms = effective_expiry(r.expires_ms, unchanged, now_ms, ttl);
            r
        }
        None => {
            let key = format!(
                "{place}/unreadable-{}-{}",
                file.stat.st_ino,
                file.bytes.len()
            );
            let unchanged = unchanged_for(key, boot_ms, ttl);
            LeaseRecord::foreign(
                format!("unreadable-{}", file.stat.st_ino),
                effective_expiry(u64::MAX, unchanged, now_ms, ttl),
            )
        }
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
pub(super) fn create_exclusive(
    dir: &Dir,
    name: &OsStr,
    record: &LeaseRecord,
) -> std::io::Result<bool> {
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
pub(super) fn replace(dir: &Dir, name: &OsStr, record: &LeaseRecord) -> std::io::Result<()> {
    let mut text = serde_json::to_string(record).map_err(std::io::Error::other)?;
    text.push('\n');
    dir.write_atomic(name, TEMP_PREFIX, text.as_bytes(), 0o644, Place::Replace)
}

/// Where a lease lives: a folder under the root, opened beneath the root's handle, and the
/// lease's name in it.
#[derive(Debug)]
pub(super) struct LeaseFile {
    pub(super) dir: Dir,
    pub(super) name: OsString,
    /// The whole path, for messages.
    pub(super) path: PathBuf,
}

impl LeaseFile {
    /// The lease at `path` (under a registered root): its folder is opened through
    /// [`confined::parent`], so a folder swapped for a link out of the root is refused.
    pub(super) fn open(path: &Path) -> std::io::Result<LeaseFile> {
        let (dir, name) = confined::parent(path)?;
        Ok(LeaseFile {
            dir,
            name,
            path: path.to_path_buf(),
        })
    }

    pub(super) fn read(&self, ttl: Duration, clock: &dyn Clock) -> std::io::Result<LeaseRecord> {
        read_record(&self.dir, &self.name, ttl, clock)
    }
}

/// What the lease file at `path` says now (it may have expired), read as untrusted input
/// (see [`read_record`]).
pub(crate) fn read_at(path: &Path, ttl: Duration) -> std::io::Result<LeaseRecord> {
    LeaseFile::open(path)?.read(ttl, &super::clock::SystemClock)
}
