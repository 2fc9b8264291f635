//! A stat-keyed index of files in the shared folder, kept in the owner's state folder, so
//! that a command touches only what changed since its last pass (issue 27): the gallery's
//! sidecars and thumbnails, the task files that `check` validates.
//!
//! # Contract
//!
//! - An entry is a path (relative to whatever the caller likes: the root, the gallery),
//!   the [`FileStamp`] of the file it was made from, and a value `V` computed from that
//!   file. [`Index::get`] gives the value only while the file's stamp is the same in every
//!   field: device, inode, size, modification time and change time, to the nanosecond. The
//!   change time cannot be set by anyone: a write, a rename over the name, a `chmod`, a
//!   `touch` back to the old time all change it, so an unchanged stamp means an unchanged
//!   file (short of the clock going back). The caller takes the stamp of the file it
//!   actually read (`fstat` on the opened file), never of a second lookup of the name.
//! - The values also depend on things outside any one file (the program's code, the
//!   configuration, a template): the caller names them in a `context` digest given to
//!   [`Index::load`]. An index saved under another context is not used: all is read again.
//!   The value type's name is part of the context too.
//! - A missing, unreadable, over-long ([`MAX_INDEX`]), corrupt index, one of another format
//!   version ([`FORMAT`]) or of another context loads as an empty index: a full rescan,
//!   never an error that stops the command.
//! - Each pass marks what it uses: an entry that was neither found by [`Index::get`] nor
//!   set by [`Index::insert`] since [`Index::load`] is dropped by [`Index::save`] (its file
//!   is gone, or changed and was not read again). [`Index::save`] writes only when
//!   something changed, atomically (a temporary file renamed in the state folder), owner
//!   only. Only the owner opens the state folder ([`StateDir::open`]): a member's command
//!   cannot load or save an index, and simply reads every file.
//! - The index is the owner's: it lives in the state folder that no member can write, so
//!   its content is trusted as far as its format goes; a cap on its length and a format
//!   check keep a damaged one from costing more than a rescan.
//!
//! The file is `postcard` (compact, fast): a header (magic, [`FORMAT`], the context digest)
//! and the entries, each value's encoding a byte string of its own. Loading reads the paths
//! and stamps only (the paths stay in the file's bytes); a value is decoded when first asked
//! for ([`Index::get`]), only its first part ([`Index::get_head`]), or read in place by a
//! pass that takes it once ([`Index::view`]). A rebuild with nothing new asks for few
//! values: the gallery's 100,000 sidecars' facts (tens of megabytes) are read back but not
//! decoded, and an entry kept as it was is written back as the very bytes it was read as.

use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry as Slot;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::shared_folder::state::StateDir;

/// The first bytes of every index file.
const MAGIC: [u8; 8] = *b"rvqindex";
/// The format of the file; an index of another format is not read.
pub const FORMAT: u32 = 2;
/// The most bytes of an index read back; a longer one counts as missing (and is replaced
/// on save). 100,000 gallery images take about 40 MB.
pub const MAX_INDEX: u64 = 256 * 1024 * 1024;

/// What identifies one version of a file: equal stamps, same content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileStamp {
    /// The device (file system) it lies on.
    pub dev: u64,
    /// Its inode: a file renamed over the name has another one.
    pub ino: u64,
    /// Its length in bytes.
    pub size: u64,
    /// Modification time: seconds since 1970.
    pub mtime_sec: i64,
    /// Modification time: nanoseconds.
    pub mtime_nsec: u32,
    /// Change time (status or content): seconds since 1970; no one can set it.
    pub ctime_sec: i64,
    /// Change time: nanoseconds.
    pub ctime_nsec: u32,
}

impl FileStamp {
    /// Its fields as bytes, for a digest of many stamps.
    pub fn to_bytes(&self) -> [u8; 48] {
        let mut out = [0; 48];
        out[0..8].copy_from_slice(&self.dev.to_le_bytes());
        out[8..16].copy_from_slice(&self.ino.to_le_bytes());
        out[16..24].copy_from_slice(&self.size.to_le_bytes());
        out[24..32].copy_from_slice(&self.mtime_sec.to_le_bytes());
        out[32..36].copy_from_slice(&self.mtime_nsec.to_le_bytes());
        out[36..44].copy_from_slice(&self.ctime_sec.to_le_bytes());
        out[44..48].copy_from_slice(&self.ctime_nsec.to_le_bytes());
        out
    }
}

