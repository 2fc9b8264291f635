//! The caps and default size that validation applies to every task, taken from the
//! configuration (`Config::limits`; `Limits::default()` is the built-in configuration's).

use serde::Serialize;

/// The limits that validation applies to every task (the `max_*` and `default_resolution`
/// keys of the configuration).
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
