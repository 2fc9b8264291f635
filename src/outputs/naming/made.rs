//! The images a task made already: the provenance of finished images (a `.png` and its
//! sidecar `.txt`), read from sidecars that members may have replaced.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Slot, output_names};
use crate::call::sidecar::Sidecar;

/// The provenance (task, task-sha256, k) of the finished images among `slots` of `base`.
pub(super) fn read_made(
    folder: &Path,
    base: &str,
    slots: &BTreeMap<u32, Slot>,
) -> Vec<(String, String, u32)> {
    let mut made = Vec::new();
    for (n, slot) in slots {
        if !(slot.png && slot.txt) {
            continue;
        }
        let path = folder.join(output_names(base, *n).1);
        let Ok(Ok(sidecar)) = read_sidecar(&path) else {
            continue;
        };
        let p = sidecar.provenance;
        if let (Some(task), Some(sha), Some(image)) = (p.task, p.task_sha256, p.image) {
            made.push((task, sha, image.index));
        }
    }
    made
}

/// Reads a sidecar that a member may have replaced: through the root's handle, not following
/// a link, not blocking, regular files of at most [`crate::shared_folder::confined::MAX_SMALL_FILE`] bytes.
pub fn read_sidecar(
    path: &Path,
) -> std::io::Result<Result<Sidecar, crate::call::sidecar::SidecarError>> {
    let file = crate::shared_folder::confined::read_nofollow(
        path,
        crate::shared_folder::confined::MAX_SMALL_FILE,
    )?;
    if file.bytes.len() as u64 > crate::shared_folder::confined::MAX_SMALL_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is larger than {} KiB, far more than a sidecar holds",
                crate::shared_folder::confined::MAX_SMALL_FILE / 1024
            ),
        ));
    }
    let text = String::from_utf8(file.bytes).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text")
    })?;
    Ok(Sidecar::parse(&text))
}
