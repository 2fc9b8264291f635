//! What the gallery takes from a sidecar: the facts its card shows, drawn from the parsed
//! [`Sidecar`] once and kept in the owner's state keyed by the sidecar's stamp
//! ([`crate::shared_folder::index`], [`SIDECAR_INDEX`]), so that a rebuild reads and parses
//! only the sidecars that are new or changed.
//!
//! The index's context ([`context`]) holds the source of this file and of the sidecar
//! parser: a build whose facts would come out otherwise reads every sidecar again.

use serde::{Deserialize, Serialize};

use crate::call::options::{Value, raw_allowed};
use crate::call::sidecar::{LOSS_CURVE, Sidecar, split_call};
use crate::shared_folder::index::context_digest;
use crate::task::raw::SAVE_EVERY;

pub use crate::shared_folder::files::GALLERY_SIDECARS_INDEX as SIDECAR_INDEX;

/// A sidecar as the gallery uses it: what it shows, what is cached per sidecar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The sidecar's first line as written (the generate call).
    pub call: String,
    /// `-p`: the whole prompt string.
    pub prompts: Option<String>,
    /// `-ip`: the image prompts' paths, as recorded (relative to the root).
    pub image_prompts: Vec<String>,
    /// `-ii`: the initial image's path.
    pub init_image: Option<String>,
    /// `-i`.
    pub iterations: Option<u32>,
    /// `-s`.
    pub size: Option<[u32; 2]>,
    /// `-sd`.
    pub seed: Option<u64>,
    /// The model set, or for old sidecars the CLIP model (`-m`).
    pub model: Option<String>,
    /// `started` (RFC 3339), as written.
    pub started: Option<String>,
    /// `task`: the task file, relative to the root.
    pub task: Option<String>,
    /// `image: k of N`, as `(k, N)`.
    pub image: Option<(u32, u32)>,
    /// `final-loss`.
    pub final_loss: Option<f64>,
    /// The `loss-curve` line's numbers (finite ones only).
    pub curve: Vec<f64>,
    /// The engine options of the call that a task's `raw` may set, as task words.
    pub raw: Vec<String>,
}

impl Facts {
    /// The facts of the sidecar `text`, parsed as `sidecar`.
    pub fn new(text: &str, sidecar: &Sidecar) -> Facts {
        let job = &sidecar.call.job;
        let p = &sidecar.provenance;
        let call = split_call(text.trim_start_matches('\u{feff}').trim_start())
            .map(|(call, _)| call.trim_end_matches('\r').to_string())
            .unwrap_or_default();
        let curve = p
            .extra
            .iter()
            .find(|(k, _)| k == LOSS_CURVE)
            .map(|(_, v)| {
                v.split_whitespace()
                    .filter_map(|n| n.parse::<f64>().ok())
                    .filter(|n| n.is_finite())
                    .collect()
            })
            .unwrap_or_default();
        let mut raw = Vec::new();
        // `-se` at the image's iterations is what validate sets when a task gives none: left
        // out, so that a task made from the form with more iterations still saves its last.
        let default_save = |value: &Value| matches!(value, Value::Int(n) if Some(*n) == job.iterations.map(i64::from));
        for option in raw_allowed() {
            if let Some(value) = job.value(option) {
                if option.key == SAVE_EVERY && default_save(&value) {
                    continue;
                }
                raw.push(option.short.to_string());
                raw.extend(value.words(option.kind));
            }
        }
        Facts {
            call,
            prompts: job.prompts.clone(),
            image_prompts: job.image_prompts.clone(),
            init_image: job.init_image.clone(),
            iterations: job.iterations,
            size: job.size,
            seed: job.seed,
            model: p
                .model_set
                .clone()
                .or_else(|| sidecar.call.models.clip_model.clone()),
            started: p.started.clone(),
            task: p.task.clone(),
            image: p.image.map(|i| (i.index, i.total)),
            final_loss: p.final_loss,
            curve,
            raw,
        }
    }
}

/// What a sidecar's entry in the index holds: its facts, or why it is not an image's
/// sidecar (too long, not a sidecar), so that a member's broken file is not read again
/// either until it changes.
pub type Cached = Result<Facts, String>;

/// The first part of a [`Cached`] entry (`Index::get_head`): whether the sidecar is an
/// image's, or why not, without decoding its facts.
pub type Verdict = Result<(), String>;

/// The context of the sidecars' index: the program's version and the code that turns a
/// sidecar into [`Facts`] (this file, the sidecar parser and the options it reads).
pub fn context() -> String {
    context_digest([
        env!("CARGO_PKG_VERSION").as_bytes(),
        include_str!("facts.rs").as_bytes(),
        include_str!("../call/sidecar.rs").as_bytes(),
        include_str!("../call/job.rs").as_bytes(),
        include_str!("../call/options.rs").as_bytes(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared_folder::index::{FileStamp, Index};

    #[test]
    fn the_verdict_is_read_from_the_head_of_a_cached_entry() {
        let mut index = Index::<Cached>::empty("t.index", "ctx");
        let stamp = FileStamp {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_sec: 4,
            mtime_nsec: 5,
            ctime_sec: 6,
            ctime_nsec: 7,
        };
        let facts = Facts {
            call: "generate.py -p x".into(),
            curve: vec![1.0, 0.5],
            raw: vec!["-cuts".into(), "8".into()],
            ..Facts::default()
        };
        index.insert("a.txt", stamp, Ok(facts.clone()));
        index.insert("b.txt", stamp, Err("not a sidecar".into()));
        assert_eq!(index.get_head::<Verdict>("a.txt", &stamp), Some(Ok(())));
        assert_eq!(
            index.get_head::<Verdict>("b.txt", &stamp),
            Some(Err("not a sidecar".into()))
        );
        assert_eq!(index.get("a.txt", &stamp), Some(&Ok(facts)));
    }
}
