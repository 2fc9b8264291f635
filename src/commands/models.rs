//! `runvqgan models check`: load a configured model set and say what it is, so the owner
//! can check a new checkpoint before the night.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;

use crate::config::{Config, ConfigError, ConfigOverrides, ModelSet};
use crate::engine::{Engine, ModelFiles, ModelInfo, PythonSetup};
use crate::exit_codes::ExitCode;
use crate::shared_folder::root::Root;
use crate::text::escape;

/// Options of `models check`.
#[derive(Debug, Clone)]
pub struct CheckOptions<'a> {
    /// The shared folder (its runvqgan.toml names the model sets).
    pub root: &'a Path,
    /// Flags that override `runvqgan.toml` (`model` picks the set).
    pub overrides: ConfigOverrides,
}

/// The engine's view of a model set: paths made absolute against the root, the CLIP
/// folder added.
pub fn model_files(root: &Path, config: &Config, set: Option<&ModelSet>) -> ModelFiles {
    let set = set.unwrap_or_else(|| config.model_set());
    ModelFiles {
        vqgan_config: set.vqgan_config_path(root).to_string_lossy().into_owned(),
        vqgan_checkpoint: set
            .vqgan_checkpoint_path(root)
            .to_string_lossy()
            .into_owned(),
        clip_model: set.clip_model.clone(),
        clip_dir: Some(root.join(&config.clip_dir).to_string_lossy().into_owned()),
    }
}

/// Checks, before Python starts, that the files of the configured model set exist: the
/// VQGAN config and checkpoint, and the CLIP model when it is given as a `.pt`/`.pth` path
/// (an OpenAI name such as `ViT-B/32` is looked up by the engine). A missing file is a
/// configuration error (exit code 2) that names the key and, when there is one, the file
/// of a near name.
pub fn check_model_files(root: &Path, config: &Config) -> Result<(), ConfigError> {
    let set = config.model_set();
    let table = format!("models.{}", config.model);
    let mut files = vec![
        ("vqgan_config", set.vqgan_config_path(root)),
        ("vqgan_checkpoint", set.vqgan_checkpoint_path(root)),
    ];
    if set.clip_model.ends_with(".pt") || set.clip_model.ends_with(".pth") {
        let given = root.join(&set.clip_model);
        let in_dir = root.join(&config.clip_dir).join(&set.clip_model);
        files.push((
            "clip_model",
            if !given.is_file() && in_dir.is_file() {
                in_dir
            } else {
                given
            },
        ));
    }
    for (key, path) in files {
        if path.is_file() {
            continue;
        }
        let near = near_file(&path)
            .map(|n| format!("; did you mean {}?", n.display()))
            .unwrap_or_default();
        return Err(ConfigError::Value {
            path: root.join(crate::shared_folder::files::CONFIG_FILE),
            key: format!("{table}.{key}"),
            problem: format!(
                "names {}, which does not exist{near} (relative paths are relative to the \
                 shared folder; scripts/download-models.sh fetches the default models)",
                path.display()
            ),
        });
    }
    Ok(())
}

/// The existing file whose name is nearest to `path`'s, in the same folder.
fn near_file(path: &Path) -> Option<std::path::PathBuf> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let dir = path.parent()?;
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .map(|n| (strsim::damerau_levenshtein(&name, &n), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 3))
        .min()
        .map(|(_, n)| dir.join(n))
}

/// Starts Python and loads the configured model set (`files`) on the configured device, in
/// the configured mode: what `run` does once a night and `models check` once.
pub fn start_configured(
    config: &Config,
    files: &ModelFiles,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(Engine, ModelInfo)> {
    let setup = PythonSetup::locate(config.python_env.as_deref())?;
    let engine = Engine::start(&setup, stop)?;
    let info = engine
        .load_models(
            &config.model,
            files,
            config.device.as_deref(),
            config.deterministic,
            config.engine_mode,
        )
        .with_context(|| format!("cannot load the model set `{}`", config.model))?;
    Ok((engine, info))
}

/// Runs `models check`.
pub fn check(opts: &CheckOptions<'_>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let root = Root::open(opts.root)?;
    let config = Config::load(root.path(), &opts.overrides)?;
    let files = model_files(root.path(), &config, None);
    let (_engine, info) = start_configured(&config, &files, Arc::new(AtomicBool::new(false)))?;
    // Names from the configuration and the engine; escaped all the same, as every name
    // a command prints (a model folder inside the shared folder is members' ground).
    writeln!(out, "model set   {}", escape(&config.model))?;
    writeln!(
        out,
        "VQGAN       {} ({})",
        escape(&info.vqgan_kind),
        escape(&files.vqgan_config)
    )?;
    writeln!(out, "checkpoint  {}", escape(&files.vqgan_checkpoint))?;
    writeln!(
        out,
        "factor      f{} (sizes are rounded down to multiples of {})",
        info.factor, info.factor
    )?;
    writeln!(
        out,
        "codebook    {} codes x {} dimensions",
        info.n_embed, info.embed_dim
    )?;
    writeln!(
        out,
        "CLIP        {} (input {} px)",
        escape(&info.clip_model),
        info.clip_resolution
    )?;
    writeln!(out, "device      {}", escape(&info.device))?;
    writeln!(out, "load time   {:.1} s", info.load_seconds)?;
    Ok(ExitCode::Success)
}
