//! runvqgan: the nightly VQGAN-CLIP task runner for a shared lab folder.
//!
//! Everything that can be decided without a GPU lives here: finding task files
//! ([`discover`]), reading and checking them ([`task`]), naming outputs ([`naming`]),
//! sidecars ([`sidecar`]), the task lifecycle ([`lifecycle`]), configuration ([`config`]) and
//! the whole pipeline as one pure function ([`plan`]). The nightly run is [`night`], which
//! reaches Python only through its `Generator` seam and reports every outcome as an
//! [`events::Event`]. The static gallery of the outputs is [`gallery`].

pub mod atomic;
pub mod budget;
pub mod claim;
pub mod classify;
pub mod commands;
pub mod config;
pub mod device_lock;
pub mod discover;
pub mod engine;
pub mod events;
pub mod exit_codes;
pub mod filesystem;
pub mod fsroot;
pub mod gallery;
pub mod job;
pub mod lease;
pub mod lifecycle;
pub mod naming;
pub mod night;
pub mod notes;
pub mod options;
pub mod plan;
pub mod png_settings;
pub mod progress;
pub mod pyhome;
pub mod root;
pub mod sidecar;
pub mod slurm;
pub mod speeds;
pub mod summary;
pub mod task;
pub mod testhook;
pub mod trust;
pub mod workdir;
