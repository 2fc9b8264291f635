//! The `runvqgan` command line: clap definitions only. Every flag that overrides a key of
//! `runvqgan.toml` is a field named after that key; the argument structs serialise (serde)
//! to the table of overrides ([`crate::config::ConfigOverrides::from_flags`]), so no code copies a flag
//! into the configuration by hand. Fields that are not configuration are `#[serde(skip)]`.

use std::path::PathBuf;

use crate::process::exit_codes::EXIT_CODES_HELP;
use clap::{ArgAction, Args, Parser, Subcommand};
use serde::{Serialize, Serializer};

mod root;
mod slurm;
pub use root::RootArg;
pub use slurm::SlurmScriptArgs;

/// Runs the lab's queue of VQGAN-CLIP text-to-image tasks from a shared folder.
///
/// Members put JSON task files into <root>/tasks/ or into their own folder as task_*.txt;
/// each task becomes PNG images with a .txt sidecar recording how they were made.
#[derive(Debug, Parser)]
#[command(name = "runvqgan", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Show more on stderr (-v: details, -vv: everything).
    #[arg(short, long, action = ArgAction::Count, global = true, help_heading = "Logging")]
    pub verbose: u8,

    /// Show only errors on stderr.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Logging"
    )]
    pub quiet: bool,

    /// The configuration file to use instead of the shared folder's runvqgan.toml. Without
    /// it, <root>/runvqgan.toml is used only when you own it and only you can change it
    /// (it names the Python environment and the models that runvqgan loads).
    #[arg(
        long,
        global = true,
        env = "RUNVQGAN_CONFIG",
        value_name = "FILE",
        help_heading = "Shared folder"
    )]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check task files the way `run` would, and explain every problem.
    ///
    /// Exit code 0 when every file is valid, 1 otherwise. Nothing is written, except that
    /// the notes already beside a task (_ERROR.txt, _WARNINGS.txt) are brought up to date
    /// as `check` does, by the account whose check writes them (a stale _ERROR.txt goes).
    #[command(after_help = EXIT_CODES_HELP)]
    Validate(ValidateArgs),

    /// Show, in processing order, each task and the images it would produce.
    ///
    /// Nothing is written: no images, no error files, no renames.
    #[command(after_help = EXIT_CODES_HELP)]
    Plan(PlanArgs),

    /// The daytime check: write, update or remove the _ERROR.txt (and _WARNINGS.txt) files
    /// exactly as `run` would, without making images.
    ///
    /// Members see what is wrong with a task within minutes of saving it. Safe to run from
    /// cron every few minutes, also while a night runs (tasks being run are left alone); a
    /// file whose text has not changed is not rewritten. Exit code 0, or 1 when a file could
    /// not be written.
    #[command(after_help = EXIT_CODES_HELP)]
    Check(CheckArgs),

    /// The nightly job: check every task, make every image, mark finished tasks done.
    ///
    /// Invalid tasks get their _ERROR.txt at once; the models are loaded once; each image
    /// is written with its .txt beside it; a task whose images all exist is renamed to
    /// .txt.done. Ctrl-C, SIGTERM or SIGHUP stops within one iteration without a partial file; the
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

    /// Build the static gallery of every image in the shared folder (also done at the end
    /// of every run).
    ///
    /// Writes <root>/gallery/: an overview page, one page per member folder and per
    /// output/ folder, and a page of the error files, with search and filters in the page.
    /// It opens from the synced folder (file://) or any static web server; nothing is
    /// loaded from elsewhere. Only new or changed images get new thumbnails.
    #[command(after_help = EXIT_CODES_HELP)]
    Gallery(GalleryArgs),

    /// The morning view: what the last run did, what is queued now (per member), how long
    /// tonight's queue will take (from the speeds earlier runs measured), and which claims
    /// the runs use and who holds them now (hosts and Slurm array elements).
    ///
    /// Nothing is written. The last run comes from its summary in .runvqgan/runs/.
    #[command(after_help = EXIT_CODES_HELP)]
    Status(StatusArgs),

    /// Make a new shared folder, ready for the first night.
    ///
    /// It holds tasks/ and output/ (group-writable, with the setgid bit, so that members'
    /// files take the folder's group), a commented runvqgan.toml, a README.txt for the
    /// lab's members and tasks/task_sample.txt. A folder that already holds anything is
    /// refused (exit code 2).
    #[command(after_help = EXIT_CODES_HELP)]
    Init(InitArgs),

    /// Print an sbatch script that runs the night as a Slurm job array, one GPU per element.
    ///
    /// Each element runs `runvqgan run` on the shared folder; the elements share its tasks
    /// through claims (a lease on network filesystems), and each one's time budget ends with
    /// the job. Save the script and submit it: `runvqgan slurm-script --root DIR --gpus 4 >
    /// night.sbatch && sbatch night.sbatch`. Creates DIR/.runvqgan/ for Slurm's output files.
    #[command(after_help = EXIT_CODES_HELP)]
    SlurmScript(SlurmScriptArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub root: RootArg,

    /// Print one JSON object: {"root", "last_run" (the run's summary, as in
    /// .runvqgan/runs/, or null), "last_array" (when the last run was an element of a Slurm
    /// job array: the summaries of all its elements), "queue": {"tasks", "images", "members": [{"member",
    /// "tasks", "images", "finish_seconds"}], "invalid", "skipped", "not_run"}, "estimate": {"seconds", "text",
    /// "model_set", "device", "images_scaled"} or null, "claims": {"kind", "filesystem",
    /// "mount_point", "reason", "lease_seconds", "held": [{"task", "claim", "host", "pid",
    /// "slurm_job_id", "slurm_array_job_id", "slurm_array_task_id", "lease_expires_in"}]}}.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The new shared folder (made when missing; an existing one must be empty).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// The lab's group: the members' accounts (and the owner's) are in it, and the shared
    /// folders belong to it. Default: the group a new folder gets (your primary group, or
    /// the group of a setgid folder above DIR).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
}

