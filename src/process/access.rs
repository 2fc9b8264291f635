//! What this account may reach on this machine, for messages that name the real cause.
//!
//! A path under a folder this account cannot enter looks, to `stat`, exactly like a path that
//! does not exist, and `is_file()` says `false` for both. runvqgan is built by one account and
//! run by another (the owner's cron job, a service's `User=`), so "the standard library has
//! no os.py" may really mean "permission denied on /root": [`first_denied`] finds the folder
//! that stops this account, so the message can name it.

use std::path::{Path, PathBuf};

/// The first folder on the way to the folder `dir` (from `/` down, `dir` included) that
/// `enter` refuses with a permission error; `None` when each folder that exists may be
/// entered (a missing folder is not a permission problem: the walk stops there).
///
/// `enter` is [`may_enter`] outside tests; a test passes its own, since root may enter every
/// folder whatever its mode.
pub fn first_denied(dir: &Path, enter: impl Fn(&Path) -> std::io::Result<()>) -> Option<PathBuf> {
    let mut on_the_way: Vec<&Path> = dir.ancestors().collect();
    on_the_way.reverse();
    for folder in on_the_way {
        if folder.as_os_str().is_empty() {
            continue;
        }
        match enter(folder) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Some(folder.to_path_buf());
            }
            Err(_) => return None,
        }
    }
    None
}

/// `Ok` when this process may enter (search) the folder `dir`, judged with its effective
/// user and groups (`faccessat(X_OK, AT_EACCESS)`), as opening a file under it would be.
pub fn may_enter(dir: &Path) -> std::io::Result<()> {
    use rustix::fs::{Access, AtFlags, CWD, accessat};
    accessat(CWD, dir, Access::EXEC_OK, AtFlags::EACCESS).map_err(std::io::Error::from)
}

/// The name of this process's effective user, with its number: `vqgan (uid 1001)`.
pub fn this_account() -> String {
    let uid = super::euid();
    match super::user_name(uid) {
        name if name == uid.to_string() => format!("uid {uid}"),
        name => format!("{name} (uid {uid})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Whether another account (not the folder's owner, not in its group) may enter `dir`:
    /// what `may_enter` says for such an account, from the mode bits alone.
    fn others_may_enter(dir: &Path) -> std::io::Result<()> {
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o001 == 0 {
            return Err(std::io::ErrorKind::PermissionDenied.into());
        }
        Ok(())
    }

    #[test]
    fn the_first_folder_another_account_cannot_enter_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let locked = tmp.path().join("locked");
        let stdlib = locked.join("py/lib/python3.11");
        std::fs::create_dir_all(&stdlib).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        assert_eq!(
            first_denied(&stdlib, others_may_enter),
            Some(locked.clone())
        );
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            first_denied(&stdlib, others_may_enter),
            Some(locked.clone())
        );
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(first_denied(&stdlib, others_may_enter), None);
    }

    #[test]
    fn a_missing_folder_is_not_a_permission_problem() {
        let tmp = tempfile::tempdir().unwrap();
        let gone = tmp.path().join("gone/lib");
        assert_eq!(first_denied(&gone, may_enter), None);
        assert_eq!(first_denied(Path::new("/"), may_enter), None);
    }

    #[test]
    fn this_account_has_a_name() {
        let me = this_account();
        assert!(me.contains("uid "), "{me}");
    }
}
