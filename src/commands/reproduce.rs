//! `runvqgan reproduce SIDECAR`: make an image again from the call recorded in its `.txt`,
//! through the same engine, as a new file (never overwriting anything).
//!
//! A sidecar is written by whoever can write the shared folder, and `reproduce` often runs
//! as the workstation owner, so the sidecar is a request, not an instruction:
//! - the root, the configuration and the Python environment never come from it: the root is
//!   `--root` / `RUNVQGAN_ROOT` or the nearest folder above the sidecar that the running
//!   user owns ([`Root::find_trusted_above`]), the configuration is the trusted one
//!   ([`crate::config::trust`]);
//! - the models are those of a configured model set (the sidecar's `# model-set:` or one
//!   whose paths are the sidecar's), never a path the sidecar invents;
//! - the root's caps hold (`max_iterations`, `max_resolution`), and `-ii` / `-ip` / `-o`
//!   stay inside the root (read and written through its handle, [`crate::shared_folder::confined`]);
//! - the output number is reserved as `run` reserves its own ([`naming::reserve`]), and the
//!   PNG is placed with a rename that never replaces a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, bail};

use crate::call::png_settings;
use crate::call::sidecar::Sidecar;
use crate::call::video::VideoPlan;
use crate::config::{Config, ConfigOverrides, EngineMode, ModelSet};
use crate::engine::models::model_files;
use crate::engine::workdir::WorkDir;
use crate::engine::{Engine, GenerateError, PythonSetup};
use crate::night::record_result;
use crate::outputs::naming::{self, Pending, output_names, parse_output_name};
use crate::process::exit_codes::ExitCode;
use crate::records::progress::Progress;
use crate::shared_folder::confined::{self, Place};
use crate::shared_folder::root::Root;

/// Options of `reproduce`.
#[derive(Debug, Clone)]
pub struct ReproduceOptions<'a> {
    /// The sidecar to reproduce.
    pub sidecar: &'a Path,
    /// Where to write the PNG; default: the next free number beside the original.
    pub output: Option<&'a Path>,
    /// The shared folder; default: the nearest trusted folder above the sidecar.
    pub root: Option<&'a Path>,
    /// Flags that override `runvqgan.toml`.
    pub overrides: ConfigOverrides,
}

