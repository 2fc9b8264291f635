//! The images a task made already: the provenance of finished images (a `.png` and its
//! sidecar `.txt`), read from sidecars that members may have replaced.
//!
//! A folder holds the sidecars of many tasks, most of them done and not planned again, so
//! each sidecar is read for its origin alone ([`Origin`]) and kept as it was read; whether
//! its first line is a generate call (a sidecar that is not one does not count) is read
//! only when a task asks for its images ([`Made::is_of`]).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::ops::Range;
use std::path::Path;
use std::time::SystemTime;

use super::{Slot, push_output_name};
use crate::call::sidecar::{GenerateCall, Origin, Sidecar, SidecarError, parts};
use crate::shared_folder::confined::{self, Dir};

/// A finished image: its sidecar's text, with where its task, the task's hash and its call
/// lie in it, and its index k, the request it was made for and when its sidecar was written.
#[derive(Debug)]
pub(super) struct Made {
    text: String,
    task: Range<usize>,
    task_sha256: Range<usize>,
    call: Range<usize>,
    /// k, the 1-based index in the task's expansion.
    pub(super) image: u32,
    /// The request ([`REQUEST_KEY`]).
    pub(super) request: u32,
    /// When its sidecar was written.
    pub(super) written: SystemTime,
}

impl Made {
    /// The finished image whose sidecar is `text` (written at `written`), if the sidecar
    /// names its task, the task's hash and the image: what [`Sidecar::parse`] would read.
    fn of(text: String, written: SystemTime) -> Option<Made> {
        let (call, rest) = parts(&text).ok()?;
        let origin = Origin::parse(rest, REQUEST_KEY);
        let (task, task_sha256) = (origin.task?, origin.task_sha256?);
        let (image, request) = (origin.image?.index, request_in(origin.extra));
        let (task, task_sha256, call) = (
            span(&text, task),
            span(&text, task_sha256),
            span(&text, call),
        );
        Some(Made {
            text,
            task,
            task_sha256,
            call,
            image,
            request,
            written,
        })
    }

    /// Whether the image was made for the task file `task_rel` with the hash `sha256`, by a
    /// sidecar whose first line is a generate call.
    pub(super) fn is_of(&self, task_rel: &str, sha256: &str) -> bool {
        self.text[self.task.clone()] == *task_rel
            && self.text[self.task_sha256.clone()] == *sha256
            && GenerateCall::parse(&self.text[self.call.clone()]).is_ok()
    }
}

/// Where `part` (a slice of `text`) lies in `text`.
fn span(text: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - text.as_ptr() as usize;
    start..start + part.len()
}

/// The finished images among `slots` of `base` in `folder`, their sidecars read through
/// `dir` (the folder as it was listed) or, without it, the folder opened once.
pub(super) fn read_made(
    dir: Option<&Dir>,
    folder: &Path,
    base: &str,
    slots: &BTreeMap<u32, Slot>,
) -> Vec<Made> {
    let finished = || slots.iter().filter(|(_, s)| s.png && s.txt);
    let count = finished().count();
    if count == 0 {
        return Vec::new();
    }
    let mut made = Vec::with_capacity(count);
    let opened;
    let dir = match dir {
        Some(dir) => dir,
        None => match confined::open_dir(folder) {
            Ok(dir) => {
                opened = dir;
                &opened
            }
            Err(_) => return Vec::new(),
        },
    };
    let mut name = String::new();
    for (n, _) in finished() {
        name.clear();
        push_output_name(&mut name, base, *n, "txt");
        let Ok(file) = dir.read(OsStr::new(&name), confined::MAX_SMALL_FILE) else {
            continue;
        };
        let written = confined::mtime_of(&file.stat);
        let Ok(text) = text_of(file) else { continue };
        made.extend(Made::of(text, written));
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
    request_in(
        extra
            .iter()
            .find(|(k, _)| k == REQUEST_KEY)
            .map(|(_, v)| v.as_str()),
    )
}

/// The request a [`REQUEST_KEY`] line's value (`None`: no such line) names.
fn request_in(value: Option<&str>) -> u32 {
    value
        .and_then(|v| {
            let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .filter(|r| *r >= 1)
        .unwrap_or(1)
}

/// Reads a sidecar that a member may have replaced: through the root's handle, not following
/// a link, not blocking, regular files of at most [`crate::shared_folder::confined::MAX_SMALL_FILE`] bytes.
pub fn read_sidecar(path: &Path) -> std::io::Result<Result<Sidecar, SidecarError>> {
    let file = confined::read_nofollow(path, confined::MAX_SMALL_FILE)?;
    Ok(Sidecar::parse(&text_of(file)?))
}

/// The text of the sidecar in `file` (read with a cap of [`confined::MAX_SMALL_FILE`]).
fn text_of(file: confined::Untrusted) -> std::io::Result<String> {
    if file.bytes.len() as u64 > confined::MAX_SMALL_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is larger than {} KiB, far more than a sidecar holds",
                confined::MAX_SMALL_FILE / 1024
            ),
        ));
    }
    String::from_utf8(file.bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}