/// The stamp of a file from its status (`stat` of a name, or `fstat` of an opened file).
pub fn stamp_of(st: &rustix::fs::Stat) -> FileStamp {
    FileStamp {
        dev: st.st_dev,
        ino: st.st_ino,
        size: u64::try_from(st.st_size).unwrap_or_default(),
        mtime_sec: st.st_mtime,
        mtime_nsec: st.st_mtime_nsec as u32,
        ctime_sec: st.st_ctime,
        ctime_nsec: st.st_ctime_nsec as u32,
    }
}

/// A digest of `parts` (each length-prefixed, so `["ab", "c"]` and `["a", "bc"]` differ),
/// as hex: the `context` of [`Index::load`].
pub fn context_digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
struct Entry<V> {
    /// Where its path lies in [`Index`]'s `bytes`.
    rel: Range<usize>,
    stamp: FileStamp,
    /// Where the encoding of its value lies in [`Index`]'s `bytes`.
    at: Range<usize>,
    /// The value, decoded when first asked for (`None`: it does not decode, a miss).
    value: OnceLock<Option<Box<V>>>,
    /// Used in this pass (found or set): kept at save.
    used: AtomicBool,
}

/// The header of the file.
#[derive(Serialize, Deserialize)]
struct Header {
    magic: [u8; 8],
    format: u32,
    context: String,
}

/// A stat-keyed index of values of type `V` (see the module's contract). [`Index::get`]
/// takes `&self`, so threads may look up entries at once (`V: Sync`); setting takes
/// `&mut self`.
#[derive(Debug)]
pub struct Index<V> {
    name: String,
    context: String,
    /// The file as read (the entries' paths and the encodings of their values), then the
    /// paths and values set since (a value replaced leaves its old bytes unused until the
    /// next load).
    bytes: Vec<u8>,
    /// The entries, by their path (kept in `bytes`, not copied out of them).
    entries: HashTable<Entry<V>>,
    /// The hasher of the paths (foldhash: fast on short keys, seeded anew in each process).
    hasher: RandomState,
    /// Whether a valid index file was read.
    loaded: bool,
    /// Whether an entry was set since loading.
    inserted: bool,
}

impl<V: Serialize + DeserializeOwned> Index<V> {
    /// An empty index that [`Index::save`] stores as `name` in the state folder, under
    /// `context`: what a command uses when it cannot open the state (a member's), or wants
    /// a full rescan.
    pub fn empty(name: &str, context: &str) -> Self {
        Index {
            name: name.to_string(),
            context: full_context::<V>(context),
            bytes: Vec::new(),
            entries: HashTable::new(),
            hasher: RandomState::default(),
            loaded: false,
            inserted: false,
        }
    }

    /// The index `name` (a file name in the state folder, from
    /// [`crate::shared_folder::files`]) as last saved under `context`; empty (a full rescan)
    /// when it is missing, unreadable, longer than [`MAX_INDEX`], corrupt, of another
    /// [`FORMAT`] or saved under another context.
    pub fn load(state: &StateDir, name: &str, context: &str) -> Self {
        let mut index = Self::empty(name, context);
        let Ok(bytes) = state.read(name, MAX_INDEX) else {
            return index;
        };
        if bytes.len() as u64 > MAX_INDEX {
            return index;
        }
        if let Some(entries) = decode::<V>(&bytes, &index.context, &index.hasher) {
            index.entries = entries;
            index.bytes = bytes;
            index.loaded = true;
        } else {
            tracing::debug!("{name}: an index of another version or context, or damaged; ignored");
        }
        index
    }

    /// The value stored for `rel` when its file's stamp is still `stamp` (and marks the
    /// entry as used, so that [`Index::save`] keeps it); `None` when the file is new or
    /// changed: the caller reads it and calls [`Index::insert`].
    /// A value that no longer decodes (it cannot happen short of a damaged file) is a miss.
    pub fn get(&self, rel: &str, stamp: &FileStamp) -> Option<&V> {
        let entry = self.entry(rel, stamp)?;
        let value = entry.value.get_or_init(|| {
            let (value, rest) =
                postcard::take_from_bytes::<V>(&self.bytes[entry.at.clone()]).ok()?;
            rest.is_empty().then(|| Box::new(value))
        });
        value.as_deref()
    }

