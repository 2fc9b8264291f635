//! What a task leaves in its output folder and beside itself: image numbers and their
//! reservations ([`naming`]) and the task's lifecycle ([`lifecycle`]: the `.done` rename and
//! the text of a generation failure's `_ERROR.txt`). The notes kept in step with the task
//! file itself are [`crate::queue::notes`].

pub mod lifecycle;
pub mod naming;
