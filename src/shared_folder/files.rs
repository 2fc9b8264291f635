//! Every name runvqgan gives a file or folder of its own in the shared folder, in one place:
//! the folders of the layout, the owner's state folder and what it holds, the locks, and the
//! files written beside a task (claims, leases, notes, the `.done` rename). Whoever writes,
//! skips or recognises one of these files takes its name from here.

use std::path::{Path, PathBuf};

/// The state folder's name, for the names below that are made from it.
macro_rules! state_dir {
    () => {
        ".runvqgan"
    };
}

/// The owner's state folder at the top of the root: events, run summaries, speeds and every
/// lock (names, gallery, device, task claims and leases). Hidden from members' listings,
/// the owner's alone ([`crate::shared_folder::state`]).
pub const STATE_DIR: &str = state_dir!();

/// In the state folder: the record of events of runs before each run had its own file (read,
/// never written).
pub const EVENTS_NAME: &str = "events.jsonl";
/// In the state folder: the folder of records of events, one file per run
/// (`<run>.jsonl`), each written by its run alone.
pub const EVENTS_DIR_NAME: &str = "events";
/// In the state folder: the folder of run logs, one per run (`<run>.log`), kept when runs on
/// several machines share the root and copied whole into the run log when the run ends.
pub const RUN_LOGS_NAME: &str = "logs";
/// In the state folder: the folder of the runs working now (`<run>.json`: who, since, image
/// k of N), removed when a run ends; one left by a dead process is a run that did not finish.
pub const LIVE_NAME: &str = "live";
/// In the state folder: the folder of run summaries.
pub const RUNS_NAME: &str = "runs";
/// In the state folder: the measured speeds.
pub const SPEEDS_NAME: &str = "speeds.json";
/// In the state folder: what the gallery's queue page was last made from (a digest), so that
/// the daytime check plans the night again only when something changed.
pub const QUEUE_INPUTS_NAME: &str = "queue-page.inputs";
/// In the state folder: the gallery's index of sidecars (what each one shows, keyed by its
/// stamp; [`crate::shared_folder::index`]), so that a rebuild reads only new or changed ones.
pub const GALLERY_SIDECARS_INDEX: &str = "gallery-sidecars.index";
/// In the state folder: the gallery's index of PNGs (each one's thumbnail, its size and the
/// thumbnail's stamp), so that a rebuild decodes only new or changed images.
pub const GALLERY_THUMBS_INDEX: &str = "gallery-thumbs.index";
/// In the state folder: the gallery's pages as last written (their stamps, under a digest of
/// everything they show), so that a rebuild with nothing new renders nothing.
pub const GALLERY_PAGES_INDEX: &str = "gallery-pages.index";
/// In the state folder: the owner's `check`'s index of task files (each one's verdict, keyed
/// by its stamp; [`crate::queue::known`]), so that a pass validates only what changed.
pub const CHECK_INDEX: &str = "check-tasks.index";
/// In the state folder: the folder of task claims (`flock`).
pub const CLAIMS_NAME: &str = "claims";
/// In the state folder: the folder of task leases.
pub const LEASES_NAME: &str = "leases";

/// The name of the optional configuration file at the top of the root.
pub const CONFIG_FILE: &str = "runvqgan.toml";

/// The folder of shared task files.
pub const TASKS_DIR: &str = "tasks";

/// The common output folder, the default `out_folder` of tasks in `tasks/`.
pub const OUTPUT_DIR: &str = "output";

/// The gallery's folder inside the root when none is configured.
pub const GALLERY_DIR: &str = "gallery";

/// The extension of an image's video (`dog_3.png` -> `dog_3.mp4`), made when its task asks
/// for one.
pub const VIDEO_EXTENSION: &str = "mp4";

/// The extensions of the files of one output number: the image, its sidecar, its video.
/// A number is taken when any of them exists.
pub const OUTPUT_EXTENSIONS: [&str; 3] = ["png", "txt", VIDEO_EXTENSION];

/// Where the record of events lives, relative to the root.
pub const EVENTS_FILE: &str = concat!(state_dir!(), "/events.jsonl");

/// The folder of run summaries, relative to the root.
pub const RUNS_DIR: &str = concat!(state_dir!(), "/runs");

/// The file of measured speeds, relative to the root.
pub const SPEEDS_FILE: &str = concat!(state_dir!(), "/speeds.json");

/// In the state folder: the lock file of the root's names lock (held while a run chooses
/// and reserves output numbers).
pub const NAMES_LOCK: &str = "names.lock";

/// The name, in the state folder's `claims/` and `leases/`, that stands for the task whose
/// path relative to the root is `task_rel`: a digest of the path (any length, any
/// characters) and the file name's first letters, for whoever looks.
pub fn task_key(task_rel: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(task_rel.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let name = task_rel.rsplit('/').next().unwrap_or_default();
    let readable: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    format!("{hex}-{readable}")
}

/// The claim file of the task `task_rel` (its path relative to the root):
/// `<root>/.runvqgan/claims/<key>.claim`, where members cannot open it.
pub fn claim_path(root: &Path, task_rel: &str) -> PathBuf {
    root.join(STATE_DIR)
        .join(CLAIMS_NAME)
        .join(format!("{}.claim", task_key(task_rel)))
}

/// In the state folder: the lease of the root's names lock.
pub const NAMES_LEASE: &str = "names.lease";

/// In the state folder: the gallery's lock file and lease.
pub const GALLERY_LOCK: &str = "gallery.lock";

/// See [`GALLERY_LOCK`].
pub const GALLERY_LEASE: &str = "gallery.lease";

/// The lease file of the task `task_rel` (its path relative to the root):
/// `<root>/.runvqgan/leases/<key>.lease`.
pub fn lease_path(root: &Path, task_rel: &str) -> PathBuf {
    root.join(STATE_DIR)
        .join(LEASES_NAME)
        .join(format!("{}.lease", task_key(task_rel)))
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
