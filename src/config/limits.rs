//! The caps and default size that validation applies to every task, taken from [`Config`].

use serde::Serialize;

use super::Config;

/// The limits that validation applies to every task (the `max_*` and `default_resolution`
/// keys of [`Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Iterations above this are capped, with a warning.
    pub max_iterations: u32,
    /// `each` above this is capped, with a warning.
    pub max_each: u32,
    /// `[long, short]`: the long side and the short side are capped separately.
    pub max_resolution: [u32; 2],
    /// `[long, short]` used when a task gives no `resolution`.
    pub default_resolution: [u32; 2],
    /// A task whose video would have more frames is refused, saying why (0: no videos).
    pub max_video_frames: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Config::default().limits()
    }
}
