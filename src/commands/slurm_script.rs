//! `runvqgan slurm-script`: prints the sbatch script that runs the night of a shared folder
//! as a Slurm job array ([`crate::process::slurm::script`]).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::config::window::NightWindow;
use crate::config::{Config, ConfigError, ConfigOverrides};
use crate::process::exit_codes::ExitCode;
use crate::process::slurm::{ScriptOptions, script};
use crate::shared_folder::root::Root;

/// Options of `slurm-script`.
#[derive(Debug, Clone)]
pub struct SlurmScriptOptions<'a> {
    /// The shared folder.
    pub root: &'a Path,
    /// Elements that run at once.
    pub gpus: u32,
    /// Elements in the array; `None`: `gpus`.
    pub elements: Option<u32>,
    /// Run on the CPU (no `--gres`).
    pub cpu: bool,
    /// CPU cores per element.
    pub cpus_per_element: u32,
    /// `--time`.
    pub time: Option<&'a str>,
    /// `--partition`.
    pub partition: Option<&'a str>,
    /// `--account`, `--qos`, the GPU type, `--mem-per-gpu`, mail, `--begin` and the night
    /// window, passed through ([`ScriptOptions`]).
    pub pass: ScriptOptions<'a>,
}

/// Writes the script to `out`. Creates `<root>/.runvqgan/`, where Slurm writes the
/// elements' output (Slurm does not create folders).
pub fn run(opts: &SlurmScriptOptions<'_>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let root = Root::open(opts.root)?;
    let root_path = root
        .path()
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", root.path().display()))?;
    let binary = std::env::current_exe().context("cannot find the runvqgan binary")?;
    // The night window of runvqgan.toml: the elements keep it when they run (they read the
    // file on the node), and by default the array waits for its start (`--begin`).
    let config = Config::load_to_read(&root_path, &ConfigOverrides::default())?;
    let window = opts
        .pass
        .window
        .or(config.window.as_deref())
        .map(NightWindow::parse)
        .transpose()
        .map_err(|problem| ConfigError::Value {
            path: "--window (or window in runvqgan.toml)".into(),
            key: "window".into(),
            problem,
        })?;
    let begin = window.map(|w| {
        let (h, m) = w.start_hm();
        format!("{h:02}:{m:02}")
    });
    let text = script(&ScriptOptions {
        root: &root_path,
        binary: &binary,
        gpus: opts.gpus,
        elements: opts.elements.unwrap_or(opts.gpus),
        cpu: opts.cpu,
        cpus_per_element: opts.cpus_per_element,
        time: opts.time,
        partition: opts.partition,
        begin: opts.pass.begin.or(begin.as_deref()),
        ..opts.pass.clone()
    })
    .map_err(|problem| ConfigError::Value {
        path: "the command line".into(),
        key: "slurm-script".into(),
        problem,
    })?;
    let state = root_path.join(".runvqgan");
    match std::fs::create_dir(&state) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", state.display())),
    }
    out.write_all(text.as_bytes())?;
    Ok(ExitCode::Success)
}
