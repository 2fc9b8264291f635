//! The shared folder itself: finding the [`root`], [`confined`] access that links and `..`
//! cannot escape, [`atomic`] writes, the name of every file runvqgan writes there
//! ([`files`]), the owner's [`state`] folder and the [`index`] of files seen that it keeps,
//! the [`locks`] that several runs share it by, and the permission model (docs/permissions.md): the default [`acl`] that `init` sets and
//! the [`permissions`] findings with their fixes.

pub mod acl;
pub mod atomic;
pub mod confined;
pub mod files;
pub mod index;
pub mod locks;
pub mod permissions;
pub mod root;
pub mod state;
