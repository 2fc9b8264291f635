//! Finding task files in the shared folder, and the order they run in.
//!
//! Task files are every `*.txt` under `<root>/tasks/` and every `task_*.txt` under any other
//! top-level folder (a member's folder), at any depth, that [`crate::queue::classify`] takes for a
//! task: decided by content where the name is ambiguous. runvqgan's own files (sidecars,
//! error and warnings files, `.done`) and hidden files are passed over in silence; every other
//! file not run (templates, notes beside a picture, a link out of the root, ...) is returned
//! in [`Found::skipped`] with its reason.
//!
//! Order ([`waiting_order`]): first the tasks in the priority folder, then every other task,
//! each group oldest first. "Oldest" is the file's modification time; ties are broken by the
//! path. This is the order tasks wait in; the night takes them by a fair share of its time
//! ([`crate::queue::fair`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rayon::prelude::*;

mod skip;
mod task_file;
use crate::queue::classify::{self, Role, is_hidden};
use crate::queue::lookalike;
use crate::shared_folder::files::{ERROR_SUFFIX, TASKS_DIR, WARNINGS_SUFFIX};
pub use skip::{Found, SkipReason, Skipped, skip_reason};
pub use task_file::{ReadProblem, ReadTask, TaskFile, read_task_file, read_task_stamped};

use crate::shared_folder::confined::Dir;
use crate::shared_folder::index::{FileStamp, stamp_of};
use crate::shared_folder::root::Root;
use crate::task::{TaskError, TaskKind};

/// The task files a caller knows already: whether the file at this path (relative to the
/// root) with this stamp is one it has seen (the owner's `check`, [`crate::queue::known`]).
/// A known file is not read again ([`TaskFile::reused`]).
pub type Known<'a> = &'a (dyn Fn(&str, &FileStamp) -> bool + Sync);

/// The type of a folder entry, as the listing (or `lstat`) gave it.
#[derive(Debug, Clone, Copy)]
struct Kind(rustix::fs::FileType);

impl Kind {
    fn is_symlink(&self) -> bool {
        self.0 == rustix::fs::FileType::Symlink
    }
    fn is_dir(&self) -> bool {
        self.0 == rustix::fs::FileType::Directory
    }
    fn is_file(&self) -> bool {
        self.0 == rustix::fs::FileType::RegularFile
    }
    fn name(&self) -> &'static str {
        crate::shared_folder::confined::kind_name(self.0)
    }
}

struct Walk<'a> {
    root: &'a Root,
    priority: Option<&'a str>,
    found: Vec<TaskFile>,
    skipped: Vec<Skipped>,
    /// Files where a task would be, to read once the walk is over.
    candidates: Vec<Candidate>,
    /// Canonical folders entered through links (guards against link loops).
    linked_dirs: HashSet<PathBuf>,
    /// The gallery's folder: runvqgan's own pages, never walked (its `task.schema.json`
    /// is no task, and 100,000 thumbnails are not listed on every pass).
    gallery: Option<PathBuf>,
}

