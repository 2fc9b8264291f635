//! The members' error files (`*_ERROR.txt`) and warnings notes (`*_WARNINGS.txt`) that the
//! gallery's errors page lists, with their first lines: read through the handle of the
//! folder that was listed, without following a link, capped.

use std::ffi::OsStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::shared_folder::confined::{Dir, describe};
use crate::shared_folder::files::{ERROR_SUFFIX, WARNINGS_SUFFIX};

/// The most bytes of an error file that are read for its first lines.
const ERROR_HEAD_CAP: u64 = 4096;
/// How many lines of an error file the errors page shows.
const ERROR_HEAD_LINES: usize = 6;

/// One `*_ERROR.txt` or `*_WARNINGS.txt` and its first lines.
#[derive(Debug, Clone)]
pub struct FoundError {
    /// A warnings note (`_WARNINGS.txt`) rather than an error file.
    pub warning: bool,
    /// Relative to the root.
    pub rel: String,
    /// Its top-level folder (`tasks` for the common task folder).
    pub folder: String,
    /// When it was last written.
    pub modified: SystemTime,
    /// Its first lines.
    pub head: String,
}

/// The error file or warnings note `name` in `dir` (at `rel`, in the top-level folder
/// `folder`); `None` when `name` is neither.
pub fn note(dir: &Dir, name: &OsStr, rel: String, folder: String) -> Option<FoundError> {
    let warning = note_kind(&name.to_string_lossy())?;
    let (modified, head) = match dir.read(name, ERROR_HEAD_CAP) {
        Ok(mut file) => {
            file.bytes.truncate(ERROR_HEAD_CAP as usize);
            let text = String::from_utf8_lossy(&file.bytes);
            (mtime(&file.stat), first_lines(&text, ERROR_HEAD_LINES))
        }
        Err(e) => (
            dir.stat(name).map(|st| mtime(&st)).unwrap_or(UNIX_EPOCH),
            format!("(cannot be read: {})", describe(&e)),
        ),
    };
    Some(FoundError {
        warning,
        rel,
        folder,
        modified,
        head,
    })
}

/// `Some(false)` for an error file, `Some(true)` for a warnings note, `None` otherwise
/// (the suffixes of [`ERROR_SUFFIX`] and [`WARNINGS_SUFFIX`], in any case as before).
fn note_kind(name: &str) -> Option<bool> {
    let lower = name.to_lowercase();
    if lower.ends_with(&ERROR_SUFFIX.to_lowercase()) {
        Some(false)
    } else if lower.ends_with(&WARNINGS_SUFFIX.to_lowercase()) {
        Some(true)
    } else {
        None
    }
}

/// The modification time in a file's status (a time before 1970 as it is).
pub fn mtime(stat: &rustix::fs::Stat) -> SystemTime {
    let nanos = Duration::new(0, stat.st_mtime_nsec as u32);
    let secs = Duration::from_secs(stat.st_mtime.unsigned_abs());
    if stat.st_mtime >= 0 {
        UNIX_EPOCH + secs + nanos
    } else {
        UNIX_EPOCH - secs + nanos
    }
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
