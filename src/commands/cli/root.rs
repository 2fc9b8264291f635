//! `--root`, shared by the commands that work on a whole shared folder.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

/// `--root`, for the commands that work on a whole shared folder.
#[derive(Debug, Args, Serialize)]
pub struct RootArg {
    /// The shared folder that holds `tasks/`, the members' folders and `output/` (and
    /// runvqgan.toml, which names the model sets).
    #[arg(
        long,
        env = "RUNVQGAN_ROOT",
        value_name = "DIR",
        help_heading = "Shared folder"
    )]
    pub root: PathBuf,
}
