//! Confined access to the shared folder. Every member can write anywhere under the root, so
//! between the moment runvqgan checks a path and the moment it uses it, a folder may have
//! become a link to `/etc`, a sidecar a fifo, a claim a link to a file of the owner's. Every
//! file operation under the root therefore goes through this module, which
//!
//! - resolves a path **beneath the root's directory handle**, component by component, at the
//!   moment of use: `openat2(RESOLVE_BENEATH)` where the kernel has it, else a walk that opens
//!   each folder with `O_NOFOLLOW` and resolves links itself. A link is followed only while
//!   it stays inside the root (absolute links into the root included, as `discover` always
//!   allowed); `..` or a link that leaves the root is refused with `EXDEV`;
//! - reads files members can write **without following a link in the last component,
//!   without blocking** (`O_NONBLOCK`: a fifo never stops the reader), regular files only
//!   (`fstat` on the opened file), and **at most a given number of bytes**;
//! - places new files by a rename that **never replaces** an existing file
//!   (`renameat2(RENAME_NOREPLACE)`, or `link` + `unlink` where the file system lacks it).
//!
//! The roots a process works on are registered when they are opened ([`crate::shared_folder::root::Root`]
//! does it), so that path-based helpers elsewhere (`atomic`, `claim`, `naming`, `lifecycle`)
//! find the handle of the root a path lies in; a path outside every registered root is
//! refused rather than used unconfined.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

/// The largest sidecar, pending marker or claim read (they hold a few hundred bytes).
pub const MAX_SMALL_FILE: u64 = 64 * 1024;
/// The largest picture read: a task's `-ii` / `-ip`, or a PNG whose settings `reproduce` reads
/// (a 450 x 300 PNG is well under 1 MiB).
pub const MAX_IMAGE: u64 = 64 * 1024 * 1024;

/// The most links followed while resolving one path (the kernel's limit too).
const MAX_LINKS: u32 = 40;

/// A registered root: its canonical path and a handle on its folder.
#[derive(Debug)]
struct Anchor {
    path: PathBuf,
    fd: OwnedFd,
}

static ROOTS: Mutex<Vec<Arc<Anchor>>> = Mutex::new(Vec::new());
/// Cleared when `openat2` turns out to be missing (old kernel, seccomp filter).
static HAVE_OPENAT2: AtomicBool = AtomicBool::new(true);

/// Registers `canonical` (an already canonical folder path) as a root: from now on, paths
/// under it are resolved beneath a handle on it.
pub fn register(canonical: &Path) -> std::io::Result<()> {
    let fd = rustix::fs::open(
        canonical,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
    roots.retain(|a| a.path != canonical);
    roots.push(Arc::new(Anchor {
        path: canonical.to_path_buf(),
        fd,
    }));
    Ok(())
}

/// The registered root that `path` lies in (the deepest one) and `path` relative to it.
fn anchor_of(path: &Path) -> std::io::Result<(Arc<Anchor>, PathBuf)> {
    let roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
    roots
        .iter()
        .filter_map(|a| path.strip_prefix(&a.path).ok().map(|rel| (a, rel)))
        .max_by_key(|(a, _)| a.path.as_os_str().len())
        .map(|(a, rel)| (a.clone(), rel.to_path_buf()))
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{} is not inside the shared folder", path.display()),
            )
        })
}

/// Whether an error means that a path led outside the root (through `..` or a link).
pub fn is_escape(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EXDEV)
}

/// An I/O error in words for a member or the owner, with the confinement errors explained.
pub fn describe(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EXDEV) => "it leads outside the shared folder through a link".into(),
        Some(libc::ELOOP) => "it is a link, which runvqgan does not follow there".into(),
        Some(libc::ENAMETOOLONG) => "a file name there would be longer than 255 bytes".into(),
        _ => e.to_string(),
    }
}

fn errno(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

fn escape() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::EXDEV)
}

mod resolve;
use resolve::open_beneath;
mod own;
pub use own::read_own_file;
mod times;
pub use times::{ctime_of, mtime_of};
mod read;
use read::read_fd;
pub mod nofollow;

/// A folder under the root, opened beneath the root's handle; names given to its methods
/// are single file names inside it.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

/// What a file that was read turned out to be.
#[derive(Debug)]
pub struct Untrusted {
    /// The bytes (at most the cap).
    pub bytes: Vec<u8>,
    /// Its status, from the opened file.
    pub stat: rustix::fs::Stat,
}

/// Opens the folder `path` (absolute, under a registered root), following links only while
/// they stay inside the root.
pub fn open_dir(path: &Path) -> std::io::Result<Dir> {
    let (anchor, rel) = anchor_of(path)?;
    let fd = open_beneath(
        &anchor,
        &rel,
        OFlags::RDONLY | OFlags::DIRECTORY,
        Mode::empty(),
        true,
    )?;
    Ok(Dir { fd })
}

