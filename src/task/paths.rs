//! The paths a task file names: its output folder (resolved once per folder for the whole
//! plan) and its input pictures, all of which must stay inside the shared folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::shared_folder::root::{PathProblem, Root};

use super::{RawTask, TaskError, TaskKind};
use crate::shared_folder::files::{OUTPUT_DIR, TASKS_DIR};

/// The task's output folder (its own `out_folder`, or the default for its `kind`), resolved
/// inside the root through `folders` when given; a problem is added to `errors`.
pub(super) fn out_folder(
    raw: &RawTask,
    root: &Root,
    kind: &TaskKind,
    folders: Option<&FolderCache>,
    errors: &mut Vec<TaskError>,
) -> Option<(PathBuf, String)> {
    let value = out_folder_value(raw, kind);
    let fix = match (&raw.out_folder, kind) {
        (Some(_), _) => "write a folder that exists in the shared folder, relative to it, such as \"output\" or your own folder",
        (None, TaskKind::Shared) => "the default output folder is missing; ask the workstation owner to create it, or set `out_folder`",
        (None, TaskKind::Personal { .. }) => "your own folder is the default output folder; set `out_folder`",
    }
    .to_string();
    let bad = |problem: PathProblem, fix: String| TaskError::BadPath {
        field: "out_folder",
        value: value.clone(),
        problem,
        fix,
    };
    let resolved = match folders {
        Some(cache) => cache.resolve(root, &value),
        None => resolve_out_folder(root, &value),
    };
    match resolved {
        Ok(found) => Some(found),
        Err(PathProblem::Reserved) => {
            errors.push(bad(
                PathProblem::Reserved,
                "use \"output\" or your own folder".into(),
            ));
            None
        }
        Err(PathProblem::Missing) if raw.out_folder.is_some() => {
            let fix = match near_folder(root, &value) {
                Some(near) => format!(
                    "did you mean {near:?}? Write the name of a folder that exists, exactly as it is written (capitals count)"
                ),
                None => fix,
            };
            errors.push(bad(PathProblem::Missing, fix));
            None
        }
        Err(problem) => {
            errors.push(bad(problem, fix));
            None
        }
    }
}

/// The output folder a task names: its own `out_folder`, or the default for its `kind`
/// (`output` for a shared task, the member's own folder for a member's).
pub fn out_folder_value(raw: &RawTask, kind: &TaskKind) -> String {
    match (&raw.out_folder, kind) {
        (Some(v), _) => v.clone(),
        (None, TaskKind::Shared) => OUTPUT_DIR.to_string(),
        (None, TaskKind::Personal { member }) => member.clone(),
    }
}

/// The existing folder nearest to the missing `value`, one part at a time: the same but for
/// capitals (`Output` for `output`), else a name a typo or two away (`outptu`). Hidden
/// folders are never offered.
fn near_folder(root: &Root, value: &str) -> Option<String> {
    let mut dir = root.path().to_path_buf();
    let mut found = Vec::new();
    for part in value.split('/').filter(|p| !p.is_empty() && *p != ".") {
        let folders = subfolders(&dir)?;
        let near = folders
            .iter()
            .find(|f| *f == part)
            .or_else(|| {
                folders
                    .iter()
                    .find(|f| f.to_lowercase() == part.to_lowercase())
            })
            .or_else(|| {
                let lower: Vec<String> = folders.iter().map(|f| f.to_lowercase()).collect();
                let known: Vec<&str> = lower.iter().map(String::as_str).collect();
                let near = crate::process::text::nearest(part, &known)?;
                folders.get(known.iter().position(|k| *k == near)?)
            })?
            .clone();
        dir = root.resolve_inside(&dir, &near).ok()?;
        found.push(near);
    }
    Some(found.join("/"))
}

/// The names of the folders in `dir` that are not hidden.
fn subfolders(dir: &Path) -> Option<Vec<String>> {
    use rustix::fs::FileType;
    let dir = crate::shared_folder::confined::open_dir(dir).ok()?;
    let is_dir = |n: &std::ffi::OsStr, kind: Option<FileType>| match kind {
        Some(k) => k == FileType::Directory,
        None => dir
            .stat(n)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
    };
    Some(
        dir.entries()
            .ok()?
            .into_iter()
            .filter(|(n, kind)| is_dir(n, *kind))
            .filter_map(|(n, _)| n.into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect(),
    )
}

/// Resolves an output folder (relative to the root): it must exist, be a folder, stay inside
/// the root and be neither the root itself nor inside `tasks/`. Returns the canonical path and
/// the path relative to the root.
fn resolve_out_folder(root: &Root, value: &str) -> Result<(PathBuf, String), PathProblem> {
    let canonical = root.resolve_inside(root.path(), value)?;
    if !canonical.is_dir() {
        return Err(PathProblem::NotADir);
    }
    if canonical == root.path() || canonical.starts_with(root.path().join(TASKS_DIR)) {
        return Err(PathProblem::Reserved);
    }
    let rel = root.rel(&canonical);
    Ok((canonical, rel))
}

/// A resolved output folder: (canonical path, path relative to the root), or why not.
type Resolved = Result<(PathBuf, String), PathProblem>;

/// Output folders already resolved during one plan: many tasks name the same few folders, and
/// resolving one costs several system calls.
#[derive(Debug, Default)]
pub struct FolderCache {
    resolved: Mutex<HashMap<String, Resolved>>,
}

impl FolderCache {
    /// Takes the output folder `value` to be the folder `path` without looking (`validate` of a
    /// file outside every shared folder, whose output folder cannot be checked).
    pub fn assume(&self, value: &str, path: PathBuf) {
        self.lock()
            .insert(value.to_string(), Ok((path, value.to_string())));
    }

    /// The output folder `value` resolved in `root` (once per value for all who share the
    /// cache): (canonical path, path relative to the root), or why not.
    pub fn resolve(&self, root: &Root, value: &str) -> Result<(PathBuf, String), PathProblem> {
        if let Some(r) = self.lock().get(value) {
            return r.clone();
        }
        let r = resolve_out_folder(root, value);
        self.lock().insert(value.to_string(), r.clone());
        r
    }

    /// The table (shared by the threads that validate a plan's tasks; a panic elsewhere
    /// leaves it whole, entries are inserted in one step).
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Resolved>> {
        self.resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub(super) fn input_file(
    field: &'static str,
    value: Option<&str>,
    task_dir: &Path,
    root: &Root,
    errors: &mut Vec<TaskError>,
) -> Option<String> {
    let value = value?;
    let bad = |problem: PathProblem| TaskError::BadPath {
        field,
        value: value.to_string(),
        problem,
        fix: super::picture::path_fix(root),
    };
    match super::picture::resolve(root, task_dir, value) {
        Ok(c) => match super::picture::check(&c) {
            Ok(()) => Some(root.rel(&c)),
            Err(reason) => {
                errors.push(TaskError::NotAPicture {
                    field,
                    value: value.to_string(),
                    reason,
                });
                None
            }
        },
        Err(problem) => {
            errors.push(bad(problem));
            None
        }
    }
}
