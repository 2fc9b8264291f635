//! Each pass's reading of the owner's check index: an entry read in place ([`KnownView`],
//! whose text is borrowed from the index's bytes, not copied: a pass takes each entry once),
//! and whether it still stands for its task file ([`standing`]).

use std::collections::HashMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::queue::discover::TaskFile;
use crate::shared_folder::root::Root;
use crate::task::validate::FolderCache;
use crate::task::{TaskSpec, Validated};

/// A [`super::KnownTask`] as it lies in the index: the same encoding, its text borrowed.
#[derive(Debug, Deserialize)]
pub struct KnownView<'a> {
    /// [`super::KnownTask::sha256`].
    #[serde(borrow)]
    pub sha256: &'a str,
    /// [`super::KnownTask::out_folder`].
    #[serde(borrow)]
    pub out_folder: Option<(&'a str, [u8; 16])>,
    /// [`super::KnownTask::verdict`].
    #[serde(borrow)]
    pub verdict: KnownVerdictView<'a>,
}

/// A [`super::KnownVerdict`] as it lies in the index.
#[derive(Debug, Deserialize)]
pub enum KnownVerdictView<'a> {
    /// [`super::KnownVerdict::Valid`].
    Valid {
        /// One sentence per cap applied.
        #[serde(borrow)]
        warnings: Vec<&'a str>,
        /// The output folder.
        out_folder: &'a str,
        /// The [`TaskSpec`], encoded.
        spec: &'a [u8],
    },
    /// [`super::KnownVerdict::Invalid`].
    Invalid {
        /// The `_ERROR.txt` text.
        report: &'a str,
    },
}

impl KnownView<'_> {
    /// A valid task as its check validated it; `None` for an invalid one (its problems are
    /// kept as text only), or a spec that does not decode.
    pub fn validated(&self) -> Option<Validated> {
        let KnownVerdictView::Valid { warnings, spec, .. } = &self.verdict else {
            return None;
        };
        let spec = postcard::from_bytes::<TaskSpec>(spec).ok()?;
        Some(Validated {
            spec,
            warnings: warnings.iter().map(|w| w.to_string()).collect(),
        })
    }
}

/// Whether `known`, the entry of a task discovered unread ([`TaskFile::reused`]), stands
/// for it in this pass: while its output folder still resolves as it did (`now`: a digest of
/// what a folder resolves to now). Otherwise the file is read again, to be validated anew;
/// a file gone this very moment keeps its verdict (the next pass no longer finds it). The
/// file's hash is then the entry's.
pub(super) fn standing<'i>(
    file: &mut TaskFile,
    known: Option<KnownView<'i>>,
    mut now: impl FnMut(&'i str) -> [u8; 16],
) -> Option<KnownView<'i>> {
    if !file.reused {
        return None;
    }
    let still = known
        .as_ref()
        .is_some_and(|k| k.out_folder.is_none_or(|(value, was)| now(value) == was));
    let gone = !still && file.reread().is_err();
    let known = known.filter(|_| still || gone)?;
    file.known_sha256 = Some(known.sha256.to_string());
    Some(known)
}

/// [`resolution`] of the output folder `value`, once per folder for all the tasks of one
/// part of the work (`seen`: many tasks name the same few folders).
pub(super) fn resolution_seen<'i>(
    seen: &mut HashMap<&'i str, [u8; 16]>,
    folders: &FolderCache,
    root: &Root,
    value: &'i str,
) -> [u8; 16] {
    *seen
        .entry(value)
        .or_insert_with(|| resolution(folders, root, value))
}

/// A digest of what the output folder `value` resolves to now (its canonical path, or the
/// problem).
pub(super) fn resolution(folders: &FolderCache, root: &Root, value: &str) -> [u8; 16] {
    let resolved = format!("{:?}", folders.resolve(root, value));
    let digest = Sha256::digest(resolved.as_bytes());
    let mut out = [0; 16];
    out.copy_from_slice(&digest[..16]);
    out
}
