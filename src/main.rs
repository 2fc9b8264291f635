//! The `runvqgan` command line: clap definitions and `main`. All work happens in the library.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};
use runvqgan::commands::{self, exit_code_for};
use runvqgan::config::ConfigOverrides;
use runvqgan::exit_codes::{EXIT_CODES_HELP, ExitCode};

/// Runs the lab's queue of VQGAN-CLIP text-to-image tasks from a shared folder.
///
/// Members put JSON task files into <root>/tasks/ or into their own folder as task_*.txt;
/// each task becomes PNG images with a .txt sidecar recording how they were made.
#[derive(Debug, Parser)]
#[command(name = "runvqgan", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    /// Show more on stderr (-v: details, -vv: everything).
    #[arg(short, long, action = ArgAction::Count, global = true, help_heading = "Logging")]
    verbose: u8,

    /// Show only errors on stderr.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Logging"
    )]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check task files the way `run` would, and explain every problem.
    ///
    /// Exit code 0 when every file is valid, 1 otherwise. Nothing is written.
    #[command(after_help = EXIT_CODES_HELP)]
    Validate(ValidateArgs),

    /// Show, in processing order, each task and the images it would produce.
    ///
    /// Nothing is written: no images, no error files, no renames.
    #[command(after_help = EXIT_CODES_HELP)]
    Plan(PlanArgs),

    /// The nightly job: check every task, make every image, mark finished tasks done.
    ///
    /// Invalid tasks get their _ERROR.txt at once; the models are loaded once; each image
    /// is written with its .txt beside it; a task whose images all exist is renamed to
    /// .txt.done. Ctrl-C or SIGTERM stops within one iteration without a partial file; the
    /// next run makes only the missing images.
    #[command(after_help = EXIT_CODES_HELP)]
    Run(RunArgs),

    /// Make an image again from the call recorded in its .txt.
    ///
    /// The new image gets the next free number beside the original (or the name given
    /// with -o); nothing is overwritten. A .txt written by runvqgan in deterministic mode
    /// gives the same image, byte for byte, on the same device.
    #[command(after_help = EXIT_CODES_HELP)]
    Reproduce(ReproduceArgs),

    /// Check model sets.
    #[command(subcommand)]
    Models(ModelsCommand),
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Load a configured model set and say what it is: VQGAN kind, factor, codebook,
    /// CLIP model and input size, device, load time.
    #[command(after_help = EXIT_CODES_HELP)]
    Check(ModelsCheckArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    root: RootArg,

    #[command(flatten)]
    engine: EngineFlags,

    #[command(flatten)]
    limits: LimitFlags,

    /// Seconds to wait between tasks (runvqgan.toml: delay_seconds; default 0).
    #[arg(
        long,
        value_name = "SECONDS",
        help_heading = "Overrides of runvqgan.toml"
    )]
    delay_seconds: Option<f64>,

    /// Start no image that cannot finish before this local time, HH:MM (e.g. 06:30); what is
    /// left waits for the next run.
    #[arg(long, value_name = "HH:MM", help_heading = "Time budget")]
    until: Option<String>,

    /// Start no image that cannot finish within this many minutes of the start of the run
    /// (runvqgan.toml: max_minutes).
    #[arg(long, value_name = "MINUTES", help_heading = "Time budget")]
    max_minutes: Option<f64>,

    /// The log file, relative to the shared folder (runvqgan.toml: log_file; default
    /// runvqgan.log).
    #[arg(long, value_name = "FILE", help_heading = "Overrides of runvqgan.toml")]
    log_file: Option<PathBuf>,

    /// The most images of one task optimised together on the GPU (runvqgan.toml:
    /// max_batch; default 4 on a GPU, 1 on the CPU). A batch that runs out of GPU memory is
    /// split automatically.
    #[arg(long, value_name = "N", help_heading = "Engine")]
    max_batch: Option<u32>,

    /// `fast` (batches, GPU speed switches) or `reference` (generate.py's loop, one
    /// image at a time in float32; the baseline) (runvqgan.toml: engine_mode).
    #[arg(long, value_name = "MODE", value_parser = ["fast", "reference"], help_heading = "Engine")]
    engine_mode: Option<String>,
}

#[derive(Debug, Args)]
struct ReproduceArgs {
    /// The .txt written beside an image (by runvqgan or by the old R runner).
    #[arg(value_name = "SIDECAR")]
    sidecar: PathBuf,

    /// Where to write the new PNG (must not exist); default: the next free number
    /// beside the original.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,

    /// The shared folder the .txt's paths are relative to; default: found from the .txt.
    #[arg(long, value_name = "DIR", help_heading = "Shared folder")]
    root: Option<PathBuf>,

    #[command(flatten)]
    engine: EngineFlags,
}

#[derive(Debug, Args)]
struct ModelsCheckArgs {
    #[command(flatten)]
    root: RootArg,

    #[command(flatten)]
    engine: EngineFlags,
}

/// `--root`, for the commands that work on a whole shared folder.
#[derive(Debug, Args)]
struct RootArg {
    /// The shared folder that holds `tasks/`, the members' folders and `output/` (and
    /// runvqgan.toml, which names the model sets).
    #[arg(
        long,
        env = "RUNVQGAN_ROOT",
        value_name = "DIR",
        help_heading = "Shared folder"
    )]
    root: PathBuf,
}

/// Flags that choose how and where the engine runs.
#[derive(Debug, Args)]
struct EngineFlags {
    /// The model set to use, a [models.NAME] table of runvqgan.toml (runvqgan.toml: model;
    /// default "default").
    #[arg(long, value_name = "NAME", help_heading = "Engine")]
    model: Option<String>,

