//! Why an image or a task failed, as one enum that the engine's seam, the events, the
//! members' error files and the run summaries all share.

use serde::Serialize;

/// Why an image or a task failed. The engine's glue classifies its exceptions with strings;
/// [`FailureKind::from_glue`] turns them into this enum at the seam, and nothing after it
/// compares strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The GPU (or the machine) ran out of memory: a batch is split, a single image fails.
    OutOfMemory,
    /// A file the member's task names cannot be read (`in_file`, `template_file`).
    MemberInput,
    /// An output, a marker or an error file cannot be written (read-only, full disk, quota).
    Write,
    /// The task file cannot be read again or claimed.
    TaskFile,
    /// Ctrl-C or SIGTERM stopped the engine.
    Interrupted,
    /// Anything else the engine raised: the owner's problem, with a traceback in the log.
    Engine,
}

impl FailureKind {
    /// The glue's `describe_error` kind (`python/runvqgan_glue/cache.py`) as a [`FailureKind`].
    pub fn from_glue(kind: &str) -> FailureKind {
        match kind {
            "out_of_memory" => FailureKind::OutOfMemory,
            "missing_file" | "member_input" => FailureKind::MemberInput,
            "write" => FailureKind::Write,
            "interrupted" => FailureKind::Interrupted,
            _ => FailureKind::Engine,
        }
    }
}
