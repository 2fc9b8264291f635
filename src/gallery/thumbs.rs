//! Thumbnails: JPEG, at most [`LONG_SIDE`] pixels on the long side, in `<gallery>/thumbs/`.
//!
//! A thumbnail's file name is a hash of its image's path, byte size and modification time,
//! so a changed image gets a new thumbnail (and browsers never show a stale cached one),
//! while an unchanged one keeps its file. The manifest `thumbs/index.json` remembers each
//! image's pixel size under the same key, so a rebuild with nothing new decodes nothing.
//! Missing thumbnails are made in parallel (rayon); thumbnails of images that are gone are
//! removed.

use std::collections::{BTreeMap, HashSet};
use std::io::BufReader;
use std::path::Path;
use std::time::UNIX_EPOCH;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::scan::FoundImage;

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

/// What [`update`] did.
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

/// Makes the missing thumbnails of `images` in `dir` (created if needed), removes those of
/// images that are gone, and returns one [`Thumb`] per image, in order.
pub fn update(dir: &Path, images: &[FoundImage]) -> std::io::Result<(Vec<Thumb>, ThumbStats)> {
    let manifest_path = dir.join(MANIFEST);
    let old_manifest_text = super::disk::read_regular(&manifest_path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let old: Manifest = serde_json::from_str(&old_manifest_text).unwrap_or_default();
    let present: HashSet<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();

    let keys: Vec<String> = images.iter().map(key).collect();
    let file_of = |k: &str| format!("{k}.jpg");
    let cached = |k: &String| match old.get(k) {
        Some([0, 0]) => true,
        Some(_) => present.contains(&file_of(k)),
        None => false,
    };
    let todo: Vec<usize> = (0..images.len()).filter(|&i| !cached(&keys[i])).collect();
    let made: Vec<(usize, Result<[u32; 2], String>)> = todo
        .par_iter()
        .map(|&i| (i, make(&images[i].path, &dir.join(file_of(&keys[i])))))
        .collect();

    let mut stats = ThumbStats {
        kept: images.len() - todo.len(),
        ..ThumbStats::default()
    };
    let mut manifest = Manifest::new();
    for k in &keys {
        if let Some(size) = old.get(k) {
            manifest.insert(k.clone(), *size);
        }
    }
    for (i, result) in made {
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
    for name in &present {
        if name.ends_with(".jpg") && !wanted.contains(name) {
            if std::fs::remove_file(dir.join(name)).is_ok() {
                stats.removed += 1;
            }
        } else if name.starts_with('.') && name.ends_with(".tmp") {
            // A build that died while writing a thumbnail.
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    let text = serde_json::to_string(&manifest).expect("a manifest always serialises");
    if text != old_manifest_text {
        super::disk::write_if_changed(&manifest_path, text.as_bytes())?;
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

/// Decodes the PNG at `src` (not through a link, within size limits), writes its thumbnail
/// to `dest` and returns the full image's size.
fn make(src: &Path, dest: &Path) -> Result<[u32; 2], String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(src)
        .map_err(|e| format!("cannot be opened: {e}"))?;
    let mut reader = image::ImageReader::with_format(BufReader::new(file), image::ImageFormat::Png);
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
    super::disk::write_if_changed(dest, &bytes)
        .map_err(|e| format!("thumbnail not written: {e}"))?;
    Ok([width, height])
}
