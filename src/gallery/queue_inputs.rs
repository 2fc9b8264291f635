//! What the queue page was made from, as one digest kept in the owner's state folder, so that
//! the daytime `check` (every five minutes) plans the night for the page again only when
//! something that shows on it changed: a task file (its name, time, bytes), a task's
//! verdict (valid with these warnings, or these problems: a folder or picture it names may
//! have appeared meanwhile), the files not run, an output folder (an image made, a number
//! reserved), the stored speeds, the configuration, and the night's expected start.
//!
//! `run` forgets the digest whenever it writes the page itself, so the next check makes the
//! page again. A digest that cannot be read or written only costs a plan.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::Config;
use crate::queue::discover::Found;
use crate::queue::known::Outcome;
use crate::shared_folder::confined;
use crate::shared_folder::files::{QUEUE_INPUTS_NAME, SPEEDS_FILE, STATE_DIR};
use crate::shared_folder::state::StateDir;

/// The digest of everything the queue page of `found` (with these `outcomes`, one per task)
/// shows, at `now`.
pub fn digest(
    root: &Path,
    config: &Config,
    found: &Found,
    outcomes: &[Outcome],
    now: SystemTime,
) -> String {
    let mut h = DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    format!("{config:?}").hash(&mut h);
    confined::read_own_file(&root.join(SPEEDS_FILE), 1 << 20).hash(&mut h);
    let start = config.night_window().map(|w| w.next_start(now));
    start.hash(&mut h);
    let mut folders: HashSet<&PathBuf> = HashSet::new();
    for (file, outcome) in found.tasks.iter().zip(outcomes) {
        let (sha256, verdict, out_folder) = outcome.digest_parts(file);
        (&file.rel, file.modified, file.priority, sha256, verdict).hash(&mut h);
        folders.extend(out_folder);
    }
    for s in &found.skipped {
        (&s.rel, s.reason.to_string()).hash(&mut h);
    }
    // An output folder changes its time when a file in it is made, renamed or removed.
    let mut folders: Vec<&PathBuf> = folders.into_iter().collect();
    folders.sort();
    for folder in folders {
        (folder, confined::modified(folder)).hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// Whether the page at `page` exists and was made from `digest`.
pub fn unchanged(root: &Path, page: &Path, digest: &str) -> bool {
    let path = root.join(STATE_DIR).join(QUEUE_INPUTS_NAME);
    confined::modified(page).is_some()
        && confined::read_own_file(&path, 64).is_some_and(|b| b == digest.as_bytes())
}

/// Records that the page was made from `digest`.
pub fn remember(root: &Path, digest: &str) {
    if let Ok(state) = StateDir::open(root)
        && let Err(e) = state.write_atomic(QUEUE_INPUTS_NAME, digest.as_bytes(), 0o644)
    {
        tracing::debug!("cannot record what the queue page was made from: {e}");
    }
}

/// Forgets what the page was made from (`run` wrote it): the next check makes it again.
pub fn forget(root: &Path) {
    if let Ok(state) = StateDir::open(root) {
        let _ = state.remove(QUEUE_INPUTS_NAME);
    }
}
