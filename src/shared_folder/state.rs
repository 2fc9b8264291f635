//! The owner's state folder, `<root>/.runvqgan/`, and the permission model it enforces.
//!
//! The shared folder is written by every member of the lab's group; the night runs as the
//! owner account. What the owner's run relies on (its records, measured speeds, run
//! summaries, and every lock: names, gallery, device, task claims and leases) lives in this
//! folder, which belongs to the owner and is writable by the owner alone whatever the umask
//! (folders 0755, lock files 0600): a member can read the records (`status`, `plan`) but
//! cannot write, replace, or even open a lock file, so no member can hold a lock the night
//! waits for. The folder is made here, beneath the root's handle, never through a link; one
//! that a member owns or can write is refused loudly with the fix (docs/permissions.md).
//!
//! A folder made in the root inherits the root's default ACL (which `init` sets so that the
//! folders members make are writable by the owner and the group): the state folder drops
//! every ACL it inherited before it is used.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::process::euid;
use crate::shared_folder::confined::{Dir, Place};
use crate::shared_folder::files::STATE_DIR;

/// The mode of the state folder and its subfolders: readable by members, writable by the
/// owner only.
pub const STATE_DIR_MODE: u32 = 0o755;

/// The mode of a lock file: members cannot open it, so they cannot `flock` it.
pub const LOCK_MODE: u32 = 0o600;

/// The owner's state folder (or one of its subfolders), opened and checked.
#[derive(Debug)]
pub struct StateDir {
    dir: Dir,
    path: PathBuf,
}

/// Why the state folder cannot be used. Each message names the folder and the fix.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Owned by another account than the one running runvqgan.
    #[error(
        "{path} belongs to {owner}, but runvqgan runs as {me}: the owner's state must be the \
         owner's. Run runvqgan as {owner} (the account of the nightly job), or, if {owner} is \
         not that account, move the folder away (`mv {path} {path}.suspect` as its owner or \
         with sudo) and runvqgan makes a new one"
    )]
    Foreign {
        path: PathBuf,
        owner: String,
        me: String,
    },
    /// Writable by the group or others (made under umask 0002, or changed since).
    #[error(
        "{path} can be written by {who} (mode {mode:04o}), so any of them could forge the \
         owner's records or hold its locks. Fix it as its owner: `chmod -R go-w {path}` (and \
         look for files you did not make in it), then run again"
    )]
    Writable {
        path: PathBuf,
        who: &'static str,
        mode: u32,
    },
    /// A link, a file or anything else where the folder should be.
    #[error(
        "{path} is {kind}, not a folder: remove it (`rm {path}`), runvqgan makes the folder again"
    )]
    NotAFolder { path: PathBuf, kind: &'static str },
    /// The folder cannot be made or opened.
    #[error("cannot open the state folder {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<StateError> for std::io::Error {
    fn from(e: StateError) -> std::io::Error {
        let kind = match &e {
            StateError::Io { source, .. } => source.kind(),
            _ => std::io::ErrorKind::PermissionDenied,
        };
        std::io::Error::new(kind, e.to_string())
    }
}

