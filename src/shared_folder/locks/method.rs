//! How a run holds things on its root: a task's claim, the root's names lock, the gallery's
//! lock. Each is a `flock` ([`crate::shared_folder::locks::claim`]), a lease
//! ([`crate::shared_folder::locks::lease`]) or both, as the root's filesystem calls for
//! ([`ClaimPlan::choose`]). This module applies that choice, so the callers hold a
//! [`Claim`] or a [`LockGuard`] without knowing which it is, and the lease itself knows
//! nothing of the choice.
//!
//! Claims degrade rather than fail: under `claims = "auto"`, a `flock` that the filesystem
//! refuses altogether ([`claim::flock_refused`]: no lock daemon, Lustre `noflock`) switches
//! this run to leases for everything from then on, logged once
//! ([`claim::note_flock_refused`]); under `claims = "flock"` the owner asked for `flock`
//! only, so the error stands and says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::shared_folder::files::{
    GALLERY_LEASE, GALLERY_LOCK, LEASES_NAME, NAMES_LEASE, NAMES_LOCK, claim_path, lease_path,
};
use crate::shared_folder::locks::claim::{self, FolderLock, TaskClaim};
use crate::shared_folder::locks::filesystem::{ClaimPlan, ClaimSetting, FsInfo};
use crate::shared_folder::locks::lease::{self, Holder, Lease, LeaseRecord};
use crate::shared_folder::state::StateDir;

/// How this run claims tasks and reserves output numbers on its root: `flock`
/// ([`crate::shared_folder::locks::claim`]), a lease, or both, as [`ClaimPlan::choose`]
/// decided for the root's filesystem.
#[derive(Debug, Clone)]
pub struct ClaimMethod {
    /// The root (canonical): claims and leases live in its state folder.
    pub root: PathBuf,
    /// Which claims are taken, and why.
    pub plan: ClaimPlan,
    /// The root's filesystem.
    pub fs: FsInfo,
    /// This process.
    pub holder: Holder,
    /// How long a lease lasts unless renewed (`lease_seconds`).
    pub ttl: Duration,
    /// The `claims` setting the plan came from.
    setting: ClaimSetting,
    /// Set when the filesystem refused `flock` (and `claims = "auto"`): leases only from
    /// then on.
    flock_refused: std::sync::OnceLock<()>,
    /// Why the names lock could not be taken, once a wait for it ran out: the later tasks
    /// of the run fail at once with the same words instead of each waiting again.
    names_blocked: std::sync::OnceLock<String>,
}

impl ClaimMethod {
    /// The claims the runs on `root` use under the configured `claims` setting, with leases
    /// of `lease_seconds` (`claims` and `lease_seconds` in runvqgan.toml).
    pub fn for_root(root: &Path, claims: ClaimSetting, lease_seconds: f64) -> ClaimMethod {
        let fs = FsInfo::of(root);
        ClaimMethod {
            root: root.to_path_buf(),
            plan: ClaimPlan::choose(claims, &fs),
            fs,
            holder: Holder::this_process(),
            ttl: Duration::from_secs_f64(lease_seconds),
            setting: claims,
            flock_refused: std::sync::OnceLock::new(),
            names_blocked: std::sync::OnceLock::new(),
        }
    }

