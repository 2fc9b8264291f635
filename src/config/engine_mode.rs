//! `engine_mode` in runvqgan.toml.

use serde::{Deserialize, Serialize};

/// How the engine optimises: `fast` (a task's images in batches, the GPU speed switches)
/// or `reference` (generate.py's loop: one image at a time, float32), the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineMode {
    /// Batches and speed switches.
    #[default]
    Fast,
    /// One image at a time, float32, eager.
    Reference,
}

impl EngineMode {
    /// The name the engine takes.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineMode::Fast => "fast",
            EngineMode::Reference => "reference",
        }
    }
}
