//! The shared folder ("root"): finding it, naming paths relative to it, and keeping every
//! path a task file names inside it.

use std::path::{Component, Path, PathBuf};

use crate::shared_folder::files::{CONFIG_FILE, TASKS_DIR};
use thiserror::Error;

/// The shared folder, by its canonical path (links resolved), so that confinement checks
/// compare like with like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    path: PathBuf,
    /// The path as given (made absolute, links not resolved): how the owner mounted it, and
    /// how members may write full paths inside it.
    mounted: PathBuf,
}

/// A problem with the root itself.
#[derive(Debug, Error)]
pub enum RootError {
    /// The root folder cannot be opened.
    #[error(
        "the shared folder {path} cannot be opened: {source}; check the path given with --root or RUNVQGAN_ROOT"
    )]
    Open {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The root is not a folder.
    #[error("{path} is not a folder; --root must name the shared folder that holds `tasks/`")]
    NotADir {
        /// The path as given.
        path: PathBuf,
    },
    /// `init` was given a folder that already holds something.
    #[error(
        "{path} already exists and is not empty; `runvqgan init` makes a new shared folder and never touches an existing one: name a new folder"
    )]
    NotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// No root was found above a file.
    #[error(
        "no shared folder found above {path}: no folder on the way up holds `runvqgan.toml` or a `tasks` folder; pass --root DIR"
    )]
    NotFound {
        /// Where the search started.
        path: PathBuf,
    },
    /// No folder above a file to reproduce holds a configuration the running user may trust.
    #[error(
        "no shared folder above {path} holds a runvqgan.toml that you (or root) own, so the \
         shared folder cannot be chosen from the file's place; give it: --root DIR (the lab's \
         shared folder), and --config DIR/runvqgan.toml when the workstation owner's \
         configuration should be used"
    )]
    NoTrustedRoot {
        /// Where the search started.
        path: PathBuf,
    },
}

/// Why a path written in a task file was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathProblem {
    /// Empty string.
    #[error("it is empty")]
    Empty,
    /// An absolute path.
    #[error("it is an absolute path")]
    Absolute,
    /// A Windows drive path such as `C:/x`.
    #[error("it is a Windows drive path")]
    Drive,
    /// Written with `..` or as a full path, it lies outside the root.
    #[error("it lies outside the shared folder")]
    Outside,
    /// A backslash.
    #[error("it contains a backslash `\\`; separate folders with `/`")]
    Backslash,
    /// A `..` component.
    #[error("it contains `..`; paths must stay inside the shared folder")]
    ParentDir,
    /// A control character or an invisible formatting character.
    #[error("it contains a control character or an invisible formatting character")]
    Control,
    /// The path does not exist.
    #[error("it does not exist")]
    Missing,
    /// Links that lead to each other in a circle.
    #[error("it is a link that leads in a circle (a link loop)")]
    LinkLoop,
    /// Followed through links it ends up outside the root.
    #[error("it leads outside the shared folder through a link")]
    Escapes,
    /// Expected a folder.
    #[error("it is not a folder")]
    NotADir,
    /// Expected a file.
    #[error("it is not a file")]
    NotAFile,
    /// The top of the root or the tasks folder, where images must not go.
    #[error("it is the top of the shared folder or inside `tasks`, where images cannot go")]
    Reserved,
}

