//! The notes of many tasks at once (the daytime check's first pass over a folder with
//! thousands of invalid tasks): every note is written to a hidden temporary beside its place,
//! one `syncfs` makes them all durable, then each task's notes are renamed into place (or
//! removed) under its claim, and each folder touched is flushed once.
//!
//! As safe as [`super::sync`] one task at a time: nobody ever sees half a note (a note is
//! renamed into place only once its bytes are on disk), a crash leaves the old note or the new
//! one and at most a hidden temporary, and a task another process has claimed is left alone.
//! Only the number of disk flushes differs: one for the batch and one per folder, instead of
//! one per note.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use super::actions::{Action, Change, Claim, Synced, Verdict, plan_actions, take_claim};
use crate::queue::discover::TaskFile;
use crate::shared_folder::confined::{self, Dir};

/// A task's planned changes, its new notes already written as temporaries.
struct Staged {
    /// (folder, temporary, final name) of each note to place.
    writes: Vec<(PathBuf, OsString, OsString)>,
    /// Notes to remove.
    removes: Vec<PathBuf>,
    /// The first write that failed (nothing of this task is placed then).
    failed: Option<std::io::Error>,
}

/// Brings the notes of every task in line with its verdict, as [`super::sync`] does for one,
/// with one result per task, in order.
pub fn sync_all(
    items: &[(&TaskFile, Verdict<'_>)],
    claim: Claim<'_>,
) -> Vec<std::io::Result<Synced>> {
    let mut dirs: HashMap<PathBuf, Dir> = HashMap::new();
    let mut staged: Vec<Option<Staged>> = Vec::with_capacity(items.len());
    for (file, verdict) in items {
        let actions = plan_actions(file, *verdict);
        if actions.is_empty() {
            staged.push(None);
            continue;
        }
        let mut s = Staged {
            writes: Vec::new(),
            removes: Vec::new(),
            failed: None,
        };
        for action in actions {
            match action {
                Action::Remove(path) => s.removes.push(path),
                Action::Write(path, text) => {
                    if s.failed.is_some() {
                        continue;
                    }
                    let mode = crate::outputs::lifecycle::output_mode(&file.path);
                    match stage(&mut dirs, &path, &text, mode) {
                        Ok(w) => s.writes.push(w),
                        Err(e) => s.failed = Some(e),
                    }
                }
            }
        }
        staged.push(Some(s));
    }
    // One flush for every temporary written above (they are all under one root).
    let flushed = match dirs.values().next() {
        Some(dir) => dir.sync_filesystem(),
        None => Ok(()),
    };
    let mut touched: HashMap<PathBuf, ()> = HashMap::new();
    let results = items
        .iter()
        .zip(staged)
        .map(|((file, _), s)| {
            let Some(s) = s else {
                return Ok(Synced::default());
            };
            place(file, s, claim, &flushed, &dirs, &mut touched)
        })
        .collect();
    for folder in touched.keys() {
        if let Some(Err(e)) = dirs.get(folder).map(Dir::sync) {
            tracing::warn!("cannot flush the folder {}: {e}", folder.display());
        }
    }
    results
}

/// Writes `text` as a temporary in the folder of `path`: (folder, temporary, final name).
fn stage(
    dirs: &mut HashMap<PathBuf, Dir>,
    path: &std::path::Path,
    text: &str,
    mode: u32,
) -> std::io::Result<(PathBuf, OsString, OsString)> {
    let folder = path
        .parent()
        .unwrap_or(std::path::Path::new(""))
        .to_path_buf();
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("a note path without a file name"))?
        .to_os_string();
    if !dirs.contains_key(&folder) {
        dirs.insert(folder.clone(), confined::open_dir(&folder)?);
    }
    let tmp = dirs[&folder].write_temp(".runvqgan-", text.as_bytes(), mode)?;
    Ok((folder, tmp, name))
}

/// Places one task's staged notes under its claim, or drops them.
fn place(
    file: &TaskFile,
    s: Staged,
    claim: Claim<'_>,
    flushed: &std::io::Result<()>,
    dirs: &HashMap<PathBuf, Dir>,
    touched: &mut HashMap<PathBuf, ()>,
) -> std::io::Result<Synced> {
    let drop_temps = |s: &Staged| {
        for (folder, tmp, _) in &s.writes {
            let _ = dirs[folder].remove(tmp);
        }
    };
    if let Some(e) = s.failed {
        drop_temps(&Staged { failed: None, ..s });
        return Err(e);
    }
    if let Err(e) = flushed {
        drop_temps(&s);
        return Err(std::io::Error::new(e.kind(), e.to_string()));
    }
    let held = match take_claim(file, claim) {
        Ok(held) => held,
        Err(busy) => {
            drop_temps(&s);
            return Ok(busy);
        }
    };
    let mut changes = Vec::new();
    let mut result = Ok(());
    let mut writes = s.writes.into_iter();
    for (folder, tmp, name) in writes.by_ref() {
        match dirs[&folder].rename_replace(&tmp, &name) {
            Ok(()) => {
                changes.push(Change::Wrote(folder.join(&name)));
                touched.insert(folder, ());
            }
            Err(e) => {
                let _ = dirs[&folder].remove(&tmp);
                result = Err(e);
                break;
            }
        }
    }
    for (folder, tmp, _) in writes {
        let _ = dirs[&folder].remove(&tmp);
    }
    if result.is_ok() {
        for path in s.removes {
            match super::actions::remove_note(path) {
                Ok(c) => changes.extend(c),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
    }
    if let Some(c) = held {
        c.finish();
    }
    result.map(|()| Synced {
        changes,
        busy: false,
    })
}
