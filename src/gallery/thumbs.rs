//! Thumbnails: JPEG, at most [`LONG_SIDE`] pixels on the long side, in `<gallery>/thumbs/`.
//!
//! A thumbnail's file name is a hash of its image's path, byte size and modification time,
//! so a changed image gets a new thumbnail (and browsers never show a stale cached one),
//! while an unchanged one keeps its file. The manifest `thumbs/index.json` remembers each
//! image's pixel size under the same key, so a rebuild with nothing new decodes nothing.
//!
//! The owner's index of PNGs ([`THUMB_INDEX`], [`crate::shared_folder::index`]) holds, for
//! each PNG's stamp, its thumbnail's key, its size and the stamp of the thumbnail file as
//! written: a known image costs one `stat` of its thumbnail (a thumbnail removed or changed
//! since is made again) and no hashing. With a valid index, a PNG it does not know under its
//! stamp is new or changed (even to the same size and time, which the key cannot tell) and
//! gets its thumbnail made; without one (the first build that keeps one, or one lost or
//! outdated) the manifest tells which thumbnails are there already. The manifest is written
//! ([`write_manifest`]) with the pages, when it changed ([`super::pages`]).
//!
//! Every access goes through the handle of the thumbnails' folder, opened once: listing,
//! the manifest, writing (a temporary file renamed in that folder) and removing (`unlinkat`
//! on that handle). A member who swaps the folder for a link meanwhile changes nothing
//! outside the root. The pixels come from the PNG the scan opened (the file whose sidecar
//! was read, [`super::scan::PngSink`]), never from a second lookup by path. Missing
//! thumbnails are made in parallel (rayon), a batch of opened PNGs at a time; thumbnails of
//! images that are gone are removed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufReader;
use std::sync::OnceLock;
use std::time::UNIX_EPOCH;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::disk::{MAX_MANIFEST, is_leftover_temp, read_own, write_if_changed};
use super::scan::{FoundImage, PngSink};
use crate::shared_folder::confined::{Dir, MAX_IMAGE};
use crate::shared_folder::index::{FileStamp, Index, context_digest, stamp_of};

pub use crate::shared_folder::files::GALLERY_THUMBS_INDEX as THUMB_INDEX;

/// The thumbnails' folder inside the gallery.
pub const THUMB_DIR: &str = "thumbs";
/// The manifest inside [`THUMB_DIR`].
pub const MANIFEST: &str = "index.json";
/// The long side of a thumbnail, in pixels.
pub const LONG_SIDE: u32 = 320;
/// JPEG quality of thumbnails.
const QUALITY: u8 = 82;
/// The largest image side decoded; a larger PNG in the shared folder is not an image
/// runvqgan made, and decoding it could take all memory.
const MAX_SIDE: u32 = 16384;
/// How many opened PNGs wait for their thumbnails at most (each holds a file descriptor).
const BATCH: usize = 32;

/// One image's thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumb {
    /// Its key ([`key`]): what the manifest knows it by.
    pub key: String,
    /// The file name in [`THUMB_DIR`], or `None` when the image could not be decoded.
    pub file: Option<String>,
    /// The full image's width in pixels (0 when it could not be decoded).
    pub width: u32,
    /// The full image's height in pixels.
    pub height: u32,
}

/// What [`Thumbnailer::finish`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ThumbStats {
    /// Thumbnails made now.
    pub made: usize,
    /// Thumbnails kept from an earlier build.
    pub kept: usize,
    /// Thumbnails removed because their image is gone or changed.
    pub removed: usize,
    /// Images that could not be decoded, with the reason.
    pub failed: Vec<(String, String)>,
}

/// A manifest entry: the image's size, or `[0, 0]` for one that cannot be decoded (it is
/// not tried again until it changes).
type Manifest = BTreeMap<String, [u32; 2]>;

/// A PNG's entry in [`THUMB_INDEX`], under the PNG's stamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThumbFacts {
    /// Its thumbnail's key ([`key`]).
    pub key: String,
    /// The full image's size; `[0, 0]` when it cannot be decoded (not tried again until it
    /// changes).
    pub size: [u32; 2],
    /// The stamp of its thumbnail file as written (`None` when there is none).
    pub thumb: Option<FileStamp>,
}

/// The context of [`THUMB_INDEX`]: the program's version and how thumbnails are made.
pub fn context() -> String {
    context_digest([
        env!("CARGO_PKG_VERSION").as_bytes(),
        include_str!("thumbs.rs").as_bytes(),
    ])
}

