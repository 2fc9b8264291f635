//! What the owner's `check` knew of each task file at its last pass, so that the daytime
//! check (every five minutes) reads and validates only the task files that changed since.
//!
//! The knowledge is an index in the owner's state ([`crate::shared_folder::index`], the file
//! [`CHECK_INDEX`]) keyed by each task file's path and stamp (device, inode, size,
//! modification and change time: any write, rename over it or `chmod` changes it), under a
//! context of the program's version and the configuration (a new cap changes every verdict).
//! An entry holds the task's verdict and what the verdict depended on besides the file's
//! bytes: the output folder it names and what that resolved to. A task is taken as known
//! only when its stamp is the same and its output folder still resolves the same way;
//! otherwise it is read and validated again.
//!
//! Some verdicts depend on more than that and are never kept, so those tasks are validated
//! on every pass as before: a task that names a picture (`in_file`, `template_file`: the
//! picture may change), one whose problems are about a path (a missing folder's "did you
//! mean" names its neighbours), a file that is not a JSON object (whether it is a task at all
//! depends on the files beside it), and a file that could not be read.
//!
//! The notes beside a task do not depend on the index: they are brought up to date on every
//! pass from the verdict, known or new ([`crate::queue::notes::sync_all`]), so a note a
//! member removed or edited is written again. A member's `check` cannot open the owner's
//! state: it reads every file, as before.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::outputs::lifecycle::error_report;
use crate::queue::check::{Checked, check_task};
use crate::queue::classify::holds_json_object;
use crate::queue::discover::{Found, Known, TaskFile, walk};
use crate::queue::notes::Verdict;
use crate::shared_folder::files::CHECK_INDEX;
use crate::shared_folder::index::{FileStamp, Index, context_digest};
use crate::shared_folder::root::Root;
use crate::shared_folder::state::StateDir;
use crate::task::validate::FolderCache;
use crate::task::{Problems, TaskError, TaskSpec, Validated, out_folder_value};

mod view;

use view::{KnownVerdictView, KnownView, resolution, resolution_seen, standing};

/// What a pass of `check` keeps of one version of a task file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownTask {
    /// Hex SHA-256 of the file's bytes (what the queue page's digest takes of it).
    pub sha256: String,
    /// The output folder as the task names it (or its default), and a digest of what it
    /// resolved to.
    pub out_folder: Option<(String, [u8; 16])>,
    /// Valid or invalid, with what the notes and the queue page show of it.
    pub verdict: KnownVerdict,
}

/// A known task's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KnownVerdict {
    /// Valid: its warnings (maybe none), its output folder (canonical) and the task as
    /// validated ([`TaskSpec`] in postcard, read only when a plan is made from it: `plan`
    /// and the queue page, which then need not read the file).
    Valid {
        /// One sentence per cap applied.
        warnings: Vec<String>,
        /// The output folder.
        out_folder: PathBuf,
        /// The [`TaskSpec`], encoded (kept as bytes: loading the index copies them).
        #[serde(with = "serde_bytes")]
        spec: Vec<u8>,
    },
    /// Invalid: its error file's text.
    Invalid {
        /// The `_ERROR.txt` text.
        report: String,
    },
}

impl From<&KnownView<'_>> for KnownTask {
    fn from(view: &KnownView<'_>) -> KnownTask {
        let verdict = match &view.verdict {
            KnownVerdictView::Valid {
                warnings,
                out_folder,
                spec,
            } => KnownVerdict::Valid {
                warnings: warnings.iter().map(|w| w.to_string()).collect(),
                out_folder: PathBuf::from(out_folder),
                spec: spec.to_vec(),
            },
            KnownVerdictView::Invalid { report } => KnownVerdict::Invalid {
                report: report.to_string(),
            },
        };
        KnownTask {
            sha256: view.sha256.to_string(),
            out_folder: (view.out_folder).map(|(value, digest)| (value.to_string(), digest)),
            verdict,
        }
    }
}