    /// Whether an entry is stored for `rel` with its file's stamp still `stamp` (and marks it
    /// as used, like [`Index::get`]); decodes nothing.
    pub fn knows(&self, rel: &str, stamp: &FileStamp) -> bool {
        self.entry(rel, stamp).is_some()
    }

    /// The value stored for `rel` when its file's stamp is still `stamp`, decoded as `B`, a
    /// form of `V` that borrows its text from the index (`&str` for a `String`, `&[u8]` for
    /// bytes) and is not kept in it: for a pass that takes each entry once. `B`'s encoding
    /// must be `V`'s. Marks the entry as used and misses as [`Index::get`] does.
    pub fn view<'a, B: Deserialize<'a>>(&'a self, rel: &str, stamp: &FileStamp) -> Option<B> {
        let entry = self.entry(rel, stamp)?;
        let (view, rest) = postcard::take_from_bytes::<B>(&self.bytes[entry.at.clone()]).ok()?;
        rest.is_empty().then_some(view)
    }

    /// The first part of the value stored for `rel` when its file's stamp is still `stamp`,
    /// decoded as `H`, whose encoding must begin every encoding of `V`: `Result<(), E>` of a
    /// `Result<T, E>` (whether it is `Ok`, without decoding the `T`), the first fields of a
    /// struct. Marks the entry as used, like [`Index::get`]; decodes nothing else.
    pub fn get_head<H: DeserializeOwned>(&self, rel: &str, stamp: &FileStamp) -> Option<H> {
        let entry = self.entry(rel, stamp)?;
        postcard::take_from_bytes::<H>(&self.bytes[entry.at.clone()])
            .ok()
            .map(|(head, _)| head)
    }

    /// The entry of `rel` when its stamp is `stamp`, marked as used.
    fn entry(&self, rel: &str, stamp: &FileStamp) -> Option<&Entry<V>> {
        let hash = self.hasher.hash_one(rel.as_bytes());
        let entry = (self.entries).find(hash, |e| &self.bytes[e.rel.clone()] == rel.as_bytes())?;
        if entry.stamp != *stamp {
            return None;
        }
        entry.used.store(true, Ordering::Relaxed);
        Some(entry)
    }

    /// The path of `entry`: text, as it was when it was decoded or set.
    fn rel(&self, entry: &Entry<V>) -> &str {
        std::str::from_utf8(&self.bytes[entry.rel.clone()]).expect("an index path is text")
    }

    /// Stores `value`, computed from the file `rel` whose stamp (of the opened file that was
    /// read) is `stamp`, replacing what was there.
    pub fn insert(&mut self, rel: impl AsRef<str>, stamp: FileStamp, value: V) {
        let rel = rel.as_ref().as_bytes();
        let start = self.bytes.len();
        // Values are plain serde-derived data, which postcard always encodes.
        let encoded = postcard::to_stdvec(&value).expect("an index value always encodes");
        self.bytes.extend_from_slice(&encoded);
        let at = start..self.bytes.len();
        let value = OnceLock::from(Some(Box::new(value)));
        let used = AtomicBool::new(true);
        let Index {
            bytes,
            entries,
            hasher,
            ..
        } = self;
        let hash = hasher.hash_one(rel);
        let same = |e: &Entry<V>| &bytes[e.rel.clone()] == rel;
        match entries.entry(hash, same, |e| hasher.hash_one(&bytes[e.rel.clone()])) {
            Slot::Occupied(mut slot) => {
                let entry = slot.get_mut();
                (entry.stamp, entry.at, entry.value, entry.used) = (stamp, at, value, used);
            }
            Slot::Vacant(slot) => {
                let rel_start = bytes.len();
                bytes.extend_from_slice(rel);
                let rel = rel_start..bytes.len();
                let entry = Entry {
                    rel,
                    stamp,
                    at,
                    value,
                    used,
                };
                slot.insert(entry);
            }
        }
        self.inserted = true;
    }

