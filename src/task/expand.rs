//! A valid task as the list of images it asks for: len(style) x each, in style order, each
//! style repeated `each` times. Image k (1-based) gets the seed `seed + k - 1` when the task
//! gives a base seed, else none (the engine picks one and the sidecar records it).

use super::TaskSpec;

/// One image of a task's expansion, before it has an output name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageSpec {
    /// The 1-based index in the expansion (`k of N`).
    pub index: u32,
    /// N, the task's total number of images.
    pub total: u32,
    /// The style (`""`: plain).
    pub style: String,
    /// The final prompt string, style applied.
    pub prompt: String,
    /// The seed, when the task gives one.
    pub seed: Option<u64>,
}

/// Expands a task into its images, in order.
pub fn expand(spec: &TaskSpec) -> Vec<ImageSpec> {
    let total = spec.total_images();
    let mut out = Vec::with_capacity(total as usize);
    for style in &spec.styles {
        let prompt = spec.prompt.render(style);
        for _ in 0..spec.each {
            let index = out.len() as u32 + 1;
            out.push(ImageSpec {
                index,
                total,
                style: style.clone(),
                prompt: prompt.clone(),
                seed: spec.seed.map(|s| s + u64::from(index) - 1),
            });
        }
    }
    out
}
