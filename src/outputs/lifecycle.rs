//! What happens to a task file around a run: the text of the `_ERROR.txt` written beside an
//! invalid task or a failed one (kept in step with the task by [`crate::queue::notes`]), and the
//! `.done` rename of a finished one.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::engine::failure::FailureKind;
use crate::shared_folder::files::error_file_path;
use crate::task::Problems;

/// The text of an error file: every problem with its field and fix, then how retrying works.
pub fn error_report(problems: &Problems) -> String {
    let mut text = format!(
        "runvqgan could not run the task file {}.\n\n",
        problems.task
    );
    let n = problems.errors.len();
    for (i, e) in problems.errors.iter().enumerate() {
        let field = e
            .field()
            .map(|f| format!(" (field `{f}`)"))
            .unwrap_or_default();
        if n > 1 {
            text.push_str(&format!("Problem {} of {n}{field}:\n  {e}\n\n", i + 1));
        } else {
            text.push_str(&format!("Problem{field}:\n  {e}\n\n"));
        }
        if let Some(place) = e.excerpt() {
            text.push_str(&format!("{place}\n\n"));
        }
    }
    text.push_str(
        "Nothing runs for this task until it is fixed. Fix the task file and save it: it is \
         checked again within a few minutes and at the start of every nightly run, and this \
         file disappears once the task is fine.\n",
    );
    text
}

/// Writes `text` as the task's `_ERROR.txt`: a temporary file in the same folder, then a
/// rename, so a member never sees half an error file.
fn write_error_text(task: &Path, text: &str) -> std::io::Result<PathBuf> {
    let path = error_file_path(task);
    crate::shared_folder::atomic::write(
        &path,
        ".runvqgan-",
        text.as_bytes(),
        output_mode(task),
        crate::shared_folder::atomic::Existing::Replace,
    )?;
    Ok(path)
}

/// The permission bits for files written for a task (images, sidecars, error files): those of
/// the task file, so that whoever can read the task can read what came of it, and at least
/// `rw-r--r--` (members must be able to read their images).
pub fn output_mode(task: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let task_mode = crate::shared_folder::confined::open_read(task, true)
        .and_then(|f| f.metadata())
        .map(|m| m.permissions().mode())
        .unwrap_or(0o644);
    (task_mode & 0o666) | 0o644
}

/// Removes hidden temporary files `.runvqgan-*.tmp` older than an hour from `dir`: left by a
/// process that died while writing an error file (writing one takes milliseconds, so a file
/// that old belongs to no live process).
pub fn remove_old_temporaries(dir: &Path) {
    let Ok(handle) = crate::shared_folder::confined::open_dir(dir) else {
        return;
    };
    let Ok(listing) = handle.entries() else {
        return;
    };
    let hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
    for (entry, _) in listing {
        let Some(name) = entry.to_str() else { continue };
        if !(name.starts_with(".runvqgan-") && name.ends_with(".tmp")) {
            continue;
        }
        let old =
            crate::shared_folder::confined::modified(&dir.join(name)).is_some_and(|t| t < hour_ago);
        if old && handle.remove(&entry).is_ok() {
            tracing::info!(
                "removed a stale temporary file {}",
                dir.join(name).display()
            );
        }
    }
}

/// Marks a task finished: `name.txt` is renamed to `name.txt.done` (or `name.txt.2.done`,
/// ... when an earlier `.done` of the same name exists, so none is lost) and a stale
/// `name_ERROR.txt` and `name_WARNINGS.txt` are removed. Returns the new path.
pub fn mark_done(task: &Path) -> std::io::Result<PathBuf> {
    // Through the folder's handle, by a rename that never replaces a file.
    let (dir, os_name) = crate::shared_folder::confined::parent(task)?;
    let name = os_name.to_string_lossy().into_owned();
    let mut done = format!("{name}.done");
    let mut n = 2;
    loop {
        match dir.rename_noreplace(&os_name, std::ffi::OsStr::new(&done)) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 10_000 => {
                done = format!("{name}.{n}.done");
                n += 1;
            }
            Err(e) => return Err(e),
        }
    }
    for note in [
        error_file_path(task),
        crate::shared_folder::files::warnings_file_path(task),
    ] {
        let note_name = note
            .file_name()
            .map(|s| s.to_os_string())
            .unwrap_or_default();
        match dir.remove(&note_name) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(task.with_file_name(done))
}

/// The first line of an error file written for a failure while generating (not for an
/// invalid task). Such a file does not block the task: the next run tries the missing images
/// again, as a crash or an out-of-memory error may not happen twice.
const FAILURE_HEADER: &str = "runvqgan could not finish the task file";

