//! The generate.py call: the one table of its options, the job handed to the engine, and
//! the call's text forms (the sidecar's first line, the settings in the PNG).

pub mod job;
pub mod options;
pub mod png_settings;
pub mod sidecar;
pub mod video;
