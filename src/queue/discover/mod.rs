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
use std::path::PathBuf;
use std::time::SystemTime;

use rayon::prelude::*;

mod candidate;
mod listing;
mod skip;
mod task_file;
use crate::queue::classify::is_hidden;
use crate::queue::lookalike;
use crate::shared_folder::files::TASKS_DIR;
pub use candidate::Known;
use candidate::Outcome;
use listing::{Candidate, Item, Lister, shown};
pub use skip::{Found, SkipReason, Skipped, skip_reason};
pub use task_file::{ReadProblem, ReadTask, TaskFile, read_task_file, read_task_stamped};

use crate::shared_folder::root::Root;

struct Walk<'a> {
    root: &'a Root,
    priority: Option<&'a str>,
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

    fn lister(&self) -> Lister<'_> {
        Lister {
            root: self.root,
            gallery: self.gallery.as_deref(),
        }
    }

    /// Takes what the listing of a folder found, in order, walking each folder reached
    /// through a link where it stands unless a link reached it before.
    fn take(&mut self, items: Vec<Item>) {
        for item in items {
            match item {
                Item::Candidate(c) => self.candidates.push(c),
                Item::Skip(path, reason) => self.skip(path, reason),
                Item::Folder(items) => self.take(items),
                Item::Linked {
                    path,
                    canonical,
                    in_tasks,
                } => {
                    if self.linked_dirs.insert(canonical) && self.gallery.as_ref() != Some(&path) {
                        let items = self.lister().tree(&path, in_tasks);
                        self.take(items);
                    }
                }
                Item::Warn(message) => tracing::warn!("{message}"),
                Item::Debug(message) => tracing::debug!("{message}"),
            }
        }
    }
}

/// The number of candidates in a listing (links not followed).
fn count(items: &[Item]) -> usize {
    items
        .iter()
        .map(|item| match item {
            Item::Candidate(_) => 1,
            Item::Folder(items) => count(items),
            _ => 0,
        })
        .sum()
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
    let lister = walk.lister();
    let listed: Vec<Vec<Item>> = tops
        .par_iter()
        .map(|(top, in_tasks)| lister.tree(top, *in_tasks))
        .collect();
    walk.candidates
        .reserve(listed.iter().map(|l| count(l)).sum());
    for items in listed {
        walk.take(items);
    }
    Ok(Walked(walk))
}

impl Walked<'_> {
    /// Reads the task files found (leaving unread those that `known` knows in their present
    /// version) and orders them as they wait.
    pub fn read(self, known: Option<Known<'_>>) -> Found {
        let mut walk = self.0;
        let candidates = std::mem::take(&mut walk.candidates);
        let outcomes = candidate::read_all(candidates, walk.priority, known);
        // The tasks take the place of the outcomes, in the same list.
        let mut found: Vec<TaskFile> = outcomes
            .into_iter()
            .filter_map(|outcome| match outcome {
                Outcome::Task(task) => Some(task),
                Outcome::Skip(path, reason) => {
                    walk.skip(path, reason);
                    None
                }
                Outcome::Gone => None,
            })
            .collect();
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
pub fn waiting_order(mut tasks: Vec<TaskFile>) -> Vec<TaskFile> {
    // Paths are unique, so the order is total and an unstable sort gives the same one. The
    // keys are sorted with the places, then each file is put in its place by following the
    // order's cycles, in the same list.
    let mut keys: Vec<(bool, SystemTime, &str, usize)> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (!t.priority, t.modified, t.rel.as_str(), i))
        .collect();
    keys.par_sort_unstable();
    // `from[k]`: the place whose file goes to place `k`; `usize::MAX` once it is there.
    let mut from: Vec<usize> = keys.into_iter().map(|k| k.3).collect();
    for start in 0..from.len() {
        let mut k = start;
        while from[k] != usize::MAX {
            let i = std::mem::replace(&mut from[k], usize::MAX);
            if i == start {
                break;
            }
            tasks.swap(k, i);
            k = i;
        }
    }
    tasks
}

#[cfg(test)]
mod tests;
