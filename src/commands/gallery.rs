//! `runvqgan gallery`: build or bring up to date the static gallery of the shared folder
//! (see [`crate::gallery`]), and say what was done.

use std::io::Write;
use std::path::Path;

use crate::config::{Config, ConfigOverrides};
use crate::gallery::{self, BuildReport, GalleryOptions};
use crate::process::exit_codes::ExitCode;
use crate::shared_folder::files::GALLERY_DIR;
use crate::shared_folder::locks::method::ClaimMethod;
use crate::shared_folder::root::Root;

/// Options of `gallery`.
#[derive(Debug, Clone)]
pub struct GalleryCommandOptions<'a> {
    /// The shared folder.
    pub root: &'a Path,
    /// The gallery's folder; `None`: `gallery` of runvqgan.toml, else `gallery`.
    pub dir: Option<&'a str>,
}

/// Builds the gallery and reports it on `out`.
pub fn run(options: &GalleryCommandOptions, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let root = Root::open(options.root)?;
    let (dir, config) = match options.dir {
        // The folder is given: a configuration that cannot be read only costs its claim
        // settings (the defaults decide by the filesystem, as `run` does without them).
        Some(dir) => (
            dir.to_string(),
            Config::load(root.path(), &ConfigOverrides::default()).unwrap_or_default(),
        ),
        None => {
            let config = Config::load(root.path(), &ConfigOverrides::default())?;
            let dir = config
                .gallery_dir()
                .unwrap_or_else(|| GALLERY_DIR.to_string());
            (dir, config)
        }
    };
    let claims = ClaimMethod::for_root(root.path(), config.claims, config.lease_seconds);
    let report = gallery::build_exclusive(&root, &GalleryOptions { dir }, &claims)?;
    write_report(&report, &root, out)?;
    Ok(ExitCode::Success)
}

/// The summary of a build, a few lines for the owner.
pub fn write_report(report: &BuildReport, root: &Root, out: &mut dyn Write) -> std::io::Result<()> {
    let t = &report.thumbs;
    writeln!(
        out,
        "gallery: {} image(s) in {} folder(s), {} error file(s), {} warnings note(s) -> {}/index.html ({:.2} s)",
        report.images,
        report.folders,
        report.error_files,
        report.warnings_notes,
        root.rel(&report.dir),
        report.elapsed.as_secs_f64()
    )?;
    writeln!(
        out,
        "gallery: thumbnails {} made, {} kept, {} removed; {} page or data file(s) written; \
         {} sidecar(s) read{}",
        t.made,
        t.kept,
        t.removed,
        report.files_written,
        report.sidecars_read,
        if report.pages_made {
            ""
        } else {
            ", nothing to show changed"
        }
    )?;
    for s in &report.skipped {
        writeln!(
            out,
            "gallery: {}: {}",
            crate::process::text::escape(&s.rel),
            crate::process::text::escape(&s.reason.to_string())
        )?;
    }
    Ok(())
}
