//! What the gallery shows, found in the shared folder: every PNG with a readable sidecar
//! beside it, and every error file. Everything here is written by members, so the walk goes
//! from the root's handle down, each folder opened from its parent's handle without
//! following a link; a PNG and its sidecar are opened through the handle of the folder that
//! was listed, and the PNG handed on open ([`PngSink`]), so that its thumbnail is made from
//! that very file. Nothing blocks (a fifo named `x.txt`), and reads are capped.
//!
//! A sidecar whose stamp is the one in the owner's index ([`super::facts`]) is not read
//! again: its facts come from the index. One that is new or changed is read through its
//! folder's handle, and its facts stored under the stamp of the file that was read.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::FileType;

use super::facts::{Cached, Facts};
use crate::call::sidecar::Sidecar;
use crate::shared_folder::confined::{Dir, describe};
use crate::shared_folder::files::{ERROR_SUFFIX, VIDEO_EXTENSION, WARNINGS_SUFFIX};
use crate::shared_folder::index::{FileStamp, Index, stamp_of};

/// The most bytes of a sidecar that are read; a longer one is not an image's sidecar.
const SIDECAR_CAP: u64 = 256 * 1024;
/// The most bytes of an error file that are read for its first lines.
const ERROR_HEAD_CAP: u64 = 4096;
/// How many lines of an error file the errors page shows.
const ERROR_HEAD_LINES: usize = 6;
/// How deep below the root folders are searched (a member could nest folders without end).
const MAX_DEPTH: usize = 64;

/// One image and its sidecar.
#[derive(Debug, Clone)]
pub struct FoundImage {
    /// The PNG, relative to the root, `/`-separated.
    pub rel: String,
    /// The top-level folder it lies in: a member's folder or `output`.
    pub folder: String,
    /// The sidecar, relative to the root.
    pub sidecar_rel: String,
    /// What its sidecar says.
    pub facts: Facts,
    /// The stamp of the sidecar these facts come from.
    pub sidecar: FileStamp,
    /// Its video (issue 28: `<stem>.mp4` beside the PNG), relative to the root, if any.
    pub video: Option<String>,
    /// The PNG's size in bytes and modification time (from the opened file when it was
    /// opened for its thumbnail): what the thumbnail is keyed by.
    pub len: u64,
    /// See `len`.
    pub modified: SystemTime,
    /// The PNG's stamp, from the same status as `len`.
    pub png: FileStamp,
}

impl FoundImage {
    /// Takes `len` and `modified` from the PNG's status.
    fn set_status(&mut self, stat: &rustix::fs::Stat) {
        self.len = u64::try_from(stat.st_size).unwrap_or_default();
        self.modified = mtime(stat);
        self.png = stamp_of(stat);
    }
}

/// One `*_ERROR.txt` or `*_WARNINGS.txt` and its first lines.
#[derive(Debug, Clone)]
pub struct FoundError {
    /// A warnings note (`_WARNINGS.txt`) rather than an error file.
    pub warning: bool,
    /// Relative to the root.
    pub rel: String,
    /// Its top-level folder (`tasks` for the common task folder).
    pub folder: String,
    /// When it was last written.
    pub modified: SystemTime,
    /// Its first lines.
    pub head: String,
}

/// A PNG that is left out of the gallery, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Relative to the root.
    pub rel: String,
    /// A sentence.
    pub reason: String,
}

/// Everything found.
#[derive(Debug, Default)]
pub struct Found {
    /// The images, in no particular order.
    pub images: Vec<FoundImage>,
    /// The error files.
    pub errors: Vec<FoundError>,
    /// PNGs left out.
    pub skipped: Vec<Skipped>,
    /// How many sidecars were read (new or changed; the others' facts came from the index).
    pub sidecars_read: usize,
}

/// Takes the opened PNG of each image found whose pixels are wanted (the thumbnails).
pub trait PngSink {
    /// Whether the pixels of `image` are needed (it has no thumbnail yet, or its
    /// thumbnail changed).
    fn wants(&mut self, image: &FoundImage) -> bool;
    /// The PNG of `found.images[index]`, opened through its folder's handle (the one its
    /// sidecar was read through), or why it could not be opened.
    fn take(&mut self, index: usize, image: &FoundImage, png: std::io::Result<std::fs::File>);
}

