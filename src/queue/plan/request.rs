//! Which request of a task a plan is for: a task file that comes back after it was done (a
//! `.done` renamed back) is a new request, made anew.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// The request a task file's plan is for, and the images already made for it: the latest
/// request that has images, unless all of them exist and the task file was renamed or
/// written after the last of them (it was done, renamed `.done`, and came back: the next
/// request, nothing made yet).
///
/// How a rerun is recognised: a finished task is renamed to `.done` after its last image,
/// and renamed back (or copied back by a sync client) later, and a rename or a new file sets
/// the file's change time (ctime), which members cannot set back. A task whose images all
/// exist but whose file was not touched since (a night stopped between the last image and
/// the rename) is the same request, with nothing left to make: it is marked done.
/// `task_changed` (a `stat` of the task file) is asked only then.
pub(super) fn this_request(
    by_request: BTreeMap<u32, (std::collections::BTreeSet<u32>, SystemTime)>,
    total: u32,
    task_changed: impl FnOnce() -> Option<SystemTime>,
) -> (u32, std::collections::BTreeSet<u32>) {
    match by_request.into_iter().next_back() {
        None => (1, Default::default()),
        Some((r, (made, newest)))
            if (1..=total).all(|k| made.contains(&k))
                && task_changed().is_some_and(|c| c > newest) =>
        {
            (r + 1, Default::default())
        }
        Some((r, (made, _))) => (r, made),
    }
}

/// When the file at `path` was last renamed or written (its ctime), not following a link.
pub(super) fn changed(path: &std::path::Path) -> Option<SystemTime> {
    let st = crate::shared_folder::confined::stat_nofollow(path).ok()?;
    Some(crate::shared_folder::confined::ctime_of(&st))
}
