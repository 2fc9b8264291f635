//! How runs share the folder: per-task [`claim`]s (flock) or [`lease`]s (files that hold
//! across machines), chosen by the [`filesystem`] and applied by the [`method`], and one run
//! per GPU ([`device`]).

pub mod claim;
pub mod device;
pub mod filesystem;
pub mod lease;
pub mod method;