/// Walks the root's folders (not its hidden ones, not the gallery's own folder `exclude`,
/// `/`-separated relative to the root) from the root's handle `root`, collects images and
/// error files, and hands [`PngSink`] the PNGs it wants. Files at the top of the root are
/// not in any member's folder and are ignored. A folder that cannot be opened or listed (or
/// became a link since it was listed) hides its images; the rest is still found. The facts
/// of sidecars come from `sidecars` while their stamps are unchanged, and go into it when
/// read.
pub fn scan(
    root: &Dir,
    exclude: &str,
    sink: &mut dyn PngSink,
    sidecars: &mut Index<Cached>,
) -> Found {
    let mut walk = Walk {
        exclude,
        sink,
        sidecars,
        found: Found::default(),
    };
    walk.folder(root, "", 0);
    walk.found
}

struct Walk<'a> {
    exclude: &'a str,
    sink: &'a mut dyn PngSink,
    sidecars: &'a mut Index<Cached>,
    found: Found,
}

impl Walk<'_> {
    /// Everything in the folder `dir` (at `rel`, `depth` folders below the root), names in
    /// byte order, depth first.
    fn folder(&mut self, dir: &Dir, rel: &str, depth: usize) {
        let mut entries = match dir.entries() {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!("gallery: cannot list {rel:?}: {}", describe(&e));
                return;
            }
        };
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        // The videos here, from the listing (a regular file, not a link).
        let video_suffix = format!(".{VIDEO_EXTENSION}");
        let videos: HashSet<OsString> = entries
            .iter()
            .filter(|(name, _)| name.as_bytes().ends_with(video_suffix.as_bytes()))
            .filter(|(name, kind)| match kind {
                Some(kind) => *kind == FileType::RegularFile,
                None => dir
                    .stat(name)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile),
            })
            .map(|(name, _)| name.clone())
            .collect();
        for (name, kind) in entries {
            let lossy = name.to_string_lossy();
            if lossy.starts_with('.') {
                continue;
            }
            let child = if rel.is_empty() {
                lossy.into_owned()
            } else {
                format!("{rel}/{lossy}")
            };
            let kind = match kind {
                Some(kind) => kind,
                None => match dir.stat(&name) {
                    Ok(st) => FileType::from_raw_mode(st.st_mode),
                    Err(_) => continue,
                },
            };
            match kind {
                FileType::Directory if child != self.exclude => {
                    if depth + 1 >= MAX_DEPTH {
                        tracing::warn!("gallery: {child:?} is more than {MAX_DEPTH} folders deep");
                        continue;
                    }
                    // Not through a link, even one put there since the listing.
                    match dir.open_subdir(&name) {
                        Ok(sub) => self.folder(&sub, &child, depth + 1),
                        Err(e) => tracing::warn!("gallery: {child:?}: {}", describe(&e)),
                    }
                }
                FileType::RegularFile if depth > 0 => self.file(dir, &name, child, &videos),
                _ => {}
            }
        }
    }

    fn file(&mut self, dir: &Dir, name: &OsStr, rel: String, videos: &HashSet<OsString>) {
        let folder = rel.split('/').next().unwrap_or_default().to_string();
        let lossy = name.to_string_lossy();
        if let Some(stem) = name.as_bytes().strip_suffix(b".png") {
            let mut txt = stem.to_vec();
            txt.extend_from_slice(b".txt");
            let mut mp4 = stem.to_vec();
            mp4.push(b'.');
            mp4.extend_from_slice(VIDEO_EXTENSION.as_bytes());
            let video = videos.contains(OsStr::from_bytes(&mp4));
            self.image(dir, name, &OsString::from_vec(txt), (rel, folder), video);
        } else if let Some(warning) = note_kind(&lossy) {
            let (modified, head) = match dir.read(name, ERROR_HEAD_CAP) {
                Ok(mut file) => {
                    file.bytes.truncate(ERROR_HEAD_CAP as usize);
                    let text = String::from_utf8_lossy(&file.bytes);
                    (mtime(&file.stat), first_lines(&text, ERROR_HEAD_LINES))
                }
                Err(e) => (
                    dir.stat(name).map(|st| mtime(&st)).unwrap_or(UNIX_EPOCH),
                    format!("(cannot be read: {})", describe(&e)),
                ),
            };
            self.found.errors.push(FoundError {
                warning,
                rel,
                folder,
                modified,
                head,
            });
        }
    }

    /// The PNG `name` and its sidecar `txt`, both in `dir`; `video`: whether its video lies
    /// beside it.
    fn image(&mut self, dir: &Dir, name: &OsStr, txt: &OsStr, at: (String, String), video: bool) {
        let (rel, folder) = at;
        let stat = match dir.stat(name) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => st,
            _ => return,
        };
        let sidecar_rel = match rel.strip_suffix(".png") {
            Some(stem) => format!("{stem}.txt"),
            None => rel.clone(),
        };
        let (facts, sidecar) = match self.sidecar(dir, txt, &sidecar_rel) {
            Ok(found) => found,
            Err(reason) => return self.skip(rel, reason),
        };
        let video = video
            .then(|| rel.strip_suffix(".png"))
            .flatten()
            .map(|s| format!("{s}.{VIDEO_EXTENSION}"));
        let mut image = FoundImage {
            rel,
            folder,
            sidecar_rel,
            facts,
            sidecar,
            video,
            len: 0,
            modified: UNIX_EPOCH,
            png: stamp_of(&stat),
        };
        image.set_status(&stat);
        let index = self.found.images.len();
        if self.sink.wants(&image) {
            // Opened once, through the handle its sidecar was read through; its own status
            // keys the thumbnail (the name may have changed hands since the `stat`), and
            // the thumbnail is made from it.
            match dir.open_regular(name) {
                Ok((png, stat)) => {
                    image.set_status(&stat);
                    if self.sink.wants(&image) {
                        self.sink.take(index, &image, Ok(png));
                    }
                }
                // Unreadable (another member's 0600 file): shown without a thumbnail.
                Err(e) => self.sink.take(index, &image, Err(e)),
            }
        }
        self.found.images.push(image);
    }

    /// The facts of the sidecar `txt` in `dir` (at `rel`) and its stamp: from the index
    /// while its stamp is unchanged, else read, parsed and stored in the index under the
    /// stamp of the file read. `Err`: why it is not an image's sidecar.
    fn sidecar(&mut self, dir: &Dir, txt: &OsStr, rel: &str) -> Result<(Facts, FileStamp), String> {
        if let Ok(st) = dir.stat(txt)
            && FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
        {
            let stamp = stamp_of(&st);
            if let Some(cached) = self.sidecars.get(rel, &stamp) {
                return cached.clone().map(|facts| (facts, stamp));
            }
        }
        let file = dir
            .read(txt, SIDECAR_CAP)
            .map_err(|e| format!("its .txt cannot be read ({e})"))?;
        self.found.sidecars_read += 1;
        let stamp = stamp_of(&file.stat);
        let cached = if file.bytes.len() as u64 > SIDECAR_CAP {
            Err(format!("its .txt is longer than {SIDECAR_CAP} bytes"))
        } else {
            let text = String::from_utf8_lossy(&file.bytes);
            Sidecar::parse(&text)
                .map(|sidecar| Facts::new(&text, &sidecar))
                .map_err(|e| format!("its .txt is not a sidecar: {e}"))
        };
        self.sidecars.insert(rel, stamp, cached.clone());
        cached.map(|facts| (facts, stamp))
    }

    fn skip(&mut self, rel: String, reason: String) {
        self.found.skipped.push(Skipped { rel, reason });
    }
}