/// Runs `reproduce`.
pub fn run(opts: &ReproduceOptions<'_>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    // The folder resolved, not the file: a sidecar that is a link is refused when read.
    let given_path = std::path::absolute(opts.sidecar)
        .and_then(|abs| {
            let folder = abs.parent().unwrap_or(Path::new("/")).canonicalize()?;
            Ok(folder.join(abs.file_name().unwrap_or_default()))
        })
        .with_context(|| format!("cannot read {}", opts.sidecar.display()))?;
    // A picture stands for its .txt: the one beside it, or else the settings in the picture.
    let source = png_settings::source(&given_path, &|p| p.is_file());
    let sidecar_path = source.sidecar_path();
    let root = match opts.root {
        Some(r) => Root::open(r)?,
        None => Root::find_trusted_above(sidecar_path.parent().unwrap_or(Path::new("/")))?,
    };
    if !root.contains(&sidecar_path) {
        bail!(
            "{} is not inside the shared folder {}; reproduce an image's .txt where it lies, \
             or pass the shared folder it belongs to with --root",
            opts.sidecar.display(),
            root.path().display()
        );
    }
    let config = Config::load(root.path(), &opts.overrides)?;
    if let Some(note) = source.note(opts.sidecar) {
        writeln!(out, "{note}")?;
    }
    let sidecar = match &source {
        png_settings::Source::Picture(png) => png_settings::from_png(png)?,
        _ => naming::read_sidecar(&sidecar_path)
            .map_err(|e| anyhow::anyhow!(confined::describe(&e)))
            .with_context(|| format!("cannot read {}", sidecar_path.display()))?
            .with_context(|| {
                format!(
                    "{} is not a sidecar runvqgan can read",
                    sidecar_path.display()
                )
            })?,
    };

    let call = &sidecar.call;
    if call.job.seed.is_none() {
        writeln!(
            out,
            "note: {} records no seed (it was written by the old R runner), so the new image \
             will differ from the original",
            opts.sidecar.display()
        )?;
    }
    let (set_name, set) = model_set(&sidecar, &config, opts.overrides.contains("model"))?;
    let files = model_files(root.path(), &config, Some(&set));
    let mut job = call.job.clone();
    apply_caps(&mut job, &config, out)?;

    // The output: its folder inside the root, its number reserved as `run` reserves.
    let (folder, base, exact) = output_target(opts.output, &sidecar_path, &root)?;
    let rel = root.rel(&sidecar_path);
    let marker = Pending {
        // An existing file, so that `run` never takes this marker for a stale one.
        task: rel.clone(),
        task_sha256: String::new(),
        image: 0,
    };
    // The same names lock as `run` (a lease too on a network filesystem), so that a run on
    // another machine never picks this number.
    let n = naming::reserve(&folder, &base, exact, &marker, 0o644)
        .with_context(|| format!("cannot reserve a name in {}", root.rel(&folder)))?;
    crate::process::testhook::reached("reserved");
    let (png_name, txt_name) = output_names(&base, n);
    let (png, txt) = (folder.join(&png_name), folder.join(&txt_name));
    let result = make(&ReproduceRun {
        root: &root,
        config: &config,
        sidecar: &sidecar,
        set_name: &set_name,
        files,
        job,
        png: &png,
        txt: &txt,
        rel: &rel,
    });
    let _ = naming::remove_pending(&folder, &base, n);
    match result? {
        Some(made_method) => {
            let recorded = method(&sidecar);
            if recorded != Some(made_method.as_str()) {
                writeln!(
                    out,
                    "note: {} was made {}; the engine now follows {made_method}, so the new \
                     image differs from the original",
                    opts.sidecar.display(),
                    recorded.map_or("before images recorded their method".to_string(), |m| {
                        format!("with method {m}")
                    }),
                )?;
            }
            // (a message only: the video was placed through the folder's handle)
            let video = naming::video_path(&png);
            if video.exists() {
                let (p, v, t) = (png.display(), video.display(), txt.display());
                writeln!(out, "wrote {p}, {v} and {t}")?;
            } else {
                writeln!(out, "wrote {} and {}", png.display(), txt.display())?;
            }
            Ok(ExitCode::Success)
        }
        None => Ok(ExitCode::Interrupted),
    }
}

/// Everything one reproduction needs.
struct ReproduceRun<'a> {
    root: &'a Root,
    config: &'a Config,
    sidecar: &'a Sidecar,
    set_name: &'a str,
    files: crate::engine::ModelFiles,
    job: crate::call::job::Job,
    png: &'a Path,
    txt: &'a Path,
    rel: &'a str,
}

