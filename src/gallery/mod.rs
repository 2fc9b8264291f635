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
//! Several runs may end at once on one root (the elements of a Slurm job array, a second
//! machine), and each builds the gallery at its end. Each page is written atomically, but
//! two builds at once could still leave pages from two different scans side by side, and
//! one build could remove a thumbnail that the other's newer scan just made and its pages
//! show. So a build holds the gallery's lock ([`build_exclusive`], through
//! [`ClaimMethod::lock_gallery`]: `flock`, and a lease on a network filesystem): the runs
//! build one after another, each from a scan made under the lock, and since only new images
//! get thumbnails and unchanged files are not rewritten, the later builds are cheap.

pub mod scan;
pub mod site;
pub mod thumbs;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use thiserror::Error;

use crate::shared_folder::files::GALLERY_DIR;
use crate::shared_folder::locks::method::ClaimMethod;
use crate::shared_folder::root::{PathProblem, Root, check_relative};

/// Where and how the gallery is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GalleryOptions {
    /// The gallery's folder, relative to the root (default [`DEFAULT_DIR`]).
    pub dir: String,
}

impl Default for GalleryOptions {
    fn default() -> Self {
        GalleryOptions {
            dir: GALLERY_DIR.to_string(),
        }
    }
}

/// A gallery that cannot be built.
#[derive(Debug, Error)]
pub enum GalleryError {
    /// The configured folder is not a plain relative path inside the root.
    #[error(
        "the gallery folder {dir:?} is refused: {problem}; give a folder inside the shared folder, such as \"gallery\""
    )]
    BadDir {
        /// As configured.
        dir: String,
        /// Why.
        problem: PathProblem,
    },
    /// Reading the shared folder or writing the gallery failed.
    #[error("cannot build the gallery in {path}: {source}")]
    Io {
        /// The gallery folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A template failed to render (a bug in runvqgan, not in the shared folder).
    #[error("the gallery template {name} failed: {message}")]
    Template {
        /// The template.
        name: String,
        /// What went wrong.
        message: String,
    },
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
    /// Error files listed.
    pub error_files: usize,
    /// What happened to the thumbnails.
    pub thumbs: thumbs::ThumbStats,
    /// Pages and data files written because their content changed.
    pub files_written: usize,
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
    let dir = root.path().join(&options.dir);
    let io = |source| GalleryError::Io {
        path: dir.clone(),
        source,
    };
    let found = scan::scan(root.path(), &dir).map_err(io)?;
    make_dirs(root.path(), Path::new(&options.dir)).map_err(io)?;
    for sub in [thumbs::THUMB_DIR, site::ASSET_DIR] {
        make_dirs(&dir, Path::new(sub)).map_err(io)?;
    }
    let (thumbs, thumb_stats) =
        thumbs::update(&dir.join(thumbs::THUMB_DIR), &found.images).map_err(io)?;
    let depth = Path::new(&options.dir).components().count();
    let site = site::Site::new(&found, &thumbs, depth);
    let files_written = site.write(&dir)?;
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
        folders: site.folder_count(),
        error_files: found.errors.len(),
        thumbs: thumb_stats,
        files_written,
        skipped,
        elapsed: started.elapsed(),
    })
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

/// Creates the folders of `rel` under `base` as needed. A member can write the shared folder,
/// so a link on the way (`gallery -> /etc`) is refused rather than followed.
fn make_dirs(base: &Path, rel: &Path) -> std::io::Result<()> {
    let mut path = base.to_path_buf();
    for part in rel.components() {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "{} is a link or a file, not a folder; remove it",
                    path.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&path)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The bytes of the regular file at `path`, read without following a link or blocking on a
/// fifo; `None` for anything else. Gallery files are compared with them before writing.
pub(crate) fn read_regular(path: &Path) -> Option<Vec<u8>> {
    crate::shared_folder::confined::read_own_file(path, u64::MAX)
}

/// Writes `bytes` to `path` (atomically, mode 0644) unless the file holds them already;
/// returns whether it wrote. Whatever was at `path` (a link included) is replaced, never
/// written through.
pub(crate) fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if read_regular(path).is_some_and(|old| old == bytes) {
        return Ok(false);
    }
    crate::shared_folder::atomic::write(
        path,
        ".gallery.",
        bytes,
        0o644,
        crate::shared_folder::atomic::Existing::Replace,
    )?;
    Ok(true)
}

/// A moment in local time, as the gallery shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime {
    /// `YYYY-MM-DD HH:MM`.
    pub minute: String,
    /// The night it belongs to: the date of the evening, `YYYY-MM-DD`. A night runs from noon
    /// to noon, so an image made at 02:00 on the 29th belongs to the night of the 28th.
    pub night: String,
}

/// [`LocalTime`] of `t` in the machine's time zone.
pub fn local_time(t: SystemTime) -> LocalTime {
    let fmt = |tm: &libc::tm, with_time: bool| {
        let date = format!(
            "{:04}-{:02}-{:02}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday
        );
        if with_time {
            format!("{date} {:02}:{:02}", tm.tm_hour, tm.tm_min)
        } else {
            date
        }
    };
    let minute = fmt(&local_tm(t), true);
    let night = fmt(&local_tm(t - Duration::from_secs(12 * 3600)), false);
    LocalTime { minute, night }
}

fn local_tm(t: SystemTime) -> libc::tm {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as libc::time_t,
        Err(e) => -(e.duration().as_secs() as libc::time_t),
    };
    // SAFETY: `tm` is a plain C struct that localtime_r fills in; the call only reads `secs`
    // and writes `tm`.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_night_runs_from_noon_to_noon() {
        // Whatever the time zone: 12 hours apart within one night give one night, and the
        // night of an image is never after its own date.
        let evening = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = local_time(evening);
        assert!(t.night.as_str() <= &t.minute[..10]);
        let day = local_tm(evening);
        let to_noon = (12 - i64::from(day.tm_hour)) * 3600 - i64::from(day.tm_min) * 60;
        let noon = if to_noon > 0 {
            evening + Duration::from_secs(to_noon as u64)
        } else {
            evening - Duration::from_secs((-to_noon) as u64)
        };
        let before = local_time(noon - Duration::from_secs(60));
        let after = local_time(noon + Duration::from_secs(60));
        assert_ne!(before.night, after.night);
        assert_eq!(after.night, after.minute[..10]);
    }
}