/// `Some(false)` for an error file, `Some(true)` for a warnings note, `None` otherwise
/// (the suffixes of [`ERROR_SUFFIX`] and [`WARNINGS_SUFFIX`], in any case as before).
fn note_kind(name: &str) -> Option<bool> {
    let lower = name.to_lowercase();
    if lower.ends_with(&ERROR_SUFFIX.to_lowercase()) {
        Some(false)
    } else if lower.ends_with(&WARNINGS_SUFFIX.to_lowercase()) {
        Some(true)
    } else {
        None
    }
}

/// The modification time in a file's status.
fn mtime(stat: &rustix::fs::Stat) -> SystemTime {
    let nanos = Duration::new(0, stat.st_mtime_nsec as u32);
    let secs = Duration::from_secs(stat.st_mtime.unsigned_abs());
    if stat.st_mtime >= 0 {
        UNIX_EPOCH + secs + nanos
    } else {
        UNIX_EPOCH - secs + nanos
    }
}

/// The first `n` non-empty lines of `text`, joined by line breaks.
fn first_lines(text: &str, n: usize) -> String {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_heads_skip_blank_lines_and_stop_after_n() {
        assert_eq!(first_lines("\u{feff}a\r\n\r\nb\nc\nd", 2), "a\nb");
    }
}
