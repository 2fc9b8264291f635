//! What the viewer, the compare view and the "Make a task like this" form need of an image,
//! beyond its card's facts: its final loss and loss curve (from the sidecar's `final-loss`
//! and `loss-curve` lines, see [`super::facts`]), the pictures that steered it (`in_file` as `-ip`,
//! `template_file` as `-ii`), and the task file fields that make an image like it.

use serde::Serialize;

use super::facts::Facts;
use super::links::url_path;
use super::scan::FoundImage;
use crate::task::prompt::STYLE_JOIN;

/// A picture that steered an image.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    /// `in_file` or `template_file`.
    pub field: &'static str,
    /// The path as the sidecar names it (relative to the root).
    pub path: String,
    /// Link to it, relative to the gallery; empty for a path outside the root.
    pub href: String,
}

/// The task file fields of an image, to prefill the form (`None`: left out).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TaskFields {
    /// `text`: the prompt without its style.
    pub text: String,
    /// `style` (empty: the plain prompt).
    pub style: String,
    /// `iterations`.
    pub iterations: Option<u32>,
    /// `resolution`, as the sidecar's `-s`.
    pub resolution: Option<[u32; 2]>,
    /// `seed`.
    pub seed: Option<u64>,
    /// `out_file`: the image's name without its number.
    pub out_file: String,
    /// `in_file`, relative to the image's folder when it lies there.
    pub in_file: String,
    /// `template_file`, likewise.
    pub template_file: String,
    /// `raw`: the engine options of the call that `raw` may set.
    pub raw: String,
}

/// The pictures that steered the image (its sidecar's `job`), with links (`up`: from the
/// gallery to the root).
pub fn inputs(job: &Facts, up: &str) -> Vec<Input> {
    let link = |p: &str| {
        let inside = !p.starts_with('/') && !p.split('/').any(|c| c == "..");
        if inside {
            format!("{up}{}", url_path(p))
        } else {
            String::new()
        }
    };
    let mut out: Vec<Input> = job
        .image_prompts
        .iter()
        .map(|p| Input {
            field: "in_file",
            path: p.clone(),
            href: link(p),
        })
        .collect();
    if let Some(p) = &job.init_image {
        out.push(Input {
            field: "template_file",
            path: p.clone(),
            href: link(p),
        });
    }
    out
}

/// The fields of a task file that asks for an image like this one (its prompt without the
/// style, the style, iterations, size, seed, the name without its number, the input
/// pictures relative to the image's folder, and the engine options as `raw`).
pub fn task_fields(image: &FoundImage, job: &Facts, style: &str) -> TaskFields {
    let prompt = job.prompts.clone().unwrap_or_default();
    let text = if style.is_empty() {
        prompt
    } else {
        prompt.replacen(&format!("{STYLE_JOIN}{style}"), "", 1)
    };
    let name = image.rel.rsplit('/').next().unwrap_or_default();
    let stem = name.strip_suffix(".png").unwrap_or(name);
    let out_file = match stem.rsplit_once('_') {
        Some((base, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => base,
        _ => stem,
    };
    let folder = match image.rel.rsplit_once('/') {
        Some((folder, _)) => format!("{folder}/"),
        None => String::new(),
    };
    let local = |p: &str| p.strip_prefix(&folder).unwrap_or(p).to_string();
    TaskFields {
        text,
        style: style.to_string(),
        iterations: job.iterations,
        resolution: job.size,
        seed: job.seed,
        out_file: out_file.to_string(),
        in_file: job
            .image_prompts
            .first()
            .map(|p| local(p))
            .unwrap_or_default(),
        template_file: job.init_image.as_deref().map(local).unwrap_or_default(),
        raw: shlex::try_join(job.raw.iter().map(String::as_str)).unwrap_or_default(),
    }
}
