//! `<root>/runvqgan.toml`: the workstation owner's settings. Every key is optional; flags on
//! the command line override the file ([`ConfigOverrides`]); an unknown key or a bad value is
//! a [`ConfigError`] (exit code 2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::root::{CONFIG_FILE, check_relative};

/// The built-in model set `default`.
pub const DEFAULT_VQGAN_CONFIG: &str = "models/vqgan_imagenet_f16_16384.yaml";
/// The built-in model set `default`.
pub const DEFAULT_VQGAN_CHECKPOINT: &str = "models/vqgan_imagenet_f16_16384.ckpt";
/// The built-in model set `default`.
pub const DEFAULT_CLIP_MODEL: &str = "ViT-B/32";
/// The smallest image side accepted anywhere (VQGAN rounds sides down to multiples of 16).
pub const MIN_SIDE: u32 = 16;

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

/// One named set of models: a VQGAN (config + checkpoint) and a CLIP model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSet {
    /// The taming `.yaml` of the VQGAN; relative paths are relative to the root.
    pub vqgan_config: String,
    /// The taming `.ckpt` of the VQGAN; relative paths are relative to the root.
    pub vqgan_checkpoint: String,
    /// A CLIP model name (looked up in `clip_dir`) or a path to a `.pt`.
    pub clip_model: String,
}

impl Default for ModelSet {
    fn default() -> Self {
        ModelSet {
            vqgan_config: DEFAULT_VQGAN_CONFIG.into(),
            vqgan_checkpoint: DEFAULT_VQGAN_CHECKPOINT.into(),
            clip_model: DEFAULT_CLIP_MODEL.into(),
        }
    }
}

impl ModelSet {
    /// The VQGAN config as a path on disk (relative paths joined to `root`).
    pub fn vqgan_config_path(&self, root: &Path) -> PathBuf {
        root.join(&self.vqgan_config)
    }
    /// The VQGAN checkpoint as a path on disk (relative paths joined to `root`).
    pub fn vqgan_checkpoint_path(&self, root: &Path) -> PathBuf {
        root.join(&self.vqgan_checkpoint)
    }
}

/// A model set as written in the file: keys left out fall back to the `default` set's built-in
/// values, so `[models.big] clip_model = "ViT-L/14"` swaps only CLIP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSetFile {
    vqgan_config: Option<String>,
    vqgan_checkpoint: Option<String>,
    clip_model: Option<String>,
}

/// The file as written: every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    max_iterations: Option<u32>,
    max_each: Option<u32>,
    max_resolution: Option<[u32; 2]>,
    default_resolution: Option<[u32; 2]>,
    priority_folder: Option<String>,
    delay_seconds: Option<f64>,
    max_minutes: Option<f64>,
    device: Option<String>,
    deterministic: Option<bool>,
    max_batch: Option<u32>,
    engine_mode: Option<EngineMode>,
    python_env: Option<PathBuf>,
    log_file: Option<PathBuf>,
    model: Option<String>,
    clip_dir: Option<PathBuf>,
    models: Option<BTreeMap<String, ModelSetFile>>,
}

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

/// The limits that validation applies to every task.
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_iterations: 6000,
            max_each: 25,
            max_resolution: [450, 300],
            default_resolution: [450, 300],
        }
    }
}

/// The effective configuration: built-in defaults, then `runvqgan.toml`, then flags.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Caps and the default size.
    pub limits: Limits,
    /// A folder (relative to the root) whose tasks run before all others.
    pub priority_folder: Option<String>,
    /// Seconds to wait between tasks (lets the GPU cool / other users in).
    pub delay_seconds: f64,
    /// The most minutes a run may take: no image is started that would end later.
    pub max_minutes: Option<f64>,
    /// `cuda`, `cuda:N` or `cpu`; `None`: CUDA when available, else CPU.
    pub device: Option<String>,
    /// Deterministic algorithms (same seed, same image); default true.
    pub deterministic: bool,
    /// The most images of one task optimised together (fast mode); halved for the rest of
    /// the run when a batch runs out of GPU memory. `None`: 4 on a GPU, 1 on the CPU.
    pub max_batch: Option<u32>,
    /// Fast or reference.
    pub engine_mode: EngineMode,
    /// The Python virtual environment; `None`: `VIRTUAL_ENV` or the project's `.venv`.
    pub python_env: Option<PathBuf>,
    /// The log file; relative paths are relative to the root.
    pub log_file: PathBuf,
    /// The name of the model set to use.
    pub model: String,
    /// Where OpenAI-format CLIP files live; relative paths are relative to the root.
    pub clip_dir: PathBuf,
    /// Named model sets; always holds `default`.
    pub models: BTreeMap<String, ModelSet>,
}

impl Default for Config {
    fn default() -> Self {
        let mut models = BTreeMap::new();
        models.insert("default".to_string(), ModelSet::default());
        Config {
            limits: Limits::default(),
            priority_folder: None,
            delay_seconds: 0.0,
            max_minutes: None,
            device: None,
            deterministic: true,
            max_batch: None,
            engine_mode: EngineMode::Fast,
            python_env: None,
            log_file: PathBuf::from("runvqgan.log"),
            model: "default".into(),
            clip_dir: PathBuf::from("models"),
            models,
        }
    }
}