impl Walk<'_> {
    /// Records a file that is not run, unless it is one passed over in silence.
    fn skip(&mut self, path: PathBuf, reason: SkipReason) {
        if reason.is_silent() {
            tracing::trace!("skipping {}: {reason}", shown(&path));
            return;
        }
        tracing::debug!("not run: {}: {reason}", shown(&path));
        self.skipped.push(Skipped {
            rel: self.root.rel(&path),
            path,
            reason,
        });
    }

    /// Walks `dir` (lexically under the root) with one directory listing per folder and no
    /// `stat` for plain files until one is a candidate.
    fn dir(&mut self, dir: &Path, in_tasks: bool) {
        // Listed through the root's handle: a folder swapped for a link out of the root
        // since it was found is not listed.
        let listed =
            crate::shared_folder::confined::open_dir(dir).and_then(|d| Ok((d.entries()?, d)));
        let (listing, handle) = match listed {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(
                    "skipping the folder {}: {}",
                    shown(dir),
                    crate::shared_folder::confined::describe(&e)
                );
                return;
            }
        };
        let mut entries: Vec<(String, Kind)> = Vec::new();
        for (name, kind) in listing {
            let kind = match kind {
                Some(k) => k,
                None => match handle.stat(&name) {
                    Ok(st) => rustix::fs::FileType::from_raw_mode(st.st_mode),
                    Err(_) => continue,
                },
            };
            match name.into_string() {
                Ok(name) => entries.push((name, Kind(kind))),
                Err(name) => {
                    let lossy = name.to_string_lossy().into_owned();
                    tracing::warn!(
                        "skipping {}: its name is not valid UTF-8; rename it",
                        shown(&dir.join(&name))
                    );
                    if !Kind(kind).is_dir() && classify::by_name(&lossy, in_tasks).is_none() {
                        self.skip(dir.join(lossy), SkipReason::BadNameEncoding);
                    }
                }
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let handle = Arc::new(handle);
        let names: Arc<HashSet<String>> =
            Arc::new(entries.iter().map(|(n, _)| n.clone()).collect());
        for (name, ft) in &entries {
            if is_hidden(name) {
                continue;
            }
            let path = dir.join(name);
            // What the name alone says (`None`: a task file's name here, the content decides).
            let by_name = classify::by_name(name, in_tasks);
            let task_name = by_name.is_none();
            let (is_dir, is_file, problem) = if ft.is_symlink() {
                match path.canonicalize() {
                    Ok(c) if self.root.contains(&c) => {
                        if c.is_dir() {
                            if !self.linked_dirs.insert(c) {
                                continue;
                            }
                            (true, false, None)
                        } else {
                            (false, true, None)
                        }
                    }
                    Ok(_) => {
                        // Never followed, never written beside: listed as not run.
                        if task_name {
                            self.skip(path, SkipReason::LinkOutside);
                        } else {
                            tracing::debug!(
                                "skipping {}: a link that leads outside the shared folder",
                                shown(&path)
                            );
                        }
                        continue;
                    }
                    Err(e) => {
                        let problem = if e.raw_os_error() == Some(libc::ELOOP) {
                            crate::shared_folder::root::PathProblem::LinkLoop
                        } else {
                            crate::shared_folder::root::PathProblem::Missing
                        };
                        tracing::warn!("skipping {}: a link: {problem}", shown(&path));
                        (false, task_name, Some(TaskError::BadLink { problem }))
                    }
                }
            } else if ft.is_dir() && task_name && name.to_lowercase().ends_with(".txt") {
                // A folder named like a task file: tell its owner rather than walk into it.
                (false, true, Some(TaskError::NotAFile { what: "a folder" }))
            } else if !ft.is_dir() && !ft.is_file() {
                (
                    false,
                    task_name,
                    Some(TaskError::NotAFile { what: ft.name() }),
                )
            } else {
                (ft.is_dir(), ft.is_file(), None)
            };
            if is_dir {
                if self.gallery.as_ref() != Some(&path) {
                    self.dir(&path, in_tasks);
                }
                continue;
            }
            if !is_file {
                continue;
            }
            if let Some(reason) = by_name {
                // Quiet reasons are looked at again: a file that looks like a task is listed.
                let head = || read_task_file(&path).ok().map(|(bytes, _)| bytes);
                let beside = |other: &str| names.contains(other);
                let reason =
                    lookalike::refine(&reason, name, in_tasks, &beside, &head).unwrap_or(reason);
                self.skip(path, reason);
                continue;
            }
            self.candidates.push(Candidate {
                path,
                name: name.clone(),
                problem,
                names: Arc::clone(&names),
                dir: ft.is_file().then(|| Arc::clone(&handle)),
            });
        }
    }

    /// Reads every candidate (in parallel: most of a large folder's time is opening and
    /// reading its task files) and keeps those that are tasks, in the walk's order.
    fn read_candidates(&mut self, known: Option<Known<'_>>) {
        let (root, priority) = (self.root, self.priority);
        let read: Vec<_> = std::mem::take(&mut self.candidates)
            .into_par_iter()
            .map(|c| {
                let rel = root.rel(&c.path);
                let read = match &c.problem {
                    Some(_) => None,
                    None => match known.and_then(|k| c.known_stamp(&rel, k)) {
                        Some((stamp, modified)) => Some(Ok(Read::Known(stamp, modified))),
                        None => Some(read_task_stamped(&c.path).map(Read::Read)),
                    },
                };
                candidate(priority, c, rel, read)
            })
            .collect();
        for found in read {
            match found {
                Some(Ok(task)) => self.found.push(task),
                Some(Err((path, reason))) => self.skip(path, reason),
                None => {}
            }
        }
    }
}

