//! One image as the page's script sees it: its card, made from its sidecar, its thumbnail
//! and where the gallery lies, with the command that makes the image again.

use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use super::extras::{Input, TaskFields, inputs, task_fields};
use super::facts::Facts;
use super::links::url_path;
use super::scan::FoundImage;
use super::thumbs::{THUMB_DIR, Thumb};
use super::when::local_time;
use crate::task::prompt::style_of;

/// What stands for the new image's path in [`reproduce_command`]: a member puts their own
/// folder and a new name there (`-o` must name a `.png` numbered like the others).
pub const OUT_PLACEHOLDER: &str = "YOUR-FOLDER/NAME_1.png";

/// One image as the page's script sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    /// The PNG relative to the root: the image's identity (also in `#image=` links).
    pub id: String,
    /// Its top-level folder.
    pub folder: String,
    /// Link to the PNG, relative to the gallery.
    pub image: String,
    /// Link to the sidecar, relative to the gallery.
    pub sidecar: String,
    /// Link to the thumbnail, relative to the gallery; empty when there is none.
    pub thumb: String,
    /// The whole prompt string, as the engine got it (style included).
    pub prompt: String,
    /// The style, if the prompt carries one.
    pub style: String,
    /// The seed, empty for an old sidecar without one.
    pub seed: String,
    /// Iterations.
    pub iterations: String,
    /// `WxH` in pixels.
    pub size: String,
    /// The model set (or, for old sidecars, the CLIP model).
    pub model: String,
    /// When it was made, `YYYY-MM-DD HH:MM` local time.
    pub date: String,
    /// The night it belongs to, `YYYY-MM-DD` (see [`super::when::LocalTime`]).
    pub night: String,
    /// The task file, relative to the root.
    pub task: String,
    /// `k of N` within its task.
    pub image_of: String,
    /// The sidecar's first line: the generate call.
    pub call: String,
    /// The command that makes it again, for whoever runs it wherever ([`reproduce_command`]).
    pub reproduce: String,
    /// The same as a member of its folder runs it, the new image going there (the command
    /// on that member's page).
    pub reproduce_here: String,
    /// The same as the owner runs it: no `--config` (the owner's own is trusted), the new
    /// image beside the original under the next free number.
    pub reproduce_owner: String,
    /// Width and height in pixels (1 when unknown): the thumbnail's place in the grid.
    pub w: u32,
    /// See `w`.
    pub h: u32,
    /// When it was made, in seconds since 1970 (for sorting).
    pub time: i64,
    /// The final loss, if recorded.
    pub loss: Option<f64>,
    /// The loss curve ([`crate::call::sidecar::LOSS_CURVE`]), empty when not recorded.
    pub curve: Vec<f64>,
    /// The pictures that steered it.
    pub inputs: Vec<Input>,
    /// Link to its video (issue 28), empty when it has none.
    pub video: String,
    /// The task file fields that ask for an image like it (the form's prefill).
    pub fields: TaskFields,
}

/// The command that makes an image again, as a member (or the owner) runs it from any
/// folder: the shared folder `root` (as this build sees it, absolute) given with `--root`,
/// the sidecar by its absolute path, and `-o` naming the new image with
/// [`OUT_PLACEHOLDER`] inside the root, to be replaced by a folder and name of their own
/// (without `-o`, the new image would go beside the original, in someone else's folder).
/// `config`: the owner's runvqgan.toml, given with `--config` (a command that starts Python
/// trusts a configuration only from its own user, root, or a flag). Every argument is
/// quoted for a POSIX shell.
pub fn reproduce_command(root: &Path, config: Option<&Path>, sidecar_rel: &str) -> String {
    reproduce_to(root, config, Some(OUT_PLACEHOLDER), sidecar_rel)
}

/// [`reproduce_command`] with `out` (relative to the root) after `-o`, or no `-o` (the next
/// free number beside the original).
pub fn reproduce_to(
    root: &Path,
    config: Option<&Path>,
    out: Option<&str>,
    sidecar_rel: &str,
) -> String {
    let root = root.display().to_string();
    let quote = |s: String| match shlex::try_quote(&s) {
        Ok(quoted) => quoted.into_owned(),
        Err(_) => s,
    };
    let config = config
        .map(|c| format!(" --config {}", quote(c.display().to_string())))
        .unwrap_or_default();
    let out = out
        .map(|o| format!(" -o {}", quote(format!("{root}/{o}"))))
        .unwrap_or_default();
    format!(
        "runvqgan reproduce --root {}{config}{out} {}",
        quote(root.clone()),
        quote(format!("{root}/{sidecar_rel}"))
    )
}

