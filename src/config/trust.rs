//! The trust boundary for configuration. The shared folder is writable by every member, and
//! the configuration names the Python environment (whose `.pth` files run at start) and the
//! model files, so it must come from the owner's side only:
//!
//! - a file named with `--config FILE` (or `RUNVQGAN_CONFIG`): the caller chose it;
//! - else `<root>/runvqgan.toml`, used only when it is a regular file (not a link) owned by
//!   the running user (or by root) and not writable by group or others, like ssh's
//!   StrictModes; otherwise the command stops and says how to fix the permissions. A
//!   command that starts no Python and loads no model ([`Use::ReadOnly`]) also trusts the
//!   file of the shared folder's owner, so that members can run `plan` and `status`.
//!
//! Both are read without blocking and with a size cap.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::error::ConfigError;
use crate::shared_folder::files::CONFIG_FILE;

/// The largest configuration file read.
const MAX_CONFIG: u64 = 1024 * 1024;

/// Reads the configuration for `root`: `given` (from `--config` / `RUNVQGAN_CONFIG`) or
/// `<root>/runvqgan.toml` when it is trusted. Returns the file's path and its text (`None`:
/// no file, the built-in defaults hold).
pub fn read_config(
    root: &Path,
    given: Option<&Path>,
    use_: Use,
) -> Result<(PathBuf, Option<String>), ConfigError> {
    match given {
        Some(path) => {
            let text = read(path, None)?.ok_or_else(|| ConfigError::Read {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file (given with --config or RUNVQGAN_CONFIG)",
                ),
            })?;
            Ok((path.to_path_buf(), Some(text)))
        }
        None => {
            let path = root.join(CONFIG_FILE);
            let also = match use_ {
                Use::StartsPython => None,
                Use::ReadOnly => std::fs::metadata(root).ok().map(|m| m.uid()),
            };
            let text = read(&path, Some(also))?;
            Ok((path, text))
        }
    }
}

/// What the configuration is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A command that starts Python or loads models (`run`, `reproduce`, `models check`,
    /// `gallery`): only a file the running user (or root) owns is trusted, since the file
    /// names the Python environment (whose `.pth` files run) and the model files (pickles).
    StartsPython,
    /// A command that only reads the folder (`plan`, `status`, `check`, `validate`): the
    /// file of the shared folder's owner is trusted too, so that members can run them.
    ReadOnly,
}

fn refuse(path: &Path, why: String) -> ConfigError {
    ConfigError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, why),
    }
}

/// Reads a configuration file; `strict`: the checks for a file found in the shared folder,
/// with the account (besides the running user and root) whose file is trusted.
fn read(path: &Path, strict: Option<Option<u32>>) -> Result<Option<String>, ConfigError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if strict.is_some() {
        flags |= libc::O_NOFOLLOW;
    }
    options.custom_flags(flags);
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if strict.is_some() && e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(refuse(
                path,
                format!(
                    "it is a link, and anyone who can write the shared folder could point it \
                     elsewhere; replace it with the file itself, or pass --config {}",
                    std::fs::canonicalize(path)
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|_| "FILE".into())
                ),
            ));
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let meta = file.metadata().map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(refuse(path, "it is not a regular file".into()));
    }
    if let Some(also) = strict {
        check_owner(path, meta.uid(), meta.mode(), also)?;
    }
    let mut text = String::new();
    file.take(MAX_CONFIG + 1)
        .read_to_string(&mut text)
        .map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if text.len() as u64 > MAX_CONFIG {
        return Err(refuse(path, "it is larger than 1 MiB".into()));
    }
    Ok(Some(text))
}

/// Refuses a configuration in the shared folder that someone other than the running user
/// (or root) owns or could change.
fn check_owner(path: &Path, owner: u32, mode: u32, also: Option<u32>) -> Result<(), ConfigError> {
    let me = crate::process::euid();
    if owner != me && owner != 0 && Some(owner) != also {
        return Err(refuse(
            path,
            format!(
                "it is owned by user {owner}, not by you (user {me}); it names the Python \
                 environment and the models runvqgan loads, so only a configuration you own \
                 is used: run `chown {me} {p}` if it is yours, or pass --config {p} (or set \
                 RUNVQGAN_CONFIG) if you trust it",
                p = path.display()
            ),
        ));
    }
    if mode & 0o022 != 0 {
        return Err(refuse(
            path,
            format!(
                "it can be changed by group or others (mode {:o}); it names the Python \
                 environment and the models runvqgan loads, so run `chmod go-w {}`",
                mode & 0o777,
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_config_others_can_write_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, "max_each = 3\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
        let e = read_config(dir.path(), None, Use::StartsPython)
            .unwrap_err()
            .to_string();
        assert!(e.contains("chmod go-w"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            read_config(dir.path(), None, Use::StartsPython)
                .unwrap()
                .1
                .is_some()
        );
    }

    #[test]
    fn a_config_that_is_a_link_is_refused_unless_given() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        std::fs::write(&real, "").unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join(CONFIG_FILE)).unwrap();
        let e = read_config(dir.path(), None, Use::StartsPython)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a link"), "{e}");
        let given = dir.path().join(CONFIG_FILE);
        assert!(read_config(dir.path(), Some(&given), Use::StartsPython).is_ok());
    }
}