/// A candidate task file, its contents read (`None`: not read, it has a problem): the task,
/// or the file not run and why (`None`: gone meanwhile).
fn candidate(
    priority: Option<&str>,
    c: Candidate,
    rel: String,
    read: Option<Result<Read, ReadProblem>>,
) -> Option<Result<TaskFile, (PathBuf, SkipReason)>> {
    let Candidate {
        path,
        name,
        mut problem,
        names,
        dir: _,
    } = c;
    let stem = &name[..name.len() - 4];
    let modified_of = |path: &Path| {
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    let (bytes, modified, stamp, reused) = match read {
        None => (Vec::new(), modified_of(&path), None, false),
        Some(Ok(Read::Read(r))) => (r.bytes, r.modified, Some(r.stamp), false),
        Some(Ok(Read::Known(stamp, modified))) => (Vec::new(), modified, Some(stamp), true),
        Some(Err(ReadProblem::Gone(_))) => return None,
        Some(Err(ReadProblem::Task(p))) => {
            tracing::warn!("cannot read {}: {p}", shown(&path));
            problem = Some(p);
            (Vec::new(), modified_of(&path), None, false)
        }
    };
    let head = problem.is_none().then_some(bytes.as_slice());
    // A known file was a task by its content alone (a JSON object), whatever lies beside.
    if !reused
        && let Role::Skip(reason) =
            classify::by_content(&name, head, &|other| names.contains(other))
    {
        return Some(Err((path, reason)));
    }
    let dir = path.parent().unwrap_or(Path::new(""));
    let error_name = format!("{stem}{}", ERROR_SUFFIX);
    let error_modified = names
        .contains(error_name.as_str())
        .then(|| crate::shared_folder::confined::modified(&dir.join(&error_name)))
        .flatten();
    let has_warnings_file = names.contains(format!("{stem}{}", WARNINGS_SUFFIX).as_str());
    let priority = priority.is_some_and(|p| {
        let p = p.trim_end_matches('/');
        rel.starts_with(p) && rel[p.len()..].starts_with('/')
    });
    Some(Ok(TaskFile {
        kind: TaskKind::from_rel(&rel),
        path,
        rel,
        modified,
        priority,
        error_modified,
        has_warnings_file,
        bytes: bytes.into(),
        problem: problem.map(Box::new),
        stamp,
        reused,
        known_sha256: None,
    }))
}

/// What became of a candidate that could be read.
enum Read {
    /// Read: this version.
    Read(ReadTask),
    /// Known to the caller in this version (with its modification time): not read.
    Known(FileStamp, SystemTime),
}

/// A file where a task would be, found by the walk, read after it.
struct Candidate {
    path: PathBuf,
    name: String,
    /// Why it cannot be read as a task (found while walking).
    problem: Option<TaskError>,
    /// The names in its folder (a note beside it, a picture it belongs to).
    names: Arc<HashSet<String>>,
    /// Its folder, when it is a plain file there (not a link): to look at its status.
    dir: Option<Arc<Dir>>,
}

impl Candidate {
    /// Its stamp and modification time, when it is a plain file that `known` knows in this
    /// version.
    fn known_stamp(&self, rel: &str, known: Known<'_>) -> Option<(FileStamp, SystemTime)> {
        let st = self.dir.as_ref()?.stat(self.name.as_ref()).ok()?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
            return None;
        }
        let stamp = stamp_of(&st);
        known(rel, &stamp).then(|| (stamp, crate::shared_folder::confined::mtime_of(&st)))
    }
}

