//! POSIX default ACLs on the shared folders, so that a folder a member makes with `mkdir`
//! (umask 022: `drwxr-xr-x`) is still writable by the owner's night and the lab's group.
//!
//! A folder with a default ACL hands it to every file and folder made in it, and the
//! creator's umask is then not applied: a member's `mkdir anna` under the root gets
//! `user:<owner>:rwx` and `group::rwx`, whatever the member's umask. The ACL is written as
//! the kernel's extended attribute `system.posix_acl_default` (the binary layout of
//! `linux/posix_acl_xattr.h`: a version word, then tag, permissions and id per entry, sorted
//! by tag), so that no library or `setfacl` needs to be installed; `getfacl` shows it.

use std::os::fd::AsFd;

/// The attribute that holds a folder's default ACL.
const DEFAULT_ACL: &str = "system.posix_acl_default";
const VERSION: u32 = 2;
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const UNDEFINED_ID: u32 = u32::MAX;

/// What setting a default ACL came to.
#[derive(Debug, PartialEq, Eq)]
pub enum AclOutcome {
    /// Set.
    Set,
    /// The file system keeps no ACLs (some network shares, `noacl` mounts).
    Unsupported,
}

/// The default ACL: the file's owner, `owner_uid` (the night's account) and the group
/// `rwx`, others `r-x`.
fn encode(owner_uid: u32) -> Vec<u8> {
    let entries: [(u16, u16, u32); 5] = [
        (USER_OBJ, 7, UNDEFINED_ID),
        (USER, 7, owner_uid),
        (GROUP_OBJ, 7, UNDEFINED_ID),
        (MASK, 7, UNDEFINED_ID),
        (OTHER, 5, UNDEFINED_ID),
    ];
    let mut bytes = VERSION.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        bytes.extend_from_slice(&tag.to_le_bytes());
        bytes.extend_from_slice(&perm.to_le_bytes());
        bytes.extend_from_slice(&id.to_le_bytes());
    }
    bytes
}

/// Gives the folder `dir` the default ACL that keeps what is made in it writable by
/// `owner_uid` and the group.
pub fn set_shared_default(dir: &impl AsFd, owner_uid: u32) -> std::io::Result<AclOutcome> {
    match rustix::fs::fsetxattr(
        dir,
        DEFAULT_ACL,
        &encode(owner_uid),
        rustix::fs::XattrFlags::empty(),
    ) {
        Ok(()) => Ok(AclOutcome::Set),
        Err(rustix::io::Errno::OPNOTSUPP) => Ok(AclOutcome::Unsupported),
        Err(e) => Err(std::io::Error::from_raw_os_error(e.raw_os_error())),
    }
}

/// Whether the folder `dir` has a default ACL that gives `owner_uid` (or the owning group,
/// when it is `rwx`) write access to what is made in it.
pub fn default_lets_owner_write(dir: &impl AsFd, owner_uid: u32) -> bool {
    let mut buf = vec![0u8; 512];
    let Ok(n) = rustix::fs::fgetxattr(dir, DEFAULT_ACL, &mut buf) else {
        return false;
    };
    let bytes = &buf[..n];
    if bytes.len() < 4 || u32::from_le_bytes(bytes[..4].try_into().unwrap()) != VERSION {
        return false;
    }
    let (mut user, mut mask) = (false, true);
    for entry in bytes[4..].chunks_exact(8) {
        let tag = u16::from_le_bytes([entry[0], entry[1]]);
        let perm = u16::from_le_bytes([entry[2], entry[3]]);
        let id = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]);
        match tag {
            USER if id == owner_uid => user = perm & 2 != 0,
            MASK => mask = perm & 2 != 0,
            _ => {}
        }
    }
    user && mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoding_is_the_kernels_layout_sorted_by_tag() {
        let bytes = encode(1001);
        assert_eq!(bytes.len(), 4 + 5 * 8);
        assert_eq!(&bytes[..4], &2u32.to_le_bytes());
        let tags: Vec<u16> = bytes[4..]
            .chunks_exact(8)
            .map(|e| u16::from_le_bytes([e[0], e[1]]))
            .collect();
        assert_eq!(tags, [1, 2, 4, 0x10, 0x20]);
        assert_eq!(&bytes[4 + 8 + 4..4 + 8 + 8], &1001u32.to_le_bytes());
    }

    #[test]
    fn a_default_acl_set_is_read_back_where_the_file_system_keeps_acls() {
        let dir = tempfile::tempdir().unwrap();
        let fd = std::fs::File::open(dir.path()).unwrap();
        match set_shared_default(&fd, 4242).unwrap() {
            AclOutcome::Set => {
                assert!(default_lets_owner_write(&fd, 4242));
                assert!(!default_lets_owner_write(&fd, 4243));
                // A folder made inside inherits it: the member's mkdir under umask 022.
                // SAFETY: umask only changes this process's file mode mask.
                let old = unsafe { libc::umask(0o022) };
                std::fs::create_dir(dir.path().join("anna")).unwrap();
                // SAFETY: as above.
                unsafe { libc::umask(old) };
                let anna = std::fs::File::open(dir.path().join("anna")).unwrap();
                assert!(default_lets_owner_write(&anna, 4242));
                use std::os::unix::fs::MetadataExt;
                let mode = anna.metadata().unwrap().mode();
                assert_eq!(mode & 0o070, 0o070, "the group (mask) may write: {mode:o}");
            }
            AclOutcome::Unsupported => {
                panic!("the test folder's file system keeps no ACLs (tmpfs and ext4 do)")
            }
        }
    }
}
