//! Output numbers for a claimed task: the task is planned again from its current bytes under
//! the root's names lock, and each missing image's number is reserved with a pending marker
//! (reusing the markers an interrupted run left), so that no other run or `reproduce` picks
//! the same name. See [`crate::outputs::naming`] and [`crate::shared_folder::locks::method::ClaimMethod`].

use crate::config::Config;
use crate::engine::failure::FailureKind;
use crate::outputs::lifecycle::{self, Failure};
use crate::outputs::naming;
use crate::queue::discover::TaskFile;
use crate::queue::plan::{PlannedTask, Planner, Verdict};
use crate::shared_folder::locks::method::ClaimMethod;
use crate::shared_folder::root::Root;

/// Plans a claimed task again from its current bytes, under the names lock, and reserves
/// the numbers of its missing images with pending markers (reusing those an interrupted run
/// left). `Ok(None)`: the task file is gone. `Err`: the output folder cannot be written.
pub fn claim_task(
    task: &PlannedTask,
    root: &Root,
    config: &Config,
    claims: &ClaimMethod,
) -> Result<Option<PlannedTask>, Failure> {
    let mut file = task.file.clone();
    match file.reread() {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure {
                kind: FailureKind::TaskFile,
                message: format!("the task file cannot be read again: {e}"),
                size: None,
            });
        }
    }
    if let Some(dir) = file.path.parent() {
        lifecycle::remove_old_temporaries(dir);
    }
    let write_failure = |what: String, e: std::io::Error| Failure {
        kind: FailureKind::Write,
        message: format!("{what}: {}", describe_io(&e)),
        size: None,
    };
    let _names = claims.lock_names(root.path()).map_err(|e| {
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Failure {
                kind: FailureKind::Interrupted,
                message: e.to_string(),
                size: None,
            };
        }
        write_failure(
            "the names lock of the shared folder cannot be taken".into(),
            e,
        )
    })?;
    // A `reproduce` reserves its number without the names lock, by making its marker
    // exclusively: when it took a number this plan chose, the marker cannot be made and the
    // task is planned again, around it (the markers already made are this task's and kept).
    let mut tries = 0;
    loop {
        match plan_and_reserve(&file, root, config) {
            Err((_, e)) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 5 => {
                tries += 1;
            }
            other => return other.map_err(|(what, e)| write_failure(what, e)),
        }
    }
}

/// Plans `file` and writes the pending markers of its missing images (the names lock held).
/// `Err`: what could not be written, and why.
fn plan_and_reserve(
    file: &TaskFile,
    root: &Root,
    config: &Config,
) -> Result<Option<PlannedTask>, (String, std::io::Error)> {
    let mut fresh = Planner::new(root, config).plan_task(file);
    let Verdict::Ready(ready) = &fresh.verdict else {
        return Ok(Some(fresh));
    };
    let folder = ready.spec.out_folder.clone();
    let base = ready.spec.out_file.clone();
    let folder_rel = ready.spec.out_folder_rel.clone();
    lifecycle::remove_old_temporaries(&folder);
    if !ready.stale_pending.is_empty() {
        // Markers of this task's earlier contents, of images already made, or of tasks that
        // are gone: free their numbers, then plan again so that they can be used.
        for n in &ready.stale_pending {
            let _ = naming::remove_pending(&folder, &base, *n);
            naming::remove_stale_temporaries(&folder, &base, *n);
        }
        fresh = Planner::new(root, config).plan_task(file);
    }
    let mode = lifecycle::output_mode(&file.path);
    let Verdict::Ready(ready) = &mut fresh.verdict else {
        return Ok(Some(fresh));
    };
    for image in &mut ready.images {
        if image.reserved {
            naming::remove_stale_temporaries(&folder, &base, image.number);
            continue;
        }
        let marker = naming::Pending {
            task: file.rel.clone(),
            task_sha256: ready.sha256.clone(),
            image: image.index,
        };
        marker
            .write(&folder, &base, image.number, mode)
            .map_err(|e| {
                (
                    format!(
                        "the output folder {} cannot be written",
                        if folder_rel.is_empty() {
                            "."
                        } else {
                            folder_rel.as_str()
                        }
                    ),
                    e,
                )
            })?;
        image.reserved = true;
    }
    Ok(Some(fresh))
}

/// An I/O error in words, naming the usual causes of a write failure.
pub fn describe_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => format!("the disk is full ({e})"),
        Some(libc::EDQUOT) => format!("the disk quota is used up ({e})"),
        Some(libc::EROFS) => format!("the disk is read-only ({e})"),
        Some(libc::EACCES) | Some(libc::EPERM) => format!("permission denied ({e})"),
        _ => e.to_string(),
    }
}