    /// Whether a valid index was read, it holds at least one entry, and every entry's file
    /// still has its stamp (`stamp_now(rel)`: the file's stamp now, `None` when it is gone):
    /// then every entry is marked used, and the caller need not look at any of the files
    /// again. For a set of files written together (the gallery's pages), under a context
    /// that names what they were made from.
    pub fn all_unchanged(&self, mut stamp_now: impl FnMut(&str) -> Option<FileStamp>) -> bool {
        let unchanged = self.loaded
            && !self.entries.is_empty()
            && self
                .entries
                .iter()
                .all(|e| stamp_now(self.rel(e)) == Some(e.stamp));
        if unchanged {
            (self.entries.iter()).for_each(|e| e.used.store(true, Ordering::Relaxed));
        }
        unchanged
    }

    /// How many entries it holds (used or not).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a valid index was read by [`Index::load`] (`false`: this pass is a full
    /// rescan).
    pub fn was_loaded(&self) -> bool {
        self.loaded
    }

    /// Whether [`Index::save`] would write: an entry was set, an entry was not used in this
    /// pass, or no valid index was read.
    pub fn changed(&self) -> bool {
        !self.loaded
            || self.inserted
            || self.entries.iter().any(|e| !e.used.load(Ordering::Relaxed))
    }

    /// Drops the entries not used in this pass and, when anything changed, writes the index
    /// into `state` atomically (owner only). Returns whether it wrote.
    pub fn save(&mut self, state: &StateDir) -> std::io::Result<bool> {
        if !self.changed() {
            return Ok(false);
        }
        self.entries.retain(|e| *e.used.get_mut());
        let header = Header {
            magic: MAGIC,
            format: FORMAT,
            context: self.context.clone(),
        };
        let mut bytes = postcard::to_stdvec(&header).map_err(std::io::Error::other)?;
        let entries: Vec<(&str, &FileStamp, &[u8])> = self
            .entries
            .iter()
            .map(|e| (self.rel(e), &e.stamp, &self.bytes[e.at.clone()]))
            .collect();
        bytes.extend(postcard::to_stdvec(&entries).map_err(std::io::Error::other)?);
        state.write_atomic(&self.name, &bytes, 0o600)?;
        self.loaded = true;
        self.inserted = false;
        Ok(true)
    }
}

/// The caller's context with the value type's name: an index of other values is not read.
fn full_context<V>(context: &str) -> String {
    format!("{}\n{context}", std::any::type_name::<V>())
}

/// The entries of an index file `bytes` whose header says [`FORMAT`] and `context`, each
/// with where its path and its value's encoding lie in `bytes` (not decoded), by the paths'
/// hashes from `hasher`. Read entry by entry (the file is a `Vec` of entries: its length,
/// then each one), without a list of them all in between.
fn decode<V>(bytes: &[u8], context: &str, hasher: &RandomState) -> Option<HashTable<Entry<V>>> {
    let (header, rest) = postcard::take_from_bytes::<Header>(bytes).ok()?;
    if header.magic != MAGIC || header.format != FORMAT || header.context != context {
        return None;
    }
    let (count, mut rest) = postcard::take_from_bytes::<usize>(rest).ok()?;
    // Each entry takes a byte at least for its path's length, each of the stamp's 7 fields
    // and its value's length: a damaged count cannot reserve much more than the file holds.
    let mut entries = HashTable::with_capacity(count.min(rest.len() / 9));
    // Each path and value is a slice of `bytes`: where it lies is its distance from the start.
    let base = bytes.as_ptr() as usize;
    let range = |part: &[u8]| {
        let start = part.as_ptr() as usize - base;
        start..start + part.len()
    };
    for _ in 0..count {
        let ((rel, stamp, value), more) =
            postcard::take_from_bytes::<(&str, FileStamp, &[u8])>(rest).ok()?;
        rest = more;
        let rel = rel.as_bytes();
        let entry = Entry {
            rel: range(rel),
            stamp,
            at: range(value),
            value: OnceLock::new(),
            used: AtomicBool::new(false),
        };
        let same = |e: &Entry<V>| &bytes[e.rel.clone()] == rel;
        let hash = |e: &Entry<V>| hasher.hash_one(&bytes[e.rel.clone()]);
        // A path listed twice (never saved so) is the later entry.
        match entries.entry(hasher.hash_one(rel), same, hash) {
            Slot::Occupied(mut slot) => *slot.get_mut() = entry,
            Slot::Vacant(slot) => {
                slot.insert(entry);
            }
        }
    }
    rest.is_empty().then_some(entries)
}

#[cfg(test)]
mod tests;
