//! Whether the shared folder is set up as the permission model says (docs/permissions.md),
//! seen by the account that runs the command (the owner's, for the night): a folder the
//! owner must write but cannot (a member's `mkdir` under umask 022 on a file system
//! without the default ACL), a shared folder without the default ACL that prevents that,
//! the owner's state or gallery that another account owns or can write, a root without the
//! sticky bit. Each finding names the folder, what follows from
//! it, and the command that fixes it; `status`, `check` and the night's log show them.
//! Looking changes nothing.

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::process::euid;
use crate::shared_folder::files::{GALLERY_DIR, OUTPUT_DIR, STATE_DIR, TASKS_DIR};

/// One thing that is not as the permission model says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The folder, relative to the root (`.` for the root).
    pub folder: String,
    /// What is wrong and what follows from it.
    pub problem: String,
    /// The command that fixes it.
    pub fix: String,
}

/// `drwxr-xr-x anna:lab`, for messages.
fn shown(meta: &std::fs::Metadata) -> String {
    format!(
        "mode {:04o}, {}:{}",
        meta.mode() & 0o7777,
        crate::process::user_name(meta.uid()),
        crate::process::group_name(meta.gid())
    )
}

/// Whether this account may write in (and enter) the folder `path`.
fn can_write(path: &Path) -> bool {
    rustix::fs::access(
        path,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .is_ok()
}

/// The findings for `root` (canonical): the root itself, the owner's state folder and gallery
/// (`gallery`: its folder relative to the root), and every folder the night must write:
/// the top-level folders (members' own) and `more` (the folders of tasks and their outputs).
pub fn check(root: &Path, gallery: Option<&str>, more: &[PathBuf]) -> Vec<Finding> {
    let mut out = Vec::new();
    let me_name = crate::process::user_name(euid());
    let rel = |p: &Path| {
        p.strip_prefix(root)
            .ok()
            .map(|r| r.to_string_lossy().into_owned())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| ".".into())
    };
    let Ok(root_meta) = std::fs::metadata(root) else {
        return out;
    };
    if root_meta.mode() & 0o022 != 0 && root_meta.mode() & 0o1000 == 0 {
        out.push(Finding {
            folder: ".".into(),
            problem: format!(
                "the shared folder is writable by others but not sticky ({}): a member can \
                 rename or remove the owner's .runvqgan/, gallery/ and runvqgan.toml and put \
                 their own in their place",
                shown(&root_meta)
            ),
            fix: format!("chmod +t {}", root.display()),
        });
    }
    // A shared folder members write (the root, tasks/, output/) keeps what they make in it
    // writable by the owner only with a default ACL (init sets it): without one, a member's
    // `mkdir` under umask 022 makes a folder the night cannot write.
    for folder in [
        root.to_path_buf(),
        root.join(TASKS_DIR),
        root.join(OUTPUT_DIR),
    ] {
        // A member may have put a fifo or a link in the folder's place (a root without the
        // sticky bit): opened as a folder only, never through a link, never blocking.
        let Ok(handle) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&folder)
        else {
            continue;
        };
        let Ok(meta) = handle.metadata() else {
            continue;
        };
        if meta.mode() & 0o022 != 0
            && !crate::shared_folder::acl::default_lets_owner_write(&handle, root_meta.uid())
        {
            let owner = crate::process::user_name(root_meta.uid());
            out.push(Finding {
                folder: rel(&folder),
                problem: format!(
                    "members write here but it has no default ACL for {owner} ({}): a folder \
                     a member makes with mkdir under umask 022 is not writable by the night",
                    shown(&meta)
                ),
                fix: format!(
                    "sudo setfacl -d -m u:{owner}:rwx,g::rwx {p} (the acl package), or members \
                     make their folders with `mkdir -m 2775`",
                    p = folder.display()
                ),
            });
        }
    }
    for (name, what) in [
        (STATE_DIR, "the owner's state (records and locks)"),
        (gallery.unwrap_or(GALLERY_DIR), "the gallery"),
    ] {
        let path = root.join(name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let problem = if !meta.is_dir() {
            Some(format!("{name} is not a folder (a link or a file)"))
        } else if meta.uid() != root_meta.uid() {
            Some(format!(
                "{name} ({what}) belongs to {}, not to the shared folder's owner {} ({})",
                crate::process::user_name(meta.uid()),
                crate::process::user_name(root_meta.uid()),
                shown(&meta)
            ))
        } else if meta.mode() & 0o022 != 0 {
            Some(format!(
                "{name} ({what}) can be written by other accounts ({})",
                shown(&meta)
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            out.push(Finding {
                folder: name.into(),
                problem,
                fix: format!(
                    "as its owner or with sudo: `mv {p} {p}.suspect` (look at what is in it); \
                     runvqgan makes it again, the shared folder owner's alone",
                    p = path.display()
                ),
            });
        }
    }
    // Which folders the night can write is a question for the owner's account (the one the
    // night runs as): another account's view of them says nothing about it.
    if root_meta.uid() != euid() && euid() != 0 {
        return out;
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter(|e| e.file_name().to_str() != Some(gallery.unwrap_or(GALLERY_DIR)))
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    folders.extend(more.iter().filter(|p| p.starts_with(root)).cloned());
    folders.sort();
    folders.dedup();
    for folder in folders {
        if can_write(&folder) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&folder) else {
            continue;
        };
        let owner = crate::process::user_name(meta.uid());
        let p = folder.display();
        out.push(Finding {
            folder: rel(&folder),
            problem: format!(
                "{me_name} cannot write this folder ({}), so its tasks get neither images nor \
                 error files",
                shown(&meta)
            ),
            fix: format!(
                "{owner} runs `chmod 2775 {p}` (its group must be the lab's: `chgrp <group> {p}`), \
                 or the owner with sudo: `sudo setfacl -m u:{me_name}:rwx,d:u:{me_name}:rwx {p}`"
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_group_writable_shared_folder_without_the_default_acl_is_named_with_its_fix() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for sub in [TASKS_DIR, OUTPUT_DIR] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        for folder in [root.clone(), root.join(TASKS_DIR), root.join(OUTPUT_DIR)] {
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o3775)).unwrap();
        }
        let found = check(&root, None, &[]);
        let acl: Vec<&Finding> = found
            .iter()
            .filter(|f| f.problem.contains("no default ACL"))
            .collect();
        assert_eq!(acl.len(), 3, "{found:#?}");
        assert!(acl[0].fix.contains("setfacl -d -m u:"), "{:?}", acl[0]);

        let me = crate::process::euid();
        for folder in [root.clone(), root.join(TASKS_DIR), root.join(OUTPUT_DIR)] {
            let fd = std::fs::File::open(&folder).unwrap();
            crate::shared_folder::acl::set_shared_default(&fd, me).unwrap();
        }
        let found = check(&root, None, &[]);
        assert!(
            found.iter().all(|f| !f.problem.contains("no default ACL")),
            "{found:#?}"
        );
    }

    #[test]
    fn a_fifo_in_place_of_a_shared_folder_never_blocks_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o3775)).unwrap();
        std::fs::create_dir(root.join(OUTPUT_DIR)).unwrap();
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            root.join(TASKS_DIR),
            rustix::fs::Mode::from_raw_mode(0o666),
        )
        .unwrap();
        // Returns: a blocking open of the fifo would hang here for ever.
        let found = check(&root, None, &[]);
        assert!(found.iter().any(|f| f.folder == "."), "{found:#?}");
    }
}
