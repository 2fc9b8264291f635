//! Output names: images are `<out_file>_<n>.png` with a sidecar `<out_file>_<n>.txt`, and a
//! number is never reused while a `.png` or a `.txt` with it exists. New images are numbered
//! on from the highest number present. Each output folder is listed once per plan
//! ([`OutputIndex`]), and numbers handed out are reserved, so two tasks writing the same
//! `out_file` never collide.
//!
//! This is also where an interrupted task's earlier images are found: sidecars among
//! `<out_file>_<n>.txt` whose provenance names the same task file and content.
//!
//! Crash safety: before an image is generated its number is reserved on disk by a hidden
//! *pending marker* `.<out_file>_<n>.runvqgan-pending` in the output folder, which names the
//! task, its content hash and the image's index k ([`Pending`]). The marker is written under
//! the root's names lock ([`crate::shared_folder::locks::method::ClaimMethod::lock_names`]) and removed once the PNG and its
//! sidecar exist. A run that died in between (kill -9, power cut) leaves the marker; the next
//! run makes image k again under the same number n, replacing a PNG that was written without
//! its sidecar, so no number is skipped and no image is made twice.
//!
//! Markers and sidecars lie in folders members write, so they are validated, not trusted:
//! every folder is listed and every file read through the root's handle ([`crate::shared_folder::confined`]),
//! without following links or blocking, with a size cap; a marker is honoured only for a
//! number that has no sidecar (a finished image is never made again under its number).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::shared_folder::confined::{self, Dir};
use crate::shared_folder::files::{OUTPUT_EXTENSIONS, PENDING_SUFFIX, VIDEO_EXTENSION};

mod base;
mod made;
pub use base::MadeByRequest;
pub use made::{REQUEST_KEY, read_sidecar, request_of};

/// The pending marker of image `n` of `base`: `.base_n.runvqgan-pending`.
pub fn pending_name(base: &str, n: u32) -> String {
    format!(".{base}_{n}{PENDING_SUFFIX}")
}

/// Splits `.base_n.runvqgan-pending` into (`base`, n).
pub fn parse_pending_name(file_name: &str) -> Option<(&str, u32)> {
    let stem = file_name.strip_prefix('.')?.strip_suffix(PENDING_SUFFIX)?;
    let (base, n) = stem.rsplit_once('_')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((base, n.parse().ok()?))
}

/// What a pending marker says: image k of this task (by path and content) is being made under
/// this number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The task file, relative to the root.
    pub task: String,
    /// Hex SHA-256 of the task file's bytes.
    pub task_sha256: String,
    /// k, the 1-based index in the task's expansion.
    pub image: u32,
}

impl Pending {
    /// Writes the marker for number `n` of `base` in `folder` atomically; fails if one exists.
    pub fn write(&self, folder: &Path, base: &str, n: u32, mode: u32) -> std::io::Result<()> {
        crate::shared_folder::atomic::write(
            &folder.join(pending_name(base, n)),
            &format!(".{base}_{n}.pending."),
            &serde_json::to_vec(self).expect("serialises"),
            mode,
            crate::shared_folder::atomic::Existing::Keep,
        )
    }

    /// Reads the marker `name` in the folder `dir`; `None` when it cannot be read or parsed,
    /// or is not a regular file of at most [`confined::MAX_SMALL_FILE`] bytes (a link, a fifo,
    /// a folder).
    fn read_in(dir: &Dir, name: &str) -> Option<Pending> {
        Pending::of(dir.read(std::ffi::OsStr::new(name), confined::MAX_SMALL_FILE))
    }

    /// The marker in `file` (read with a cap of [`confined::MAX_SMALL_FILE`]).
    fn of(file: std::io::Result<confined::Untrusted>) -> Option<Pending> {
        let file = file.ok()?;
        if file.bytes.len() as u64 > confined::MAX_SMALL_FILE {
            return None;
        }
        serde_json::from_slice(&file.bytes).ok()
    }
}

