//! `runvqgan models check`: load a configured model set and say what it is, so the owner
//! can check a new checkpoint before the night.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::config::{Config, ConfigOverrides};
use crate::engine::models::{model_files, start_configured};
use crate::process::exit_codes::ExitCode;
use crate::process::text::escape;
use crate::shared_folder::root::Root;

/// Options of `models check`.
#[derive(Debug, Clone)]
pub struct CheckOptions<'a> {
    /// The shared folder (its runvqgan.toml names the model sets).
    pub root: &'a Path,
    /// Flags that override `runvqgan.toml` (`model` picks the set).
    pub overrides: ConfigOverrides,
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
