//! The commands (`validate`, `plan`, `check`, `run`, `reproduce`, `models check`, `gallery`,
//! `init`, `status`, `slurm-script`): each takes its options as plain values, writes its
//! report to the given output and returns the exit code. `main.rs` only parses flags.

pub mod check;
pub mod cli;
pub mod gallery;
pub mod init;
pub mod models;
pub mod plan;
pub mod reproduce;
pub mod run;
pub mod slurm_script;
pub mod status;
pub mod validate;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;

use crate::config::ConfigError;
use crate::engine::pyhome::PythonEnvError;
use crate::gallery::disk::GalleryError;
use crate::process::exit_codes::ExitCode;
use crate::shared_folder::permissions::Finding;
use crate::shared_folder::root::RootError;
use crate::shared_folder::state::StateError;

/// The engine could not start: the Python environment or the model files (the owner's
/// setup, like a bad configuration: exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("the engine cannot start (the Python environment or the model files)")]
pub struct SetupFailed;

/// Why this account only looks at the notes beside tasks (`_ERROR.txt`, `_WARNINGS.txt`)
/// instead of writing them: the shared folder's state, and with it the tasks' claims, belong
/// to another account (the owner), whose `check` writes them (docs/permissions.md). `None`:
/// this account writes them.
pub fn notes_reader(root: &std::path::Path) -> Option<StateError> {
    match crate::shared_folder::state::StateDir::open(root) {
        Err(e @ StateError::Foreign { .. }) => Some(e),
        _ => None,
    }
}

/// The exit code for an error that ended a command: 2 for configuration, root and Python
/// environment problems (the owner's setup, a gallery folder outside the root included), 1
/// for anything else.
pub fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    if err.chain().any(|e| {
        e.is::<ConfigError>()
            || e.is::<RootError>()
            || e.is::<PythonEnvError>()
            || e.is::<StateError>()
            || matches!(
                e.downcast_ref(),
                Some(GalleryError::BadDir { .. } | GalleryError::NotTheOwners { .. })
            )
    }) || err.downcast_ref::<SetupFailed>().is_some()
    {
        ExitCode::Usage
    } else {
        ExitCode::Failure
    }
}

/// The stop flag that Ctrl-C, SIGTERM and SIGHUP (the terminal or SSH session closed) set:
/// the engine stops within one iteration, nothing partial is written, and the run writes its
/// summary line and exits 130. A second signal while the first is being handled ends the
/// process at once with exit code 130.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    crate::process::stop::install().context("cannot install the Ctrl-C/SIGTERM handler")
}

/// Writes the permission findings (nothing when there are none).
pub fn write_permissions(findings: &[Finding], out: &mut dyn Write) -> std::io::Result<()> {
    if findings.is_empty() {
        return Ok(());
    }
    writeln!(out, "Permissions: {} problem(s):", findings.len())?;
    for f in findings {
        writeln!(
            out,
            "  {}: {}",
            crate::process::text::escape(&f.folder),
            crate::process::text::escape(&f.problem)
        )?;
        writeln!(out, "    fix: {}", crate::process::text::escape(&f.fix))?;
    }
    Ok(())
}
