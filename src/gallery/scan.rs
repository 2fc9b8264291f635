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
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use rustix::fs::FileType;

use super::facts::{Cached, Facts, Verdict};
pub use super::notes::FoundError;
use super::notes::{mtime, note};
use crate::call::sidecar::Sidecar;
use crate::shared_folder::confined::{Dir, describe};
use crate::shared_folder::files::VIDEO_EXTENSION;
use crate::shared_folder::index::{FileStamp, Index, stamp_of};

/// The most bytes of a sidecar that are read; a longer one is not an image's sidecar.
const SIDECAR_CAP: u64 = 256 * 1024;
/// How deep below the root folders are searched (a member could nest folders without end).
const MAX_DEPTH: usize = 64;

/// One image and its sidecar.
#[derive(Debug, Clone)]
pub struct FoundImage {
    /// The PNG, relative to the root, `/`-separated.
    pub rel: String,
    /// The top-level folder it lies in: a member's folder or `output`.
    pub folder: String,
    /// The sidecar, relative to the root: its facts are in the sidecars' index under this
    /// name and [`FoundImage::sidecar`] ([`Found::facts`]).
    pub sidecar_rel: String,
    /// The stamp of the sidecar whose facts are shown.
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
    /// The images, folders depth first, names in byte order.
    pub images: Vec<FoundImage>,
    /// The error files.
    pub errors: Vec<FoundError>,
    /// PNGs left out.
    pub skipped: Vec<Skipped>,
    /// How many sidecars were read (new or changed; the others' facts came from the index).
    pub sidecars_read: usize,
}

impl Found {
    /// The facts of each image's sidecar, in order, from the index `sidecars` that the scan
    /// found or put them in (decoded only now: a build that makes no page never does).
    pub fn facts(&self, sidecars: &Index<Cached>) -> Vec<Facts> {
        let facts = |image: &FoundImage| match sidecars.get(&image.sidecar_rel, &image.sidecar) {
            Some(Ok(facts)) => facts.clone(),
            // The scan shows only sidecars whose entry it found or stored as facts.
            _ => {
                tracing::warn!("gallery: the facts of {:?} are lost", image.sidecar_rel);
                Facts::default()
            }
        };
        self.images.par_iter().map(facts).collect()
    }
}

/// Takes the opened PNG of each image found whose pixels are wanted (the thumbnails).
/// [`PngSink::wants`] is asked from several threads at once.
pub trait PngSink: Sync {
    /// Whether the pixels of `image` are needed (it has no thumbnail yet, or its
    /// thumbnail changed).
    fn wants(&self, image: &FoundImage) -> bool;
    /// The PNG of `found.images[index]`, opened through its folder's handle (the one its
    /// sidecar was read through), or why it could not be opened.
    fn take(&mut self, index: usize, image: &FoundImage, png: std::io::Result<std::fs::File>);
}

/// Walks the root's folders (not its hidden ones, not the gallery's own folder `exclude`,
/// `/`-separated relative to the root) from the root's handle `root`, collects images and
/// error files, and hands [`PngSink`] the PNGs it wants. Files at the top of the root are
/// not in any member's folder and are ignored. A folder that cannot be opened or listed (or
/// became a link since it was listed) hides its images; the rest is still found. Whether a
/// sidecar is an image's comes from `sidecars` while its stamp is unchanged; a new or
/// changed one is read and its facts go into it. The files of a folder are looked at in
/// parallel, its subfolders one after another.
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

/// What one name in a folder is, found in parallel with the others.
enum Seen {
    /// A folder to walk (its name and path).
    Folder(OsString, String),
    /// A PNG (its name) with a sidecar that is an image's; whether its pixels are wanted.
    Image(OsString, FoundImage, bool, Option<Read>),
    /// A PNG left out.
    Skipped(Skipped, Option<Read>),
    /// An error file or warnings note.
    Note(FoundError),
    /// Anything else.
    Nothing,
}

/// A sidecar read now (new or changed): its path, the stamp of the file read, its facts.
type Read = (String, FileStamp, Cached);

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
        let look = Look {
            dir,
            rel,
            depth,
            exclude: self.exclude,
            videos: &videos,
            sink: &*self.sink,
            sidecars: &*self.sidecars,
        };
        let seen: Vec<Seen> = entries
            .par_iter()
            .map(|(name, kind)| look.entry(name, *kind))
            .collect();
        for seen in seen {
            match seen {
                Seen::Folder(name, child) => match dir.open_subdir(&name) {
                    // Not through a link, even one put there since the listing.
                    Ok(sub) => self.folder(&sub, &child, depth + 1),
                    Err(e) => tracing::warn!("gallery: {child:?}: {}", describe(&e)),
                },
                Seen::Image(name, image, wanted, read) => {
                    self.keep(read);
                    self.image(dir, &name, image, wanted);
                }
                Seen::Skipped(skipped, read) => {
                    self.keep(read);
                    self.found.skipped.push(skipped);
                }
                Seen::Note(note) => self.found.errors.push(note),
                Seen::Nothing => {}
            }
        }
    }

    /// Stores the facts of a sidecar read now in the index.
    fn keep(&mut self, read: Option<Read>) {
        if let Some((rel, stamp, cached)) = read {
            self.found.sidecars_read += 1;
            self.sidecars.insert(rel, stamp, cached);
        }
    }

    /// Adds `image` (the PNG `name` in `dir`), handing its opened PNG to the sink when
    /// `wanted`.
    fn image(&mut self, dir: &Dir, name: &OsStr, mut image: FoundImage, wanted: bool) {
        let index = self.found.images.len();
        if wanted {
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
}

/// One folder being walked, as the threads that look at its names share it.
struct Look<'a> {
    dir: &'a Dir,
    rel: &'a str,
    depth: usize,
    exclude: &'a str,
    /// The videos in the folder.
    videos: &'a HashSet<OsString>,
    sink: &'a dyn PngSink,
    sidecars: &'a Index<Cached>,
}