/// A path for a log line, its control characters escaped (a member chose its name).
fn shown(path: &Path) -> String {
    crate::process::text::escape(&path.display().to_string())
}

/// The shared folder walked, its task files not read yet: what [`walk`] gives, so that a
/// caller can load what it knows of them meanwhile.
pub struct Walked<'a>(Walk<'a>);

/// Finds the task files of `root` as `config` sets it up (its priority folder, its gallery,
/// which is not walked), without reading them yet: [`Walked::read`] reads them and gives
/// them in processing order, with the files where a task could be that are not run and why.
pub fn walk<'a>(root: &'a Root, config: &'a crate::config::Config) -> std::io::Result<Walked<'a>> {
    let mut walk = Walk {
        root,
        priority: config.priority_folder.as_deref(),
        found: Vec::new(),
        skipped: Vec::new(),
        candidates: Vec::new(),
        linked_dirs: HashSet::new(),
        gallery: config.gallery_dir().map(|g| root.path().join(g)),
    };
    let mut tops: Vec<(PathBuf, bool)> = Vec::new();
    for entry in std::fs::read_dir(root.path())? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_hidden(&name) {
            continue;
        }
        let path = entry.path();
        let inside = path
            .canonicalize()
            .is_ok_and(|c| root.contains(&c) && c.is_dir());
        if inside && walk.gallery.as_ref() == Some(&path) {
            continue;
        }
        if inside {
            tops.push((path, name == TASKS_DIR));
        } else if entry.file_type().is_ok_and(|t| t.is_file())
            && let Some(reason) = lookalike::in_root(&name)
        {
            walk.skip(path, reason);
        }
    }
    tops.sort();
    for (top, in_tasks) in tops {
        walk.dir(&top, in_tasks);
    }
    Ok(Walked(walk))
}

impl Walked<'_> {
    /// Reads the task files found (leaving unread those that `known` knows in their present
    /// version) and orders them as they wait.
    pub fn read(self, known: Option<Known<'_>>) -> Found {
        let mut walk = self.0;
        walk.read_candidates(known);
        let mut found = walk.found;
        if !walk.linked_dirs.is_empty() {
            // A file reachable through a link inside the root is taken once, by its first path.
            let mut seen = HashSet::new();
            found.retain(|t| seen.insert(t.path.canonicalize().unwrap_or_else(|_| t.path.clone())));
        }
        let mut skipped = walk.skipped;
        skipped.sort_by(|a, b| a.rel.cmp(&b.rel));
        Found {
            tasks: waiting_order(found),
            skipped,
        }
    }
}

/// Orders tasks as they wait: the priority folder first, then the rest, each oldest first.
pub fn waiting_order(tasks: Vec<TaskFile>) -> Vec<TaskFile> {
    // Paths are unique, so the order is total and an unstable sort gives the same one. The
    // places are sorted, then each file moved once (not moved around by the sort).
    let key = |t: &TaskFile| (!t.priority, t.modified);
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (&tasks[a], &tasks[b]);
        key(a).cmp(&key(b)).then_with(|| a.rel.cmp(&b.rel))
    });
    let mut tasks: Vec<Option<TaskFile>> = tasks.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| tasks[i].take().expect("each place once"))
        .collect()
}

#[cfg(test)]
mod tests;
