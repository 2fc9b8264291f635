//! Reading the files where a task would be, once the walk has found them: each becomes a
//! task file, or a file not run and why.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use rayon::prelude::*;

use super::listing::{Candidate, shown};
use super::task_file::{ReadProblem, ReadTask, TaskFile, read_task_stamped};
use crate::queue::classify::{self, Role, SkipReason};
use crate::shared_folder::confined::mtime_of;
use crate::shared_folder::files::{ERROR_SUFFIX, WARNINGS_SUFFIX};
use crate::shared_folder::index::{FileStamp, stamp_of};
use crate::task::TaskKind;

/// The task files a caller knows already: whether the file at this path (relative to the
/// root) with this stamp is one it has seen (the owner's `check`, [`crate::queue::known`]).
/// A known file is not read again ([`TaskFile::reused`]).
pub type Known<'a> = &'a (dyn Fn(&str, &FileStamp) -> bool + Sync);

/// What became of a candidate.
pub enum Outcome {
    /// A task file.
    Task(TaskFile),
    /// Not run, and why.
    Skip(PathBuf, SkipReason),
    /// Gone meanwhile.
    Gone,
}

/// Reads every candidate (in parallel: most of a large folder's time is opening and reading
/// its task files, or looking at their status), in the walk's order.
pub fn read_all(
    candidates: Vec<Candidate>,
    priority: Option<&str>,
    known: Option<Known<'_>>,
) -> Vec<Outcome> {
    candidates
        .into_par_iter()
        .map_init(
            // The bytes of the files not read, shared (an empty `Arc` is an allocation too).
            || Arc::<[u8]>::from(&b""[..]),
            |empty, c| {
                let rel = c.folder.rel_of(c.name());
                let read = match &c.problem {
                    Some(_) => None,
                    None => match known.and_then(|k| known_stamp(&c, &rel, k)) {
                        Some((stamp, modified)) => Some(Ok(Read::Known(stamp, modified))),
                        None => {
                            Some(read_task_stamped(&c.folder.path_of(c.name())).map(Read::Read))
                        }
                    },
                };
                candidate(priority, c, rel, read, empty)
            },
        )
        .collect()
}

/// What became of a candidate that could be read.
enum Read {
    /// Read: this version.
    Read(ReadTask),
    /// Known to the caller in this version (with its modification time): not read.
    Known(FileStamp, SystemTime),
}

/// A candidate's stamp and modification time, when it is a plain file that `known` knows in
/// this version.
fn known_stamp(c: &Candidate, rel: &str, known: Known<'_>) -> Option<(FileStamp, SystemTime)> {
    if !c.plain {
        return None;
    }
    let st = c.folder.handle.stat(OsStr::new(c.name())).ok()?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return None;
    }
    let stamp = stamp_of(&st);
    known(rel, &stamp).then(|| (stamp, mtime_of(&st)))
}

/// A candidate, its contents read (`None`: not read, it has a problem): the task, or the
/// file not run and why, or gone meanwhile.
fn candidate(
    priority: Option<&str>,
    c: Candidate,
    rel: String,
    read: Option<Result<Read, ReadProblem>>,
    empty: &Arc<[u8]>,
) -> Outcome {
    let Candidate {
        folder,
        at,
        mut problem,
        plain: _,
    } = c;
    let name = folder.name(at);
    let path = folder.path_of(name);
    let stem = &name[..name.len() - 4];
    let modified_of = |path: &std::path::Path| {
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    let (bytes, modified, stamp, reused) = match read {
        None => (None, modified_of(&path), None, false),
        Some(Ok(Read::Read(r))) => (Some(r.bytes), r.modified, Some(r.stamp), false),
        Some(Ok(Read::Known(stamp, modified))) => (None, modified, Some(stamp), true),
        Some(Err(ReadProblem::Gone(_))) => return Outcome::Gone,
        Some(Err(ReadProblem::Task(p))) => {
            tracing::warn!("cannot read {}: {p}", shown(&path));
            problem = Some(Box::new(p));
            (None, modified_of(&path), None, false)
        }
    };
    let head = problem
        .is_none()
        .then(|| bytes.as_deref().unwrap_or_default());
    // A known file was a task by its content alone (a JSON object), whatever lies beside.
    if !reused
        && let Role::Skip(reason) = classify::by_content(name, head, &|other| folder.has(other, ""))
    {
        return Outcome::Skip(path, reason);
    }
    // Looked at through the folder's handle, as the walk found the folder.
    let error_modified = folder
        .has_near(at, stem, ERROR_SUFFIX)
        .then(|| {
            let error_name = format!("{stem}{ERROR_SUFFIX}");
            folder.handle.stat(OsStr::new(&error_name)).ok()
        })
        .flatten()
        .map(|st| mtime_of(&st));
    let has_warnings_file = folder.has_near(at, stem, WARNINGS_SUFFIX);
    let priority = priority.is_some_and(|p| {
        let p = p.trim_end_matches('/');
        rel.starts_with(p) && rel[p.len()..].starts_with('/')
    });
    Outcome::Task(TaskFile {
        kind: TaskKind::from_rel(&rel),
        path,
        rel,
        modified,
        priority,
        error_modified,
        has_warnings_file,
        bytes: match bytes {
            Some(b) if !b.is_empty() => b.into(),
            _ => Arc::clone(empty),
        },
        problem,
        stamp,
        reused,
        known_sha256: None,
    })
}
