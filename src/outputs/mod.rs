//! What a task leaves in its output folder and beside itself: image numbers ([`naming`]),
//! the task's lifecycle (`.done`, [`lifecycle`]) and the members' notes (`_ERROR.txt`,
//! `_WARNINGS.txt`, [`notes`]).

pub mod lifecycle;
pub mod naming;