/// Command-line values that override `runvqgan.toml`. `None` leaves the file's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigOverrides {
    /// `max_iterations`.
    pub max_iterations: Option<u32>,
    /// `max_each`.
    pub max_each: Option<u32>,
    /// `max_resolution` `[long, short]`.
    pub max_resolution: Option<[u32; 2]>,
    /// `priority_folder`.
    pub priority_folder: Option<String>,
    /// `delay_seconds`.
    pub delay_seconds: Option<f64>,
    /// `max_minutes`.
    pub max_minutes: Option<f64>,
    /// `device`.
    pub device: Option<String>,
    /// `deterministic`.
    pub deterministic: Option<bool>,
    /// `max_batch`.
    pub max_batch: Option<u32>,
    /// `engine_mode`.
    pub engine_mode: Option<EngineMode>,
    /// `python_env`.
    pub python_env: Option<PathBuf>,
    /// `log_file`.
    pub log_file: Option<PathBuf>,
    /// `model`.
    pub model: Option<String>,
}

impl Config {
    /// Loads `<root>/runvqgan.toml` (built-in defaults when it does not exist), applies
    /// `overrides`, and checks the result.
    pub fn load(root: &Path, overrides: &ConfigOverrides) -> Result<Config, ConfigError> {
        let path = root.join(CONFIG_FILE);
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => Some(parse_file(&path, &text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let mut config = Config::default();
        if let Some(file) = file {
            config.merge_file(file);
        }
        config.check(&path)?;
        config.apply(overrides);
        config.check(Path::new("the command line"))?;
        Ok(config)
    }

    /// Parses a configuration text (for tests and `load`).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let path = Path::new(CONFIG_FILE);
        let mut config = Config::default();
        config.merge_file(parse_file(path, text)?);
        config.check(path)?;
        Ok(config)
    }

    fn merge_file(&mut self, f: ConfigFile) {
        let l = &mut self.limits;
        l.max_iterations = f.max_iterations.unwrap_or(l.max_iterations);
        l.max_each = f.max_each.unwrap_or(l.max_each);
        l.max_resolution = f.max_resolution.unwrap_or(l.max_resolution);
        l.default_resolution = f.default_resolution.unwrap_or(l.default_resolution);
        self.priority_folder = f.priority_folder.or(self.priority_folder.take());
        self.delay_seconds = f.delay_seconds.unwrap_or(self.delay_seconds);
        self.max_minutes = f.max_minutes.or(self.max_minutes);
        self.device = f.device.or(self.device.take());
        self.deterministic = f.deterministic.unwrap_or(self.deterministic);
        self.max_batch = f.max_batch.or(self.max_batch);
        self.engine_mode = f.engine_mode.unwrap_or(self.engine_mode);
        self.python_env = f.python_env.or(self.python_env.take());
        if let Some(v) = f.log_file {
            self.log_file = v;
        }
        if let Some(v) = f.model {
            self.model = v;
        }
        if let Some(v) = f.clip_dir {
            self.clip_dir = v;
        }
        for (name, set) in f.models.unwrap_or_default() {
            let base = ModelSet::default();
            self.models.insert(
                name,
                ModelSet {
                    vqgan_config: set.vqgan_config.unwrap_or(base.vqgan_config),
                    vqgan_checkpoint: set.vqgan_checkpoint.unwrap_or(base.vqgan_checkpoint),
                    clip_model: set.clip_model.unwrap_or(base.clip_model),
                },
            );
        }
    }

    /// Applies command-line overrides.
    pub fn apply(&mut self, o: &ConfigOverrides) {
        if let Some(v) = o.max_iterations {
            self.limits.max_iterations = v;
        }
        if let Some(v) = o.max_each {
            self.limits.max_each = v;
        }
        if let Some(v) = o.max_resolution {
            self.limits.max_resolution = v;
        }
        if let Some(v) = &o.priority_folder {
            self.priority_folder = Some(v.clone());
        }
        if let Some(v) = o.delay_seconds {
            self.delay_seconds = v;
        }
        if let Some(v) = o.max_minutes {
            self.max_minutes = Some(v);
        }
        if let Some(v) = &o.device {
            self.device = Some(v.clone());
        }
        if let Some(v) = o.deterministic {
            self.deterministic = v;
        }
        if let Some(v) = o.max_batch {
            self.max_batch = Some(v);
        }
        if let Some(v) = o.engine_mode {
            self.engine_mode = v;
        }
        if let Some(v) = &o.python_env {
            self.python_env = Some(v.clone());
        }
        if let Some(v) = &o.log_file {
            self.log_file = v.clone();
        }
        if let Some(v) = &o.model {
            self.model = v.clone();
        }
    }

    /// The selected model set.
    pub fn model_set(&self) -> &ModelSet {
        // `check` guarantees that the selected set exists.
        &self.models[&self.model]
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, problem: String| ConfigError::Value {
            path: path.to_path_buf(),
            key: key.to_string(),
            problem,
        };
        let l = &self.limits;
        if l.max_iterations < 1 {
            return Err(bad("max_iterations", "must be at least 1".into()));
        }
        if l.max_each < 1 {
            return Err(bad("max_each", "must be at least 1".into()));
        }
        for (key, [long, short]) in [
            ("max_resolution", l.max_resolution),
            ("default_resolution", l.default_resolution),
        ] {
            if long < short {
                return Err(bad(
                    key,
                    format!(
                        "is [long, short]: the first number ({long}) must not be smaller than the second ({short})"
                    ),
                ));
            }
            if short < MIN_SIDE {
                return Err(bad(
                    key,
                    format!("sides must be at least {MIN_SIDE} pixels"),
                ));
            }
        }
        let [dl, ds] = l.default_resolution;
        let [ml, ms] = l.max_resolution;
        if dl > ml || ds > ms {
            return Err(bad(
                "default_resolution",
                format!(
                    "[{dl}, {ds}] is larger than max_resolution [{ml}, {ms}]; lower it or raise max_resolution"
                ),
            ));
        }
        if let Some(p) = &self.priority_folder {
            check_relative(p).map_err(|e| {
                bad(
                    "priority_folder",
                    format!("{p:?} is not a folder under the root: {e}"),
                )
            })?;
        }
        if !(self.delay_seconds.is_finite() && self.delay_seconds >= 0.0) {
            return Err(bad(
                "delay_seconds",
                "must be a number of seconds, 0 or more".into(),
            ));
        }
        if let Some(m) = self.max_minutes
            && !(m.is_finite() && m > 0.0)
        {
            return Err(bad(
                "max_minutes",
                "must be a number of minutes greater than 0".into(),
            ));
        }
        if let Some(n) = self.max_batch
            && !(1..=64).contains(&n)
        {
            return Err(bad(
                "max_batch",
                "must be a whole number from 1 to 64 (images optimised together)".into(),
            ));
        }
        if let Some(d) = &self.device
            && !valid_device(d)
        {
            return Err(bad(
                "device",
                format!(
                    "{d:?} is not a device; use \"cuda\", \"cuda:1\" (a GPU by number) or \"cpu\""
                ),
            ));
        }
        if !self.models.contains_key(&self.model) {
            let known: Vec<&str> = self.models.keys().map(String::as_str).collect();
            return Err(bad(
                "model",
                format!(
                    "names the model set {:?}, which is not defined; define [models.{}] or use one of: {}",
                    self.model,
                    self.model,
                    known.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

fn valid_device(d: &str) -> bool {
    d == "cpu"
        || d == "cuda"
        || d.strip_prefix("cuda:")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_file(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    toml::from_str::<ConfigFile>(text).map_err(|e| {
        let mut message = e.to_string().trim_end().to_string();
        if let Some(hint) = unknown_key_hint(&message) {
            message.push_str(&hint);
        }
        ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        }
    })
}

const KNOWN_KEYS: &[&str] = &[
    "max_iterations",
    "max_each",
    "max_resolution",
    "default_resolution",
    "priority_folder",
    "delay_seconds",
    "max_minutes",
    "device",
    "deterministic",
    "max_batch",
    "engine_mode",
    "python_env",
    "log_file",
    "model",
    "clip_dir",
    "models",
    "vqgan_config",
    "vqgan_checkpoint",
    "clip_model",
];

/// Adds "did you mean" to toml's "unknown field `x`" message.
fn unknown_key_hint(message: &str) -> Option<String> {
    let start = message.find("unknown field `")? + "unknown field `".len();
    let len = message[start..].find('`')?;
    let key = &message[start..start + len];
    let best = crate::task::schema::nearest(key, KNOWN_KEYS)?;
    Some(format!("\ndid you mean `{best}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_optional() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn flags_override_the_file() {
        let mut c = Config::from_toml("max_iterations = 100\ndevice = \"cpu\"").unwrap();
        c.apply(&ConfigOverrides {
            max_iterations: Some(50),
            ..Default::default()
        });
        assert_eq!(c.limits.max_iterations, 50);
        assert_eq!(c.device.as_deref(), Some("cpu"));
    }

    #[test]
    fn unknown_key_is_an_error_with_suggestion() {
        let e = Config::from_toml("max_iteration = 3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_iteration"), "{e}");
        assert!(e.contains("did you mean `max_iterations`"), "{e}");
    }

    #[test]
    fn model_sets_fall_back_to_the_default_paths() {
        let c =
            Config::from_toml("model = \"big\"\n[models.big]\nclip_model = \"ViT-L/14\"").unwrap();
        let set = c.model_set();
        assert_eq!(set.clip_model, "ViT-L/14");
        assert_eq!(set.vqgan_config, DEFAULT_VQGAN_CONFIG);
    }

    #[test]
    fn unknown_model_set_is_an_error() {
        let e = Config::from_toml("model = \"nope\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[models.nope]"), "{e}");
    }
}