impl Root {
    /// Opens the root at `path`, resolving links.
    pub fn open(path: &Path) -> Result<Root, RootError> {
        let canonical = path.canonicalize().map_err(|source| RootError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        if !canonical.is_dir() {
            return Err(RootError::NotADir {
                path: path.to_path_buf(),
            });
        }
        // From now on every file operation under it goes through a handle on it.
        crate::shared_folder::confined::register(&canonical).map_err(|source| RootError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mounted = std::path::absolute(path).unwrap_or_else(|_| canonical.clone());
        Ok(Root {
            path: canonical,
            mounted,
        })
    }

    /// Finds the root above `start` (a file or folder): the nearest folder, `start` itself
    /// included, that holds `runvqgan.toml` or a `tasks` folder.
    pub fn find_above(start: &Path) -> Result<Root, RootError> {
        Root::find_first_above(start, |_| true)
    }

    /// Finds the root above `start` for a command that runs as whoever holds a file
    /// (`reproduce`): the nearest folder, `start` itself included, that is owned by the
    /// running user or by root **and holds a `runvqgan.toml` that the running user may trust**
    /// (a regular file, not a link, owned by the running user or by root, writable by no
    /// one else). A `tasks` folder alone is not enough: a member can make one in any folder
    /// the owner owns but they can write (`output/tasks/`), and so can drop a
    /// `runvqgan.toml` there, which they then own; neither makes a root for someone else's
    /// command. Otherwise the root is given: `--root` or `RUNVQGAN_ROOT`.
    pub fn find_trusted_above(start: &Path) -> Result<Root, RootError> {
        use std::os::unix::fs::MetadataExt;
        let me = crate::process::euid();
        let trusted = |m: &std::fs::Metadata| m.uid() == me || m.uid() == 0;
        Root::find_first_above(start, |d| {
            std::fs::symlink_metadata(d).is_ok_and(|m| trusted(&m))
                && std::fs::symlink_metadata(d.join(CONFIG_FILE))
                    .is_ok_and(|m| m.file_type().is_file() && trusted(&m) && m.mode() & 0o022 == 0)
        })
        .map_err(|_| RootError::NoTrustedRoot {
            path: start.to_path_buf(),
        })
    }

    /// The nearest folder above `start` (itself included) that `accept`s and that holds
    /// `runvqgan.toml` or a `tasks` folder.
    fn find_first_above(start: &Path, accept: impl Fn(&Path) -> bool) -> Result<Root, RootError> {
        let abs = start.canonicalize().map_err(|source| RootError::Open {
            path: start.to_path_buf(),
            source,
        })?;
        let mut dir = if abs.is_dir() {
            Some(abs.as_path())
        } else {
            abs.parent()
        };
        while let Some(d) = dir {
            if accept(d) && (d.join(CONFIG_FILE).is_file() || d.join(TASKS_DIR).is_dir()) {
                return Root::open(d);
            }
            dir = d.parent();
        }
        Err(RootError::NotFound {
            path: start.to_path_buf(),
        })
    }

    /// The canonical path of the root.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root's path as it was given (absolute, links not resolved), e.g. `/srv/vqgan` when
    /// that is a link to `/data/vqgan`.
    pub fn mounted(&self) -> &Path {
        &self.mounted
    }

    /// Whether `path` (already canonical) lies inside the root.
    pub fn contains(&self, canonical: &Path) -> bool {
        canonical.starts_with(&self.path)
    }

    /// `path` relative to the root, with `/` between components; `path` must lie inside the
    /// root lexically (it is not canonicalised here). Paths outside are returned whole.
    pub fn rel(&self, path: &Path) -> String {
        match path.strip_prefix(&self.path) {
            Ok(rel) => slash_path(rel),
            Err(_) => path.display().to_string(),
        }
    }

    /// Resolves `user` (a path written in a task file or configuration) against `base` (a
    /// folder inside the root), and checks that it exists and stays inside the root, also
    /// through links. Returns the canonical path.
    pub fn resolve_inside(&self, base: &Path, user: &str) -> Result<PathBuf, PathProblem> {
        check_relative(user)?;
        let joined = base.join(user);
        let canonical = joined.canonicalize().map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                PathProblem::LinkLoop
            } else {
                // A dangling link, or one into a folder that does not exist, reads as missing.
                PathProblem::Missing
            }
        })?;
        if !self.contains(&canonical) {
            return Err(PathProblem::Escapes);
        }
        Ok(canonical)
    }
}

/// Checks what every path written by a member must be, whatever its form, before touching
/// the disk: not empty, no control or invisible formatting character, no Windows drive, no
/// backslash.
pub fn check_written(user: &str) -> Result<(), PathProblem> {
    if user.trim().is_empty() {
        return Err(PathProblem::Empty);
    }
    if user
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(PathProblem::Control);
    }
    let bytes = user.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(PathProblem::Drive);
    }
    if user.contains('\\') {
        return Err(PathProblem::Backslash);
    }
    Ok(())
}

/// Checks the spelling of a relative path written by a member, before touching the disk:
/// [`check_written`], and neither absolute nor with `..`.
pub fn check_relative(user: &str) -> Result<(), PathProblem> {
    check_written(user)?;
    if user.starts_with('/') || Path::new(user).is_absolute() {
        return Err(PathProblem::Absolute);
    }
    if Path::new(user)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(PathProblem::ParentDir);
    }
    Ok(())
}

/// Whether `c` is an invisible formatting character that can disguise a name: bidirectional
/// controls (U+202A-U+202E, U+2066-U+2069), zero-width characters (U+200B-U+200F, U+2060),
/// the byte-order mark (U+FEFF).
pub fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// A relative path with `/` separators, whatever the platform.
pub fn slash_path(rel: &Path) -> String {
    let mut out = String::with_capacity(rel.as_os_str().len());
    for (i, c) in rel.components().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&c.as_os_str().to_string_lossy());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_that_leave_or_name_no_folder() {
        assert_eq!(check_relative(""), Err(PathProblem::Empty));
        assert_eq!(check_relative("/srv"), Err(PathProblem::Absolute));
        assert_eq!(check_relative("C:/x"), Err(PathProblem::Drive));
        assert_eq!(check_relative("a\\b"), Err(PathProblem::Backslash));
        assert_eq!(check_relative("a/../../b"), Err(PathProblem::ParentDir));
        assert_eq!(check_relative("output/robots"), Ok(()));
    }
}
