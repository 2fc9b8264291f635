//! Thumbnails: JPEG, at most [`LONG_SIDE`] pixels on the long side, in `<gallery>/thumbs/`.
//!
//! A thumbnail's file name is a hash of its image's path, byte size and modification time,
//! so a changed image gets a new thumbnail (and browsers never show a stale cached one),
//! while an unchanged one keeps its file. The manifest `thumbs/index.json` remembers each
//! image's pixel size under the same key, so a rebuild with nothing new decodes nothing.
//!
//! Every access goes through the handle of the thumbnails' folder, opened once: listing,
//! the manifest, writing (a temporary file renamed in that folder) and removing (`unlinkat`
//! on that handle). A member who swaps the folder for a link meanwhile changes nothing
//! outside the root. The pixels come from the PNG the scan opened (the file whose sidecar
//! was read, [`super::scan::PngSink`]), never from a second lookup by path. Missing
//! thumbnails are made in parallel (rayon), a batch of opened PNGs at a time; thumbnails of
//! images that are gone are removed.

use std::collections::{BTreeMap, HashSet};
use std::io::BufReader;
use std::time::UNIX_EPOCH;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::disk::{MAX_MANIFEST, is_leftover_temp, read_own, write_if_changed};
use super::scan::{FoundImage, PngSink};
use crate::shared_folder::confined::{Dir, MAX_IMAGE};

/// The thumbnails' folder inside the gallery.
pub const THUMB_DIR: &str = "thumbs";
/// The manifest inside [`THUMB_DIR`].
const MANIFEST: &str = "index.json";
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
/// [`Thumbnailer::finish`] removes what is stale and writes the manifest.
pub struct Thumbnailer<'a> {
    dir: &'a Dir,
    old: Manifest,
    old_text: String,
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
    /// Reads the manifest and lists the thumbnails' folder `dir`.
    pub fn open(dir: &'a Dir) -> std::io::Result<Self> {
        let old_text = read_own(dir, MANIFEST, MAX_MANIFEST)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let old: Manifest = serde_json::from_str(&old_text).unwrap_or_default();
        let present = dir
            .entries()?
            .into_iter()
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        Ok(Thumbnailer {
            dir,
            old,
            old_text,
            present,
            pending: Vec::new(),
            made: Vec::new(),
        })
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
    /// temporary files a build that died left), writes the manifest, and returns one
    /// [`Thumb`] per image of the scan, in order.
    pub fn finish(mut self, images: &[FoundImage]) -> std::io::Result<(Vec<Thumb>, ThumbStats)> {
        self.flush();
        let keys: Vec<String> = images.iter().map(key).collect();
        let mut stats = ThumbStats {
            kept: images.len() - self.made.len(),
            ..ThumbStats::default()
        };
        let mut manifest = Manifest::new();
        for k in &keys {
            if let Some(size) = self.old.get(k) {
                manifest.insert(k.clone(), *size);
            }
        }
        self.made.sort_by_key(|(i, _)| *i);
        for (i, result) in std::mem::take(&mut self.made) {
            let size = match result {
                Ok(size) => {
                    stats.made += 1;
                    size
                }
                Err(reason) => {
                    stats.failed.push((images[i].rel.clone(), reason));
                    [0, 0]
                }
            };
            manifest.insert(keys[i].clone(), size);
        }

        let wanted: HashSet<String> = manifest.keys().map(|k| file_of(k)).collect();
        for name in &self.present {
            let os = std::ffi::OsStr::new(name);
            if name.ends_with(".jpg") && !wanted.contains(name) {
                if self.dir.remove(os).is_ok() {
                    stats.removed += 1;
                }
            } else if is_leftover_temp(name) {
                let _ = self.dir.remove(os);
            }
        }
        let text = serde_json::to_string(&manifest).expect("a manifest always serialises");
        if text != self.old_text {
            write_if_changed(self.dir, MANIFEST, text.as_bytes())?;
        }

        let thumbs = keys
            .iter()
            .map(|k| {
                let [width, height] = manifest.get(k).copied().unwrap_or_default();
                Thumb {
                    file: (width > 0).then(|| file_of(k)),
                    width,
                    height,
                }
            })
            .collect();
        Ok((thumbs, stats))
    }
}

impl PngSink for Thumbnailer<'_> {
    fn wants(&self, image: &FoundImage) -> bool {
        let k = key(image);
        match self.old.get(&k) {
            Some([0, 0]) => false,
            Some(_) => !self.present.contains(&file_of(&k)),
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
