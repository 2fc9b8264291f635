//! The images a task made already: the provenance of finished images (a `.png` and its
//! sidecar `.txt`), read from sidecars that members may have replaced.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;

use super::{MadeImage, Slot, output_names};
use crate::call::sidecar::Sidecar;
use crate::shared_folder::confined;

/// The provenance (task, task-sha256, k, request, when its sidecar was written) of the
/// finished images among `slots` of `base`.
/// The folder is opened once; each sidecar is read through it.
pub(super) fn read_made(folder: &Path, base: &str, slots: &BTreeMap<u32, Slot>) -> Vec<MadeImage> {
    let mut made = Vec::new();
    let mut finished = slots.iter().filter(|(_, s)| s.png && s.txt).peekable();
    if finished.peek().is_none() {
        return made;
    }
    let Ok(dir) = confined::open_dir(folder) else {
        return made;
    };
    for (n, _) in finished {
        let name = output_names(base, *n).1;
        let Ok(file) = dir.read(OsStr::new(&name), confined::MAX_SMALL_FILE) else {
            continue;
        };
        let written = confined::mtime_of(&file.stat);
        let Ok(Ok(sidecar)) = sidecar_of(file) else {
            continue;
        };
        let p = sidecar.provenance;
        let request = request_of(&p.extra);
        if let (Some(task), Some(sha), Some(image)) = (p.task, p.task_sha256, p.image) {
            made.push((task, sha, image.index, request, written));
        }
    }
    made
}

/// The sidecar line (`# request: 2 (rerun of a done task)`) saying which request of its task
/// an image was made for: a task file that comes back after it was done (a `.done` renamed
/// back) is a new request, and its images are made anew.
pub const REQUEST_KEY: &str = "request";

/// The request a sidecar's image was made for: the number at the start of its
/// [`REQUEST_KEY`] line, 1 when there is none (sidecars from before requests were counted).
pub fn request_of(extra: &[(String, String)]) -> u32 {
    extra
        .iter()
        .find(|(k, _)| k == REQUEST_KEY)
        .and_then(|(_, v)| {
            let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .filter(|r| *r >= 1)
        .unwrap_or(1)
}

/// Reads a sidecar that a member may have replaced: through the root's handle, not following
/// a link, not blocking, regular files of at most [`crate::shared_folder::confined::MAX_SMALL_FILE`] bytes.
pub fn read_sidecar(
    path: &Path,
) -> std::io::Result<Result<Sidecar, crate::call::sidecar::SidecarError>> {
    let file = confined::read_nofollow(path, confined::MAX_SMALL_FILE)?;
    sidecar_of(file)
}

/// The sidecar in `file` (read with a cap of [`confined::MAX_SMALL_FILE`]).
fn sidecar_of(
    file: confined::Untrusted,
) -> std::io::Result<Result<Sidecar, crate::call::sidecar::SidecarError>> {
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
