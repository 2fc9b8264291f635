//! The gallery's own files on disk: its folders, opened beneath the root by handle and never
//! through a link; pages, assets and thumbnails written through those handles only when
//! their bytes change (a synced share sees no churn); and what can go wrong.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::shared_folder::confined::nofollow::is_not_a_folder;
use crate::shared_folder::confined::{Dir, Place, describe};
use crate::shared_folder::state::make_owner_folder;

use thiserror::Error;

use crate::shared_folder::root::PathProblem;

/// A gallery that cannot be built.
#[derive(Debug, Error)]
pub enum GalleryError {
    /// The configured folder is not a plain relative path inside the root.
    #[error(
        "the gallery folder {dir:?} is refused: {problem}; give a folder inside the shared folder, such as \"gallery\""
    )]
    BadDir {
        /// As configured.
        dir: String,
        /// Why.
        problem: PathProblem,
    },
    /// Reading the shared folder or writing the gallery failed.
    #[error("cannot build the gallery in {path}: {source}")]
    Io {
        /// The gallery folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The gallery's folder is not the owner's alone: a member made it, or can write it.
    #[error(
        "the gallery folder {path} {problem}, so a member could change the pages the lab \
         opens; move it away as its owner or with sudo (`mv {path} {path}.suspect`, and look at \
         what is in it): runvqgan makes it again, writable by its own account only"
    )]
    NotTheOwners {
        /// The gallery folder.
        path: PathBuf,
        /// Who owns it or can write it.
        problem: String,
    },
    /// A template failed to render (a bug in runvqgan, not in the shared folder).
    #[error("the gallery template {name} failed: {message}")]
    Template {
        /// The template.
        name: String,
        /// What went wrong.
        message: String,
    },
}

/// The most bytes of the thumbnails' manifest that are read back (a few dozen bytes per image);
/// a longer one is not runvqgan's and counts as missing. Pages and assets have no cap of
/// their own: they are read only when their length is that of the new content
/// ([`write_if_changed`]).
pub(crate) const MAX_MANIFEST: u64 = 32 * 1024 * 1024;

/// The prefix of the temporary files that pages and thumbnails are written through.
const TEMP_PREFIX: &str = ".gallery.";

/// Opens the folder `rel` (a checked relative path) below `base`, whose path is
/// `base_path`, one folder at a time by handle, making the missing ones. A member can write
/// the shared folder, so a link on the way (`gallery -> /etc`) is refused, naming it,
/// rather than followed.
pub(crate) fn open_folders(base: &Dir, base_path: &Path, rel: &Path) -> std::io::Result<Dir> {
    let mut path = base_path.to_path_buf();
    let mut dir: Option<Dir> = None;
    let last = rel.components().rev().find_map(|c| match c {
        Component::Normal(name) => Some(name),
        _ => None,
    });
    for part in rel.components() {
        let Component::Normal(name) = part else {
            continue;
        };
        path.push(name);
        let parent = dir.as_ref().unwrap_or(base);
        if Some(name) == last {
            // The gallery's own folders are the owner's alone.
            make_owner_folder(&parent.fd(), name).map_err(|e| {
                std::io::Error::new(e.kind(), format!("{}: {}", path.display(), describe(&e)))
            })?;
        }
        let next = parent.open_or_make_subdir(name, 0o777).map_err(|e| {
            if is_not_a_folder(&e) {
                std::io::Error::other(format!(
                    "{} is a link or a file, not a folder; remove it",
                    path.display()
                ))
            } else {
                std::io::Error::new(e.kind(), format!("{}: {}", path.display(), describe(&e)))
            }
        })?;
        dir = Some(next);
    }
    dir.ok_or_else(|| {
        std::io::Error::other("the gallery must be a folder inside the shared folder, not its top")
    })
}

/// `Err` with what is wrong when the gallery's folder `dir` belongs to another account or
/// can be written by others.
pub(crate) fn check_owners(dir: &Dir) -> Result<(), String> {
    let st = rustix::fs::fstat(dir.fd()).map_err(|e| e.to_string())?;
    let me = crate::process::euid();
    if st.st_uid != me {
        return Err(format!(
            "belongs to {}, not to {}",
            crate::process::user_name(st.st_uid),
            crate::process::user_name(me)
        ));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(format!(
            "can be written by other accounts (mode {:04o})",
            st.st_mode & 0o7777
        ));
    }
    Ok(())
}

/// The bytes of runvqgan's own file `name` in `dir` (not through a link, not blocking, a
/// regular file only); `None` when it is missing, unreadable or longer than `cap`.
pub(crate) fn read_own(dir: &Dir, name: &str, cap: u64) -> Option<Vec<u8>> {
    let file = dir.read(OsStr::new(name), cap).ok()?;
    (file.bytes.len() as u64 <= cap).then_some(file.bytes)
}

/// Whether the regular file `name` in `dir` holds exactly `bytes`. A file of another length
/// is not read at all, and no more than `bytes.len()` + 1 bytes are ever read: a page that a
/// member grew to gigabytes costs one `fstat`.
fn holds(dir: &Dir, name: &OsStr, bytes: &[u8]) -> bool {
    let Ok((file, stat)) = dir.open_regular(name) else {
        return false;
    };
    if u64::try_from(stat.st_size).ok() != Some(bytes.len() as u64) {
        return false;
    }
    let mut old = Vec::with_capacity(bytes.len());
    file.take(bytes.len() as u64 + 1)
        .read_to_end(&mut old)
        .is_ok()
        && old == bytes
}

/// Writes `bytes` as the file `name` in `dir` (atomically: a temporary file and a rename in
/// that folder's handle; mode 0644) unless it holds them already; returns whether it wrote.
/// Whatever was at `name` (a link included) is replaced, never written through.
pub(crate) fn write_if_changed(dir: &Dir, name: &str, bytes: &[u8]) -> std::io::Result<bool> {
    let name = OsStr::new(name);
    if holds(dir, name, bytes) {
        return Ok(false);
    }
    dir.write_atomic(name, TEMP_PREFIX, bytes, 0o644, Place::Replace)
        .map_err(|e| {
            let what = format!(
                "{} cannot be written: {}",
                name.to_string_lossy(),
                describe(&e)
            );
            std::io::Error::new(e.kind(), what)
        })?;
    Ok(true)
}

/// Whether `name` is a temporary file that a build which died left behind.
pub(crate) fn is_leftover_temp(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(".tmp")
}
