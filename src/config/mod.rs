//! `<root>/runvqgan.toml`: the workstation owner's settings, defined once in [`Config`]. A
//! key is one field there (its doc says what it does), its default is in `Config::default`,
//! and a rule beyond its type is one check in `Config::check`. Command-line flags become a
//! table of the same keys ([`ConfigOverrides`], serialised from the clap flags), laid over
//! the file's table before it is read into [`Config`]; so a new key touches this struct and,
//! if it has a flag, `src/cli.rs`. An unknown key or a bad value is a [`ConfigError`]
//! (exit code 2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::shared_folder::files::CONFIG_FILE;
use serde::{Deserialize, Deserializer, Serialize};

mod engine_mode;
mod error;
mod hint;
mod limits;
pub mod window;
pub use engine_mode::EngineMode;
pub mod overrides;
pub mod trust;
pub use error::ConfigError;
use error::parse_error;
pub use limits::Limits;
pub use overrides::ConfigOverrides;

use crate::shared_folder::locks::filesystem::ClaimSetting;
use crate::shared_folder::root::check_relative;

/// The built-in model set `default`.
pub const DEFAULT_VQGAN_CONFIG: &str = "models/vqgan_imagenet_f16_16384.yaml";
/// The built-in model set `default`.
pub const DEFAULT_VQGAN_CHECKPOINT: &str = "models/vqgan_imagenet_f16_16384.ckpt";
/// The built-in model set `default`.
pub const DEFAULT_CLIP_MODEL: &str = "ViT-B/32";
/// The smallest image side accepted anywhere (VQGAN rounds sides down to multiples of 16).
pub const MIN_SIDE: u32 = 16;

/// One named set of models: a VQGAN (config + checkpoint) and a CLIP model. Keys left out
/// fall back to the `default` set's built-in values, so `[models.big] clip_model =
/// "ViT-L/14"` swaps only CLIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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

impl Default for Limits {
    fn default() -> Self {
        Config::default().limits()
    }
}

/// The effective configuration: built-in defaults, then `runvqgan.toml`, then flags. Each
/// field is a key of `runvqgan.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Iterations above this are capped, with a warning.
    pub max_iterations: u32,
    /// `each` above this is capped, with a warning.
    pub max_each: u32,
    /// `[long, short]`: the long side and the short side of a task's resolution are capped
    /// separately.
    pub max_resolution: [u32; 2],
    /// `[long, short]` used when a task gives no `resolution`.
    pub default_resolution: [u32; 2],
    /// The most frames of one video (`video`, `-vid`, `-zvid`); 0: no videos at all.
    pub max_video_frames: u32,
    /// A folder (relative to the root) whose tasks run before all others.
    pub priority_folder: Option<String>,
    /// Seconds to wait between tasks (lets the GPU cool / other users in).
    pub delay_seconds: f64,
    /// The most minutes a run may take: no image is started that would end later.
    pub max_minutes: Option<f64>,
    /// `cuda`, `cuda:N` or `cpu`; `None`: CUDA when available, else CPU.
    pub device: Option<String>,
    /// Deterministic algorithms (same seed, same image).
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
    /// A Prometheus textfile written at the end of every run; relative paths are relative
    /// to the root. `None`: none.
    pub metrics_file: Option<PathBuf>,
    /// A command (program and arguments, never a shell) run at the end of every run with
    /// the run's summary JSON on its standard input. `None`: none.
    pub on_finish: Option<Vec<String>>,
    /// The name of the model set to use.
    pub model: String,
    /// Where OpenAI-format CLIP files live; relative paths are relative to the root.
    pub clip_dir: PathBuf,
    /// Named model sets (`[models.NAME]`); always holds `default`.
    #[serde(deserialize_with = "with_default_set")]
    pub models: BTreeMap<String, ModelSet>,
    /// How runs sharing this folder claim tasks: `auto` (flock on a local disk; a lease,
    /// plus flock between the runs of one machine, on a network filesystem), `flock` or
    /// `lease`. See docs/cluster.md.
    pub claims: ClaimSetting,
    /// Seconds a lease lasts unless its holder renews it (every third of it): how long a
    /// task claimed by a node that died waits before another run takes it over, how long a
    /// run may be frozen (Slurm's suspend) before it loses its task, and how far the
    /// machines' clocks may disagree (docs/cluster.md).
    pub lease_seconds: f64,
    /// The gallery built at the end of every run: `true` (in `gallery/`), `false` (none) or
    /// a folder under the root.
    pub gallery: GallerySetting,
    /// The night window, `"HH:MM-HH:MM"` local time (`"23:00-06:30"`): a run started outside
    /// it does nothing and says so (`run --ignore-window` runs anyway), and no image starts
    /// that cannot end by its end. `None`: any time.
    pub window: Option<String>,
}

/// `gallery` in runvqgan.toml: on (`true`, the folder `gallery`), off, or a folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GallerySetting {
    /// `true` or `false`.
    On(bool),
    /// A folder relative to the root.
    Dir(String),
}

impl Config {
    /// The night window of `window` (validated when the configuration was loaded).
    pub fn night_window(&self) -> Option<window::NightWindow> {
        self.window
            .as_deref()
            .and_then(|w| window::NightWindow::parse(w).ok())
    }

