//! The shared folder itself: finding the [`root`], [`confined`] access that links and `..`
//! cannot escape, [`atomic`] writes, and the [`locks`] that several runs share it by.

pub mod acl;
pub mod atomic;
pub mod confined;
pub mod files;
pub mod locks;
pub mod permissions;
pub mod root;
pub mod state;
