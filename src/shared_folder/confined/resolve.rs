//! How a path under the root is resolved beneath the root's handle: `openat2` with
//! `RESOLVE_BENEATH` where the kernel has it, else a walk that opens every folder with
//! `O_NOFOLLOW` and resolves links itself, never opening anything above the root.

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::Ordering;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::{Anchor, HAVE_OPENAT2, MAX_LINKS, errno, escape};

/// The components of a relative path: names and `..` (as `None`); `.` dropped. An absolute
/// path is an escape.
fn parts(rel: &Path) -> std::io::Result<Vec<Option<OsString>>> {
    let mut out = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => out.push(Some(n.to_os_string())),
            Component::ParentDir => out.push(None),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err(escape()),
        }
    }
    Ok(out)
}

/// Opens `rel` beneath `anchor` with `flags` (and `mode` for `O_CREAT`). `follow_last`:
/// whether a link in the last component is followed (inside the root only).
pub(super) fn open_beneath(
    anchor: &Anchor,
    rel: &Path,
    flags: OFlags,
    mode: Mode,
    follow_last: bool,
) -> std::io::Result<OwnedFd> {
    let flags = flags
        | OFlags::CLOEXEC
        | if follow_last {
            OFlags::empty()
        } else {
            OFlags::NOFOLLOW
        };
    if HAVE_OPENAT2.load(Ordering::Relaxed) {
        let target: &Path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        match rustix::fs::openat2(
            &anchor.fd,
            target,
            flags,
            mode,
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => return Ok(fd),
            // Missing, or filtered out by a seccomp profile: walk from now on.
            Err(Errno::NOSYS) | Err(Errno::PERM) => HAVE_OPENAT2.store(false, Ordering::Relaxed),
            // An absolute link into the root (which RESOLVE_BENEATH refuses) or an escape, or
            // a rename race (EAGAIN): the walk tells them apart.
            Err(Errno::XDEV) | Err(Errno::AGAIN) => {}
            Err(e) => return Err(errno(e)),
        }
    }
    walk(anchor, rel, flags, mode, follow_last)
}

/// The portable resolution: every folder opened with `O_NOFOLLOW` from the handle of the one
/// above, each link read and resolved here, nothing above the root ever opened.
pub(super) fn walk(
    anchor: &Anchor,
    rel: &Path,
    flags: OFlags,
    mode: Mode,
    follow_last: bool,
) -> std::io::Result<OwnedFd> {
    let mut queue: std::collections::VecDeque<Option<OsString>> = parts(rel)?.into();
    // The folders entered below the root; the current one is the last.
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut links = 0;
    loop {
        let cur: BorrowedFd<'_> = stack.last().map_or(anchor.fd.as_fd(), |f| f.as_fd());
        let Some(part) = queue.pop_front() else {
            // The path names a folder (the root itself, or one ending in `..`).
            return rustix::fs::openat(cur, ".", flags, mode).map_err(errno);
        };
        let Some(name) = part else {
            if stack.pop().is_none() {
                return Err(escape());
            }
            continue;
        };
        let last = queue.is_empty();
        if !last || follow_last {
            match rustix::fs::readlinkat(cur, name.as_os_str(), Vec::new()) {
                Ok(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    let target = PathBuf::from(OsString::from_vec(target.into_bytes()));
                    let rest = if target.is_absolute() {
                        let inside = target.strip_prefix(&anchor.path).map_err(|_| escape())?;
                        stack.clear();
                        parts(inside)?
                    } else {
                        parts(&target)?
                    };
                    for p in rest.into_iter().rev() {
                        queue.push_front(p);
                    }
                    continue;
                }
                Err(Errno::INVAL) => {}
                Err(Errno::NOENT) if last => {}
                Err(e) => return Err(errno(e)),
            }
        }
        if last {
            return rustix::fs::openat(cur, name.as_os_str(), flags | OFlags::NOFOLLOW, mode)
                .map_err(errno);
        }
        // Swapped for a link since readlinkat: O_NOFOLLOW + O_DIRECTORY fail (never follow).
        let next = rustix::fs::openat(
            cur,
            name.as_os_str(),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        stack.push(next);
    }
}
