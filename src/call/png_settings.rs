//! What `reproduce` reads when it is given a picture rather than its `.txt`: the `.txt`
//! beside the picture when it is there, else the settings the engine wrote into the PNG's
//! own text chunks (`settings`: the job, the models and the mode, as JSON), so an image can
//! be made again even when its `.txt` was lost.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::call::job::Job;
use crate::call::options::{Kind, OPTIONS};
use crate::call::sidecar::{GenerateCall, ModelRef, Provenance, Sidecar};

/// What `reproduce` reads for the path it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A `.txt` (a sidecar).
    Sidecar(PathBuf),
    /// A picture whose `.txt` lies beside it: that `.txt`.
    TxtBesidePicture(PathBuf),
    /// A picture without its `.txt`: the settings in the picture.
    Picture(PathBuf),
}

impl Source {
    /// The `.txt` the source stands for (it names the next number; it may not exist).
    pub fn sidecar_path(&self) -> PathBuf {
        match self {
            Source::Sidecar(p) | Source::TxtBesidePicture(p) => p.clone(),
            Source::Picture(png) => png.with_extension("txt"),
        }
    }

    /// What to tell the user about the choice, if anything.
    pub fn note(&self, given: &Path) -> Option<String> {
        match self {
            Source::Sidecar(_) => None,
            Source::TxtBesidePicture(txt) => Some(format!(
                "note: {} is a picture: using the .txt beside it, {}",
                given.display(),
                txt.display()
            )),
            Source::Picture(_) => Some(format!(
                "note: {} has no .txt beside it: using the settings recorded in the picture itself",
                given.display()
            )),
        }
    }
}

/// The source for `path` (absolute): a name ending in `.png` (any case) is a picture, read
/// through its `.txt` when that exists (`exists`).
pub fn source(path: &Path, exists: &dyn Fn(&Path) -> bool) -> Source {
    let picture = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !picture {
        return Source::Sidecar(path.to_path_buf());
    }
    let txt = path.with_extension("txt");
    if exists(&txt) {
        Source::TxtBesidePicture(txt)
    } else {
        Source::Picture(path.to_path_buf())
    }
}

/// A sidecar made from the `settings` text chunk the engine writes into every PNG.
pub fn from_png(png: &Path) -> anyhow::Result<Sidecar> {
    // A picture in the shared folder is untrusted: no link, no fifo, a size cap.
    let bytes = crate::shared_folder::confined::read_nofollow(
        png,
        crate::shared_folder::confined::MAX_IMAGE,
    )
    .map_err(|e| anyhow::anyhow!(crate::shared_folder::confined::describe(&e)))
    .with_context(|| format!("cannot read {}", png.display()))?
    .bytes;
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_ignore_text_chunk(false);
    let reader = decoder
        .read_info()
        .with_context(|| format!("{} is not a PNG picture runvqgan can read", png.display()))?;
    let info = reader.info();
    let settings = info
        .uncompressed_latin1_text
        .iter()
        .find(|c| c.keyword == "settings")
        .map(|c| c.text.clone())
        .or_else(|| {
            info.utf8_text
                .iter()
                .find(|c| c.keyword == "settings")
                .and_then(|c| c.get_text().ok())
        });
    let Some(settings) = settings else {
        bail!(
            "{} records no settings (it was not made by runvqgan), and no .txt lies beside it",
            png.display()
        );
    };
    let value: serde_json::Value = serde_json::from_str(&settings)
        .with_context(|| format!("the settings recorded in {} are not JSON", png.display()))?;
    let job = job_from_settings(&value).map_err(|why| {
        anyhow::anyhow!(
            "the settings recorded in {} cannot be read: {why}",
            png.display()
        )
    })?;
    let text = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let mut provenance = Provenance::default();
    if let Some(mode) = text("mode") {
        provenance.extra.push(("engine-mode".into(), mode));
    }
    Ok(Sidecar {
        call: GenerateCall {
            job,
            models: ModelRef {
                clip_model: text("clip_model"),
                vqgan_config: text("vqgan_config"),
                vqgan_checkpoint: text("vqgan_checkpoint"),
            },
            cuda_device: None,
            deterministic: value
                .get("deterministic")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
        },
        provenance,
    })
}

/// The job recorded in a PNG's `settings` (keyed by the engine's job keys), read through the
/// option table like a sidecar's flags.
fn job_from_settings(settings: &serde_json::Value) -> Result<Job, String> {
    use serde_json::Value as J;
    let mut job = Job::default();
    for option in OPTIONS {
        let Some(v) = settings.get(option.key).filter(|v| !v.is_null()) else {
            continue;
        };
        let word = |v: &J| match v {
            J::String(s) => s.clone(),
            other => other.to_string(),
        };
        let words: Vec<String> = match (option.kind, v) {
            (Kind::Switch, J::Bool(false)) => continue,
            (Kind::Switch, _) => Vec::new(),
            (Kind::Paths, J::Array(items)) if items.is_empty() => continue,
            (Kind::Paths, J::Array(items)) => {
                vec![items.iter().map(word).collect::<Vec<_>>().join("|")]
            }
            (_, J::Array(items)) if items.is_empty() => continue,
            (_, J::Array(items)) => items.iter().map(word).collect(),
            (_, other) => vec![word(other)],
        };
        let value = option
            .kind
            .parse(&words)
            .map_err(|expected| format!("`{}` should be {expected}", option.key))?;
        job.set(option, value);
    }
    Ok(job)
}