#[derive(Debug, Args)]
pub struct GalleryArgs {
    #[command(flatten)]
    pub root: RootArg,

    /// The gallery's folder, relative to the shared folder (runvqgan.toml: gallery; default
    /// gallery).
    #[arg(long, value_name = "DIR", help_heading = "Shared folder")]
    pub dir: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Load a configured model set and say what it is: VQGAN kind, factor, codebook,
    /// CLIP model and input size, device, load time.
    #[command(after_help = EXIT_CODES_HELP)]
    Check(ModelsCheckArgs),
}

#[derive(Debug, Args, Serialize)]
pub struct RunArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub root: RootArg,

    #[command(flatten)]
    #[serde(flatten)]
    pub engine: EngineFlags,

    #[command(flatten)]
    #[serde(flatten)]
    pub limits: LimitFlags,

    /// Seconds to wait between tasks (runvqgan.toml: delay_seconds; default 0).
    #[arg(
        long,
        value_name = "SECONDS",
        help_heading = "Overrides of runvqgan.toml"
    )]
    pub delay_seconds: Option<f64>,

    /// Start no image that cannot finish before this local time, HH:MM (e.g. 06:30); what is
    /// left waits for the next run.
    #[arg(long, value_name = "HH:MM", help_heading = "Time budget")]
    #[serde(skip)]
    pub until: Option<String>,

    /// The night window, HH:MM-HH:MM local time (runvqgan.toml: window), e.g. 23:00-06:30:
    /// started outside it the run does nothing and says so; inside it, no image starts that
    /// cannot end by its end.
    #[arg(long, value_name = "HH:MM-HH:MM", help_heading = "Time budget")]
    pub window: Option<String>,

    /// Run even when started outside the night window (then only --until and max_minutes
    /// limit it).
    #[arg(long, help_heading = "Time budget")]
    #[serde(skip)]
    pub ignore_window: bool,

    /// Exit 0 instead of 3 when some tasks failed or were invalid (the summary and the log
    /// still name them): for schedulers that treat any other code as a failed job (the
    /// Slurm script uses it).
    #[arg(long, help_heading = "Exit code")]
    #[serde(skip)]
    pub failed_tasks_ok: bool,

    /// Start no image that cannot finish within this many minutes of the start of the run
    /// (runvqgan.toml: max_minutes).
    #[arg(long, value_name = "MINUTES", help_heading = "Time budget")]
    pub max_minutes: Option<f64>,

    /// The log file, relative to the shared folder (runvqgan.toml: log_file; default
    /// runvqgan.log).
    #[arg(long, value_name = "FILE", help_heading = "Overrides of runvqgan.toml")]
    pub log_file: Option<PathBuf>,

    /// The most images of one task optimised together on the GPU (runvqgan.toml:
    /// max_batch; default 4 on a GPU, 1 on the CPU). A batch that runs out of GPU memory is
    /// split automatically.
    #[arg(long, value_name = "N", help_heading = "Engine")]
    pub max_batch: Option<u32>,

    /// `fast` (batches, GPU speed switches) or `reference` (generate.py's loop, one
    /// image at a time in float32; the baseline) (runvqgan.toml: engine_mode).
    #[arg(long, value_name = "MODE", value_parser = ["fast", "reference"], help_heading = "Engine")]
    pub engine_mode: Option<String>,
}

#[derive(Debug, Args, Serialize)]
pub struct ReproduceArgs {
    /// The .txt written beside an image (by runvqgan or by the old R runner).
    #[arg(value_name = "SIDECAR")]
    #[serde(skip)]
    pub sidecar: PathBuf,

    /// Where to write the new PNG (must not exist); default: the next free number
    /// beside the original.
    #[arg(short, long, value_name = "OUT")]
    #[serde(skip)]
    pub output: Option<PathBuf>,

