//! The job description handed to the engine: a plain struct whose field names are the
//! `dest` names of the `generate.py` flags (docs/interfaces.md section 1). It serialises to
//! the job dict; keys left `None` or empty are left out, so the engine uses upstream's default.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Extra `generate.py` options a task may set through `raw` (an allow-list) or that a
/// sidecar carries. Every field maps to one engine job key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineOptions {
    /// `-lr`: the Adam step size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_size: Option<f64>,
    /// `-cuts`: number of cutouts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutn: Option<u32>,
    /// `-cutm`: cutout method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_method: Option<String>,
    /// `-cutp`: cutout power.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_pow: Option<f64>,
    /// `-opt`: optimiser name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimiser: Option<String>,
    /// `-aug`: augmentations.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub augments: Vec<String>,
    /// `-iw`: weight of the initial image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_weight: Option<f64>,
    /// `-in`: `pixels` or `gradient`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_noise: Option<String>,
    /// `-se`: save every N iterations (CLI only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_every: Option<u32>,
    /// `-nps`: noise prompt seeds.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub noise_prompt_seeds: Vec<i64>,
    /// `-npw`: noise prompt weights.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub noise_prompt_weights: Vec<f64>,
}

/// One image to generate, as the engine takes it. Paths (`image_prompts`, `init_image`,
/// `output`) are relative to the root, as sidecars record them; [`Job::resolved`] makes
/// them absolute for the engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// `-p`: the whole prompt string (`a:1|b:0.5^c`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompts: Option<String>,
    /// `-ip`: image prompt paths.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub image_prompts: Vec<String>,
    /// `-i`: iterations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u32>,
    /// `-s`: `[width, height]` in pixels, before the engine rounds down to multiples of f.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<[u32; 2]>,
    /// `-ii`: initial image path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_image: Option<String>,
    /// `-sd`: the seed; `None` lets the engine pick one (it reports it back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// `-o`: the PNG to write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Options from `raw`.
    #[serde(flatten)]
    pub options: EngineOptions,
}

impl Job {
    /// The same job with its root-relative paths (`image_prompts`, `init_image`, `output`)
    /// joined to `root`, for handing to the engine. Absolute paths (old R sidecars) stay.
    pub fn resolved(&self, root: &Path) -> Job {
        let abs = |p: &String| root.join(p).to_string_lossy().into_owned();
        Job {
            image_prompts: self.image_prompts.iter().map(abs).collect(),
            init_image: self.init_image.as_ref().map(abs),
            output: self.output.as_ref().map(abs),
            ..self.clone()
        }
    }
}