    /// Claims `task`, or `None` when another live run holds its claim. An error names the
    /// hidden file (claim or lease) that cannot be used, for the task's `_ERROR.txt`.
    pub fn claim(&self, task: &Path) -> Result<Option<Claim>, ClaimFileError> {
        let rel = self.task_rel(task);
        let flock = if self.uses_flock() {
            let file = claim_path(&self.root, &rel);
            match TaskClaim::try_claim(&self.root, &rel) {
                Ok(Some(c)) => Some(c),
                Ok(None) => return Ok(None),
                Err(source) if self.degrade(&file, &source) => None,
                Err(source) if claim::flock_refused(&source) => {
                    let source = std::io::Error::new(
                        source.kind(),
                        format!(
                            "{source}: the filesystem refuses flock, and claims = \"flock\" in \
                             runvqgan.toml allows nothing else; set claims = \"auto\" or \
                             \"lease\""
                        ),
                    );
                    return Err(ClaimFileError { file, source });
                }
                Err(source) => return Err(ClaimFileError { file, source }),
            }
        } else {
            None
        };
        let lease = if self.uses_lease() {
            let file = lease_path(&self.root, &rel);
            let leases = StateDir::open(&self.root).and_then(|s| s.sub(LEASES_NAME));
            if let Err(e) = leases {
                return Err(ClaimFileError {
                    file,
                    source: e.into(),
                });
            }
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

    /// Whether `flock` is taken: the plan says so and the filesystem has not refused it.
    fn uses_flock(&self) -> bool {
        self.plan.flock && self.flock_refused.get().is_none()
    }

    /// Whether a lease is taken: the plan says so, or `flock` was refused.
    fn uses_lease(&self) -> bool {
        self.plan.lease || self.flock_refused.get().is_some()
    }

    /// `flock`, `lease` or `flock+lease`: what this run takes now.
    pub fn kind(&self) -> &'static str {
        match (self.uses_flock(), self.uses_lease()) {
            (true, true) => "flock+lease",
            (false, true) => "lease",
            _ => "flock",
        }
    }

    /// Whether the `flock` error `e` (on `file`) is the filesystem refusing locks and the
    /// setting lets leases stand in: then leases only from now on (logged once).
    fn degrade(&self, file: &Path, e: &std::io::Error) -> bool {
        if self.setting != ClaimSetting::Auto || !claim::flock_refused(e) {
            return false;
        }
        claim::note_flock_refused(file, e);
        let _ = self.flock_refused.set(());
        true
    }

    /// `task`'s path relative to the root, `/`-separated (the key of its claim and lease).
    pub fn task_rel(&self, task: &Path) -> String {
        task.strip_prefix(&self.root)
            .unwrap_or(task)
            .to_string_lossy()
            .into_owned()
    }

    /// Waits for the root's names lock (see [`crate::outputs::naming`]) and takes it.
    pub fn lock_names(&self, root: &Path) -> std::io::Result<LockGuard> {
        if let Some(why) = self.names_blocked.get() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                why.clone(),
            ));
        }
        let state = StateDir::open(root)?;
        self.lock(&state, NAMES_LOCK, NAMES_LEASE).inspect_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                let _ = self.names_blocked.set(e.to_string());
            }
        })
    }

    /// Waits for the gallery's lock (in `<root>/.runvqgan/`) and takes it: one gallery build
    /// at a time on a root, whichever run or machine makes it.
    pub fn lock_gallery(&self, root: &Path) -> std::io::Result<LockGuard> {
        let state = StateDir::open(root)?;
        self.lock(&state, GALLERY_LOCK, GALLERY_LEASE)
    }

    /// The lock `flock_name` and/or the lease `lease_name` in the state folder, as the plan
    /// says.
    fn lock(
        &self,
        state: &StateDir,
        flock_name: &str,
        lease_name: &str,
    ) -> std::io::Result<LockGuard> {
        let flock = if self.uses_flock() {
            let path = state.path().join(flock_name);
            match FolderLock::acquire(state.lock_file(flock_name)?, &path) {
                Ok(lock) => Some(lock),
                Err(e) if self.degrade(&path, &e) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let lease = if self.uses_lease() {
            let path = state.path().join(lease_name);
            Some(Lease::acquire(&path, &self.holder, self.ttl)?.keep_renewed())
        } else {
            None
        };
        Ok(LockGuard {
            _lease: lease,
            _flock: flock,
        })
    }
}

pub use claim::flock_refusal_to_report;

/// Who holds the lease of `task` now (it may have expired: a node that died), read without
/// following a link or blocking; `None` when there is none, or nothing runvqgan wrote.
pub fn lease_holder(root: &Path, task_rel: &str, ttl: Duration) -> Option<LeaseRecord> {
    let record = lease::read_at(&lease_path(root, task_rel), ttl).ok()?;
    (!record.host.is_empty()).then_some(record)
}

/// A task's claim file or lease cannot be used (a folder in its place, a folder runvqgan
/// cannot write, a folder swapped for a link out of the root).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", file.display())]
pub struct ClaimFileError {
    /// The claim or lease file in the state folder.
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

    /// Checks the claim now (a lease is read and renewed; a `flock` cannot be lost): `false`
    /// when another run may be working on the task, so this one must stop working on it.
    pub fn confirm(&self) -> bool {
        self.lease.as_ref().is_none_or(Lease::confirm)
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
