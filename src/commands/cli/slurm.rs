//! The flags of `slurm-script`.

use clap::Args;

use super::root::RootArg;

#[derive(Debug, Args)]
pub struct SlurmScriptArgs {
    #[command(flatten)]
    pub root: RootArg,

    /// Array elements that run at once, one GPU each (the %K of --array=0-N%K).
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = "Slurm")]
    pub gpus: u32,

    /// Array elements in all (default: --gpus). More elements than GPUs queue behind each
    /// other; an element that finds every task claimed ends at once.
    #[arg(long, value_name = "N", help_heading = "Slurm")]
    pub elements: Option<u32>,

    /// CPU cores per element (--cpus-per-task).
    #[arg(long, value_name = "N", default_value_t = 4, help_heading = "Slurm")]
    pub cpus_per_element: u32,

    /// The job's time limit in Slurm's format (e.g. 10:00:00); the night's time budget
    /// follows it.
    #[arg(long, value_name = "TIME", help_heading = "Slurm")]
    pub time: Option<String>,

    /// The Slurm partition.
    #[arg(long, value_name = "NAME", help_heading = "Slurm")]
    pub partition: Option<String>,

    /// Run on CPU slots instead of GPUs (no --gres; `run --device cpu`): for testing.
    #[arg(long, help_heading = "Slurm")]
    pub cpu: bool,

    /// The Slurm account to charge (--account).
    #[arg(long, value_name = "NAME", help_heading = "Slurm")]
    pub account: Option<String>,

    /// The quality of service (--qos), e.g. a preemptible one for the night.
    #[arg(long, value_name = "NAME", help_heading = "Slurm")]
    pub qos: Option<String>,

    /// The GPU type, as the cluster names it (--gres=gpu:TYPE:1), e.g. a100.
    #[arg(long, value_name = "TYPE", help_heading = "Slurm")]
    pub gpu_type: Option<String>,

    /// Memory per element (--mem-per-gpu; --mem with --cpu), e.g. 24G (default 16G,
    /// measured for the full models: docs/cluster.md).
    #[arg(long, value_name = "SIZE", help_heading = "Slurm")]
    pub mem: Option<String>,

    /// Mail this address (--mail-user) when an element fails, or on --mail-type.
    #[arg(long, value_name = "ADDRESS", help_heading = "Slurm")]
    pub mail_user: Option<String>,

    /// When Slurm mails (--mail-type: FAIL, END, ALL, ...; default FAIL).
    #[arg(long, value_name = "TYPES", help_heading = "Slurm")]
    pub mail_type: Option<String>,

    /// Do not start before this time (--begin, Slurm's format: 23:00, now+2hours); default:
    /// the start of the night window when runvqgan.toml has one.
    #[arg(long, value_name = "TIME", help_heading = "Slurm")]
    pub begin: Option<String>,

    /// The night window the elements keep, HH:MM-HH:MM (run --window; default: window in
    /// runvqgan.toml): an element started outside it does nothing and says so.
    #[arg(long, value_name = "HH:MM-HH:MM", help_heading = "Slurm")]
    pub window: Option<String>,
}