/// Reserves one number of `base` in `folder` for an image made outside a task's plan
/// (`reproduce`), without any lock, so that whoever runs it (a member too) needs nothing the
/// owner's run holds: the next number after every `.png`, `.txt` and pending marker
/// ([`OutputIndex::allocate`]) is taken by creating its pending marker exclusively (it
/// fails when a run or another `reproduce` made that marker first: then the next number is
/// tried), and kept only when no `.png` or `.txt` of that number appeared meanwhile (an
/// image placed and its marker removed between the listing and the marker). With `exact`,
/// that number is reserved, or `AlreadyExists` when anything has it.
pub fn reserve(
    folder: &Path,
    base: &str,
    exact: Option<u32>,
    marker: &Pending,
    mode: u32,
) -> std::io::Result<u32> {
    let taken = |n: u32| {
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{base}_{n} is taken (a .png, .txt, .mp4 or a pending image has it)"),
        )
    };
    let dir = crate::shared_folder::confined::open_dir(folder)?;
    let placed = |n: u32| {
        OUTPUT_EXTENSIONS.iter().any(|ext| {
            dir.stat(std::ffi::OsStr::new(&format!("{base}_{n}.{ext}")))
                .is_ok()
        })
    };
    for _ in 0..1000 {
        let n = match exact {
            Some(n) => n,
            None => OutputIndex::new().allocate(folder, base, 1)?[0],
        };
        if exact.is_some()
            && OutputIndex::new()
                .base(folder, base)?
                .slots
                .contains_key(&n)
        {
            return Err(taken(n));
        }
        match marker.write(folder, base, n, mode) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match exact {
                Some(n) => return Err(taken(n)),
                None => continue,
            },
            Err(e) => return Err(e),
        }
        if placed(n) {
            remove_pending(folder, base, n)?;
            match exact {
                Some(n) => return Err(taken(n)),
                None => continue,
            }
        }
        return Ok(n);
    }
    Err(std::io::Error::other(format!(
        "no free number for {base} in {}: every try was taken by another run meanwhile",
        folder.display()
    )))
}

/// Removes the pending marker of number `n` of `base` in `folder` (through the root's handle;
/// a missing marker is fine).
pub fn remove_pending(folder: &Path, base: &str, n: u32) -> std::io::Result<()> {
    let dir = crate::shared_folder::confined::open_dir(folder)?;
    match dir.remove(std::ffi::OsStr::new(&pending_name(base, n))) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes the hidden temporary files of number `n` of `base` in `folder` that a process which
/// died while writing left behind: `.base_n.png.*.tmp` (the engine's), `.base_n.txt.*.tmp`
/// (sidecars) and `.base_n.pending.*.tmp` (markers). Only the holder of the task's claim may
/// call this.
pub fn remove_stale_temporaries(folder: &Path, base: &str, n: u32) {
    let Ok(dir) = crate::shared_folder::confined::open_dir(folder) else {
        return;
    };
    let Ok(listing) = dir.entries() else {
        return;
    };
    let prefixes: Vec<String> = OUTPUT_EXTENSIONS
        .iter()
        .chain(&["pending"])
        .map(|ext| format!(".{base}_{n}.{ext}."))
        .collect();
    for (entry, _) in listing {
        let Some(name) = entry.to_str() else { continue };
        if name.ends_with(".tmp") && prefixes.iter().any(|p| name.starts_with(p.as_str())) {
            let path = folder.join(name);
            match dir.remove(&entry) {
                Ok(()) => tracing::info!("removed a stale temporary file {}", path.display()),
                Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
            }
        }
    }
}

/// The video beside the image `png` (`base_n.png` -> `base_n.mp4`), made when its job asks
/// for one ([`crate::call::video`]); placed before the PNG, by the same rules.
pub fn video_path(png: &Path) -> PathBuf {
    png.with_extension(VIDEO_EXTENSION)
}

/// The file names of image `n` of `base`: (`base_n.png`, `base_n.txt`).
pub fn output_names(base: &str, n: u32) -> (String, String) {
    let (mut png, mut txt) = (String::new(), String::new());
    push_output_name(&mut png, base, n, "png");
    push_output_name(&mut txt, base, n, "txt");
    (png, txt)
}

/// Appends the file name of image `n` of `base` with the extension `ext` (`png`, `txt`),
/// `base_n.ext`, to `out`.
pub fn push_output_name(out: &mut String, base: &str, n: u32, ext: &str) {
    // a plan writes hundreds of thousands of names: the digits without `fmt`
    let (mut digits, mut at, mut rest) = ([0u8; 10], 10, n);
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.push_str(base);
    out.push('_');
    out.push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
    out.push('.');
    out.push_str(ext);
}

/// Splits `base_n.png` / `base_n.txt` into (`base`, n, is_png). Other names give `None`.
pub fn parse_output_name(file_name: &str) -> Option<(&str, u32, bool)> {
    let (stem, png) = if let Some(s) = file_name.strip_suffix(".png") {
        (s, true)
    } else if let Some(s) = file_name.strip_suffix(".txt") {
        (s, false)
    } else {
        return None;
    };
    let (base, n) = stem.rsplit_once('_')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((base, n.parse().ok()?, png))
}

/// What exists (or is reserved) under one number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) png: bool,
    pub(crate) txt: bool,
    pending: bool,
}

