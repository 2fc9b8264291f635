//! runvqgan: the nightly VQGAN-CLIP task runner for a shared lab folder.
//!
//! The modules are the architecture (docs/architecture.md), each importing only those
//! below it: [`commands`] (one file per command) drive [`night`] (the run's pipeline:
//! schedule -> reserve -> produce) over [`queue`] (what the folder holds and what a run
//! would do), which reads task files ([`task`]) and names their outputs ([`outputs`]);
//! [`records`] keep what happened, [`gallery`] shows the images, [`engine`] is the only
//! door to Python, [`call`] is the generate.py call and its text forms, [`config`] the
//! owner's settings, [`shared_folder`] the folder itself (confined access, the names of
//! runvqgan's own files, locks, permissions), and [`process`] the leaf below them all: this
//! process and its system (account, host, Slurm job, signals, exit codes, escaped text).

pub mod call;
pub mod commands;
pub mod config;
pub mod engine;
pub mod gallery;
pub mod night;
pub mod outputs;
pub mod process;
pub mod queue;
pub mod records;
pub mod shared_folder;
pub mod task;
