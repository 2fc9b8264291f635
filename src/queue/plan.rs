//! The whole pipeline without a GPU: discover -> read -> validate -> expand -> name. A pure
//! function of the shared folder's contents (it writes nothing), used by `plan` to show what
//! a run would do and by `run` to do it.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::outputs::naming::OutputIndex;
use crate::queue::discover::{Found, SkipReason, Skipped, TaskFile};
use crate::queue::known;
use crate::shared_folder::root::Root;
use crate::task::validate::FolderCache;
use crate::task::{Problems, TaskError, TaskSpec};

mod image;
mod name;
mod request;
pub use crate::queue::check::{Checked, check_all, check_task};
pub use image::PlannedImage;
use name::name_images;

/// What will happen to a task, as `plan --json` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Valid: its missing images will be made.
    Ok,
    /// Invalid: an `_ERROR.txt` will be written.
    Invalid,
    /// Not run: a file where a task could be that is not one (a template, notes beside a
    /// picture, ...); the reason says why.
    Skipped,
}

/// One task and what the run will do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTask {
    /// The task file.
    pub file: TaskFile,
    /// Ready, invalid or skipped, with what each needs.
    pub verdict: Verdict,
}

/// The planner's verdict on a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Valid: its missing images will be made.
    Ready(Box<ReadyTask>),
    /// Invalid: every problem, for its `_ERROR.txt`.
    Invalid(Problems),
    /// Not run, and why: a file where a task could be that is not one (a template, notes
    /// beside a picture, ...; see [`crate::queue::classify`]).
    Skipped(SkipReason),
}

/// A valid task and the images it still needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyTask {
    /// The validated task.
    pub spec: TaskSpec,
    /// Hex SHA-256 of the task file's bytes.
    pub sha256: String,
    /// Caps applied.
    pub warnings: Vec<String>,
    /// Images still to make, in expansion order (empty when all exist already).
    pub images: Vec<PlannedImage>,
    /// Expansion indices k already made for this request by an earlier, interrupted run.
    pub already_made: Vec<u32>,
    /// Which request of the task this is: 1 for a task never done; once all its images
    /// exist (it was done) and the task file is there again, the next one, whose images
    /// are made anew ([`crate::outputs::naming::REQUEST_KEY`]).
    pub request: u32,
    /// Numbers in the output folder whose pending markers are stale: they name this task
    /// with other contents or an image already made, or a task file that no longer exists.
    pub stale_pending: Vec<u32>,
}

impl ReadyTask {
    /// Whether the task came back after it was done (a `.done` renamed back): a new
    /// request, made anew.
    pub fn is_rerun(&self) -> bool {
        self.request > 1
    }

    /// What this plan is for the member, when it is more than a new task: `rerun of a done
    /// task (request 2)`, `resuming: 3 of 5 made earlier`, or both.
    pub fn history(&self) -> Option<String> {
        let total = self.spec.total_images();
        let resuming = (!self.already_made.is_empty()).then(|| {
            format!(
                "resuming: {} of {total} made earlier",
                self.already_made.len()
            )
        });
        match (self.is_rerun(), resuming) {
            (true, None) => Some(format!(
                "rerun of a done task (request {}): its images are made anew",
                self.request
            )),
            (true, Some(r)) => Some(format!(
                "rerun of a done task (request {}), {r}",
                self.request
            )),
            (false, r) => r,
        }
    }

    /// The value of the sidecar's [`crate::outputs::naming::REQUEST_KEY`] line.
    pub fn request_line(&self) -> String {
        match self.history() {
            Some(h) => format!("{} ({h})", self.request),
            None => self.request.to_string(),
        }
    }
}

impl PlannedTask {
    /// Ok, invalid or skipped.
    pub fn status(&self) -> Status {
        match self.verdict {
            Verdict::Ready(_) => Status::Ok,
            Verdict::Invalid(_) => Status::Invalid,
            Verdict::Skipped(_) => Status::Skipped,
        }
    }

    /// The images still to make (none unless ready).
    pub fn images(&self) -> &[PlannedImage] {
        match &self.verdict {
            Verdict::Ready(ready) => &ready.images,
            _ => &[],
        }
    }

    /// The caps applied (none unless ready).
    pub fn warnings(&self) -> &[String] {
        match &self.verdict {
            Verdict::Ready(ready) => &ready.warnings,
            _ => &[],
        }
    }

    /// The text for the `error` field of `plan --json` and for people: the problems of an
    /// invalid task (one per line, each naming the file), or why a task is skipped.
    pub fn error_text(&self) -> Option<String> {
        match &self.verdict {
            Verdict::Ready(_) => None,
            Verdict::Invalid(problems) => Some(problems.to_string()),
            Verdict::Skipped(reason) => Some(format!("{}: not run: {reason}", self.file.rel)),
        }
    }
}

