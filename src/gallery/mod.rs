//! The gallery: a static, offline web site of every image in the shared folder, written to
//! `<root>/gallery/` (configurable) by `runvqgan gallery` and at the end of every `run`.
//!
//! It opens from the synced folder (`file://`) as well as from any static web server: every
//! link is relative, and nothing is loaded from elsewhere (no CDN, no web fonts, no server).
//! Image facts come from the sidecars ([`crate::call::sidecar`]); thumbnails are made here
//! ([`thumbs`]); pages come from templates ([`site`]). A file whose content did not change
//! is not rewritten, so a rebuild with nothing new touches nothing that a sync client would
//! upload again.
//!
//! Members can write the whole shared folder, the gallery's own folder included, and may
//! swap any folder for a link while a build runs (DESIGN.md section 10). So a build never
//! uses a path below the root: it opens the root's folder handle, the gallery's folders from
//! it one by one without following links ([`disk::open_folders`]: a link there stops the
//! build, naming it), walks the members' folders the same way ([`scan`]), makes each
//! thumbnail from the PNG opened beside the sidecar that was read ([`thumbs`]), and writes
//! and removes only through those handles. Its own files are read back with a cap.
//!
//! A rebuild touches only what changed since the last one (issue 27): the owner's state
//! keeps three indexes ([`crate::shared_folder::index`]), the sidecars' facts under each
//! sidecar's stamp ([`facts`]), each PNG's thumbnail under the PNG's stamp ([`thumbs`]),
//! and the pages as last written under a digest of all they show ([`pages`]). A sidecar
//! whose stamp is unchanged is not read again, a known thumbnail costs one `stat`, and when
//! the scan's digest and every page's stamp are unchanged no page is rendered. A lost,
//! damaged or outdated index only costs a full rescan. Only the owner opens the state; a
//! build without it reads everything, as before.
//!
//! Several runs may end at once on one root (the elements of a Slurm job array, a second
//! machine), and each builds the gallery at its end. Each page is written atomically, but
//! two builds at once could still leave pages from two different scans side by side, and
//! one build could remove a thumbnail that the other's newer scan just made and its pages
//! show. So a build holds the gallery's lock ([`build_exclusive`], through
//! [`ClaimMethod::lock_gallery`]: `flock`, and a lease on a network filesystem): the runs
//! build one after another, each from a scan made under the lock, and since only new images
//! get thumbnails and unchanged files are not rewritten, the later builds are cheap.

pub mod card;
pub mod disk;
pub mod extras;
pub mod facts;
pub mod links;
pub mod notes;
pub mod pages;
pub mod queue;
pub mod queue_inputs;
pub mod scan;
pub mod site;
pub mod thumbs;
pub mod when;

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use crate::shared_folder::confined;
use crate::shared_folder::files::GALLERY_DIR;
use crate::shared_folder::index::Index;
use crate::shared_folder::locks::method::ClaimMethod;
use crate::shared_folder::root::{Root, check_relative, slash_path};
use crate::shared_folder::state::StateDir;
use disk::{GalleryError, open_folders};

/// Where and how the gallery is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GalleryOptions {
    /// The gallery's folder, relative to the root (default [`GALLERY_DIR`]).
    pub dir: String,
}

impl Default for GalleryOptions {
    fn default() -> Self {
        GalleryOptions {
            dir: GALLERY_DIR.to_string(),
        }
    }
}

/// What a build did.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// The gallery's folder.
    pub dir: PathBuf,
    /// Images shown.
    pub images: usize,
    /// Folder pages (members' folders and `output`).
    pub folders: usize,
    /// Error files (`_ERROR.txt`) listed.
    pub error_files: usize,
    /// Warnings notes (`_WARNINGS.txt`) listed.
    pub warnings_notes: usize,
    /// What happened to the thumbnails.
    pub thumbs: thumbs::ThumbStats,
    /// Pages and data files written because their content changed.
    pub files_written: usize,
    /// Whether the pages were made (and compared with those on disk): `false` when nothing
    /// they show changed and none was touched since the last build.
    pub pages_made: bool,
    /// Sidecars read because they were new or changed (the others' facts were known).
    pub sidecars_read: usize,
    /// PNGs left out (no sidecar, unreadable sidecar), with the reason.
    pub skipped: Vec<scan::Skipped>,
    /// Wall time of the build.
    pub elapsed: Duration,
}

