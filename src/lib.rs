//! runvqgan: the nightly VQGAN-CLIP task runner for a shared lab folder.
//!
//! Everything that can be decided without a GPU lives here: finding task files
//! ([`discover`]), reading and checking them ([`task`]), naming outputs ([`naming`]),
//! sidecars ([`sidecar`]), the task lifecycle ([`lifecycle`]), configuration ([`config`]) and
//! the whole pipeline as one pure function ([`plan`]). The nightly run is [`night`], which
//! reaches Python only through its `Generator` seam and reports every outcome as an
//! [`events::Event`]. The static gallery of the outputs is [`gallery`].

pub mod call;
pub mod commands;
pub mod config;
pub mod engine;
pub mod exit_codes;
pub mod gallery;
pub mod host;
pub mod night;
pub mod outputs;
pub mod queue;
pub mod records;
pub mod shared_folder;
pub mod task;
pub mod text;
