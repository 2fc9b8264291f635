//! Listing the folders where task files may lie: one directory listing per folder and no
//! `stat` for plain files, the folders of a tree listed in parallel. What a listing finds is
//! kept in the order of a walk through the tree ([`Item`]), so that the walk takes it as if
//! it had listed each folder in turn; folders reached through links are left to the walk,
//! which enters each only once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::task_file::read_task_file;
use crate::queue::classify::{self, SkipReason, is_hidden};
use crate::queue::lookalike;
use crate::shared_folder::confined::Dir;
use crate::shared_folder::root::{PathProblem, Root};
use crate::task::TaskError;

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

/// A folder as listed.
pub struct Folder {
    /// Its path (lexically under the root; it may pass through a link that stays inside).
    pub path: PathBuf,
    /// Its path relative to the root, `/`-separated.
    pub rel: String,
    /// Its entries whose names are valid UTF-8, sorted by name.
    entries: Vec<(String, Kind)>,
    /// The handle it was listed through.
    pub handle: Dir,
}

impl Folder {
    /// The name of its entry `at`.
    pub fn name(&self, at: u32) -> &str {
        &self.entries[at as usize].0
    }

    /// Whether it holds the name `stem` followed by `suffix`.
    pub fn has(&self, stem: &str, suffix: &str) -> bool {
        self.entries
            .binary_search_by(|(n, _)| joined_cmp(n, stem, suffix))
            .is_ok()
    }

    /// [`Folder::has`], looked for from its entry `at` on: a file named after a task lies
    /// just after it (`task_a.txt`, `task_a_ERROR.txt`), and is found in a few steps.
    pub fn has_near(&self, at: u32, stem: &str, suffix: &str) -> bool {
        let (at, len) = (at as usize, self.entries.len());
        let below = |i: usize| joined_cmp(&self.entries[i].0, stem, suffix).is_lt();
        if !below(at) {
            return self.has(stem, suffix);
        }
        // Steps of growing length to a name not below the one looked for, then a binary
        // search back to `at`.
        let (mut end, mut step) = (at + 1, 1);
        while end < len && below(end) {
            step *= 2;
            end = at + step;
        }
        self.entries[at..len.min(end + 1)]
            .binary_search_by(|(n, _)| joined_cmp(n, stem, suffix))
            .is_ok()
    }

    /// The path of its entry `name`.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The path of its entry `name` relative to the root (as [`Root::rel`] gives it).
    pub fn rel_of(&self, name: &str) -> String {
        if self.rel.is_empty() {
            return name.to_string();
        }
        let mut rel = String::with_capacity(self.rel.len() + 1 + name.len());
        rel.push_str(&self.rel);
        rel.push('/');
        rel.push_str(name);
        rel
    }
}

/// How `name` compares with `stem` followed by `suffix`.
fn joined_cmp(name: &str, stem: &str, suffix: &str) -> std::cmp::Ordering {
    let (name, stem) = (name.as_bytes(), stem.as_bytes());
    let k = name.len().min(stem.len());
    name[..k].cmp(&stem[..k]).then_with(|| {
        if name.len() < stem.len() {
            std::cmp::Ordering::Less
        } else {
            name[stem.len()..].cmp(suffix.as_bytes())
        }
    })
}

/// A file where a task would be, found by a listing, read once the walk is over.
pub struct Candidate {
    /// Its folder.
    pub folder: Arc<Folder>,
    /// Its entry in the folder.
    pub at: u32,
    /// Why it cannot be read as a task (found while listing).
    pub problem: Option<Box<TaskError>>,
    /// Whether it is a plain file in its folder (not a link): its status can be looked at
    /// through the folder's handle.
    pub plain: bool,
}

impl Candidate {
    /// Its file name.
    pub fn name(&self) -> &str {
        self.folder.name(self.at)
    }
}

/// What a listing found, in the order a walk through the folders meets it.
pub enum Item {
    /// A file where a task would be.
    Candidate(Candidate),
    /// A file that is not run, and why.
    Skip(PathBuf, SkipReason),
    /// A folder inside the root reached through a link (`canonical`: where it leads), not
    /// listed: a folder reached by several links is walked once, through the first.
    Linked {
        /// The link's path.
        path: PathBuf,
        /// The folder it leads to.
        canonical: PathBuf,
        /// Whether it lies under `tasks/`.
        in_tasks: bool,
    },
    /// A folder inside, listed: what it holds.
    Folder(Vec<Item>),
    /// A warning for the log, written in the walk's order.
    Warn(String),
    /// A note for the log at debug level, written in the walk's order.
    Debug(String),
}