/// The folder holding `path` (opened as [`open_dir`] does) and the file name of `path`.
pub fn parent(path: &Path) -> std::io::Result<(Dir, OsString)> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let dir = open_dir(path.parent().unwrap_or(Path::new("/")))?;
    Ok((dir, name.to_os_string()))
}

/// Reads `path` (under a registered root) as untrusted input: links inside the root are
/// followed (a task file may be one), nothing blocks, only a regular file is read, and at
/// most `cap` + 1 bytes (the caller decides what more than `cap` means).
pub fn read_beneath(path: &Path, cap: u64) -> std::io::Result<Untrusted> {
    read_fd(open_read(path, true)?.into(), cap)
}

/// Opens `path` (under a registered root) for reading without blocking (`O_NONBLOCK`): the
/// caller checks with `fstat` what it opened. `follow_last`: whether a link in the last
/// component is followed (while it stays inside the root).
pub fn open_read(path: &Path, follow_last: bool) -> std::io::Result<std::fs::File> {
    let (anchor, rel) = anchor_of(path)?;
    let fd = open_beneath(&anchor, &rel, read_flags(), Mode::empty(), follow_last)?;
    Ok(std::fs::File::from(fd))
}

/// Opens (creating it) a file to append to, such as the log: inside a registered root
/// through its handle, not following a link in the last component, never blocking, a
/// regular file only; a path outside every root (the owner's own, e.g. `/var/log/...`) is
/// opened as given, but also not through a link in its last component.
pub fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    let nfs = crate::process::testhook::nfs_append();
    let append = if nfs { OFlags::empty() } else { OFlags::APPEND };
    let flags = OFlags::WRONLY | append | OFlags::CREATE | OFlags::NONBLOCK | OFlags::NOCTTY;
    let mode = Mode::from_raw_mode(0o644);
    let fd = match anchor_of(path) {
        Ok((anchor, rel)) => open_beneath(&anchor, &rel, flags, mode, false)?,
        // Outside every root: still not through a link in the last component.
        Err(_) => rustix::fs::open(path, flags | OFlags::NOFOLLOW | OFlags::CLOEXEC, mode)
            .map_err(errno)?,
    };
    let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd).map_err(errno)?.st_mode);
    if kind != FileType::RegularFile {
        return Err(not_regular(kind));
    }
    if nfs {
        rustix::fs::seek(&fd, rustix::fs::SeekFrom::End(0)).map_err(errno)?;
    }
    Ok(std::fs::File::from(fd))
}

/// Reads `path` as untrusted input without following a link in its last component (see
/// [`Dir::read`]).
pub fn read_nofollow(path: &Path, cap: u64) -> std::io::Result<Untrusted> {
    let (dir, name) = parent(path)?;
    dir.read(&name, cap)
}

/// The status of `path` itself (a link is not followed), through the root's handle.
pub fn stat_nofollow(path: &Path) -> std::io::Result<rustix::fs::Stat> {
    let (dir, name) = parent(path)?;
    dir.stat(&name)
}

/// The modification time of `path` itself (a link is not followed); `None` when it does not
/// exist or cannot be reached inside the root.
pub fn modified(path: &Path) -> Option<std::time::SystemTime> {
    stat_nofollow(path).ok().map(|st| mtime_of(&st))
}

fn read_flags() -> OFlags {
    OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY
}

/// What a file of type `kind` is, in words ("a named pipe (fifo)").
pub fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a file",
        FileType::Directory => "a folder",
        FileType::Fifo => "a named pipe (fifo)",
        FileType::Socket => "a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        FileType::Symlink => "a link",
        FileType::Unknown => "of an unknown kind",
    }
}

/// The error for something that is not a regular file, naming what it is.
pub fn not_regular(kind: FileType) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("it is {}, not a regular file", kind_name(kind)),
    )
}

/// A random suffix for temporary names (uniqueness is enforced by `O_EXCL`).
fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    let v = h.finish();
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..8)
        .map(|i| CHARS[((v >> (i * 6)) % CHARS.len() as u64) as usize] as char)
        .collect()
}

/// What placing a file does when the name is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Fail with `AlreadyExists`.
    NoReplace,
    /// Replace what is there (runvqgan's own files only: error files, and its own PNG that
    /// has no sidecar yet under its own reservation).
    Replace,
}

impl Dir {
    /// A folder already opened and checked by the caller (the owner's state folder).
    pub(crate) fn from_fd(fd: OwnedFd) -> Dir {
        Dir { fd }
    }

    /// The folder's handle.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reads the file `name` as untrusted input: a link is not followed (`ELOOP`), nothing
    /// blocks, only a regular file is read, at most `cap` + 1 bytes.
    pub fn read(&self, name: &OsStr, cap: u64) -> std::io::Result<Untrusted> {
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            read_flags() | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        read_fd(fd, cap)
    }

