//! A valid task as the list of images it asks for: len(style) x each, in style order, each
//! style repeated `each` times. Image k (1-based) gets the seed `seed + k - 1` when the task
//! gives a base seed, else none (the engine picks one and the sidecar records it).

use std::ops::RangeInclusive;

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
    for (style, indices) in by_style(spec) {
        let prompt = spec.prompt.render(style);
        out.extend(indices.map(|index| ImageSpec {
            index,
            total,
            style: style.to_string(),
            prompt: prompt.clone(),
            seed: seed_of(spec.seed, index),
        }));
    }
    out
}

/// The expansion without its strings: each style of `spec` in order, with the indices k of
/// its images (the prompt of a style is `spec.prompt.render(style)`).
pub fn by_style(spec: &TaskSpec) -> impl Iterator<Item = (&str, RangeInclusive<u32>)> {
    spec.styles.iter().enumerate().map(|(i, style)| {
        let first = i as u32 * spec.each + 1;
        (style.as_str(), first..=first + spec.each - 1)
    })
}

/// The seed of image `index` (k) of a task whose base seed is `seed`: `seed + k - 1` when
/// the task gives one.
pub fn seed_of(seed: Option<u64>, index: u32) -> Option<u64> {
    seed.map(|s| s + u64::from(index) - 1)
}