impl Look<'_> {
    /// What the name `name` (of the type `kind` the listing gave, if any) is.
    fn entry(&self, name: &OsStr, kind: Option<FileType>) -> Seen {
        let lossy = name.to_string_lossy();
        if lossy.starts_with('.') {
            return Seen::Nothing;
        }
        let child = if self.rel.is_empty() {
            lossy.into_owned()
        } else {
            format!("{}/{lossy}", self.rel)
        };
        let kind = match kind {
            Some(kind) => kind,
            None => match self.dir.stat(name) {
                Ok(st) => FileType::from_raw_mode(st.st_mode),
                Err(_) => return Seen::Nothing,
            },
        };
        match kind {
            FileType::Directory if child != self.exclude => {
                if self.depth + 1 >= MAX_DEPTH {
                    tracing::warn!("gallery: {child:?} is more than {MAX_DEPTH} folders deep");
                    return Seen::Nothing;
                }
                Seen::Folder(name.to_os_string(), child)
            }
            FileType::RegularFile if self.depth > 0 => self.file(name, child),
            _ => Seen::Nothing,
        }
    }

    fn file(&self, name: &OsStr, rel: String) -> Seen {
        let folder = rel.split('/').next().unwrap_or_default().to_string();
        if let Some(stem) = name.as_bytes().strip_suffix(b".png") {
            let mut txt = stem.to_vec();
            txt.extend_from_slice(b".txt");
            let mut mp4 = stem.to_vec();
            mp4.push(b'.');
            mp4.extend_from_slice(VIDEO_EXTENSION.as_bytes());
            let video = self.videos.contains(OsStr::from_bytes(&mp4));
            self.image(name, &OsString::from_vec(txt), (rel, folder), video)
        } else {
            note(self.dir, name, rel, folder).map_or(Seen::Nothing, Seen::Note)
        }
    }

    /// The PNG `name` and its sidecar `txt`; `video`: whether its video lies beside it.
    fn image(&self, name: &OsStr, txt: &OsStr, at: (String, String), video: bool) -> Seen {
        let (rel, folder) = at;
        let stat = match self.dir.stat(name) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => st,
            _ => return Seen::Nothing,
        };
        let sidecar_rel = match rel.strip_suffix(".png") {
            Some(stem) => format!("{stem}.txt"),
            None => rel.clone(),
        };
        let (sidecar, read) = self.sidecar(txt, &sidecar_rel);
        let sidecar = match sidecar {
            Ok(stamp) => stamp,
            Err(reason) => return Seen::Skipped(Skipped { rel, reason }, read),
        };
        let video = video
            .then(|| rel.strip_suffix(".png"))
            .flatten()
            .map(|s| format!("{s}.{VIDEO_EXTENSION}"));
        let mut image = FoundImage {
            rel,
            folder,
            sidecar_rel,
            sidecar,
            video,
            len: 0,
            modified: UNIX_EPOCH,
            png: stamp_of(&stat),
        };
        image.set_status(&stat);
        let wanted = self.sink.wants(&image);
        Seen::Image(name.to_os_string(), image, wanted, read)
    }

    /// The stamp of the sidecar `txt` (at `rel`) when it is an image's, else why not: from
    /// the index while its stamp is unchanged, else read and parsed (then its facts, under
    /// the stamp of the file read, for the index).
    fn sidecar(&self, txt: &OsStr, rel: &str) -> (Result<FileStamp, String>, Option<Read>) {
        if let Ok(st) = self.dir.stat(txt)
            && FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
        {
            let stamp = stamp_of(&st);
            if let Some(verdict) = self.sidecars.get_head::<Verdict>(rel, &stamp) {
                return (verdict.map(|()| stamp), None);
            }
        }
        let file = match self.dir.read(txt, SIDECAR_CAP) {
            Ok(file) => file,
            Err(e) => return (Err(format!("its .txt cannot be read ({e})")), None),
        };
        let stamp = stamp_of(&file.stat);
        let cached = if file.bytes.len() as u64 > SIDECAR_CAP {
            Err(format!("its .txt is longer than {SIDECAR_CAP} bytes"))
        } else {
            let text = String::from_utf8_lossy(&file.bytes);
            Sidecar::parse(&text)
                .map(|sidecar| Facts::new(&text, &sidecar))
                .map_err(|e| format!("its .txt is not a sidecar: {e}"))
        };
        let verdict = match &cached {
            Ok(_) => Ok(stamp),
            Err(reason) => Err(reason.clone()),
        };
        (verdict, Some((rel.to_string(), stamp, cached)))
    }
}