/// What naming a task's images gives: the images to make, the request with the images
/// already made for it, and the stale pending markers.
pub(super) type Named = (Vec<PlannedImage>, (u32, Vec<u32>), Vec<u32>);

/// Plans tasks one at a time, sharing one [`OutputIndex`] so that numbers handed to one task
/// are not handed to the next.
pub struct Planner<'a> {
    root: &'a Root,
    config: &'a Config,
    index: OutputIndex,
    folders: FolderCache,
}

impl<'a> Planner<'a> {
    /// A planner for `root` with `config`.
    pub fn new(root: &'a Root, config: &'a Config) -> Planner<'a> {
        Planner {
            root,
            config,
            index: OutputIndex::new(),
            folders: FolderCache::default(),
        }
    }

    /// Plans one task file.
    pub fn plan_task(&mut self, file: &TaskFile) -> PlannedTask {
        PlannedTask {
            file: file.clone(),
            verdict: self.verdict(file),
        }
    }

    /// Plans task files already validated (`checked`, one result per file, as [`check_all`]
    /// gives them), named one after another (numbers handed to one task are not handed to
    /// the next). Only tasks of the same output folder and `out_file` share numbers: each
    /// such group is named in order, the groups side by side. The list has room for `more`
    /// entries after them (the files not run, which a plan lists last). The planner is used
    /// up: the numbers it knows are not given back to it.
    pub fn plan_checked(
        mut self,
        files: Vec<TaskFile>,
        checked: Vec<Checked>,
        more: usize,
    ) -> Vec<PlannedTask> {
        let hashes: Vec<String> = files.par_iter().map(TaskFile::sha256).collect();
        let groups = Groups::of(&checked);
        let mut listed = self.index.take_folders(&groups.folders);
        // each `out_file` with its numbers and its tasks, in order
        let mut named_groups: Vec<_> = groups
            .members
            .iter()
            .map(|(at, base, tasks)| {
                let index = match &mut listed[*at] {
                    Ok(bases) => Ok(bases.remove_entry(*base)),
                    Err(e) => Err(e.to_string()),
                };
                (*at, *base, index, &groups.tasks[tasks.clone()])
            })
            .collect();
        let root = self.root;
        let named: Vec<(usize, Result<Named, String>)> = named_groups
            .par_iter_mut()
            .flat_map_iter(|(_, base, index, tasks)| {
                let mut out = Vec::with_capacity(tasks.len());
                match index {
                    Ok(taken) => {
                        let (_, index) =
                            taken.get_or_insert_with(|| (base.to_string(), Default::default()));
                        for &i in tasks.iter() {
                            let Ok(v) = &checked[i] else { continue };
                            let named =
                                name_images(root, index, &v.spec, &files[i].rel, &hashes[i]);
                            out.push((i, Ok(named)));
                        }
                    }
                    Err(e) => out.extend(tasks.iter().map(|&i| (i, Err(e.clone())))),
                }
                out
            })
            .collect();
        // Freed before the verdicts are made: a lower peak of memory.
        drop((named_groups, listed));
        let mut by_task: Vec<Option<Result<Named, String>>> = files.iter().map(|_| None).collect();
        for (i, n) in named {
            by_task[i] = Some(n);
        }
        let mut planned = Vec::with_capacity(files.len() + more);
        files
            .into_par_iter()
            .zip(hashes)
            .zip(checked)
            .zip(by_task)
            .map(|(((file, sha256), checked), named)| PlannedTask {
                verdict: verdict_of(&file, sha256, checked, named),
                file,
            })
            .collect_into_vec(&mut planned);
        planned
    }

    fn verdict(&mut self, file: &TaskFile) -> Verdict {
        let sha256 = file.sha256();
        let checked = check_task(file, self.root, self.config, &self.folders);
        let named = checked.as_ref().ok().map(|v| {
            let (folder, base) = (&v.spec.out_folder, &v.spec.out_file);
            let mut index = self
                .index
                .take_base(folder, base)
                .map_err(|e| e.to_string())?;
            let named = name_images(self.root, &mut index, &v.spec, &file.rel, &sha256);
            self.index.put_base(folder, base, index);
            Ok(named)
        });
        verdict_of(file, sha256, checked, named)
    }
}