/// The key of an image's current content: path, byte size and modification time.
pub fn key(image: &FoundImage) -> String {
    let nanos = image
        .modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(image.rel.as_bytes());
    h.update([0]);
    h.update(image.len.to_le_bytes());
    h.update(nanos.to_le_bytes());
    let digest = h.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Brings the thumbnails' folder up to date with a scan: it is handed the opened PNGs of
/// the images without a thumbnail while the scan runs ([`PngSink`]), then
/// [`Thumbnailer::finish`] removes what is stale, writes the manifest and brings the index
/// up to date.
pub struct Thumbnailer<'a> {
    dir: &'a Dir,
    index: &'a mut Index<ThumbFacts>,
    /// The manifest, read when first needed (an image the index does not know).
    old: OnceLock<Manifest>,
    /// The names in the folder before the build.
    present: HashSet<String>,
    /// Opened PNGs waiting for their thumbnails: index, key, file.
    pending: Vec<(usize, String, std::fs::File)>,
    made: Vec<(usize, Result<[u32; 2], String>)>,
}

fn file_of(key: &str) -> String {
    format!("{key}.jpg")
}

impl<'a> Thumbnailer<'a> {
    /// The thumbnailer of the thumbnails' folder `dir`, whose names before the build are
    /// `present` ([`list`]); `index`: the owner's index of PNGs (an empty one when the state
    /// cannot be used).
    pub fn new(dir: &'a Dir, index: &'a mut Index<ThumbFacts>, present: HashSet<String>) -> Self {
        Thumbnailer {
            dir,
            index,
            old: OnceLock::new(),
            present,
            pending: Vec::new(),
            made: Vec::new(),
        }
    }

    /// The manifest of the last build (empty when missing or unreadable).
    fn manifest(&self) -> &Manifest {
        self.old.get_or_init(|| {
            read_own(self.dir, MANIFEST, MAX_MANIFEST)
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default()
        })
    }

    /// The stamp of the thumbnail `file` now, if it is there.
    fn stamp(&self, file: &str) -> Option<FileStamp> {
        let st = self.dir.stat(std::ffi::OsStr::new(file)).ok()?;
        Some(stamp_of(&st))
    }

    /// Makes the thumbnails of the PNGs waiting, in parallel, and closes them.
    fn flush(&mut self) {
        let dir = self.dir;
        let batch = std::mem::take(&mut self.pending);
        let made: Vec<_> = batch
            .into_par_iter()
            .map(|(i, key, png)| (i, make(png, dir, &file_of(&key))))
            .collect();
        self.made.extend(made);
    }

    /// Makes the thumbnails still waiting, removes those of images that are gone (and
    /// temporary files a build that died left), records every image in the index, and
    /// returns one [`Thumb`] per image of the scan, in order (for [`write_manifest`]).
    pub fn finish(mut self, images: &[FoundImage]) -> std::io::Result<(Vec<Thumb>, ThumbStats)> {
        self.flush();
        let mut stats = ThumbStats {
            kept: images.len() - self.made.len(),
            ..ThumbStats::default()
        };
        let mut made: HashMap<usize, Result<[u32; 2], String>> =
            std::mem::take(&mut self.made).into_iter().collect();
        // The thumbnails found unchanged while the scan ran (`wants`), looked up in parallel.
        let known: Vec<Option<(String, [u32; 2])>> = (images.par_iter().enumerate())
            .map(|(i, image)| {
                let known = (!made.contains_key(&i))
                    .then(|| self.index.get(&image.rel, &image.png))
                    .flatten();
                known.map(|k| (k.key.clone(), k.size))
            })
            .collect();
        let mut thumbs = Vec::with_capacity(images.len());
        for ((i, image), known) in images.iter().enumerate().zip(known) {
            let (k, size) = match made.remove(&i) {
                Some(result) => {
                    let k = key(image);
                    let size = match result {
                        Ok(size) => {
                            stats.made += 1;
                            size
                        }
                        Err(reason) => {
                            stats.failed.push((image.rel.clone(), reason));
                            [0, 0]
                        }
                    };
                    self.record(image, &k, size);
                    (k, size)
                }
                None => match known {
                    Some(known) => known,
                    None => {
                        let k = key(image);
                        let size = self.manifest().get(&k).copied().unwrap_or_default();
                        self.record(image, &k, size);
                        (k, size)
                    }
                },
            };
            let [width, height] = size;
            thumbs.push(Thumb {
                file: (width > 0).then(|| file_of(&k)),
                key: k,
                width,
                height,
            });
        }

        let wanted: HashSet<&str> = thumbs.iter().map(|t| t.key.as_str()).collect();
        let stale = |name: &&String| {
            let stale = name.strip_suffix(".jpg");
            stale.is_some_and(|k| !wanted.contains(k)) || is_leftover_temp(name)
        };
        let gone: Vec<&String> = self.present.par_iter().filter(stale).collect();
        for name in gone {
            let os = std::ffi::OsStr::new(name);
            if name.ends_with(".jpg") {
                if self.dir.remove(os).is_ok() {
                    stats.removed += 1;
                }
            } else {
                let _ = self.dir.remove(os);
            }
        }
        Ok((thumbs, stats))
    }