/// One `out_file` in one folder: its numbers, and what was read of its files.
#[derive(Debug, Default)]
pub struct BaseIndex {
    slots: BTreeMap<u32, Slot>,
    /// The highest number handed out ([`BaseIndex::allocate`]; 0: none): numbers are handed
    /// out after every one taken, so all up to it are taken.
    top: u32,
    /// Provenance of finished images (`png` and `txt` present), read on first use:
    made: Option<Vec<made::Made>>,
    /// Pending markers, read on first use: (n, marker or `None` when unreadable).
    pending: Option<Vec<(u32, Option<Pending>)>>,
    /// The folder, as opened to list it, kept to read its sidecars and markers through
    /// (instead of opening it again for each `out_file`) until they are read.
    dir: Option<Arc<Dir>>,
}

/// The listing of output folders, read once each, with the numbers handed out so far.
#[derive(Debug, Default)]
pub struct OutputIndex {
    folders: HashMap<PathBuf, FolderBases>,
}

impl OutputIndex {
    /// An empty index; folders are listed on first use.
    pub fn new() -> OutputIndex {
        OutputIndex::default()
    }

    fn base(&mut self, folder: &Path, base: &str) -> std::io::Result<&mut BaseIndex> {
        if !self.folders.contains_key(folder) {
            let bases = list_folder(folder, None)?;
            self.folders.insert(folder.to_path_buf(), bases);
        }
        Ok(self
            .folders
            .get_mut(folder)
            .expect("inserted above")
            .entry(base.to_string())
            .or_default())
    }

    /// Hands out `count` new numbers after the highest taken one, and reserves them.
    pub fn allocate(&mut self, folder: &Path, base: &str, count: u32) -> std::io::Result<Vec<u32>> {
        Ok(self.base(folder, base)?.allocate(count).collect())
    }

    /// Forgets the pending marker of number `n` (after it was removed from disk); the number
    /// stays taken if a file has it.
    pub fn forget_pending(&mut self, folder: &Path, base: &str, n: u32) -> std::io::Result<()> {
        let b = self.base(folder, base)?;
        if let Some(slot) = b.slots.get_mut(&n) {
            slot.pending = false;
            if *slot == Slot::default() {
                b.slots.remove(&n);
            }
        }
        if let Some(list) = &mut b.pending {
            list.retain(|(m, _)| *m != n);
        }
        Ok(())
    }

