//! What the shared folder holds and what a run would do with it: finding task files
//! ([`discover`]), telling a task from runvqgan's own files ([`classify`]), validating them
//! ([`check`]) or knowing them from the owner's last check ([`known`]), the whole plan of a
//! night as a pure function ([`plan`]), and the night's order ([`fair`], [`tonight`]).

pub mod check;
pub mod classify;
pub mod discover;
pub mod estimate;
pub mod fair;
pub mod image_sidecar;
pub mod known;
pub mod lookalike;
pub mod notes;
pub mod plan;
pub mod plan_json;
pub mod tonight;