/// One task's verdict in a pass: validated now, or known from an earlier pass.
#[derive(Debug)]
pub enum Outcome {
    /// Read and validated in this pass: valid.
    Valid(Validated),
    /// Read and validated in this pass: invalid.
    Invalid(Problems),
    /// Known in this version from an earlier pass; not read.
    Known(KnownTask),
}

impl Outcome {
    fn checked(file: &TaskFile, checked: Checked) -> Outcome {
        match checked {
            Ok(v) => Outcome::Valid(v),
            Err(errors) => Outcome::Invalid(Problems {
                task: file.rel.clone(),
                errors,
            }),
        }
    }

    /// What the task's notes are made from.
    pub fn verdict(&self) -> Verdict<'_> {
        match self {
            Outcome::Valid(v) => Verdict::Valid(&v.warnings),
            Outcome::Invalid(p) => Verdict::Invalid(p),
            Outcome::Known(k) => match &k.verdict {
                KnownVerdict::Valid { warnings, .. } => Verdict::Valid(warnings),
                KnownVerdict::Invalid { report } => Verdict::Reported(report),
            },
        }
    }

    /// What the queue page's digest takes of the task: its bytes' hash, its verdict as text
    /// (the warnings, or the error file's text) and its output folder when valid. The same
    /// for a task read now and for one known from an earlier pass.
    pub fn digest_parts(&self, file: &TaskFile) -> (Cow<'_, str>, Cow<'_, str>, Option<&PathBuf>) {
        let warnings = |w: &[String]| match w {
            [] => Cow::Borrowed(""),
            w => Cow::Owned(w.join("\n")),
        };
        match self {
            Outcome::Valid(v) => (
                Cow::Owned(file.sha256()),
                warnings(&v.warnings),
                Some(&v.spec.out_folder),
            ),
            Outcome::Invalid(p) => (Cow::Owned(file.sha256()), Cow::Owned(error_report(p)), None),
            Outcome::Known(k) => match &k.verdict {
                KnownVerdict::Valid {
                    warnings: w,
                    out_folder,
                    ..
                } => (Cow::Borrowed(&k.sha256), warnings(w), Some(out_folder)),
                KnownVerdict::Invalid { report } => {
                    (Cow::Borrowed(&k.sha256), Cow::Borrowed(report), None)
                }
            },
        }
    }
}

/// The owner's index of task files as last checked under `config` (empty when there is
/// none, or it is of another version or configuration: every task is read).
pub fn load(state: &StateDir, config: &Config) -> Index<KnownTask> {
    Index::load(state, CHECK_INDEX, &context(config))
}

/// The shape of what the index keeps ([`KnownTask`]): changed with it, so that an index of
/// another shape within one version loads as empty rather than misread.
const SHAPE: &str = "2: a valid task's validated spec";

/// What every verdict depends on besides the task and its output folder.
fn context(config: &Config) -> String {
    let config = format!("{config:?}");
    context_digest([
        env!("CARGO_PKG_VERSION").as_bytes(),
        SHAPE.as_bytes(),
        config.as_bytes(),
    ])
}

/// Each task's verdict, in order: a task discovered unread ([`TaskFile::reused`]) whose
/// output folder still resolves as it did is known from `index`; every other one is read
/// (again, if it was not) and validated. `files` are brought up to date where a file was
/// read again. Output folders are resolved through `folders`, which [`remember`] is given
/// too, so that what it keeps of a folder is what the verdict saw.
pub fn outcomes(
    files: &mut [TaskFile],
    root: &Root,
    config: &Config,
    index: Option<&Index<KnownTask>>,
    folders: &FolderCache,
) -> Vec<Outcome> {
    files
        .par_iter_mut()
        .map_init(HashMap::new, |seen, file| {
            let now = |value| resolution_seen(seen, folders, root, value);
            match standing(file, entry(index, file), now) {
                Some(known) => Outcome::Known(KnownTask::from(&known)),
                None => Outcome::checked(file, check_task(file, root, config, folders)),
            }
        })
        .collect()
}

