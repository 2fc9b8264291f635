//! One `out_file`'s numbers in one folder ([`BaseIndex`]): what is taken, what is
//! pending, what was made for which task.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::SystemTime;

use super::made::read_made;
use super::{BaseIndex, Pending, pending_name};

/// The images already made for a task, by request: the indices k made for it, and when the
/// newest of their sidecars was written.
pub type MadeByRequest = BTreeMap<u32, (BTreeSet<u32>, SystemTime)>;

impl BaseIndex {
    /// The highest number taken by a `.png`, a `.txt` or a reservation (0 when none).
    pub fn highest(&self) -> u32 {
        self.slots.keys().next_back().copied().unwrap_or(0)
    }

    /// Whether number `n` has a sidecar `.txt` (or a file of that name).
    pub fn has_sidecar(&self, n: u32) -> bool {
        self.slots.get(&n).is_some_and(|slot| slot.txt)
    }

    /// Hands out `count` new numbers after the highest taken one, and reserves them.
    pub fn allocate(&mut self, count: u32) -> Vec<u32> {
        let start = self.highest() + 1;
        let numbers: Vec<u32> = (start..start + count).collect();
        for n in &numbers {
            self.slots.entry(*n).or_default().reserved = true;
        }
        numbers
    }

    /// The pending markers of this `base` in `folder` (read on first use).
    pub fn pending(&mut self, folder: &Path, base: &str) -> Vec<(u32, Option<Pending>)> {
        if self.pending.is_none() {
            let list = self
                .slots
                .iter()
                .filter(|(_, s)| s.pending)
                .map(|(n, _)| (*n, Pending::read(&folder.join(pending_name(base, *n)))))
                .collect();
            self.pending = Some(list);
        }
        self.pending.clone().expect("filled above")
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
            self.made = Some(read_made(folder, base, &self.slots));
        }
        let mut by_request = MadeByRequest::new();
        for (t, s, k, r, written) in self.made.as_ref().expect("filled above") {
            if t == task_rel && s == task_sha256 {
                let entry = by_request
                    .entry(*r)
                    .or_insert_with(|| (BTreeSet::new(), SystemTime::UNIX_EPOCH));
                entry.0.insert(*k);
                entry.1 = entry.1.max(*written);
            }
        }
        by_request
    }
}
