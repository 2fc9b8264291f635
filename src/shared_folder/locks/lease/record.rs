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
    pub(super) fn is_free(&self, now_ms: u64, me: &Holder) -> bool {
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

/// When this process first saw each lease record (by file, token and expiry), in its own
/// clock's milliseconds: a lease's life is capped from what the run itself observed, never
/// from a time in the file (its expiry or its modification time) that whoever wrote the
/// file chose.
static OBSERVED: std::sync::Mutex<Option<std::collections::HashMap<String, u64>>> =
    std::sync::Mutex::new(None);

/// The first time (`now_ms` if never before) this process saw the record `key`; entries
/// unseen for long are dropped.
fn first_seen(key: String, now_ms: u64, ttl: Duration) -> u64 {
    let mut guard = OBSERVED.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(Default::default);
    if map.len() > 4096 {
        let horizon = now_ms.saturating_sub(10 * ttl.as_millis() as u64);
        map.retain(|_, seen| *seen >= horizon);
    }
    *map.entry(key).or_insert(now_ms)
}

/// Reads the lease `name` in `dir` as untrusted input (never through a link, never blocking
/// on a fifo, at most [`MAX_LEASE_BYTES`]); `now_ms` is the reader's clock. A record is held
/// at most two lease times after this process first saw it unchanged (a holder that renews
/// writes a new expiry, which is a new record), whatever expiry it claims: a record that
/// stays the same for longer is a holder that stopped, or a forgery. A regular file that is
/// not a lease runvqgan wrote counts as a lease of nobody that expires `ttl` after this
/// process first saw it; a link, fifo, socket or device in its place was planted (runvqgan
/// never makes one), so it counts as expired at once and is replaced by a takeover (a rename
/// replaces the entry itself and never follows it). A folder is an error that says so.
pub(super) fn read_record(
    dir: &Dir,
    name: &OsStr,
    ttl: Duration,
    now_ms: u64,
) -> std::io::Result<LeaseRecord> {
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
            let seen = first_seen(format!("{place}/{}/{}", r.token, r.expires_ms), now_ms, ttl);
            r.expires_ms = r.expires_ms.min(seen + 2 * ttl.as_millis() as u64);
            r
        }
        None => {
            let seen = first_seen(
                format!(
                    "{place}/unreadable-{}-{}",
                    file.stat.st_ino,
                    file.bytes.len()
                ),
                now_ms,
                ttl,
            );
            LeaseRecord::foreign(
                format!("unreadable-{}", file.stat.st_ino),
                seen + ttl.as_millis() as u64,
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

    pub(super) fn read(&self, ttl: Duration, now_ms: u64) -> std::io::Result<LeaseRecord> {
        read_record(&self.dir, &self.name, ttl, now_ms)
    }
}

/// What the lease file at `path` says now (it may have expired), read as untrusted input
/// (see [`read_record`]).
pub(crate) fn read_at(path: &Path, ttl: Duration) -> std::io::Result<LeaseRecord> {
    use super::clock::{Clock, SystemClock};
    LeaseFile::open(path)?.read(ttl, SystemClock.now_ms())
}