fn errno(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

impl StateDir {
    /// Opens `<root>/.runvqgan` as the owner's, making it when missing: only the shared
    /// folder's owner makes it, so another account's command (a member's, or root's) never
    /// makes the owner's state theirs before the first night.
    pub fn open(root: &Path) -> Result<StateDir, StateError> {
        let root_fd = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| StateError::Io {
            path: root.to_path_buf(),
            source: errno(e),
        })?;
        let path = root.join(STATE_DIR);
        let owner = rustix::fs::fstat(&root_fd).map(|s| s.st_uid).unwrap_or(0);
        if owner != euid()
            && rustix::fs::statat(&root_fd, STATE_DIR, AtFlags::SYMLINK_NOFOLLOW).is_err()
        {
            return Err(StateError::Foreign {
                path,
                owner: crate::process::user_name(owner),
                me: crate::process::user_name(euid()),
            });
        }
        open_owned(&root_fd, OsStr::new(STATE_DIR), path)
    }

    /// The subfolder `name` (`runs`, `claims`, `leases`), made when missing, checked as the
    /// state folder is.
    pub fn sub(&self, name: &str) -> Result<StateDir, StateError> {
        open_owned(&self.dir.fd(), OsStr::new(name), self.path.join(name))
    }

    /// The status of `name` in the folder (not following a link).
    pub fn stat(&self, name: &str) -> std::io::Result<rustix::fs::Stat> {
        self.dir.stat(OsStr::new(name))
    }

    /// The bytes of the file `name` in the folder (not through a link, not blocking, a
    /// regular file only), at most `cap` + 1 of them (the caller decides what more means).
    pub fn read(&self, name: &str, cap: u64) -> std::io::Result<Vec<u8>> {
        self.dir.read(OsStr::new(name), cap).map(|file| file.bytes)
    }

    /// Removes `name` from the folder (a link is removed, never followed).
    pub fn remove(&self, name: &str) -> std::io::Result<()> {
        self.dir.remove(OsStr::new(name))
    }

    /// Writes the file `name` whole (a temporary file renamed over it), mode `mode`.
    pub fn write_atomic(&self, name: &str, bytes: &[u8], mode: u32) -> std::io::Result<()> {
        self.dir.write_atomic(
            OsStr::new(name),
            &format!(".{name}."),
            bytes,
            mode,
            Place::Replace,
        )
    }

    /// Opens the file `name` for appending (made with mode 0644 when missing), never through a
    /// link, never blocking; only a regular file of the owner's is used.
    pub fn append(&self, name: &str) -> std::io::Result<File> {
        let append = if crate::process::testhook::nfs_append() {
            OFlags::empty()
        } else {
            OFlags::APPEND
        };
        let fd = rustix::fs::openat(
            self.dir.fd(),
            OsStr::new(name),
            OFlags::WRONLY
                | append
                | OFlags::CREATE
                | OFlags::NOFOLLOW
                | OFlags::NONBLOCK
                | OFlags::NOCTTY
                | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map_err(errno)?;
        let st = rustix::fs::fstat(&fd).map_err(errno)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile || st.st_uid != euid() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} is not a file of the owner's; remove it, runvqgan makes it again",
                    self.path.join(name).display()
                ),
            ));
        }
        if append.is_empty() {
            rustix::fs::seek(&fd, rustix::fs::SeekFrom::End(0)).map_err(errno)?;
        }
        Ok(File::from(fd))
    }

    /// The folder's path (for messages, and for the code that opens files by path beneath
    /// the root's handle).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens (creating it, mode [`LOCK_MODE`]) the lock file `name` for `flock`. Anything
    /// else in its place (a link, a fifo, a file of another account, left from before the
    /// folder was the owner's alone) is removed, never followed, and a new lock file made.
    pub fn lock_file(&self, name: &str) -> std::io::Result<File> {
        let name = OsStr::new(name);
        for _ in 0..3 {
            let opened = rustix::fs::openat(
                self.dir.fd(),
                name,
                OFlags::RDWR
                    | OFlags::CREATE
                    | OFlags::NOFOLLOW
                    | OFlags::NONBLOCK
                    | OFlags::NOCTTY
                    | OFlags::CLOEXEC,
                Mode::from_raw_mode(LOCK_MODE),
            );
            let stray = match opened {
                Ok(fd) => {
                    let st = rustix::fs::fstat(&fd).map_err(errno)?;
                    let kind = FileType::from_raw_mode(st.st_mode);
                    if kind == FileType::RegularFile && st.st_uid == euid() {
                        if st.st_mode & 0o7777 != LOCK_MODE {
                            rustix::fs::fchmod(&fd, Mode::from_raw_mode(LOCK_MODE))
                                .map_err(errno)?;
                        }
                        return Ok(File::from(fd));
                    }
                    if kind == FileType::RegularFile {
                        "a file of another account"
                    } else {
                        crate::shared_folder::confined::kind_name(kind)
                    }
                }
                Err(Errno::LOOP) => "a link",
                Err(Errno::NXIO) => "a fifo or socket",
                Err(Errno::ISDIR) => {
                    return Err(crate::shared_folder::confined::not_regular(
                        FileType::Directory,
                    ));
                }
                Err(e) => return Err(errno(e)),
            };
            tracing::warn!(
                "{}: the lock file was {stray}; removed it (not followed) and made a new one",
                crate::process::text::escape(&self.path.join(name).display().to_string())
            );
            rustix::fs::unlinkat(self.dir.fd(), name, AtFlags::empty()).map_err(errno)?;
        }
        Err(std::io::Error::other(format!(
            "{}: the lock file keeps being replaced by something else",
            self.path.join(name).display()
        )))
    }
}

/// Opens the folder `name` in `parent` as the owner's: made with mode [`STATE_DIR_MODE`] (and
/// without inherited ACLs) when missing, never through a link, and refused when another
/// account owns it or can write it.
fn open_owned(parent: &impl AsFd, name: &OsStr, path: PathBuf) -> Result<StateDir, StateError> {
    let io = |source| StateError::Io {
        path: path.clone(),
        source,
    };
    let made = make_owner_folder(parent, name).map_err(io)?;
    let fd = match rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::LOOP) | Err(Errno::NOTDIR) => {
            let kind = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
                .map(|s| {
                    crate::shared_folder::confined::kind_name(FileType::from_raw_mode(s.st_mode))
                })
                .unwrap_or("not a folder");
            return Err(StateError::NotAFolder { path, kind });
        }
        Err(e) => return Err(io(errno(e))),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| io(errno(e)))?;
    if st.st_uid != euid() {
        return Err(StateError::Foreign {
            path,
            owner: crate::process::user_name(st.st_uid),
            me: crate::process::user_name(euid()),
        });
    }
    if !made && st.st_mode & 0o022 != 0 {
        return Err(StateError::Writable {
            path,
            who: if st.st_mode & 0o002 != 0 {
                "every account"
            } else {
                "the group"
            },
            mode: st.st_mode & 0o7777,
        });
    }
    Ok(StateDir {
        dir: Dir::from_fd(fd),
        path,
    })
}

/// Makes the folder `name` in `parent` the owner's alone when it is missing: made 0700, its
/// inherited ACLs dropped, then given [`STATE_DIR_MODE`], whatever the umask and the shared
/// folder's default ACL (the state folder, the gallery's folders). `true` when it made it;
/// `false` when something is there already (the caller checks what).
pub fn make_owner_folder(parent: &impl AsFd, name: &OsStr) -> std::io::Result<bool> {
    match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700)) {
        Ok(()) => {}
        Err(Errno::EXIST) => return Ok(false),
        Err(e) => return Err(errno(e)),
    }
    let fd = rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)?;
    drop_inherited_acls(&fd);
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(STATE_DIR_MODE)).map_err(errno)?;
    Ok(true)
}

/// Removes the access and default ACLs that a new folder inherited from the root's default
/// ACL, so that its mode bits say all (a file system without ACLs has nothing to remove).
pub fn drop_inherited_acls(fd: &impl AsFd) {
    for name in ["system.posix_acl_default", "system.posix_acl_access"] {
        match rustix::fs::fremovexattr(fd, name) {
            Ok(()) | Err(Errno::NODATA) | Err(Errno::OPNOTSUPP) => {}
            Err(e) => tracing::debug!("removing {name}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests;
