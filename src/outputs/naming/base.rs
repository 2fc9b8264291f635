//! One `out_file`'s numbers in one folder ([`BaseIndex`]): what is taken, what is
//! pending, what was made for which task.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::SystemTime;

use super::made::read_made;
use super::{BaseIndex, Pending, pending_name};
use crate::shared_folder::confined;

/// The images already made for a task, by request: the indices k made for it, and when the
/// newest of their sidecars was written.
pub type MadeByRequest = BTreeMap<u32, (BTreeSet<u32>, SystemTime)>;

impl BaseIndex {
    /// The highest number taken by a `.png`, a `.txt` or a reservation (0 when none).
    pub fn highest(&self) -> u32 {
        let listed = self.slots.keys().next_back().copied().unwrap_or(0);
        listed.max(self.top)
    }

    /// Whether number `n` has a sidecar `.txt` (or a file of that name).
    pub fn has_sidecar(&self, n: u32) -> bool {
        self.slots.get(&n).is_some_and(|slot| slot.txt)
    }

    /// Hands out `count` new numbers after the highest taken one, and reserves them.
    pub fn allocate(&mut self, count: u32) -> std::ops::Range<u32> {
        let start = self.highest() + 1;
        if count > 0 {
            self.top = start + count - 1;
        }
        start..start + count
    }

    /// The pending markers read ([`BaseIndex::read_pending`]; none before): (n, the marker,
    /// or `None` when it cannot be read).
    pub fn pending(&self) -> &[(u32, Option<Pending>)] {
        self.pending.as_deref().unwrap_or_default()
    }

    /// Reads the pending markers of this `base` in `folder` (the first time only).
    pub fn read_pending(&mut self, folder: &Path, base: &str) {
        if self.pending.is_none() {
            let mut marked = self.slots.iter().filter(|(_, s)| s.pending).peekable();
            let opened = match (&self.dir, marked.peek()) {
                (None, Some(_)) => confined::open_dir(folder).ok(),
                _ => None,
            };
            let dir = self.dir.as_deref().or(opened.as_ref());
            let list = marked
                .map(|(n, _)| {
                    let marker = dir.and_then(|d| Pending::read_in(d, &pending_name(base, *n)));
                    (*n, marker)
                })
                .collect();
            self.pending = Some(list);
            self.release_dir();
        }
    }

    /// Closes the folder kept open once its sidecars and markers are read.
    fn release_dir(&mut self) {
        if self.made.is_some() && self.pending.is_some() {
            self.dir = None;
        }
    }

    /// The expansion indices (k) of images already made for this task (same task path and
    /// same content hash), by request ([`super::REQUEST_KEY`]), found in the provenance of
    /// `base_n.txt` sidecars in `folder` whose `base_n.png` also exists; with each request,
    /// when its newest sidecar was written.
    pub fn made_images(
        &mut self,
        folder: &Path,
        base: &str,
        task_rel: &str,
        task_sha256: &str,
    ) -> MadeByRequest {
        if self.made.is_none() {
            let made = read_made(self.dir.as_deref(), folder, base, &self.slots);
            self.made = Some(made);
            self.release_dir();
        }
        let mut by_request = MadeByRequest::new();
        for made in self.made.as_ref().expect("filled above") {
            if made.is_of(task_rel, task_sha256) {
                let entry = by_request
                    .entry(made.request)
                    .or_insert_with(|| (BTreeSet::new(), SystemTime::UNIX_EPOCH));
                entry.0.insert(made.image);
                entry.1 = entry.1.max(made.written);
            }
        }
        by_request
    }
}