    /// The device: cuda, cuda:1, cpu (runvqgan.toml: device; default: cuda when present,
    /// else cpu with a warning).
    #[arg(long, value_name = "DEVICE", help_heading = "Engine")]
    device: Option<String>,

    /// The Python environment with torch and the engine's packages (runvqgan.toml:
    /// python_env; default: $VIRTUAL_ENV, else the project's .venv).
    #[arg(long, value_name = "DIR", help_heading = "Engine")]
    python_env: Option<PathBuf>,

    /// Turn deterministic mode off: faster on a GPU, but a seed no longer gives exactly
    /// the same image (runvqgan.toml: deterministic; default true).
    #[arg(long, help_heading = "Engine")]
    no_deterministic: bool,
}

impl EngineFlags {
    fn apply(&self, o: &mut ConfigOverrides) {
        o.model = self.model.clone().or(o.model.take());
        o.device = self.device.clone().or(o.device.take());
        o.python_env = self.python_env.clone().or(o.python_env.take());
        if self.no_deterministic {
            o.deterministic = Some(false);
        }
    }
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// Task files to check.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// The shared folder; by default the nearest folder above each file that holds
    /// runvqgan.toml or a `tasks` folder.
    #[arg(
        long,
        env = "RUNVQGAN_ROOT",
        value_name = "DIR",
        help_heading = "Shared folder"
    )]
    root: Option<PathBuf>,

    #[command(flatten)]
    limits: LimitFlags,
}

#[derive(Debug, Args)]
struct PlanArgs {
    #[command(flatten)]
    root: RootArg,

    /// Print one JSON array, one object per task:
    /// {"task", "status": "ok"|"invalid"|"skipped", "error", "warnings", "images": [{"output",
    /// "prompt", "size", "iterations", "seed"}]}.
    #[arg(long, help_heading = "Output")]
    json: bool,

    #[command(flatten)]
    limits: LimitFlags,
}

/// Flags that override the limits and ordering of runvqgan.toml.
#[derive(Debug, Args)]
struct LimitFlags {
    /// Cap on iterations per image (runvqgan.toml: max_iterations; default 6000).
    #[arg(long, value_name = "N", help_heading = "Overrides of runvqgan.toml")]
    max_iterations: Option<u32>,

    /// Cap on images per style of one task (runvqgan.toml: max_each; default 25).
    #[arg(long, value_name = "N", help_heading = "Overrides of runvqgan.toml")]
    max_each: Option<u32>,

    /// Cap on the long and the short side in pixels (runvqgan.toml: max_resolution;
    /// default 450 300).
    #[arg(long, num_args = 2, value_names = ["LONG", "SHORT"], help_heading = "Overrides of runvqgan.toml")]
    max_resolution: Option<Vec<u32>>,

    /// A folder, relative to the shared folder, whose tasks run first (runvqgan.toml:
    /// priority_folder).
    #[arg(long, value_name = "DIR", help_heading = "Overrides of runvqgan.toml")]
    priority_folder: Option<String>,
}

impl LimitFlags {
    fn overrides(&self) -> ConfigOverrides {
        ConfigOverrides {
            max_iterations: self.max_iterations,
            max_each: self.max_each,
            max_resolution: self.max_resolution.as_ref().map(|v| [v[0], v[1]]),
            priority_folder: self.priority_folder.clone(),
            ..ConfigOverrides::default()
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let code = match cli.command {
        Command::Validate(args) => commands::validate::run(
            &commands::validate::ValidateOptions {
                files: &args.files,
                root: args.root.as_deref(),
                overrides: args.limits.overrides(),
            },
            &mut stdout,
        ),
        Command::Plan(args) => commands::plan::run(
            &commands::plan::PlanOptions {
                root: &args.root.root,
                json: args.json,
                overrides: args.limits.overrides(),
            },
            &mut stdout,
        ),
        Command::Run(args) => {
            let mut overrides = args.limits.overrides();
            args.engine.apply(&mut overrides);
            overrides.delay_seconds = args.delay_seconds;
            overrides.log_file = args.log_file.clone();
            overrides.max_minutes = args.max_minutes;
            overrides.max_batch = args.max_batch;
            overrides.engine_mode = args.engine_mode.as_deref().map(|m| match m {
                "reference" => runvqgan::config::EngineMode::Reference,
                _ => runvqgan::config::EngineMode::Fast,
            });
            commands::run::run(&commands::run::RunOptions {
                root: &args.root.root,
                overrides,
                until: args.until.clone(),
            })
        }
        Command::Reproduce(args) => {
            let mut overrides = ConfigOverrides::default();
            args.engine.apply(&mut overrides);
            commands::reproduce::run(
                &commands::reproduce::ReproduceOptions {
                    sidecar: &args.sidecar,
                    output: args.output.as_deref(),
                    root: args.root.as_deref(),
                    overrides,
                },
                &mut stdout,
            )
        }
        Command::Models(ModelsCommand::Check(args)) => {
            let mut overrides = ConfigOverrides::default();
            args.engine.apply(&mut overrides);
            commands::models::check(
                &commands::models::CheckOptions {
                    root: &args.root.root,
                    overrides,
                },
                &mut stdout,
            )
        }
    }?;
    std::io::Write::flush(&mut stdout)?;
    Ok(code)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("runvqgan: {err:#}");
            exit_code_for(&err).into()
        }
    }
}