    /// The gallery's folder after a run, or `None` when `gallery = false`.
    pub fn gallery_dir(&self) -> Option<String> {
        match &self.gallery {
            GallerySetting::On(true) => Some(crate::shared_folder::files::GALLERY_DIR.to_string()),
            GallerySetting::On(false) => None,
            GallerySetting::Dir(d) => Some(d.clone()),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_iterations: 6000,
            max_each: 25,
            max_resolution: [450, 300],
            default_resolution: [450, 300],
            max_video_frames: 1000,
            priority_folder: None,
            delay_seconds: 0.0,
            max_minutes: None,
            device: None,
            deterministic: true,
            max_batch: None,
            engine_mode: EngineMode::Fast,
            python_env: None,
            log_file: PathBuf::from("runvqgan.log"),
            metrics_file: None,
            on_finish: None,
            model: "default".into(),
            clip_dir: PathBuf::from("models"),
            models: BTreeMap::from([("default".to_string(), ModelSet::default())]),
            claims: ClaimSetting::Auto,
            lease_seconds: 60.0,
            gallery: GallerySetting::On(true),
            window: None,
        }
    }
}

fn with_default_set<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, ModelSet>, D::Error> {
    let mut sets = BTreeMap::<String, ModelSet>::deserialize(d)?;
    sets.entry("default".to_string()).or_default();
    Ok(sets)
}

/// Reads the configuration file: `given` (`--config`), else the root's `runvqgan.toml` when
/// it is trusted ([`crate::config::trust`]); its path and text, `None` when there is none. Every
/// read of a configuration file goes through here.
fn read_config_file(
    root: &Path,
    given: Option<&Path>,
    use_: trust::Use,
) -> Result<(PathBuf, Option<String>), ConfigError> {
    trust::read_config(root, given, use_)
}

impl Config {
    /// Loads `<root>/runvqgan.toml` (built-in defaults when it does not exist), applies
    /// `overrides`, and checks the result.
    pub fn load(root: &Path, overrides: &ConfigOverrides) -> Result<Config, ConfigError> {
        Config::load_for(root, overrides, trust::Use::StartsPython)
    }

    /// [`Config::load`] for a command that starts no Python and loads no model (`plan`,
    /// `status`, `check`, `validate`): the shared folder owner's file is trusted too.
    pub fn load_to_read(root: &Path, overrides: &ConfigOverrides) -> Result<Config, ConfigError> {
        Config::load_for(root, overrides, trust::Use::ReadOnly)
    }

    fn load_for(
        root: &Path,
        overrides: &ConfigOverrides,
        use_: trust::Use,
    ) -> Result<Config, ConfigError> {
        let (path, text) = read_config_file(root, overrides.1.as_deref(), use_)?;
        let text = text.unwrap_or_default();
        let config = Config::parse(&path, &text)?;
        if overrides.is_empty() {
            return Ok(config);
        }
        let command_line = Path::new("the command line");
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| parse_error(&path, e, &text, &parses_at_top))?;
        table.extend(overrides.0.clone());
        let config = Config::deserialize(toml::Value::Table(table))
            .map_err(|e| parse_error(command_line, e, "", &parses_at_top))?;
        config.check(command_line)?;
        Ok(config)
    }

    /// Parses a configuration text (for tests and `load`).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new(CONFIG_FILE), text)
    }

    fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| parse_error(path, e, text, &parses_at_top))?;
        config.check(path)?;
        Ok(config)
    }

    /// The caps and default size that validation applies.
    pub fn limits(&self) -> Limits {
        Limits {
            max_iterations: self.max_iterations,
            max_each: self.max_each,
            max_resolution: self.max_resolution,
            default_resolution: self.default_resolution,
            max_video_frames: self.max_video_frames,
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
        let l = self.limits();
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
        if let GallerySetting::Dir(g) = &self.gallery {
            check_relative(g).map_err(|e| {
                bad(
                    "gallery",
                    format!(
                        "{g:?} is not a folder under the root: {e}; write a folder such as \"gallery\", or false for no gallery"
                    ),
                )
            })?;
        }
        if let Some(w) = &self.window {
            window::NightWindow::parse(w).map_err(|problem| bad("window", problem))?;
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
        if !(self.lease_seconds.is_finite() && self.lease_seconds >= 1.0) {
            return Err(bad(
                "lease_seconds",
                "must be a number of seconds, at least 1 (60 suits most clusters)".into(),
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
        if let Some(argv) = &self.on_finish
            && argv.first().is_none_or(|p| p.trim().is_empty())
        {
            return Err(bad(
                "on_finish",
                "must name a program, with its arguments, as a list: \
                 on_finish = [\"/usr/local/bin/mail-summary\", \"owner@lab\"]"
                    .into(),
            ));
        }
        if let Some(m) = &self.metrics_file
            && m.file_name().is_none()
        {
            return Err(bad(
                "metrics_file",
                format!(
                    "{} names no file; write the path of a file ending in .prom, such as \
                     \"/var/lib/prometheus/node-exporter/runvqgan.prom\"",
                    m.display()
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

/// Whether `line` alone parses as a configuration (a general setting at the top level).
fn parses_at_top(line: &str) -> bool {
    toml::from_str::<Config>(line).is_ok()
}