    /// The status of `name` itself (not following a link).
    pub fn stat(&self, name: &OsStr) -> std::io::Result<rustix::fs::Stat> {
        rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).map_err(errno)
    }

    /// The names in the folder with their types (`None` when the file system does not say;
    /// [`Dir::stat`] then tells).
    pub fn entries(&self) -> std::io::Result<Vec<(OsString, Option<FileType>)>> {
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd).map_err(errno)? {
            let entry = entry.map_err(errno)?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let kind = entry.file_type();
            out.push((
                OsStr::from_bytes(name).to_os_string(),
                (kind != FileType::Unknown).then_some(kind),
            ));
        }
        Ok(out)
    }

    /// Removes the file `name` (a link is removed, never followed).
    pub fn remove(&self, name: &OsStr) -> std::io::Result<()> {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()).map_err(errno)
    }

    /// Renames `from` to `to` in this folder, never replacing `to`.
    pub fn rename_noreplace(&self, from: &OsStr, to: &OsStr) -> std::io::Result<()> {
        match rustix::fs::renameat_with(&self.fd, from, &self.fd, to, RenameFlags::NOREPLACE) {
            Ok(()) => Ok(()),
            // The file system has no RENAME_NOREPLACE: a hard link fails on an existing
            // name just the same.
            Err(Errno::INVAL) | Err(Errno::NOSYS) => {
                rustix::fs::linkat(&self.fd, from, &self.fd, to, AtFlags::empty())
                    .map_err(errno)?;
                rustix::fs::unlinkat(&self.fd, from, AtFlags::empty()).map_err(errno)
            }
            Err(e) => Err(errno(e)),
        }
    }

    /// Creates a new hidden temporary file `<prefix><random>.tmp` with permission bits
    /// `mode`, for writing. Returns it and its name.
    pub fn create_temp(
        &self,
        prefix: &str,
        mode: u32,
    ) -> std::io::Result<(std::fs::File, OsString)> {
        for _ in 0..100 {
            let name = OsString::from(format!("{prefix}{}.tmp", random_suffix()));
            match rustix::fs::openat(
                &self.fd,
                name.as_os_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            ) {
                Ok(fd) => {
                    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode & 0o7777)).map_err(errno)?;
                    return Ok((std::fs::File::from(fd), name));
                }
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(errno(e)),
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "no free temporary name",
        ))
    }

    /// Writes `bytes` as the file `name`: through a temporary `<temp_prefix><random>.tmp`
    /// with `mode`, flushed to disk, then renamed into place as `place` says. Nobody sees
    /// half a file; an existing file is replaced only with [`Place::Replace`].
    pub fn write_atomic(
        &self,
        name: &OsStr,
        temp_prefix: &str,
        bytes: &[u8],
        mode: u32,
        place: Place,
    ) -> std::io::Result<()> {
        let (file, tmp) = self.write_temp_file(temp_prefix, bytes, mode)?;
        let written = file.sync_all().and_then(|()| match place {
            Place::NoReplace => self.rename_noreplace(&tmp, name),
            Place::Replace => self.rename_replace(&tmp, name),
        });
        if written.is_err() {
            let _ = self.remove(&tmp);
        }
        written
    }

    /// Writes `bytes` to a new temporary `<temp_prefix><random>.tmp` with `mode`, NOT yet
    /// flushed to disk: for a batch of files made durable together (one `syncfs`, see
    /// [`Dir::sync_filesystem`]) before each is renamed into place. Returns its name.
    pub fn write_temp(
        &self,
        temp_prefix: &str,
        bytes: &[u8],
        mode: u32,
    ) -> std::io::Result<OsString> {
        self.write_temp_file(temp_prefix, bytes, mode)
            .map(|(_, tmp)| tmp)
    }

    fn write_temp_file(
        &self,
        temp_prefix: &str,
        bytes: &[u8],
        mode: u32,
    ) -> std::io::Result<(std::fs::File, OsString)> {
        let (mut file, tmp) = self.create_temp(temp_prefix, mode)?;
        match file.write_all(bytes) {
            Ok(()) => Ok((file, tmp)),
            Err(e) => {
                let _ = self.remove(&tmp);
                Err(e)
            }
        }
    }

    /// Renames `from` to `to` in this folder, replacing `to` (a link there is replaced, never
    /// followed).
    pub fn rename_replace(&self, from: &OsStr, to: &OsStr) -> std::io::Result<()> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(errno)
    }

    /// Flushes this folder's entries (names renamed into it or removed) to disk.
    pub fn sync(&self) -> std::io::Result<()> {
        rustix::fs::fsync(&self.fd).map_err(errno)
    }

    /// Flushes everything written on this folder's filesystem to disk (`syncfs(2)`): one call
    /// for a batch of files instead of one `fsync` each.
    pub fn sync_filesystem(&self) -> std::io::Result<()> {
        rustix::fs::syncfs(&self.fd).map_err(errno)
    }
}

#[cfg(test)]
mod tests;
