//! Which `.txt` files discovery passes over, and why: by name first, then (for a possible
//! sidecar) by the first line of the file.

use std::io::Read;
use std::path::Path;

use crate::sidecar::looks_like_generate_call;

/// Why discovery passes over a `.txt` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// `sample.txt` / `task_sample.txt`.
    Sample,
    /// `README.txt`.
    Readme,
    /// `*_ERROR.txt`.
    ErrorFile,
    /// `*.done`.
    Done,
    /// A hidden file or folder.
    Hidden,
    /// A sidecar written by runvqgan (or the R runner).
    Sidecar,
    /// In a member folder, but not named `task_*.txt`.
    NotTaskName,
    /// Not a `.txt` file.
    NotTxt,
    /// Outside `tasks/` and the member folders.
    OutsideTaskFolders,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::Sample => "sample files (sample.txt, task_sample.txt) are templates and never run",
            SkipReason::Readme => "README.txt files are never run",
            SkipReason::ErrorFile => "it is an error report (*_ERROR.txt), not a task",
            SkipReason::Done => "it is a finished task (*.done); rename it to .txt to run it again",
            SkipReason::Hidden => "hidden files and folders (starting with a dot) are never run",
            SkipReason::Sidecar => "it is the sidecar of an image (a .png of the same name exists, or it starts with a generate call)",
            SkipReason::NotTaskName => "in a personal folder only files named task_*.txt are run",
            SkipReason::NotTxt => "only .txt files are task files",
            SkipReason::OutsideTaskFolders => "task files live in tasks/ or in a member's folder",
        })
    }
}

pub(super) fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// The skip rules that depend on the name alone. `in_tasks`: the file is under `tasks/` (any
/// `.txt`), else under a member folder (`task_*.txt` only).
pub fn skip_by_name(name: &str, in_tasks: bool) -> Option<SkipReason> {
    let lower = name.to_lowercase();
    if is_hidden(name) {
        return Some(SkipReason::Hidden);
    }
    if lower.ends_with(".done") {
        return Some(SkipReason::Done);
    }
    if !lower.ends_with(".txt") {
        return Some(SkipReason::NotTxt);
    }
    if lower == "sample.txt" || lower == "task_sample.txt" {
        return Some(SkipReason::Sample);
    }
    if lower == "readme.txt" {
        return Some(SkipReason::Readme);
    }
    if lower.ends_with("_error.txt") {
        return Some(SkipReason::ErrorFile);
    }
    if !in_tasks && !lower.starts_with("task_") {
        return Some(SkipReason::NotTaskName);
    }
    None
}

/// Whether the file at `path` is skipped, by its name or, for a sidecar, by a same-named
/// `.png` beside it or a first line that is a generate call.
pub fn skip_reason(path: &Path, in_tasks: bool) -> Option<SkipReason> {
    let name = path.file_name()?.to_string_lossy();
    if let Some(r) = skip_by_name(&name, in_tasks) {
        return Some(r);
    }
    if path.with_extension("png").exists() {
        return Some(SkipReason::Sidecar);
    }
    let mut head = [0u8; 256];
    // O_NONBLOCK: a fifo named like a task must not stop the caller.
    let n = crate::fsroot::open_read(path, true)
        .and_then(|mut f| {
            if f.metadata()?.is_file() {
                f.read(&mut head)
            } else {
                Ok(0)
            }
        })
        .unwrap_or(0);
    looks_like_generate_call(&head[..n]).then_some(SkipReason::Sidecar)
}