/// The card of one image, with its time (for ordering) and its index in its task.
pub(super) fn card(
    image: &FoundImage,
    f: &Facts,
    thumb: &Thumb,
    up: &str,
    root: &Path,
    config: Option<&Path>,
) -> (Card, SystemTime, u32) {
    let made = f
        .started
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
        .unwrap_or(image.modified);
    let when = local_time(made);
    let size = if thumb.width > 0 {
        format!("{}x{}", thumb.width, thumb.height)
    } else {
        f.size.map(|[w, h]| format!("{w}x{h}")).unwrap_or_default()
    };
    let prompt = f.prompts.clone().unwrap_or_default();
    let task = f.task.clone().unwrap_or_else(|| series_of(&image.rel));
    let reproduce = reproduce_command(root, config, &image.sidecar_rel);
    let here = format!("{}/NAME_1.png", image.folder);
    let reproduce_here = reproduce_to(root, config, Some(&here), &image.sidecar_rel);
    let reproduce_owner = reproduce_to(root, None, None, &image.sidecar_rel);
    let (w, h) = match (thumb.width, f.size) {
        (0, Some([w, h])) => (w.max(1), h.max(1)),
        (0, None) => (1, 1),
        _ => (thumb.width, thumb.height.max(1)),
    };
    let time = match made.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let style = style_of(&prompt).unwrap_or_default();
    let fields = task_fields(image, f, &style);
    let card = Card {
        id: image.rel.clone(),
        folder: image.folder.clone(),
        image: format!("{up}{}", url_path(&image.rel)),
        sidecar: format!("{up}{}", url_path(&image.sidecar_rel)),
        thumb: thumb
            .file
            .as_ref()
            .map(|file| format!("{THUMB_DIR}/{file}"))
            .unwrap_or_default(),
        style,
        prompt,
        seed: f.seed.map(|s| s.to_string()).unwrap_or_default(),
        iterations: f.iterations.map(|i| i.to_string()).unwrap_or_default(),
        size,
        model: f.model.clone().unwrap_or_else(|| "unknown".into()),
        date: when.minute,
        night: when.night,
        task,
        image_of: f
            .image
            .map(|(index, total)| format!("{index} of {total}"))
            .unwrap_or_default(),
        call: f.call.clone(),
        reproduce,
        reproduce_here,
        reproduce_owner,
        w,
        h,
        time,
        loss: f.final_loss.filter(|l| l.is_finite()),
        curve: f.curve.clone(),
        inputs: inputs(f, up),
        video: image
            .video
            .as_deref()
            .map(|v| format!("{up}{}", url_path(v)))
            .unwrap_or_default(),
        fields,
    };
    (card, made, f.image.map_or(0, |(index, _)| index))
}

/// For a sidecar without a `task` line (the old R runner's): the series the image belongs
/// to, its path without the `_N.png` number.
fn series_of(rel: &str) -> String {
    let stem = rel.strip_suffix(".png").unwrap_or(rel);
    match stem.rsplit_once('_') {
        Some((base, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
            format!("{base}_N")
        }
        _ => stem.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_sidecars_group_by_series() {
        assert_eq!(series_of("output/dog_12.png"), "output/dog_N");
        assert_eq!(series_of("output/dog.png"), "output/dog");
    }

    #[test]
    fn the_reproduce_command_names_the_root_the_sidecar_and_an_output_to_fill_in() {
        use crate::commands::cli::{Cli, Command};
        use clap::Parser;
        let shown = reproduce_command(Path::new("/srv/lab share"), None, "alice/a b_1.txt");
        assert_eq!(
            shown,
            "runvqgan reproduce --root '/srv/lab share' -o '/srv/lab share/YOUR-FOLDER/NAME_1.png' \
             '/srv/lab share/alice/a b_1.txt'"
        );
        // As the shell splits it, the command line parses as a reproduce of that sidecar.
        let words = shlex::split(&shown).unwrap();
        let Command::Reproduce(args) = Cli::try_parse_from(words).unwrap().command else {
            panic!("not a reproduce command");
        };
        assert_eq!(args.sidecar, Path::new("/srv/lab share/alice/a b_1.txt"));
        assert_eq!(args.root.as_deref(), Some(Path::new("/srv/lab share")));
        let out = args.output.unwrap();
        assert_eq!(out, Path::new("/srv/lab share/YOUR-FOLDER/NAME_1.png"));
        let name = out.file_name().unwrap().to_str().unwrap();
        assert!(crate::outputs::naming::parse_output_name(name).is_some_and(|(.., png)| png));
    }
}
