//! The shape of `plan --json`, an interface other tools read.

use serde::Serialize;

use super::{PlannedTask, Status};

/// One image in `plan --json`.
#[derive(Debug, Serialize)]
pub struct JsonImage<'a> {
    /// The PNG, relative to the root.
    pub output: &'a str,
    /// The final prompt string.
    pub prompt: &'a str,
    /// `[width, height]`.
    pub size: [u32; 2],
    /// Iterations.
    pub iterations: u32,
    /// The seed, or null when the engine will pick one.
    pub seed: Option<u64>,
}

/// One task in `plan --json`. The shape is an interface: other tools read it.
#[derive(Debug, Serialize)]
pub struct JsonTask<'a> {
    /// The task file, relative to the root.
    pub task: &'a str,
    /// `ok`, `invalid` or `skipped`.
    pub status: Status,
    /// The problems (invalid) or the reason (skipped); null when ok.
    pub error: Option<String>,
    /// Caps applied.
    pub warnings: &'a [String],
    /// The images still to make.
    pub images: Vec<JsonImage<'a>>,
}

/// The `plan --json` view of a plan.
pub fn json_view(tasks: &[PlannedTask]) -> Vec<JsonTask<'_>> {
    tasks
        .iter()
        .map(|t| JsonTask {
            task: &t.file.rel,
            status: t.status(),
            error: t.error_text(),
            warnings: t.warnings(),
            images: t
                .images()
                .iter()
                .map(|i| JsonImage {
                    output: &i.output_rel,
                    prompt: i.prompt(),
                    size: i.size(),
                    iterations: i.iterations(),
                    seed: i.job.seed,
                })
                .collect(),
        })
        .collect()
}
