//! Which files where a task could be are not run, and why (the rules are in
//! [`crate::queue::classify`]): by name first, then by content and the files beside it.

use std::path::{Path, PathBuf};

pub use crate::queue::classify::SkipReason;
use crate::queue::classify::{self, Role};
use crate::queue::lookalike;

use super::{TaskFile, read_task_file};

/// A file where a task could be that is not run, and why (see [`crate::queue::classify`]): `plan`,
/// `check` and the night's log list it, so that no task is skipped in silence.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The path (under the canonical root).
    pub path: PathBuf,
    /// The path relative to the root, `/`-separated.
    pub rel: String,
    /// Why it is not run.
    pub reason: SkipReason,
}

/// What discovery found: the task files in processing order, and the files not run.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Task files, in processing order (see the module docs).
    pub tasks: Vec<TaskFile>,
    /// Files where a task could be that are not run (never runvqgan's own files), by path.
    pub skipped: Vec<Skipped>,
}

/// Whether the file at `path` is skipped, and why: by its name, or by its content and the
/// files beside it (see [`crate::queue::classify`]). `in_tasks`: the file is under `tasks/`.
pub fn skip_reason(path: &Path, in_tasks: bool) -> Option<SkipReason> {
    let name = path.file_name()?.to_string_lossy();
    let beside = |other: &str| {
        crate::shared_folder::confined::modified(&path.with_file_name(other)).is_some()
    };
    if let Some(r) = classify::by_name(&name, in_tasks) {
        let head = || read_task_file(path).ok().map(|(bytes, _)| bytes);
        return Some(lookalike::refine(&r, &name, in_tasks, &beside, &head).unwrap_or(r));
    }
    let head = read_task_file(path).ok().map(|(bytes, _)| bytes);
    match classify::by_content(&name, head.as_deref(), &beside) {
        Role::Task => None,
        Role::Skip(r) => Some(r),
    }
}
