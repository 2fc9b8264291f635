//! Whether the pages need making at all: a rebuild with nothing new renders nothing.
//!
//! Everything the pages and the data file show is a function of the scan (each image's
//! path, the stamps of its sidecar and PNG, its video, its thumbnail; each error file and
//! its first lines), of where the gallery lies (the root's path, its depth, the owner's
//! configuration), of the time zone, and of the program (its version, the code that makes
//! cards and pages, the templates, the assets, the task schema). [`digest`] sums all of
//! it. The pages written from a scan (and the thumbnails' manifest, [`super::thumbs`]) are
//! recorded in the owner's index [`PAGES_INDEX`]
//! under that digest, with the stamps they had once written; when the next scan has the
//! same digest and every page still has its stamp (none removed, replaced or edited since,
//! by anyone), nothing is rendered, compared or written.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::facts;
use super::scan::Found;
use super::site::{ASSET_DIR, ASSETS, TEMPLATES, owner_config};
use super::thumbs::{THUMB_DIR, Thumb};
use super::when::zone;
use crate::shared_folder::confined::Dir;
use crate::shared_folder::index::{FileStamp, Index, stamp_of};
use crate::task::json_schema::{NOT_IN_SCHEMA, task_schema_text};

pub use crate::shared_folder::files::GALLERY_PAGES_INDEX as PAGES_INDEX;

/// The code that turns the scan into pages.
const CODE: &[&str] = &[
    include_str!("pages.rs"),
    include_str!("site.rs"),
    include_str!("card.rs"),
    include_str!("extras.rs"),
    include_str!("links.rs"),
    include_str!("when.rs"),
];

/// Feeds `bytes` to `h` with their length first, so that consecutive parts never run
/// together.
fn part(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// The digest of everything that the pages of the scan `found` with thumbnails `thumbs`
/// show, for a gallery `depth` folders below the root `root` (see the module's doc).
pub fn digest(found: &Found, thumbs: &[Thumb], depth: usize, root: &Path) -> String {
    let mut h = Sha256::new();
    part(&mut h, env!("CARGO_PKG_VERSION").as_bytes());
    for code in CODE {
        part(&mut h, code.as_bytes());
    }
    for (name, text) in TEMPLATES.iter().chain(ASSETS) {
        part(&mut h, name.as_bytes());
        part(&mut h, text.as_bytes());
    }
    part(&mut h, task_schema_text().as_bytes());
    for (field, why) in NOT_IN_SCHEMA {
        part(&mut h, field.as_bytes());
        part(&mut h, why.as_bytes());
    }
    // What the facts of a sidecar are made by.
    part(&mut h, facts::context().as_bytes());
    part(&mut h, root.as_os_str().as_encoded_bytes());
    part(&mut h, &(depth as u64).to_le_bytes());
    let config = owner_config(root);
    part(
        &mut h,
        config
            .as_deref()
            .map_or(b"", |c| c.as_os_str().as_encoded_bytes()),
    );
    part(&mut h, zone().as_bytes());

    part(&mut h, &(found.images.len() as u64).to_le_bytes());
    for (image, thumb) in found.images.iter().zip(thumbs) {
        part(&mut h, image.rel.as_bytes());
        h.update(image.sidecar.to_bytes());
        h.update(image.png.to_bytes());
        part(
            &mut h,
            image.video.as_deref().unwrap_or_default().as_bytes(),
        );
        part(&mut h, thumb.file.as_deref().unwrap_or_default().as_bytes());
        h.update(thumb.width.to_le_bytes());
        h.update(thumb.height.to_le_bytes());
    }
    part(&mut h, &(found.errors.len() as u64).to_le_bytes());
    for e in &found.errors {
        part(&mut h, e.rel.as_bytes());
        h.update([u8::from(e.warning)]);
        let nanos = e
            .modified
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        h.update(nanos.to_le_bytes());
        part(&mut h, e.head.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The gallery's folders, by handle: its own, its assets' and its thumbnails'.
pub struct Folders<'a> {
    /// The gallery's folder.
    pub top: &'a Dir,
    /// [`ASSET_DIR`].
    pub assets: &'a Dir,
    /// [`THUMB_DIR`].
    pub thumbs: &'a Dir,
}

/// The stamp now of the gallery's file `rel` (`index.html`, `assets/gallery.js`,
/// `thumbs/index.json`), through the handles of the gallery's folders.
fn stamp_now(dirs: &Folders, rel: &str) -> Option<FileStamp> {
    let (dir, name) = match rel.split_once('/') {
        Some((ASSET_DIR, name)) => (dirs.assets, name),
        Some((THUMB_DIR, name)) => (dirs.thumbs, name),
        Some(_) => return None,
        None => (dirs.top, rel),
    };
    dir.stat(std::ffi::OsStr::new(name))
        .ok()
        .filter(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_file())
        .map(|st| stamp_of(&st))
}

/// Whether the pages recorded in `index` (loaded under the scan's [`digest`]) are all still
/// in the gallery as they were written.
pub fn unchanged(index: &Index<()>, dirs: &Folders) -> bool {
    index.all_unchanged(|rel| stamp_now(dirs, rel))
}

/// Records the gallery's files `files` (relative to the gallery, just written or found
/// unchanged) with their stamps now, in a new `index`.
pub fn record(index: &mut Index<()>, dirs: &Folders, files: &[String]) {
    for rel in files {
        if let Some(stamp) = stamp_now(dirs, rel) {
            index.insert(rel.clone(), stamp, ());
        }
    }
}
