//! The commands `validate` and `plan`: each takes its options as plain values, writes its
//! report to the given output and returns the exit code. `main.rs` only parses flags.

pub mod plan;
pub mod validate;

use crate::config::ConfigError;
use crate::exit_codes::ExitCode;
use crate::root::RootError;

/// The exit code for an error that ended a command: 2 for configuration and root problems
/// (the owner's setup), 1 for anything else.
pub fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    if err
        .chain()
        .any(|e| e.is::<ConfigError>() || e.is::<RootError>())
    {
        ExitCode::Usage
    } else {
        ExitCode::Failure
    }
}