    /// Records in the index that `image` has the thumbnail `k` of the image size `size`
    /// (`[0, 0]`: none), as its file is now.
    fn record(&mut self, image: &FoundImage, k: &str, size: [u32; 2]) {
        let thumb = (size[0] > 0).then(|| self.stamp(&file_of(k))).flatten();
        let facts = ThumbFacts {
            key: k.to_string(),
            size,
            thumb,
        };
        self.index.insert(image.rel.clone(), image.png, facts);
    }
}

/// The names in the thumbnails' folder `dir`.
pub fn list(dir: &Dir) -> std::io::Result<HashSet<String>> {
    let entries = dir.entries()?.into_iter();
    Ok(entries
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .collect())
}

/// Writes the manifest of `thumbs` (every image's key and size) into the thumbnails' folder
/// `dir`, unless it holds it already.
pub fn write_manifest(dir: &Dir, thumbs: &[Thumb]) -> std::io::Result<bool> {
    let manifest: Manifest = thumbs
        .iter()
        .map(|t| (t.key.clone(), [t.width, t.height]))
        .collect();
    let text = serde_json::to_string(&manifest).expect("a manifest always serialises");
    write_if_changed(dir, MANIFEST, text.as_bytes())
}

impl PngSink for Thumbnailer<'_> {
    fn wants(&self, image: &FoundImage) -> bool {
        if let Some(known) = self.index.get(&image.rel, &image.png) {
            if known.size == [0, 0] {
                return false;
            }
            // A thumbnail gone since has no stamp.
            let file = file_of(&known.key);
            let unchanged = known.thumb.is_some() && self.stamp(&file) == known.thumb;
            return !unchanged;
        }
        if self.index.was_loaded() {
            // New, or changed since the last build (even to the same size and time, which
            // the manifest's key cannot tell): made again.
            return true;
        }
        let k = key(image);
        let present = self.present.contains(&file_of(&k));
        match self.manifest().get(&k) {
            Some([0, 0]) => false,
            Some(_) => !present,
            None => true,
        }
    }

    fn take(&mut self, index: usize, image: &FoundImage, png: std::io::Result<std::fs::File>) {
        match png {
            Err(e) => self
                .made
                .push((index, Err(format!("cannot be opened: {e}")))),
            Ok(_) if image.len > MAX_IMAGE => self.made.push((
                index,
                Err(format!("is larger than {} MiB", MAX_IMAGE >> 20)),
            )),
            Ok(file) => {
                self.pending.push((index, key(image), file));
                if self.pending.len() >= BATCH {
                    self.flush();
                }
            }
        }
    }
}

/// Decodes the opened PNG `png` (within size limits), writes its thumbnail as `name` in
/// `dir` and returns the full image's size.
fn make(png: std::fs::File, dir: &Dir, name: &str) -> Result<[u32; 2], String> {
    let mut reader = image::ImageReader::with_format(BufReader::new(png), image::ImageFormat::Png);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| format!("is not a readable PNG: {e}"))?;
    let (width, height) = (img.width(), img.height());
    let small = img.thumbnail(LONG_SIDE, LONG_SIDE).to_rgb8();
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, QUALITY)
        .encode_image(&small)
        .map_err(|e| format!("cannot be made into a JPEG: {e}"))?;
    write_if_changed(dir, name, &bytes).map_err(|e| format!("thumbnail not written: {e}"))?;
    Ok([width, height])
}
