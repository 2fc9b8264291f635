//! Tests of `index`: a value is given back only for the very same file (every field of its
//! stamp), and a damaged, foreign or missing index is an empty one, never an error.

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::shared_folder::files::STATE_DIR;

fn root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    (dir, root)
}

fn stamp(path: &Path) -> FileStamp {
    stamp_of(&rustix::fs::stat(path).unwrap())
}

/// An index `name` holding `a.txt` (the file `file`) with the value "A", saved.
fn saved(root: &Path, name: &str, file: &Path) -> StateDir {
    let state = StateDir::open(root).unwrap();
    let mut index = Index::<String>::load(&state, name, "ctx");
    assert!(!index.was_loaded() && index.is_empty());
    index.insert("a.txt", stamp(file), "A".to_string());
    assert!(index.save(&state).unwrap());
    state
}

#[test]
fn an_unchanged_file_gets_its_value_and_nothing_is_written_again() {
    let (_d, root) = root();
    let file = root.join("a.txt");
    std::fs::write(&file, "x").unwrap();
    let state = saved(&root, "t.index", &file);
    let mut index = Index::<String>::load(&state, "t.index", "ctx");
    assert!(index.was_loaded());
    assert_eq!(
        index.get("a.txt", &stamp(&file)).map(String::as_str),
        Some("A")
    );
    assert!(index.get("b.txt", &stamp(&file)).is_none());
    assert!(!index.changed());
    assert!(!index.save(&state).unwrap());
}

#[test]
fn a_change_of_size_time_inode_or_status_is_a_miss() {
    let (_d, root) = root();
    let file = root.join("a.txt");
    std::fs::write(&file, "x").unwrap();
    let state = saved(&root, "t.index", &file);
    let index = Index::<String>::load(&state, "t.index", "ctx");
    let before = stamp(&file);
    // Each field on its own.
    let mut other = before;
    other.size += 1;
    assert!(index.get("a.txt", &other).is_none());
    let mut other = before;
    other.mtime_nsec ^= 1;
    assert!(index.get("a.txt", &other).is_none());
    let mut other = before;
    other.ino += 1;
    assert!(index.get("a.txt", &other).is_none());
    let mut other = before;
    other.dev += 1;
    assert!(index.get("a.txt", &other).is_none());
    let mut other = before;
    other.ctime_sec += 1;
    assert!(index.get("a.txt", &other).is_none());
    // And on disk: same length, modification time set back, but changed content and
    // status (the change time moved on).
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::fs::write(&file, "y").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert!(index.get("a.txt", &stamp(&file)).is_none());
    // A chmod alone.
    let state2 = saved(&root, "u.index", &file);
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let index = Index::<String>::load(&state2, "u.index", "ctx");
    assert!(index.get("a.txt", &stamp(&file)).is_none());
    // A file renamed over the name (another inode).
    let state3 = saved(&root, "v.index", &file);
    std::fs::write(root.join("new"), "y").unwrap();
    std::fs::rename(root.join("new"), &file).unwrap();
    let index = Index::<String>::load(&state3, "v.index", "ctx");
    assert!(index.get("a.txt", &stamp(&file)).is_none());
}

#[test]
fn entries_not_used_in_a_pass_are_dropped_at_save() {
    let (_d, root) = root();
    let file = root.join("a.txt");
    std::fs::write(&file, "x").unwrap();
    let state = saved(&root, "t.index", &file);
    let mut index = Index::<String>::load(&state, "t.index", "ctx");
    index.insert("b.txt", stamp(&file), "B".into());
    assert!(index.save(&state).unwrap());
    let index = Index::<String>::load(&state, "t.index", "ctx");
    assert_eq!(index.len(), 1);
    assert!(index.get("a.txt", &stamp(&file)).is_none());
    assert_eq!(
        index.get("b.txt", &stamp(&file)).map(String::as_str),
        Some("B")
    );
}

#[test]
fn a_damaged_foreign_or_missing_index_is_empty() {
    let (_d, root) = root();
    let file = root.join("a.txt");
    std::fs::write(&file, "x").unwrap();
    let state = saved(&root, "t.index", &file);
    let path = root.join(STATE_DIR).join("t.index");
    let good = std::fs::read(&path).unwrap();
    let empty = |state: &StateDir| {
        let index = Index::<String>::load(state, "t.index", "ctx");
        assert!(!index.was_loaded() && index.is_empty() && index.changed());
        assert!(index.get("a.txt", &stamp(&file)).is_none());
    };
    // Another context, another value type.
    assert!(Index::<String>::load(&state, "t.index", "other").is_empty());
    assert!(Index::<u64>::load(&state, "t.index", "ctx").is_empty());
    // Cut short, garbage, trailing bytes, another format version.
    std::fs::write(&path, &good[..good.len() - 1]).unwrap();
    empty(&state);
    std::fs::write(&path, b"not an index at all").unwrap();
    empty(&state);
    std::fs::write(&path, [&good[..], b"x"].concat()).unwrap();
    empty(&state);
    let mut other = good.clone();
    assert_eq!(other[MAGIC.len()], FORMAT as u8);
    other[MAGIC.len()] += 1;
    std::fs::write(&path, other).unwrap();
    empty(&state);
    // A link in its place is not followed; a folder; nothing.
    std::fs::remove_file(&path).unwrap();
    let elsewhere = root.join("elsewhere");
    std::fs::write(&elsewhere, &good).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    empty(&state);
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    empty(&state);
    std::fs::remove_dir(&path).unwrap();
    empty(&state);
    // Saving again gives a good index.
    let mut index = Index::<String>::load(&state, "t.index", "ctx");
    index.insert("a.txt", stamp(&file), "A".into());
    assert!(index.save(&state).unwrap());
    assert!(Index::<String>::load(&state, "t.index", "ctx").was_loaded());
}

#[test]
fn context_digests_keep_parts_apart() {
    let ab: [&[u8]; 2] = [b"ab", b"c"];
    let bc: [&[u8]; 2] = [b"a", b"bc"];
    assert_ne!(context_digest(ab), context_digest(bc));
    assert_eq!(context_digest(ab), context_digest(ab));
}

#[test]
fn all_unchanged_needs_a_loaded_index_and_every_file_as_recorded() {
    let (_d, root) = root();
    let file = root.join("a.txt");
    std::fs::write(&file, "x").unwrap();
    let state = StateDir::open(&root).unwrap();
    let mut index = Index::<()>::load(&state, "p.index", "digest");
    assert!(
        !index.all_unchanged(|_| Some(stamp(&file))),
        "nothing loaded"
    );
    index.insert("a.txt", stamp(&file), ());
    index.insert("b.txt", stamp(&file), ());
    index.save(&state).unwrap();
    let index = Index::<()>::load(&state, "p.index", "digest");
    assert!(index.all_unchanged(|_| Some(stamp(&file))));
    assert!(!index.changed(), "all marked used");
    assert!(!index.all_unchanged(|rel| (rel == "a.txt").then(|| stamp(&file))));
    let mut other = stamp(&file);
    other.ctime_nsec ^= 1;
    assert!(!index.all_unchanged(|_| Some(other)));
    assert!(Index::<()>::load(&state, "p.index", "another digest").is_empty());
}