/// Generates the image into the work folder, places it and writes its sidecar. Returns the
/// method the engine followed; `None`: interrupted.
fn make(r: &ReproduceRun<'_>) -> anyhow::Result<Option<String>> {
    let (root, config, sidecar) = (r.root, r.config, r.sidecar);
    let mut job = r.job.clone();
    job.output = Some(root.rel(r.png));
    let work = WorkDir::new().context("cannot make the engine's private work folder")?;
    let engine_job = work.engine_job(&job, root.path())?;
    let setup = PythonSetup::locate(config.python_env.as_deref())?;
    let engine = Engine::start(&setup, crate::commands::stop_flag()?)?;
    let device = config
        .device
        .clone()
        .or_else(|| sidecar.call.cuda_device.clone());
    engine
        .load_models(
            "reproduce",
            &r.files,
            device.as_deref(),
            sidecar.call.deterministic,
            engine_mode(sidecar),
        )
        .with_context(|| format!("cannot load the model set `{}`", r.set_name))?;
    let progress = Progress::new(1);
    let shown = Arc::new(progress.image(&root.rel(r.png), job.iterations.unwrap_or(500)));
    let started = SystemTime::now();
    let made = engine.generate("reproduce", &engine_job, shown.clone());
    shown.finish();
    progress.finish();
    let made = match made {
        Ok(m) => m,
        Err(GenerateError::Interrupted) => return Ok(None),
        Err(GenerateError::Failed {
            message, traceback, ..
        }) => {
            tracing::debug!("{traceback}");
            bail!("the engine failed: {message}");
        }
    };
    let output = job.output.as_deref().unwrap_or_default();
    if VideoPlan::of(&job.options, job.iterations.unwrap_or(500)).is_some() {
        let video = naming::video_path(r.png);
        work.place_video(output, &video, 0o644, Place::NoReplace)
            .map_err(|e| anyhow::anyhow!(confined::describe(&e)))
            .with_context(|| format!("cannot write {}", video.display()))?;
    }
    work.place(output, r.png, 0o644, Place::NoReplace)
        .map_err(|e| anyhow::anyhow!(confined::describe(&e)))
        .with_context(|| format!("cannot write {}", r.png.display()))?;

    let mut new = sidecar.clone();
    new.call.job = job;
    new.call.job.output = Some(root.rel(r.png));
    new.call.models.vqgan_config = Some(r.files_set().vqgan_config);
    new.call.models.vqgan_checkpoint = Some(r.files_set().vqgan_checkpoint);
    new.call.models.clip_model = Some(r.files_set().clip_model);
    record_result(&mut new, &made, started, engine_mode(sidecar));
    new.provenance.runvqgan = Some(env!("CARGO_PKG_VERSION").to_string());
    new.provenance.root = Some(root.path().display().to_string());
    new.provenance.model_set = Some(r.set_name.to_string());
    // The copy is not one of the task's images: without these, resuming the task never
    // counts it as one.
    new.provenance.task_sha256 = None;
    new.provenance.image = None;
    new.provenance
        .extra
        .push(("reproduced-from".into(), r.rel.to_string()));
    new.write_new(r.txt)?;
    Ok(Some(made.method))
}

impl ReproduceRun<'_> {
    /// The configured model set used, as the sidecar records model paths.
    fn files_set(&self) -> ModelSet {
        self.config.models[self.set_name].clone()
    }
}

/// The configured model set to use: the one `--model` names; else the one the sidecar's
/// `# model-set:` names, or any configured set, whose paths are those the sidecar gives
/// (paths the sidecar leaves out match anything); a sidecar naming no models (the R
/// runner's) gets the selected set. A sidecar naming model files no configured set has is
/// refused: runvqgan only loads model files the owner configured.
fn model_set(
    sidecar: &Sidecar,
    config: &Config,
    model_flag: bool,
) -> anyhow::Result<(String, ModelSet)> {
    let asked = &sidecar.call.models;
    let names_none = asked.vqgan_config.is_none()
        && asked.vqgan_checkpoint.is_none()
        && asked.clip_model.is_none();
    if model_flag || names_none {
        return Ok((config.model.clone(), config.model_set().clone()));
    }
    let matches = |set: &ModelSet| {
        asked
            .vqgan_config
            .as_ref()
            .is_none_or(|p| *p == set.vqgan_config)
            && asked
                .vqgan_checkpoint
                .as_ref()
                .is_none_or(|p| *p == set.vqgan_checkpoint)
            && asked
                .clip_model
                .as_ref()
                .is_none_or(|m| *m == set.clip_model)
    };
    let named = sidecar.provenance.model_set.as_deref();
    let candidates = named
        .into_iter()
        .chain(std::iter::once(config.model.as_str()))
        .chain(config.models.keys().map(String::as_str));
    for name in candidates {
        if let Some(set) = config.models.get(name)
            && matches(set)
        {
            return Ok((name.to_string(), set.clone()));
        }
    }
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    bail!(
        "the sidecar names models that are not a configured model set (-conf {} -ckpt {} -m \
         {}); runvqgan loads only model files that runvqgan.toml names: add them as a \
         [models.NAME] set, or pass --model NAME to use a configured set instead (the image \
         will then differ)",
        shown(&asked.vqgan_config),
        shown(&asked.vqgan_checkpoint),
        shown(&asked.clip_model)
    )
}

