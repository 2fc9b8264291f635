//! What can be wrong with a configuration, and the "did you mean" hint for a misspelt key.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// A bad configuration file or a bad override.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a value of the wrong type.
    #[error("{path} is not valid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML reader said, with the line and column.
        message: String,
    },
    /// A value of the right type that makes no sense.
    #[error("{path}: `{key}` {problem}")]
    Value {
        /// The file (or `command line`).
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

/// The error for TOML that does not parse as a configuration, with a hint where one helps.
/// `at_top(line)`: whether `line` alone is a valid top-level setting (for a general setting
/// written under a table by mistake).
pub(super) fn parse_error(
    path: &Path,
    e: toml::de::Error,
    text: &str,
    at_top: &dyn Fn(&str) -> bool,
) -> ConfigError {
    let mut message = e.to_string().trim_end().to_string();
    if let Some(hint) =
        super::hint::misplaced_key(text, &message, at_top).or_else(|| unknown_key_hint(&message))
    {
        message.push_str(&hint);
    }
    ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    }
}

/// Adds "did you mean" to serde's "unknown field `x`, expected one of `a`, `b`" message,
/// choosing among the keys it lists (those of the table the key was found in).
fn unknown_key_hint(message: &str) -> Option<String> {
    let start = message.find("unknown field `")? + "unknown field `".len();
    let (key, rest) = message[start..].split_once('`')?;
    let known: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let best = crate::process::text::nearest(key, &known)?;
    Some(format!("\ndid you mean `{best}`?"))
}