/// Builds (or brings up to date) the gallery of `root`.
pub fn build(root: &Root, options: &GalleryOptions) -> Result<BuildReport, GalleryError> {
    let started = Instant::now();
    check_relative(&options.dir).map_err(|problem| GalleryError::BadDir {
        dir: options.dir.clone(),
        problem,
    })?;
    // The folder as plain names (`./gallery/` is `gallery`).
    let rel: PathBuf = Path::new(&options.dir)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let dir = root.path().join(&rel);
    let io = |source| GalleryError::Io {
        path: dir.clone(),
        source,
    };
    // Every access below goes through these handles: the root's, and the gallery's folders
    // opened from it one by one, never through a link.
    let root_dir = confined::open_dir(root.path()).map_err(io)?;
    let top = open_folders(&root_dir, root.path(), &rel).map_err(io)?;
    disk::check_owners(&top).map_err(|problem| GalleryError::NotTheOwners {
        path: dir.clone(),
        problem,
    })?;
    let thumbs_dir = open_folders(&top, &dir, Path::new(thumbs::THUMB_DIR)).map_err(io)?;
    let assets_dir = open_folders(&top, &dir, Path::new(site::ASSET_DIR)).map_err(io)?;
    // The owner's state; a build that cannot use it (another account's) reads everything.
    let state = match StateDir::open(root.path()) {
        Ok(state) => Some(state),
        Err(e) => {
            tracing::warn!("gallery: without the owner's index of what changed: {e}");
            None
        }
    };
    // The two large indexes and the thumbnails' folder, read at once.
    let ((mut sidecars, mut thumb_index), present) = rayon::join(
        || {
            rayon::join(
                || load(&state, facts::SIDECAR_INDEX, &facts::context()),
                || load(&state, thumbs::THUMB_INDEX, &thumbs::context()),
            )
        },
        || thumbs::list(&thumbs_dir),
    );
    let present = present.map_err(io)?;
    let mut thumbnailer = thumbs::Thumbnailer::new(&thumbs_dir, &mut thumb_index, present);
    let found = scan::scan(
        &root_dir,
        &slash_path(&rel),
        &mut thumbnailer,
        &mut sidecars,
    );
    let (thumbs, thumb_stats) = thumbnailer.finish(&found.images).map_err(io)?;
    let depth = rel.components().count();
    let mut page_index = load(
        &state,
        pages::PAGES_INDEX,
        &pages::digest(&found, &thumbs, depth, root.path()),
    );
    let dirs = pages::Folders {
        top: &top,
        assets: &assets_dir,
        thumbs: &thumbs_dir,
    };
    let pages_made = !pages::unchanged(&page_index, &dirs);
    let mut files_written = 0;
    if pages_made {
        let facts = found.facts(&sidecars);
        let site = site::Site::new(&found, &facts, &thumbs, depth, root.path());
        let (written, mut files) = site.write(&top, &assets_dir, &dir)?;
        thumbs::write_manifest(&thumbs_dir, &thumbs).map_err(io)?;
        files.push(format!("{}/{}", thumbs::THUMB_DIR, thumbs::MANIFEST));
        pages::record(&mut page_index, &dirs, &files);
        files_written = written;
    }
    if let Some(state) = &state {
        let saved = [
            sidecars.save(state),
            thumb_index.save(state),
            page_index.save(state),
        ];
        for e in saved.into_iter().filter_map(Result::err) {
            tracing::warn!("gallery: cannot keep the index of what changed: {e}");
        }
    }
    let folders: std::collections::BTreeSet<&str> =
        found.images.iter().map(|i| i.folder.as_str()).collect();
    let mut skipped = found.skipped;
    skipped.extend(
        thumb_stats
            .failed
            .iter()
            .map(|(rel, reason)| scan::Skipped {
                rel: rel.clone(),
                reason: format!("shown without a thumbnail: it {reason}"),
            }),
    );
    Ok(BuildReport {
        dir,
        images: found.images.len(),
        folders: folders.len(),
        error_files: found.errors.iter().filter(|e| !e.warning).count(),
        warnings_notes: found.errors.iter().filter(|e| e.warning).count(),
        thumbs: thumb_stats,
        files_written,
        pages_made,
        sidecars_read: found.sidecars_read,
        skipped,
        elapsed: started.elapsed(),
    })
}

/// The index `name` of the owner's state under `context`, or an empty one without the state.
fn load<V: serde::Serialize + serde::de::DeserializeOwned + Send>(
    state: &Option<StateDir>,
    name: &str,
    context: &str,
) -> Index<V> {
    match state {
        Some(state) => Index::load(state, name, context),
        None => Index::empty(name, context),
    }
}

/// [`build`] while holding the gallery's lock, so that builds of one root (the runs ending
/// on several GPUs or machines, `runvqgan gallery` by hand) never interleave; waits for a
/// build in progress to end.
pub fn build_exclusive(
    root: &Root,
    options: &GalleryOptions,
    claims: &ClaimMethod,
) -> Result<BuildReport, GalleryError> {
    let _lock = claims
        .lock_gallery(root.path())
        .map_err(|source| GalleryError::Io {
            path: root.path().join(crate::shared_folder::files::STATE_DIR),
            source,
        })?;
    build(root, options)
}