/// Applies the root's caps to the sidecar's job: more iterations or a larger size than
/// the root allows is refused (a capped reproduction would not be the image); a job without
/// a size gets the root's default size, with a note.
fn apply_caps(
    job: &mut crate::call::job::Job,
    config: &Config,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let limits = config.limits();
    if let Some(i) = job.iterations
        && i > limits.max_iterations
    {
        bail!(
            "the sidecar asks for {i} iterations, more than this shared folder allows \
             (max_iterations = {}); ask the workstation owner to raise it in runvqgan.toml",
            limits.max_iterations
        );
    }
    if let Some(plan) = VideoPlan::of(&job.options, job.iterations.unwrap_or(500))
        && plan.frames > limits.max_video_frames
    {
        bail!(
            "the sidecar asks for a video of {} frames, more than this shared folder allows \
             (max_video_frames = {}); ask the workstation owner to raise it in runvqgan.toml",
            plan.frames,
            limits.max_video_frames
        );
    }
    let [max_long, max_short] = limits.max_resolution;
    match job.size {
        Some([w, h]) if w.max(h) > max_long || w.min(h) > max_short => bail!(
            "the sidecar asks for {w} x {h} pixels, more than this shared folder allows \
             (max_resolution = [{max_long}, {max_short}]); ask the workstation owner to raise \
             it in runvqgan.toml"
        ),
        Some(_) => {}
        None => {
            let [long, short] = limits.default_resolution;
            writeln!(
                out,
                "note: the sidecar records no size; using this shared folder's default, {long} x {short}"
            )?;
            job.size = Some([long, short]);
        }
    }
    Ok(())
}

/// The folder, base name and (for `-o NAME_N.png`) number of the new image: by default the
/// next free number beside the sidecar `<base>_<m>.txt`. `-o` must name a `.png` inside
/// the root whose folder exists.
fn output_target(
    output: Option<&Path>,
    sidecar: &Path,
    root: &Root,
) -> anyhow::Result<(PathBuf, String, Option<u32>)> {
    let (folder, name) = match output {
        None => {
            let folder = sidecar.parent().unwrap_or(root.path()).to_path_buf();
            let name = sidecar.file_name().unwrap_or_default().to_string_lossy();
            let base = parse_output_name(&name)
                .map(|(base, _, _)| base.to_string())
                .unwrap_or_else(|| name.trim_end_matches(".txt").to_string());
            return Ok((folder, base, None));
        }
        Some(o) => {
            let abs = std::path::absolute(o)?;
            let name = abs
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parent = abs.parent().unwrap_or(Path::new("/"));
            let folder = parent
                .canonicalize()
                .with_context(|| format!("the folder of {} cannot be opened", o.display()))?;
            (folder, name)
        }
    };
    let in_tasks =
        root.rel(&folder).split('/').next() == Some(crate::shared_folder::files::TASKS_DIR);
    if !root.contains(&folder) || folder == root.path() || in_tasks {
        bail!(
            "{} is not inside a folder of the shared folder {} (the top and `tasks/` take no \
             images); -o must name a .png in one of its folders, such as output/copy_1.png",
            output.unwrap_or(Path::new("")).display(),
            root.path().display()
        );
    }
    let Some((base, n, true)) = parse_output_name(&name) else {
        bail!(
            "-o {name}: name the new image like the others, <name>_<number>.png (for example \
             copy_1.png), so that its .txt sits beside it and its number is reserved"
        );
    };
    Ok((folder, base.to_string(), Some(n)))
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