/// The entry of `file` in `index`, read in place, when it was discovered unread.
fn entry<'i>(index: Option<&'i Index<KnownTask>>, file: &TaskFile) -> Option<KnownView<'i>> {
    let (index, stamp) = index.zip(file.stamp).filter(|_| file.reused)?;
    index.view(&file.rel, &stamp)
}

/// Records in `index` the verdicts of this pass's tasks that were read and may be kept (see
/// the module's documentation for those that may not). `folders` is the cache the verdicts
/// were made with ([`outcomes`]): an output folder is kept as the validation resolved it,
/// even if it changed since.
pub fn remember(
    index: &mut Index<KnownTask>,
    files: &[TaskFile],
    outcomes: &[Outcome],
    root: &Root,
    folders: &FolderCache,
) {
    let kept: Vec<(String, _, KnownTask)> = files
        .par_iter()
        .zip(outcomes)
        .filter_map(|(file, outcome)| {
            let stamp = file.stamp?;
            keep(file, outcome, root, folders).map(|k| (file.rel.clone(), stamp, k))
        })
        .collect();
    for (rel, stamp, known) in kept {
        index.insert(rel, stamp, known);
    }
}

/// What to keep of a task read in this pass, if it may be kept.
fn keep(
    file: &TaskFile,
    outcome: &Outcome,
    root: &Root,
    folders: &FolderCache,
) -> Option<KnownTask> {
    if file.reused || file.problem.is_some() || !holds_json_object(&file.bytes) {
        return None;
    }
    let verdict = match outcome {
        Outcome::Known(_) => return None,
        Outcome::Valid(v) => KnownVerdict::Valid {
            warnings: v.warnings.clone(),
            out_folder: v.spec.out_folder.clone(),
            spec: postcard::to_stdvec(&v.spec).ok()?,
        },
        Outcome::Invalid(p) => {
            let about_a_path = p
                .errors
                .iter()
                .any(|e| matches!(e, TaskError::BadPath { .. } | TaskError::NotAPicture { .. }));
            if about_a_path {
                return None;
            }
            KnownVerdict::Invalid {
                report: error_report(p),
            }
        }
    };
    // What the verdict took from outside the file: the output folder it names.
    let out_folder = match crate::task::schema::parse(&file.bytes) {
        Ok((raw, _)) => {
            if raw.in_file.is_some() || raw.template_file.is_some() {
                return None;
            }
            let value = out_folder_value(&raw, &file.kind);
            let resolved = resolution(folders, root, &value);
            Some((value, resolved))
        }
        Err(_) => None,
    };
    Some(KnownTask {
        sha256: file.sha256(),
        out_folder,
        verdict,
    })
}

/// Every task's validation as [`crate::queue::check::check_all`] gives it, for planning the
/// night (`plan`, the queue page): a known valid task as its check kept it (unread: its hash
/// is [`TaskFile::sha256`]); a known invalid one is read and validated now, for its problems
/// one by one (`files` are brought up to date with their bytes).
pub fn into_checked(
    files: &mut [TaskFile],
    outcomes: Vec<Outcome>,
    root: &Root,
    config: &Config,
) -> Vec<Checked> {
    let folders = FolderCache::default();
    files
        .par_iter_mut()
        .zip(outcomes)
        .map(|(file, outcome)| match outcome {
            Outcome::Valid(v) => Ok(v),
            Outcome::Invalid(p) => Err(p.errors),
            Outcome::Known(KnownTask {
                verdict: KnownVerdict::Valid { warnings, spec, .. },
                ..
            }) if let Ok(spec) = postcard::from_bytes::<TaskSpec>(&spec) => {
                Ok(Validated { spec, warnings })
            }
            Outcome::Known(_) => {
                let _ = file.reread();
                check_task(file, root, config, &folders)
            }
        })
        .collect()
}

