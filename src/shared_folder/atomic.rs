//! Files that appear whole or not at all: written to a hidden temporary file in the same
//! folder, given their permission bits, flushed to disk, then renamed into place. A member
//! reading the shared folder never sees half a file, and a process that dies leaves only a
//! hidden temporary behind.
//!
//! The folder is opened beneath the root's handle at the moment of writing
//! ([`crate::shared_folder::confined`]): a folder swapped for a link that leaves the root is refused, and
//! [`Existing::Keep`] places the file with a rename that never replaces an existing one.

use std::path::Path;

/// What to do when `path` exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Fail with `AlreadyExists`: output names are never reused.
    Keep,
    /// Replace it (error files, which are rewritten on every failure).
    Replace,
}

/// Writes `bytes` to `path` (inside the shared folder) through the temporary file
/// `<temp_prefix><random>.tmp` in the same folder, with permission bits `mode`.
pub fn write(
    path: &Path,
    temp_prefix: &str,
    bytes: &[u8],
    mode: u32,
    existing: Existing,
) -> std::io::Result<()> {
    let (dir, name) = crate::shared_folder::confined::parent(path)?;
    dir.write_atomic(
        &name,
        temp_prefix,
        bytes,
        mode,
        match existing {
            Existing::Keep => crate::shared_folder::confined::Place::NoReplace,
            Existing::Replace => crate::shared_folder::confined::Place::Replace,
        },
    )
}