/// The valid tasks of a plan by output folder and `out_file`: the tasks that share numbers.
struct Groups<'c> {
    /// Each output folder once.
    folders: Vec<&'c Path>,
    /// The valid tasks' places, group after group, each group's in order.
    tasks: Vec<usize>,
    /// Each group: its folder's place in `folders`, its `out_file` and its tasks (a range of
    /// `tasks`).
    members: Vec<(usize, &'c str, Range<usize>)>,
}

impl<'c> Groups<'c> {
    fn of(checked: &'c [Checked]) -> Groups<'c> {
        // What each valid task names, gathered on all cores (each task is far from the next
        // in memory), then grouped in one pass.
        let named: Vec<(&Path, &str, usize)> = checked
            .par_iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let v = c.as_ref().ok()?;
                Some((v.spec.out_folder.as_path(), v.spec.out_file.as_str(), i))
            })
            .collect();
        let mut folders: Vec<&Path> = Vec::new();
        let mut places: HashMap<&Path, usize> = HashMap::new();
        let mut ids: HashMap<(usize, &str), usize> = HashMap::with_capacity(named.len());
        let mut members: Vec<(usize, &str, Range<usize>)> = Vec::new();
        // Each task's group; tasks one after another mostly share their folder, so `places`
        // is asked only when the folder changes.
        let mut last: Option<(&Path, usize)> = None;
        let group: Vec<usize> = named
            .iter()
            .map(|&(folder, base, _)| {
                let at = match last {
                    Some((f, at)) if f == folder => at,
                    _ => *places.entry(folder).or_insert_with(|| {
                        folders.push(folder);
                        folders.len() - 1
                    }),
                };
                last = Some((folder, at));
                let id = *ids.entry((at, base)).or_insert_with(|| {
                    members.push((at, base, 0..0));
                    members.len() - 1
                });
                members[id].2.end += 1;
                id
            })
            .collect();
        // Each group's range, then its tasks put in place in order.
        let mut next = 0;
        for (_, _, range) in &mut members {
            let len = range.end;
            *range = next..next;
            next += len;
        }
        let mut tasks = vec![0; named.len()];
        for (&(_, _, i), id) in named.iter().zip(group) {
            let range = &mut members[id].2;
            tasks[range.end] = i;
            range.end += 1;
        }
        Groups {
            folders,
            tasks,
            members,
        }
    }
}

/// The verdict on a task checked already: its images named (`named`, given for a valid
/// task: the names, or why its output folder could not be listed), or its problems.
fn verdict_of(
    file: &TaskFile,
    sha256: String,
    checked: Checked,
    named: Option<Result<Named, String>>,
) -> Verdict {
    let invalid = |errors: Vec<TaskError>| {
        Verdict::Invalid(Problems {
            task: file.rel.clone(),
            errors,
        })
    };
    let validated = match checked {
        Ok(v) => v,
        Err(errors) => return invalid(errors),
    };
    let spec = validated.spec;
    match named.expect("a valid task is named") {
        Ok((images, (request, already_made), stale_pending)) => {
            Verdict::Ready(Box::new(ReadyTask {
                spec,
                sha256,
                warnings: validated.warnings,
                images,
                already_made,
                request,
                stale_pending,
            }))
        }
        Err(e) => invalid(vec![TaskError::BadPath {
            field: "out_folder",
            value: spec.out_folder_rel.clone(),
            problem: crate::shared_folder::root::PathProblem::Missing,
            fix: format!("the folder cannot be listed ({e}); ask the workstation owner"),
        }]),
    }
}

/// A file that is not run, as a planned entry with status [`Status::Skipped`] and the reason.
pub fn skipped_entry(s: &Skipped) -> PlannedTask {
    PlannedTask {
        file: TaskFile::unread(s.path.clone(), s.rel.clone()),
        verdict: Verdict::Skipped(s.reason.clone()),
    }
}

/// Discovers, validates, expands and names every task of `root`, in processing order,
/// followed by the files not run (by path), each with its reason. Writes nothing. In the
/// owner's account, a task that the owner's last `check` knew in its present version is
/// planned from what that check kept ([`known`]), not read again.
pub fn plan(root: &Root, config: &Config) -> std::io::Result<Vec<PlannedTask>> {
    let (found, checked) = known::discover_checked(root, config)?;
    Ok(plan_found(root, config, found, checked))
}

/// [`plan`] of a root already discovered (`found`) and validated (`checked`, one result per
/// task file of `found`).
pub fn plan_found(
    root: &Root,
    config: &Config,
    found: Found,
    checked: Vec<Checked>,
) -> Vec<PlannedTask> {
    let mut planned =
        Planner::new(root, config).plan_checked(found.tasks, checked, found.skipped.len());
    planned.extend(found.skipped.iter().map(skipped_entry));
    planned
}
