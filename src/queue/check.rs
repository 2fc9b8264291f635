//! Validating discovered task files, the same for `plan`, `check` and `run`.

use rayon::prelude::*;

use crate::config::Config;
use crate::queue::discover::TaskFile;
use crate::shared_folder::root::Root;
use crate::task::TaskError;
use crate::task::Validated;
use crate::task::validate::{FolderCache, TaskContext, check_bytes};

/// What validating one task file gives: the task, or its problems.
pub type Checked = Result<Validated, Vec<TaskError>>;

/// Validates a discovered task file exactly as `run` does (the same check for `plan`,
/// `check` and `run`): its read problem, or its contents in its place in the root.
pub fn check_task(file: &TaskFile, root: &Root, config: &Config, folders: &FolderCache) -> Checked {
    if let Some(problem) = &file.problem {
        return Err(vec![(**problem).clone()]);
    }
    let ctx = TaskContext {
        root,
        task: &file.path,
        kind: &file.kind,
        limits: &config.limits(),
        folders: Some(folders),
    };
    check_bytes(&file.bytes, &ctx)
}

/// Validates task files in parallel (each on its own), one result per file, in order.
pub fn check_all(files: &[TaskFile], root: &Root, config: &Config) -> Vec<Checked> {
    let folders = FolderCache::default();
    files
        .par_iter()
        .map(|f| check_task(f, root, config, &folders))
        .collect()
}