    /// The shared folder the .txt's paths are relative to; default: the nearest folder
    /// above the .txt that you own and that holds runvqgan.toml or `tasks/` (never a root
    /// named inside the .txt).
    #[arg(
        long,
        env = "RUNVQGAN_ROOT",
        value_name = "DIR",
        help_heading = "Shared folder"
    )]
    #[serde(skip)]
    pub root: Option<PathBuf>,

    #[command(flatten)]
    #[serde(flatten)]
    pub engine: EngineFlags,
}

#[derive(Debug, Args, Serialize)]
pub struct ModelsCheckArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub root: RootArg,

    #[command(flatten)]
    #[serde(flatten)]
    pub engine: EngineFlags,
}

/// Flags that choose how and where the engine runs.
#[derive(Debug, Args, Serialize)]
pub struct EngineFlags {
    /// The model set to use, a [models.NAME] table of runvqgan.toml (runvqgan.toml: model;
    /// default "default").
    #[arg(long, value_name = "NAME", help_heading = "Engine")]
    pub model: Option<String>,

    /// The device: cuda, cuda:1, cpu (runvqgan.toml: device; default: cuda when present,
    /// else cpu with a warning).
    #[arg(long, value_name = "DEVICE", help_heading = "Engine")]
    pub device: Option<String>,

    /// The Python environment with torch and the engine's packages (runvqgan.toml:
    /// python_env; default: $VIRTUAL_ENV, else the project's .venv).
    #[arg(long, value_name = "DIR", help_heading = "Engine")]
    pub python_env: Option<PathBuf>,

    /// Turn deterministic mode off: faster on a GPU, but a seed no longer gives exactly
    /// the same image (runvqgan.toml: deterministic; default true).
    #[arg(long, help_heading = "Engine")]
    #[serde(
        rename = "deterministic",
        skip_serializing_if = "std::ops::Not::not",
        serialize_with = "negated"
    )]
    pub no_deterministic: bool,
}

#[derive(Debug, Args, Serialize)]
pub struct ValidateArgs {
    /// Task files to check.
    #[arg(required = true, value_name = "FILE")]
    #[serde(skip)]
    pub files: Vec<PathBuf>,

    /// The shared folder; by default the nearest folder above each file that holds
    /// runvqgan.toml or a `tasks` folder.
    #[arg(
        long,
        env = "RUNVQGAN_ROOT",
        value_name = "DIR",
        help_heading = "Shared folder"
    )]
    #[serde(skip)]
    pub root: Option<PathBuf>,

    #[command(flatten)]
    #[serde(flatten)]
    pub limits: LimitFlags,
}

#[derive(Debug, Args, Serialize)]
pub struct CheckArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub root: RootArg,

    #[command(flatten)]
    #[serde(flatten)]
    pub limits: LimitFlags,
}

#[derive(Debug, Args, Serialize)]
pub struct PlanArgs {
    #[command(flatten)]
    #[serde(skip)]
    pub root: RootArg,

    /// Print one JSON array, one object per task:
    /// {"task", "status": "ok"|"invalid"|"skipped", "error", "warnings", "history" (a rerun
    /// of a done task, or resuming; null for a new task), "images": [{"output", "prompt",
    /// "size", "iterations", "seed", "turn" (its place in tonight's fair-share order),
    /// "start_seconds" (estimated, after the night's start; null without measured
    /// speeds)}]}; the tasks as they wait (priority folder first, then oldest first), then
    /// the files that are not run ("skipped", with the reason in "error").
    #[arg(long, help_heading = "Output")]
    #[serde(skip)]
    pub json: bool,

    #[command(flatten)]
    #[serde(flatten)]
    pub limits: LimitFlags,
}

/// Flags that override the limits and ordering of runvqgan.toml.
#[derive(Debug, Args, Serialize)]
pub struct LimitFlags {
    /// Cap on iterations per image (runvqgan.toml: max_iterations; default 6000).
    #[arg(long, value_name = "N", help_heading = "Overrides of runvqgan.toml")]
    pub max_iterations: Option<u32>,

    /// Cap on images per style of one task (runvqgan.toml: max_each; default 25).
    #[arg(long, value_name = "N", help_heading = "Overrides of runvqgan.toml")]
    pub max_each: Option<u32>,

    /// Cap on the long and the short side in pixels (runvqgan.toml: max_resolution;
    /// default 450 300).
    #[arg(long, num_args = 2, value_names = ["LONG", "SHORT"], help_heading = "Overrides of runvqgan.toml")]
    pub max_resolution: Option<Vec<u32>>,

    /// A folder, relative to the shared folder, whose tasks run first (runvqgan.toml:
    /// priority_folder).
    #[arg(long, value_name = "DIR", help_heading = "Overrides of runvqgan.toml")]
    pub priority_folder: Option<String>,
}

/// `--no-X` sets the key `X` to false.
fn negated<S: Serializer>(flag: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(!flag)
}

#[cfg(test)]
mod tests;
