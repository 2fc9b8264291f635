//! Every name runvqgan gives a file or folder of its own in the shared folder, in one place:
//! the folders of the layout, the owner's state folder and what it holds, the locks, and the
//! files written beside a task (claims, leases, notes, the `.done` rename). Whoever writes,
//! skips or recognises one of these files takes its name from here.

use std::path::{Path, PathBuf};

/// The owner's state folder at the top of the root: events, run summaries, speeds, the
/// device and gallery locks. Hidden from members' listings.
pub const STATE_DIR: &str = ".runvqgan";

/// The name of the optional configuration file at the top of the root.
pub const CONFIG_FILE: &str = "runvqgan.toml";

/// The folder of shared task files.
pub const TASKS_DIR: &str = "tasks";

/// The common output folder, the default `out_folder` of tasks in `tasks/`.
pub const OUTPUT_DIR: &str = "output";

/// The gallery's folder inside the root when none is configured.
pub const GALLERY_DIR: &str = "gallery";

/// Where the record of events lives, relative to the root.
pub const EVENTS_FILE: &str = ".runvqgan/events.jsonl";

/// The folder of run summaries, relative to the root.
pub const RUNS_DIR: &str = ".runvqgan/runs";

/// The file of measured speeds, relative to the root.
pub const SPEEDS_FILE: &str = ".runvqgan/speeds.json";

/// The lock file of the root's names lock, in the root.
pub const NAMES_LOCK: &str = ".runvqgan.lock";

/// The claim file of a task: `dir/name.txt` -> `dir/.name.txt.runvqgan-claim`.
pub fn claim_path(task: &Path) -> PathBuf {
    let name = task
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    task.with_file_name(format!(".{name}.runvqgan-claim"))
}

/// The lease of the root's names lock.
pub const NAMES_LEASE: &str = ".runvqgan-names.lease";

/// The gallery's lock file and lease, in `<root>/.runvqgan/`.
pub const GALLERY_LOCK: &str = "gallery.lock";

/// See [`GALLERY_LOCK`].
pub const GALLERY_LEASE: &str = "gallery.lease";

/// The lease file of a task: `dir/name.txt` -> `dir/.name.txt.runvqgan-lease`.
pub fn lease_path(task: &Path) -> PathBuf {
    let name = task
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    task.with_file_name(format!(".{name}.runvqgan-lease"))
}

/// The exact suffix of an error file: `dog.txt` -> `dog_ERROR.txt` (case matters).
pub const ERROR_SUFFIX: &str = "_ERROR.txt";

/// The exact suffix of a warnings file: `dog.txt` -> `dog_WARNINGS.txt` (case matters).
pub const WARNINGS_SUFFIX: &str = "_WARNINGS.txt";

/// The error file of a task: `name.txt` -> `name_ERROR.txt`, beside it.
pub fn error_file_path(task: &Path) -> PathBuf {
    let stem = task
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    task.with_file_name(format!("{stem}{ERROR_SUFFIX}"))
}

/// The warnings note of a task: `name.txt` -> `name_WARNINGS.txt`, beside it.
pub fn warnings_file_path(task: &Path) -> PathBuf {
    let stem = task
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    task.with_file_name(format!("{stem}{WARNINGS_SUFFIX}"))
}

/// The suffix of pending markers.
pub const PENDING_SUFFIX: &str = ".runvqgan-pending";