/// What the listing of a tree needs to know of the root.
#[derive(Clone, Copy)]
pub struct Lister<'a> {
    /// The root.
    pub root: &'a Root,
    /// The gallery's folder, never listed.
    pub gallery: Option<&'a Path>,
}

impl Lister<'_> {
    /// Lists `dir` (lexically under the root) and the folders below it, not those reached
    /// through links.
    pub fn tree(self, dir: &Path, in_tasks: bool) -> Vec<Item> {
        // Listed through the root's handle: a folder swapped for a link out of the root
        // since it was found is not listed.
        let listed =
            crate::shared_folder::confined::open_dir(dir).and_then(|d| Ok((d.entries()?, d)));
        let (listing, handle) = match listed {
            Ok(l) => l,
            Err(e) => {
                let why = crate::shared_folder::confined::describe(&e);
                return vec![Item::Warn(format!(
                    "skipping the folder {}: {why}",
                    shown(dir)
                ))];
            }
        };
        let mut items = Vec::new();
        let mut entries: Vec<(String, Kind)> = Vec::with_capacity(listing.len());
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
                    items.push(Item::Warn(format!(
                        "skipping {}: its name is not valid UTF-8; rename it",
                        shown(&dir.join(&name))
                    )));
                    if !Kind(kind).is_dir() && classify::by_name(&lossy, in_tasks).is_none() {
                        items.push(Item::Skip(dir.join(lossy), SkipReason::BadNameEncoding));
                    }
                }
            }
        }
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let folder = Arc::new(Folder {
            path: dir.to_path_buf(),
            rel: self.root.rel(dir),
            entries,
            handle,
        });
        let mut pending = Vec::new();
        for (at, (name, ft)) in folder.entries.iter().enumerate() {
            if is_hidden(name) {
                continue;
            }
            // What the name alone says (`None`: a task file's name here, the content decides).
            let by_name = classify::by_name(name, in_tasks);
            let task_name = by_name.is_none();
            let (is_dir, is_file, problem) = if ft.is_symlink() {
                let path = folder.path_of(name);
                match path.canonicalize() {
                    Ok(c) if self.root.contains(&c) => {
                        if c.is_dir() {
                            items.push(Item::Linked {
                                path,
                                canonical: c,
                                in_tasks,
                            });
                            continue;
                        }
                        (false, true, None)
                    }
                    Ok(_) => {
                        // Never followed, never written beside: listed as not run.
                        if task_name {
                            items.push(Item::Skip(path, SkipReason::LinkOutside));
                        } else {
                            items.push(Item::Debug(format!(
                                "skipping {}: a link that leads outside the shared folder",
                                shown(&path)
                            )));
                        }
                        continue;
                    }
                    Err(e) => {
                        let problem = if e.raw_os_error() == Some(libc::ELOOP) {
                            PathProblem::LinkLoop
                        } else {
                            PathProblem::Missing
                        };
                        items.push(Item::Warn(format!(
                            "skipping {}: a link: {problem}",
                            shown(&path)
                        )));
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
                let path = folder.path_of(name);
                if self.gallery != Some(path.as_path()) {
                    pending.push((items.len(), path));
                    items.push(Item::Folder(Vec::new()));
                }
                continue;
            }
            if !is_file {
                continue;
            }
            if let Some(reason) = by_name {
                // Quiet reasons are looked at again: a file that looks like a task is listed.
                let head = || read_task_file(&folder.path_of(name)).ok().map(|(b, _)| b);
                let beside = |other: &str| folder.has(other, "");
                let reason =
                    lookalike::refine(&reason, name, in_tasks, &beside, &head).unwrap_or(reason);
                // A file passed over in silence is only named in the log's finest level.
                if !reason.is_silent() || tracing::enabled!(tracing::Level::TRACE) {
                    items.push(Item::Skip(folder.path_of(name), reason));
                }
                continue;
            }
            items.push(Item::Candidate(Candidate {
                folder: Arc::clone(&folder),
                at: at as u32,
                problem: problem.map(Box::new),
                plain: ft.is_file(),
            }));
        }
        // The folders below are listed in parallel, each where the walk meets it.
        let listed: Vec<Vec<Item>> = pending
            .par_iter()
            .map(|(_, path)| self.tree(path, in_tasks))
            .collect();
        for ((at, _), sub) in pending.into_iter().zip(listed) {
            items[at] = Item::Folder(sub);
        }
        items
    }
}

/// A path for a log line, its control characters escaped (a member chose its name).
pub fn shown(path: &Path) -> String {
    crate::process::text::escape(&path.display().to_string())
}
