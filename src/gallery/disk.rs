//! The gallery's own files on disk: its folders, and pages, assets and thumbnails written
//! only when their bytes change (a synced share sees no churn), and what can go wrong.

use std::path::{Path, PathBuf};

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
    /// A template failed to render (a bug in runvqgan, not in the shared folder).
    #[error("the gallery template {name} failed: {message}")]
    Template {
        /// The template.
        name: String,
        /// What went wrong.
        message: String,
    },
}

/// Creates the folders of `rel` under `base` as needed. A member can write the shared folder,
/// so a link on the way (`gallery -> /etc`) is refused rather than followed.
pub(crate) fn make_dirs(base: &Path, rel: &Path) -> std::io::Result<()> {
    let mut path = base.to_path_buf();
    for part in rel.components() {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "{} is a link or a file, not a folder; remove it",
                    path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&path)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The bytes of the regular file at `path`, read without following a link or blocking on a
/// fifo; `None` for anything else. Gallery files are compared with them before writing.
pub(crate) fn read_regular(path: &Path) -> Option<Vec<u8>> {
    crate::shared_folder::confined::read_own_file(path, u64::MAX)
}

/// Writes `bytes` to `path` (atomically, mode 0644) unless the file holds them already;
/// returns whether it wrote. Whatever was at `path` (a link included) is replaced, never
/// written through.
pub(crate) fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if read_regular(path).is_some_and(|old| old == bytes) {
        return Ok(false);
    }
    crate::shared_folder::atomic::write(
        path,
        ".gallery.",
        bytes,
        0o644,
        crate::shared_folder::atomic::Existing::Replace,
    )?;
    Ok(true)
}