/// The owner's index of task files as last checked, for a command that only reads it
/// (`plan`): `None` for another account (a member), or when the state folder is not made
/// yet (it is not made here).
pub fn load_to_read(root: &Root, config: &Config) -> Option<Index<KnownTask>> {
    let state_path = root.path().join(crate::shared_folder::files::STATE_DIR);
    std::fs::symlink_metadata(state_path).ok()?;
    StateDir::open(root.path()).ok().map(|s| load(&s, config))
}

/// One pass over the shared folder with the owner's index: what was found, each task's
/// outcome, the index the pass used (`None`: every task read) and the output folders as the
/// outcomes resolved them (for [`remember`]).
pub struct Pass {
    /// The index (loaded while the folders were listed).
    pub index: Option<Index<KnownTask>>,
    /// The task files and the files not run.
    pub found: Found,
    /// Each task's outcome, in the order of `found.tasks`.
    pub outcomes: Vec<Outcome>,
    /// The output folders as resolved for the outcomes.
    pub folders: FolderCache,
}

/// Discovers the tasks of `root` and gives each its outcome ([`outcomes`]), with the index
/// that `load` gives: a task it knows in its present version is neither read nor validated
/// again.
pub fn pass(
    root: &Root,
    config: &Config,
    load: impl FnOnce() -> Option<Index<KnownTask>> + Send,
) -> std::io::Result<Pass> {
    let (index, mut found) = discover(root, config, load)?;
    let folders = FolderCache::default();
    let outcomes = outcomes(&mut found.tasks, root, config, index.as_ref(), &folders);
    Ok(Pass {
        index,
        found,
        outcomes,
        folders,
    })
}

/// What `root` holds, and the index that `load` gives (loaded on one core while the
/// folders are listed on the other): a task file that the index knows in its present
/// version is not read ([`TaskFile::reused`]).
fn discover(
    root: &Root,
    config: &Config,
    load: impl FnOnce() -> Option<Index<KnownTask>> + Send,
) -> std::io::Result<(Option<Index<KnownTask>>, Found)> {
    let (index, walked) = rayon::join(load, || walk(root, config));
    let walked = walked?;
    let knows = |rel: &str, stamp: &FileStamp| index.as_ref().is_some_and(|i| i.knows(rel, stamp));
    let known: Option<Known<'_>> = index.is_some().then_some(&knows);
    let found = walked.read(known);
    Ok((index, found))
}

/// Discovers and validates every task of `root` as [`crate::queue::plan::plan`] plans them:
/// with the owner's index ([`load_to_read`]), a task known in its present version is
/// neither read nor validated again. What [`pass`] then [`into_checked`] give, in one pass
/// over the tasks that reads each known entry once, in place.
pub fn discover_checked(root: &Root, config: &Config) -> std::io::Result<(Found, Vec<Checked>)> {
    let (index, mut found) = discover(root, config, || load_to_read(root, config))?;
    let folders = FolderCache::default();
    // A known invalid task is validated again as `into_checked` does, with folders of its own.
    let again = FolderCache::default();
    let checked = (found.tasks.par_iter_mut())
        .map_init(HashMap::new, |seen, file| {
            let now = |value| resolution_seen(seen, &folders, root, value);
            let Some(known) = standing(file, entry(index.as_ref(), file), now) else {
                return check_task(file, root, config, &folders);
            };
            match known.validated() {
                Some(validated) => Ok(validated),
                // Invalid: read and validated now, for its problems one by one.
                None => {
                    let _ = file.reread();
                    check_task(file, root, config, &again)
                }
            }
        })
        .collect();
    let unread = found.tasks.iter().filter(|f| f.reused).count();
    tracing::debug!(
        "{unread} task file(s) planned as the owner's last check knew them, {} read and validated",
        found.tasks.len() - unread
    );
    Ok((found, checked))
}

#[cfg(test)]
mod tests;
