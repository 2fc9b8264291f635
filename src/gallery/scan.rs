//! What the gallery shows, found in the shared folder: every PNG with a readable sidecar
//! beside it, and every error file. Everything here is written by members, so nothing is
//! followed through a link, nothing blocks (a fifo named `x.txt`), and reads are capped.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::call::sidecar::Sidecar;
use crate::shared_folder::root::slash_path;

/// The most bytes of a sidecar that are read; a longer one is not an image's sidecar.
const SIDECAR_CAP: u64 = 256 * 1024;
/// The most bytes of an error file that are read for its first lines.
const ERROR_HEAD_CAP: u64 = 4096;
/// How many lines of an error file the errors page shows.
const ERROR_HEAD_LINES: usize = 6;

/// One image and its sidecar.
#[derive(Debug, Clone)]
pub struct FoundImage {
    /// The PNG, relative to the root, `/`-separated.
    pub rel: String,
    /// The PNG's path.
    pub path: PathBuf,
    /// The top-level folder it lies in: a member's folder or `output`.
    pub folder: String,
    /// The sidecar, relative to the root.
    pub sidecar_rel: String,
    /// The parsed sidecar.
    pub sidecar: Sidecar,
    /// The sidecar's first line as written (the generate call).
    pub call: String,
    /// The PNG's size in bytes and modification time: what the thumbnail is keyed by.
    pub len: u64,
    /// See `len`.
    pub modified: SystemTime,
}

/// One `*_ERROR.txt` and its first lines.
#[derive(Debug, Clone)]
pub struct FoundError {
    /// Relative to the root.
    pub rel: String,
    /// Its top-level folder (`tasks` for the common task folder).
    pub folder: String,
    /// When it was last written.
    pub modified: SystemTime,
    /// Its first lines.
    pub head: String,
}

/// A PNG that is left out of the gallery, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Relative to the root.
    pub rel: String,
    /// A sentence.
    pub reason: String,
}

/// Everything found.
#[derive(Debug, Default)]
pub struct Found {
    /// The images, in no particular order.
    pub images: Vec<FoundImage>,
    /// The error files.
    pub errors: Vec<FoundError>,
    /// PNGs left out.
    pub skipped: Vec<Skipped>,
}

/// Walks the root's folders (not its hidden ones, not `exclude`, the gallery's own folder)
/// and collects images and error files. Files at the top of the root are not in any
/// member's folder and are ignored.
pub fn scan(root: &Path, exclude: &Path) -> std::io::Result<Found> {
    let mut found = Found::default();
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let hidden = e.file_name().to_string_lossy().starts_with('.');
            !hidden && e.path() != exclude
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                // An unreadable folder hides its images; the rest of the gallery still builds.
                tracing::warn!("gallery: {e}");
                continue;
            }
        };
        if entry.depth() < 2 || !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let rel_path = path.strip_prefix(root).unwrap_or(path);
        let rel = slash_path(rel_path);
        let folder = rel.split('/').next().unwrap_or_default().to_string();
        let name = entry.file_name().to_string_lossy();
        if name.ends_with(".png") {
            let metadata = entry.metadata()?;
            let sidecar_path = path.with_extension("txt");
            let sidecar_rel = slash_path(sidecar_path.strip_prefix(root).unwrap_or(&sidecar_path));
            let text = match read_capped(&sidecar_path, SIDECAR_CAP) {
                Ok((text, false)) => text,
                Ok((_, true)) => {
                    found.skipped.push(Skipped {
                        rel,
                        reason: format!("its .txt is longer than {SIDECAR_CAP} bytes"),
                    });
                    continue;
                }
                Err(e) => {
                    found.skipped.push(Skipped {
                        rel,
                        reason: format!("its .txt cannot be read ({e})"),
                    });
                    continue;
                }
            };
            match Sidecar::parse(&text) {
                Ok(sidecar) => {
                    let call = crate::call::sidecar::split_call(
                        text.trim_start_matches('\u{feff}').trim_start(),
                    )
                    .map(|(call, _)| call.trim_end_matches('\r').to_string())
                    .unwrap_or_default();
                    found.images.push(FoundImage {
                        rel,
                        path: path.to_path_buf(),
                        folder,
                        sidecar_rel,
                        sidecar,
                        call,
                        len: metadata.len(),
                        modified: metadata.modified()?,
                    });
                }
                Err(e) => found.skipped.push(Skipped {
                    rel,
                    reason: format!("its .txt is not a sidecar: {e}"),
                }),
            }
        } else if name.to_lowercase().ends_with("_error.txt") {
            let modified = entry.metadata()?.modified()?;
            let head = match read_capped(path, ERROR_HEAD_CAP) {
                Ok((text, _)) => first_lines(&text, ERROR_HEAD_LINES),
                Err(e) => format!("(cannot be read: {e})"),
            };
            found.errors.push(FoundError {
                rel,
                folder,
                modified,
                head,
            });
        }
    }
    Ok(found)
}

/// Reads at most `cap` bytes of a regular file without following a link or blocking;
/// returns the text (invalid UTF-8 replaced) and whether the file was longer.
fn read_capped(path: &Path, cap: u64) -> std::io::Result<(String, bool)> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    let longer = bytes.len() as u64 > cap;
    bytes.truncate(cap as usize);
    Ok((String::from_utf8_lossy(&bytes).into_owned(), longer))
}

/// The first `n` non-empty lines of `text`, joined by line breaks.
fn first_lines(text: &str, n: usize) -> String {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_heads_skip_blank_lines_and_stop_after_n() {
        assert_eq!(first_lines("\u{feff}a\r\n\r\nb\nc\nd", 2), "a\nb");
    }
}
