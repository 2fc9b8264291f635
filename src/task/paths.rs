//! The paths a task file names: its output folder (resolved once per folder for the whole
//! plan) and its input pictures, all of which must stay inside the shared folder.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::root::{OUTPUT_DIR, PathProblem, Root, TASKS_DIR};

use super::validate::{TaskContext, TaskKind};
use super::{RawTask, TaskError};

pub(super) fn out_folder(
    raw: &RawTask,
    ctx: &TaskContext<'_>,
    errors: &mut Vec<TaskError>,
) -> Option<(PathBuf, String)> {
    let root = ctx.root;
    let (value, fix) = match (&raw.out_folder, ctx.kind) {
        (Some(v), _) => (
            v.clone(),
            "write a folder that exists in the shared folder, relative to it, such as \"output\" or your own folder".to_string(),
        ),
        (None, TaskKind::Shared) => (
            OUTPUT_DIR.to_string(),
            "the default output folder is missing; ask the workstation owner to create it, or set `out_folder`".to_string(),
        ),
        (None, TaskKind::Personal { member }) => (
            member.clone(),
            "your own folder is the default output folder; set `out_folder`".to_string(),
        ),
    };
    let bad = |problem: PathProblem, fix: String| TaskError::BadPath {
        field: "out_folder",
        value: value.clone(),
        problem,
        fix,
    };
    let resolved = match ctx.folders {
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
        Err(problem) => {
            errors.push(bad(problem, fix));
            None
        }
    }
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
    resolved: RefCell<HashMap<String, Resolved>>,
}

impl FolderCache {
    fn resolve(&self, root: &Root, value: &str) -> Result<(PathBuf, String), PathProblem> {
        if let Some(r) = self.resolved.borrow().get(value) {
            return r.clone();
        }
        let r = resolve_out_folder(root, value);
        self.resolved
            .borrow_mut()
            .insert(value.to_string(), r.clone());
        r
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
    let fix = "give the path of an image relative to the folder of this task file, e.g. \"my_photo.png\" for a file beside it".to_string();
    match root.resolve_inside(task_dir, value) {
        Ok(c) if c.is_file() => Some(root.rel(&c)),
        Ok(_) => {
            errors.push(TaskError::BadPath {
                field,
                value: value.to_string(),
                problem: PathProblem::NotAFile,
                fix,
            });
            None
        }
        Err(problem) => {
            errors.push(TaskError::BadPath {
                field,
                value: value.to_string(),
                problem,
                fix,
            });
            None
        }
    }
}
