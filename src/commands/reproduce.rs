//! `runvqgan reproduce SIDECAR`: make an image again from the call recorded in its `.txt`,
//! through the same engine, as a new file (never overwriting anything).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, bail};

use crate::commands::models::model_files;
use crate::config::{Config, ConfigOverrides, EngineMode, ModelSet};
use crate::engine::{Engine, GenerateError, PythonSetup};
use crate::exit_codes::ExitCode;
use crate::naming::{OutputIndex, output_names, parse_output_name};
use crate::night::record_result;
use crate::progress::Progress;
use crate::root::Root;
use crate::sidecar::Sidecar;

/// Options of `reproduce`.
#[derive(Debug, Clone)]
pub struct ReproduceOptions<'a> {
    /// The sidecar to reproduce.
    pub sidecar: &'a Path,
    /// Where to write the PNG; default: the next free number beside the original.
    pub output: Option<&'a Path>,
    /// The shared folder; default: from the sidecar.
    pub root: Option<&'a Path>,
    /// Flags that override `runvqgan.toml`.
    pub overrides: ConfigOverrides,
}

/// Runs `reproduce`.
pub fn run(opts: &ReproduceOptions<'_>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let sidecar = Sidecar::read(opts.sidecar)
        .with_context(|| format!("cannot read {}", opts.sidecar.display()))?
        .with_context(|| {
            format!(
                "{} is not a sidecar runvqgan can read",
                opts.sidecar.display()
            )
        })?;
    let sidecar_path = std::fs::canonicalize(opts.sidecar)?;
    let root = find_root(opts.root, &sidecar, &sidecar_path)?;
    let config = Config::load(root.path(), &opts.overrides)?;

    let call = &sidecar.call;
    if call.job.seed.is_none() {
        writeln!(
            out,
            "note: {} records no seed (it was written by the old R runner), so the new image \
             will differ from the original",
            opts.sidecar.display()
        )?;
    }
    // The models the sidecar names, else the configured ones.
    let configured = config.model_set().clone();
    let set = ModelSet {
        vqgan_config: call
            .models
            .vqgan_config
            .clone()
            .unwrap_or(configured.vqgan_config),
        vqgan_checkpoint: call
            .models
            .vqgan_checkpoint
            .clone()
            .unwrap_or(configured.vqgan_checkpoint),
        clip_model: call
            .models
            .clip_model
            .clone()
            .unwrap_or(configured.clip_model),
    };
    let files = model_files(root.path(), &config, Some(&set));

    let (png, txt) = match opts.output {
        Some(o) => {
            let png = std::path::absolute(o)?;
            if png.exists() {
                bail!(
                    "{} exists already; runvqgan never overwrites a file",
                    png.display()
                );
            }
            let txt = png.with_extension("txt");
            (png, txt)
        }
        None => next_beside(&sidecar_path)?,
    };

    let mut job = call.job.resolved(root.path());
    job.output = Some(png.to_string_lossy().into_owned());
    let setup = PythonSetup::locate(config.python_env.as_deref())?;
    let engine = Engine::start(&setup, crate::commands::stop_flag()?)?;
    let device = config.device.clone().or_else(|| call.cuda_device.clone());
    engine
        .load_models(
            "reproduce",
            &files,
            device.as_deref(),
            call.deterministic,
            engine_mode(&sidecar),
        )
        .context("cannot load the models the sidecar names")?;
    let progress = Progress::new(1);
    let shown = Arc::new(progress.image(&png.display().to_string(), job.iterations.unwrap_or(500)));
    let started = SystemTime::now();
    let made = engine.generate("reproduce", &job, shown.clone());
    shown.finish();
    progress.finish();
    let made = match made {
        Ok(m) => m,
        Err(GenerateError::Interrupted) => return Ok(ExitCode::Interrupted),
        Err(GenerateError::Failed {
            message, traceback, ..
        }) => {
            tracing::debug!("{traceback}");
            bail!("the engine failed: {message}");
        }
    };

    let recorded = method(&sidecar);
    if recorded != Some(made.method.as_str()) {
        writeln!(
            out,
            "note: {} was made {}; the engine now follows {}, so the new image differs \
             from the original",
            opts.sidecar.display(),
            recorded.map_or("before images recorded their method".to_string(), |m| {
                format!("with method {m}")
            }),
            made.method
        )?;
    }
    let mut new = sidecar.clone();
    new.call.job.output = Some(root.rel(&png));
    record_result(&mut new, &made, started, engine_mode(&sidecar));
    new.provenance.runvqgan = Some(env!("CARGO_PKG_VERSION").to_string());
    new.provenance.root = Some(root.path().display().to_string());
    // The copy is not one of the task's images: without these, resuming the task never
    // counts it as one.
    new.provenance.task_sha256 = None;
    new.provenance.image = None;
    new.provenance
        .extra
        .push(("reproduced-from".into(), root.rel(&sidecar_path)));
    new.write_new(&txt)?;
    writeln!(out, "wrote {} and {}", png.display(), txt.display())?;
    Ok(ExitCode::Success)
}

/// The root a sidecar's relative paths refer to: the flag, the `# root:` line, the folder
/// that `-o` implies, or the nearest folder above holding runvqgan.toml or `tasks/`.
fn find_root(flag: Option<&Path>, sidecar: &Sidecar, path: &Path) -> anyhow::Result<Root> {
    if let Some(r) = flag {
        return Ok(Root::open(r)?);
    }
    if let Some(r) = &sidecar.provenance.root
        && Path::new(r).is_dir()
    {
        return Ok(Root::open(Path::new(r))?);
    }
    if let Some(o) = &sidecar.call.job.output
        && !Path::new(o).is_absolute()
        && let Some(r) = path.ancestors().nth(Path::new(o).components().count())
        && r.join(o).with_extension("txt") == path
    {
        return Ok(Root::open(r)?);
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    Root::find_above(dir)
        .or_else(|_| Root::open(dir))
        .map_err(Into::into)
}

/// The next free `<base>_<n>.png` beside a sidecar `<base>_<m>.txt`.
fn next_beside(sidecar: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let folder = sidecar.parent().unwrap_or(Path::new("."));
    let name = sidecar.file_name().unwrap_or_default().to_string_lossy();
    let base = parse_output_name(&name)
        .map(|(base, _, _)| base.to_string())
        .unwrap_or_else(|| name.trim_end_matches(".txt").to_string());
    let n = OutputIndex::new().allocate(folder, &base, 1)?[0];
    let (png, txt) = output_names(&base, n);
    Ok((folder.join(png), folder.join(txt)))
}

/// The method a sidecar records (`# method:`), if any.
fn method(sidecar: &Sidecar) -> Option<&str> {
    sidecar
        .provenance
        .extra
        .iter()
        .find(|(k, _)| k == "method")
        .map(|(_, v)| v.as_str())
}

/// The engine mode a sidecar records (`# engine-mode:`); fast when it records none.
fn engine_mode(sidecar: &Sidecar) -> EngineMode {
    let recorded = sidecar
        .provenance
        .extra
        .iter()
        .find(|(k, _)| k == "engine-mode")
        .map(|(_, v)| v.as_str());
    match recorded {
        Some("reference") => EngineMode::Reference,
        _ => EngineMode::Fast,
    }
}
