//! What a run leaves for the owner: the typed [`events`] and their [`sinks`] (log, terminal,
//! members' error files), the [`progress`] display, run [`summary`] files and measured
//! [`speeds`], and what a value read back from them may be ([`plausible`]).

pub mod events;
pub mod finish;
pub mod live;
pub mod plausible;
pub mod progress;
pub mod sinks;
pub mod speeds;
pub mod summary;
pub mod unfinished;
