//! Files that appear whole or not at all: written to a hidden temporary file in the same
//! folder, given their permission bits, flushed to disk, then renamed into place. A member
//! reading the shared folder never sees half a file, and a process that dies leaves only a
//! hidden temporary behind.

use std::io::Write;
use std::path::Path;

/// What to do when `path` exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Fail with `AlreadyExists`: output names are never reused.
    Keep,
    /// Replace it (error files, which are rewritten on every failure).
    Replace,
}

/// Writes `bytes` to `path` through the temporary file `<temp_prefix><random>.tmp` in the
/// same folder, with permission bits `mode`.
pub fn write(
    path: &Path,
    temp_prefix: &str,
    bytes: &[u8],
    mode: u32,
    existing: Existing,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(temp_prefix)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    match existing {
        Existing::Keep => tmp.persist_noclobber(path),
        Existing::Replace => tmp.persist(path),
    }
    .map_err(|e| e.error)?;
    Ok(())
}
