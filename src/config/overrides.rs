//! Command-line flags as overrides of `runvqgan.toml`: each flag that sets a key is a field
//! named after it, and the flags serialise into one table laid over the file's.

use std::path::PathBuf;

use serde::Serialize;

/// Command-line values that override `runvqgan.toml`: a table of config keys, laid over the
/// file's table, and the configuration file named with `--config` / `RUNVQGAN_CONFIG` (read
/// instead of the root's; see [`crate::config::trust`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigOverrides(pub(super) toml::Table, pub(super) Option<PathBuf>);

impl ConfigOverrides {
    /// The overrides that a struct of flags gives: each field serialises under its config
    /// key; fields left `None` are left out (TOML has no null).
    pub fn from_flags(flags: &impl Serialize) -> ConfigOverrides {
        match toml::Value::try_from(flags) {
            Ok(toml::Value::Table(t)) => ConfigOverrides(t, None),
            other => panic!("flags must serialise to a table of config keys, not {other:?}"),
        }
    }

    /// The same overrides with `key` set to `value`.
    pub fn with(mut self, key: &str, value: impl Into<toml::Value>) -> ConfigOverrides {
        self.0.insert(key.to_string(), value.into());
        self
    }

    /// Whether no flag overrides anything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a flag overrides the config key `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The same overrides reading the configuration from `file` (`--config`) instead of the
    /// root's `runvqgan.toml`.
    pub fn with_config_file(mut self, file: Option<PathBuf>) -> ConfigOverrides {
        self.1 = file;
        self
    }
}