/// Why generating an image failed, as the engine reported it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What kind of failure; it chooses the hint.
    pub kind: FailureKind,
    /// One line.
    pub message: String,
    /// The size that was asked for, for the out-of-memory hint.
    pub size: Option<[u32; 2]>,
}

/// The text of the error file for a task whose generation failed: the one-line reason and a
/// hint a member can act on.
pub fn failure_report(task_rel: &str, output_rel: &str, failure: &Failure) -> String {
    let making = if output_rel.is_empty() {
        "While choosing the numbers of its images".to_string()
    } else {
        format!("While making {output_rel}")
    };
    let mut text = format!(
        "{FAILURE_HEADER} {task_rel}.\n\n{making}:\n  {}\n\n",
        failure.message
    );
    let hint = match (failure.kind, failure.size) {
        (FailureKind::OutOfMemory, Some([w, h])) => format!(
            "The GPU ran out of memory at {w} x {h} pixels. Try a smaller \"resolution\", \
             for example [{}, {}], or fewer cutouts (\"raw\": \"-cuts 16\").",
            (w * 3 / 4).max(16),
            (h * 3 / 4).max(16)
        ),
        (FailureKind::OutOfMemory, None) => {
            "The GPU ran out of memory. Try a smaller \"resolution\" or fewer cutouts \
             (\"raw\": \"-cuts 16\")."
                .to_string()
        }
        (FailureKind::MemberInput, _) => {
            "A picture your task names (\"in_file\" or \"template_file\") could not be read \
             or used. Check that it exists and is a PNG or JPEG picture inside the shared \
             folder, and save the task file again."
                .to_string()
        }
        (FailureKind::Write, _) => {
            "The output folder could not be written. Ask the workstation owner \
                         to check its permissions and free space."
                .to_string()
        }
        _ => "This may be a problem of the workstation rather than of your task; the owner \
              finds the details in runvqgan.log."
            .to_string(),
    };
    text.push_str(&hint);
    text.push_str(
        "\n\nThe images already made stay. The next run tries the missing ones again; \
         change the task file if the same error comes back. This file is removed when the \
         task is done.\n",
    );
    text
}

/// Writes a [`failure_report`] as the task's `_ERROR.txt`, atomically; nothing when the task
/// file is gone (another run finished it and renamed it `.done`, or its member removed it):
/// an error file beside no task would stay for ever and tell of a failure nobody can act on.
pub fn write_failure_file(task: &Path, text: &str) -> std::io::Result<PathBuf> {
    if let Err(e) = crate::shared_folder::confined::stat_nofollow(task)
        && e.kind() == std::io::ErrorKind::NotFound
    {
        tracing::info!(
            "no error file written for {}: the task file is gone",
            crate::process::text::escape(&task.display().to_string())
        );
        return Ok(error_file_path(task));
    }
    write_error_text(task, text)
}

/// Whether the text of an error file reports a failure while generating rather than an
/// invalid task.
pub fn is_failure_text(text: &[u8]) -> bool {
    text.starts_with(FAILURE_HEADER.as_bytes())
}

/// Hex SHA-256 of a task file's bytes, recorded in sidecars to recognise a task's images.
pub fn task_sha256(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        hex.push(HEX[usize::from(b >> 4)] as char);
        hex.push(HEX[usize::from(b & 15)] as char);
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_file_sits_beside_the_task() {
        assert_eq!(
            error_file_path(Path::new("/r/tasks/dog.txt")),
            Path::new("/r/tasks/dog_ERROR.txt")
        );
    }

    #[test]
    fn mark_done_keeps_an_older_done_file() {
        let tmp = tempfile::tempdir().unwrap();
        let root = crate::shared_folder::root::Root::open(tmp.path()).unwrap();
        let dir = root.path();
        let task = dir.join("dog.txt");
        std::fs::write(&task, "new").unwrap();
        std::fs::write(dir.join("dog.txt.done"), "old").unwrap();
        std::fs::write(dir.join("dog_ERROR.txt"), "stale").unwrap();
        let done = mark_done(&task).unwrap();
        assert_eq!(done, dir.join("dog.txt.2.done"));
        assert!(!task.exists());
        assert!(!dir.join("dog_ERROR.txt").exists());
        assert_eq!(
            std::fs::read_to_string(dir.join("dog.txt.done")).unwrap(),
            "old"
        );
    }

    #[test]
    fn sha256_is_hex() {
        assert_eq!(
            task_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