    /// Takes `base` of `folder` out of the index (listing the folder if it was not yet), to
    /// hand out its numbers elsewhere (on another thread: the `out_file`s of a plan are
    /// independent of each other); [`OutputIndex::put_base`] gives it back.
    pub fn take_base(&mut self, folder: &Path, base: &str) -> std::io::Result<BaseIndex> {
        Ok(std::mem::take(self.base(folder, base)?))
    }

    /// Gives back what [`OutputIndex::take_base`] took.
    pub fn put_base(&mut self, folder: &Path, base: &str, index: BaseIndex) {
        if let Some(bases) = self.folders.get_mut(folder) {
            bases.insert(base.to_string(), index);
        }
    }
}

impl OutputIndex {
    /// Takes the `out_file`s of each of `folders` out of the index, by name (listing in
    /// parallel the folders not listed yet), to hand out their numbers elsewhere (on other
    /// threads: the `out_file`s of a plan are independent of each other), for good. One
    /// result per folder, in order. The folders listed here are kept open ([`KEEP_OPEN`] at
    /// most) while their `out_file`s are, to read their sidecars and markers through.
    pub fn take_folders(&mut self, folders: &[&Path]) -> Vec<std::io::Result<FolderBases>> {
        let kept = AtomicUsize::new(0);
        let listed: Vec<_> = folders
            .par_iter()
            .map(|folder| match self.folders.contains_key(*folder) {
                true => None,
                false => Some(list_folder(folder, Some(&kept))),
            })
            .collect();
        folders
            .iter()
            .zip(listed)
            .map(|(folder, listed)| match listed {
                Some(listed) => listed,
                None => Ok(self.folders.remove(*folder).expect("listed")),
            })
            .collect()
    }
}

/// The `out_file`s of one output folder, by name.
pub type FolderBases = HashMap<String, BaseIndex>;

/// The most output folders [`OutputIndex::take_folders`] keeps open at once (far below the
/// usual limit of 1024 open files).
pub const KEEP_OPEN: usize = 256;

/// The numbers taken in `folder` by `.png`s, `.txt`s and pending markers, by `out_file`.
/// With `kept` (how many folders are kept open so far), the folder stays open in its
/// `out_file`s when it has sidecars or markers to read and fewer than [`KEEP_OPEN`] are.
fn list_folder(folder: &Path, kept: Option<&AtomicUsize>) -> std::io::Result<FolderBases> {
    let mut bases = FolderBases::new();
    let dir = confined::open_dir(folder)?;
    // whether a finished image (`.png` and `.txt`) or a marker is there, to read
    let mut to_read = false;
    for (name, _) in dir.entries()? {
        let Some(name) = name.to_str() else { continue };
        let (b, n, kind) = if let Some((b, n)) = parse_pending_name(name) {
            (b, n, None)
        } else if let Some((b, n, png)) = parse_output_name(name) {
            (b, n, Some(png))
        } else {
            continue;
        };
        let slot = match bases.get_mut(b) {
            Some(index) => index.slots.entry(n).or_default(),
            None => bases
                .entry(b.to_string())
                .or_default()
                .slots
                .entry(n)
                .or_default(),
        };
        match kind {
            None => slot.pending = true,
            Some(true) => slot.png = true,
            Some(false) => slot.txt = true,
        }
        to_read |= slot.pending || (slot.png && slot.txt);
    }
    if to_read && kept.is_some_and(|k| k.fetch_add(1, Ordering::Relaxed) < KEEP_OPEN) {
        let dir = Arc::new(dir);
        for base in bases.values_mut() {
            base.dir = Some(Arc::clone(&dir));
        }
    }
    Ok(bases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_output_names() {
        assert_eq!(parse_output_name("dog_3.png"), Some(("dog", 3, true)));
        assert_eq!(
            parse_output_name("task_robot_12.txt"),
            Some(("task_robot", 12, false))
        );
        assert_eq!(parse_output_name("dog.png"), None);
        assert_eq!(parse_output_name("dog_x.png"), None);
        assert_eq!(parse_output_name("dog_3.jpg"), None);
    }
}
