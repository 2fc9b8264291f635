//! Finding task files in the shared folder, and the order they run in.
//!
//! Task files are every `*.txt` under `<root>/tasks/` and every `task_*.txt` under any other
//! top-level folder (a member's folder), at any depth. Skipped: `sample.txt`,
//! `task_sample.txt` and `README.txt` (any case), `*_ERROR.txt`, `*.done`, hidden files and
//! folders, sidecars (a `.txt` beside a same-named `.png`, or one whose first line is a
//! `python generate.py` call), and anything reached through a link that leaves the root.
//!
//! Order ([`fair_order`]): first the tasks in the priority folder, oldest first; then one task
//! per member in turn (round-robin; `tasks/` counts as one member), each member's oldest task
//! first. Members take their turns in the order of their oldest waiting task. "Oldest" is the
//! file's modification time; ties are broken by the path.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use walkdir::{DirEntry, WalkDir};

use crate::root::{Root, TASKS_DIR};
use crate::sidecar::looks_like_generate_call;
use crate::task::TaskKind;

/// A task file found in the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFile {
    /// The path (under the canonical root; may pass through a link that stays inside).
    pub path: PathBuf,
    /// The path relative to the root, `/`-separated.
    pub rel: String,
    /// Shared (`tasks/`) or a member's.
    pub kind: TaskKind,
    /// Modification time.
    pub modified: SystemTime,
    /// Whether it lies in the priority folder.
    pub priority: bool,
}

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

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Whether a file named `name` at `path` is skipped by its name or content. `in_tasks`: the
/// file is under `tasks/` (any `.txt`), else under a member folder (`task_*.txt` only).
pub fn skip_reason(path: &Path, in_tasks: bool) -> Option<SkipReason> {
    let name = path.file_name()?.to_string_lossy();
    let lower = name.to_lowercase();
    if is_hidden(&name) {
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
    if is_sidecar(path) {
        return Some(SkipReason::Sidecar);
    }
    None
}

/// A sidecar: a same-named `.png` beside it, or a first line that is a generate call.
fn is_sidecar(path: &Path) -> bool {
    if path.with_extension("png").exists() {
        return true;
    }
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    looks_like_generate_call(&head[..n])
}

/// Whether an entry reached during the walk stays inside the root (only links need checking).
fn inside(root: &Root, entry: &DirEntry) -> bool {
    if !entry.path_is_symlink() {
        return true;
    }
    entry.path().canonicalize().is_ok_and(|c| root.contains(&c))
}

/// Finds the task files of `root`, in processing order (see the module docs).
pub fn discover(root: &Root, priority_folder: Option<&str>) -> std::io::Result<Vec<TaskFile>> {
    let mut found = Vec::new();
    let mut saw_link = false;
    let mut tops: Vec<(PathBuf, bool)> = Vec::new();
    for entry in std::fs::read_dir(root.path())? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_hidden(&name) {
            continue;
        }
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        tops.push((path, name == TASKS_DIR));
    }
    tops.sort();
    for (top, in_tasks) in tops {
        let walker = WalkDir::new(&top)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                (e.depth() == 0 || !is_hidden(&e.file_name().to_string_lossy())) && inside(root, e)
            });
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(err) => {
                    // A link loop or an unreadable folder: skip it, keep going.
                    tracing::warn!(
                        "skipping {}: {err}",
                        err.path()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    );
                    continue;
                }
            };
            saw_link |= entry.path_is_symlink();
            if !entry.file_type().is_file() {
                continue;
            }
            let path = entry.path();
            if let Some(reason) = skip_reason(path, in_tasks) {
                tracing::debug!("skipping {}: {reason}", path.display());
                continue;
            }
            let modified = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let rel = root.rel(path);
            let priority = priority_folder.is_some_and(|p| {
                let p = p.trim_end_matches('/');
                rel.starts_with(p) && rel[p.len()..].starts_with('/')
            });
            found.push(TaskFile {
                kind: TaskKind::from_rel(&rel),
                path: path.to_path_buf(),
                rel,
                modified,
                priority,
            });
        }
    }
    if saw_link {
        // A file reachable through a link inside the root is taken once, by its first path.
        let mut seen = HashSet::new();
        found.retain(|t| seen.insert(t.path.canonicalize().unwrap_or_else(|_| t.path.clone())));
    }
    Ok(fair_order(found))
}

/// Orders tasks: the priority folder first (oldest first), then round-robin across members,
/// each member's oldest first, members in the order of their oldest task.
pub fn fair_order(tasks: Vec<TaskFile>) -> Vec<TaskFile> {
    let key = |t: &TaskFile| (t.modified, t.rel.clone());
    let (mut priority, rest): (Vec<_>, Vec<_>) = tasks.into_iter().partition(|t| t.priority);
    priority.sort_by_key(key);
    let mut members: BTreeMap<String, Vec<TaskFile>> = BTreeMap::new();
    for t in rest {
        members
            .entry(t.kind.member().to_string())
            .or_default()
            .push(t);
    }
    let mut queues: Vec<Vec<TaskFile>> = members
        .into_values()
        .map(|mut q| {
            q.sort_by_key(key);
            q.reverse(); // pop() takes the oldest
            q
        })
        .collect();
    queues.sort_by_key(|q| q.last().map(key));
    let mut out = priority;
    while queues.iter().any(|q| !q.is_empty()) {
        for q in &mut queues {
            if let Some(t) = q.pop() {
                out.push(t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(rel: &str, secs: u64, priority: bool) -> TaskFile {
        TaskFile {
            path: PathBuf::from(rel),
            rel: rel.into(),
            kind: TaskKind::from_rel(rel),
            modified: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
            priority,
        }
    }

    #[test]
    fn priority_first_then_round_robin_oldest_first() {
        let order: Vec<String> = fair_order(vec![
            t("anna/task_a1.txt", 10, false),
            t("anna/task_a2.txt", 11, false),
            t("anna/task_a3.txt", 12, false),
            t("ben/task_b1.txt", 20, false),
            t("tasks/t1.txt", 5, false),
            t("tasks/urgent/u.txt", 99, true),
        ])
        .into_iter()
        .map(|t| t.rel)
        .collect();
        assert_eq!(
            order,
            [
                "tasks/urgent/u.txt",
                "tasks/t1.txt",
                "anna/task_a1.txt",
                "ben/task_b1.txt",
                "anna/task_a2.txt",
                "anna/task_a3.txt",
            ]
        );
    }
}
