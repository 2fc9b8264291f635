//! Tests of `state`: the owner's state folder is the owner's whatever the umask, never a
//! link, and refused with the fix when another account owns it or can write it.

use super::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    (dir, root)
}

#[test]
fn the_state_folder_is_made_owner_only_whatever_the_umask() {
    let (_d, root) = root();
    // SAFETY: umask only changes this process's file mode mask.
    let old = unsafe { libc::umask(0o002) };
    let made = StateDir::open(&root).and_then(|s| s.sub("runs"));
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    made.unwrap();
    for folder in [root.join(STATE_DIR), root.join(STATE_DIR).join("runs")] {
        let mode = std::fs::metadata(&folder).unwrap().mode() & 0o7777;
        assert_eq!(mode, STATE_DIR_MODE, "{}", folder.display());
    }
}

#[test]
fn a_group_writable_state_folder_is_refused_with_the_fix() {
    let (_d, root) = root();
    std::fs::create_dir(root.join(STATE_DIR)).unwrap();
    std::fs::set_permissions(root.join(STATE_DIR), std::fs::Permissions::from_mode(0o775)).unwrap();
    let e = StateDir::open(&root).unwrap_err();
    assert!(matches!(e, StateError::Writable { .. }), "{e}");
    assert!(e.to_string().contains("chmod -R go-w"), "{e}");
}

#[test]
fn a_link_in_place_of_the_state_folder_is_refused_and_not_followed() {
    let (_d, root) = root();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), root.join(STATE_DIR)).unwrap();
    let e = StateDir::open(&root).unwrap_err();
    assert!(matches!(e, StateError::NotAFolder { .. }), "{e}");
    assert!(e.to_string().contains("a link"), "{e}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn a_state_folder_of_another_account_is_refused() {
    let (_d, root) = root();
    std::fs::create_dir(root.join(STATE_DIR)).unwrap();
    std::fs::set_permissions(root.join(STATE_DIR), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Giving a folder to another account needs root; CI runs as root.
    std::os::unix::fs::lchown(root.join(STATE_DIR), Some(65534), Some(65534))
        .expect("this test gives a folder to another account, which needs root (CI is root)");
    let e = StateDir::open(&root).unwrap_err();
    assert!(matches!(e, StateError::Foreign { .. }), "{e}");
}

#[test]
fn a_fifo_or_link_at_a_lock_path_is_replaced_by_an_owner_only_lock_file() {
    let (_d, root) = root();
    let state = StateDir::open(&root).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("owner-file");
    std::fs::write(&target, "keep").unwrap();
    std::os::unix::fs::symlink(&target, state.path().join("a.lock")).unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        state.path().join("b.lock"),
        Mode::from_raw_mode(0o666),
    )
    .unwrap();
    for name in ["a.lock", "b.lock"] {
        let f = state.lock_file(name).unwrap();
        let meta = f.metadata().unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.mode() & 0o7777, LOCK_MODE);
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
}
