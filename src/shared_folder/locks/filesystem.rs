//! What kind of filesystem holds the shared folder, and therefore how runs on it claim tasks.
//!
//! `flock` locks are kept by the kernel of one machine. On a local disk that is all there
//! is, and a lock of a process that died is freed by the kernel at once: the best claim. On
//! a network filesystem it depends on the client: NFS mounted with `local_lock=all`,
//! `local_lock=flock` or `nolock`, Lustre mounted with `localflock` or `noflock`, and BeeGFS
//! with its default client settings lock on one machine only, so two nodes can work on one
//! task; and where locks do cross machines, a lock of a node that died may never be freed.
//! So on every network filesystem runs use a lease ([`crate::shared_folder::locks::lease`]) that any node can see
//! expire, with `flock` kept as the fast path between the runs of one machine.
//!
//! The kind comes from `statfs(2)` (the filesystem's magic number, which a bind mount cannot
//! disguise) and the mount options from `/proc/self/mountinfo` (the entry whose mount point
//! holds the folder), both reported in the log so the owner can see why.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The filesystem families runvqgan tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FsKind {
    /// A disk (or memory) of this machine: ext4, xfs, btrfs, zfs, tmpfs, overlay...
    Local,
    /// NFS (v2, v3, v4).
    Nfs,
    /// Lustre.
    Lustre,
    /// BeeGFS (formerly FhGFS).
    BeeGfs,
    /// IBM Spectrum Scale (GPFS).
    Gpfs,
    /// Another network or cluster filesystem (CIFS/SMB, CephFS, a FUSE mount, 9p...), or
    /// one runvqgan does not know: treated as shared.
    OtherShared,
}

impl FsKind {
    /// Whether runs on other machines may see the same folder.
    pub fn is_shared(self) -> bool {
        self != FsKind::Local
    }

    /// From a `statfs` magic number, where it names a family.
    fn from_magic(magic: u64) -> Option<FsKind> {
        Some(match magic {
            0x6969 => FsKind::Nfs,
            0x0BD0_0BD0 => FsKind::Lustre,
            0x1983_0326 => FsKind::BeeGfs,
            0x4750_4653 => FsKind::Gpfs,
            // CIFS, SMB2, Ceph, FUSE, 9p, AFS, OCFS2, GFS2.
            0xFF53_4D42 | 0xFE53_4D42 | 0x00C3_6400 | 0x6573_5546 | 0x0102_1997 | 0x5346_414F
            | 0x7461_636f | 0x0116_1970 => FsKind::OtherShared,
            _ => return None,
        })
    }

    /// From the type name in `/proc/self/mountinfo`.
    fn from_type(fs_type: &str) -> FsKind {
        const LOCAL: &[&str] = &[
            "ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "tmpfs", "ramfs", "overlay",
            "vfat", "exfat", "ntfs", "ntfs3", "jfs", "reiserfs", "bcachefs", "squashfs", "hfsplus",
            "apfs",
        ];
        match fs_type {
            "nfs" | "nfs4" => FsKind::Nfs,
            "lustre" => FsKind::Lustre,
            "beegfs" | "fhgfs" => FsKind::BeeGfs,
            "gpfs" => FsKind::Gpfs,
            t if LOCAL.contains(&t) => FsKind::Local,
            _ => FsKind::OtherShared,
        }
    }
}

/// The filesystem of a folder, as far as this machine can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsInfo {
    /// The family.
    pub kind: FsKind,
    /// The type name from the mount table (`nfs4`, `lustre`, `ext4`), or `unknown`.
    pub fs_type: String,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The mount options and the filesystem's own options (`rw,relatime,vers=4.2,...`).
    pub options: Vec<String>,
}

impl FsInfo {
    /// Inspects the filesystem that holds `dir`.
    pub fn of(dir: &Path) -> FsInfo {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let mount = std::fs::read_to_string("/proc/self/mountinfo")
            .ok()
            .and_then(|table| mount_of(&table, &dir));
        let magic = statfs_magic(&dir);
        let (fs_type, mount_point, options) =
            mount.unwrap_or_else(|| ("unknown".to_string(), PathBuf::from("/"), Vec::new()));
        let kind = magic
            .and_then(FsKind::from_magic)
            .unwrap_or_else(|| FsKind::from_type(&fs_type));
        FsInfo {
            kind,
            fs_type,
            mount_point,
            options,
        }
    }

    /// The options that decide whether `flock` crosses machines, as written in the mount
    /// table (empty when none is set).
    pub fn lock_options(&self) -> Vec<&str> {
        self.options
            .iter()
            .map(String::as_str)
            .filter(|o| {
                o.starts_with("local_lock")
                    || matches!(*o, "nolock" | "lock" | "flock" | "localflock" | "noflock")
            })
            .collect()
    }

    /// In words: `nfs4 at /mnt/lab (local_lock=none)`.
    pub fn describe(&self) -> String {
        let lock = self.lock_options();
        format!(
            "{} at {}{}",
            self.fs_type,
            self.mount_point.display(),
            if lock.is_empty() {
                String::new()
            } else {
                format!(" ({})", lock.join(","))
            }
        )
    }

    /// Why `flock` alone is or is not enough on this filesystem, as a sentence.
    pub fn flock_verdict(&self) -> String {
        let lock = self.lock_options();
        let says = |o: &str| lock.contains(&o);
        let local_only = match self.kind {
            FsKind::Local => return "a local filesystem: flock is exact on one machine".into(),
            FsKind::Nfs => says("nolock") || says("local_lock=all") || says("local_lock=flock"),
            FsKind::Lustre => !says("flock"),
            FsKind::BeeGfs => true,
            FsKind::Gpfs | FsKind::OtherShared => false,
        };
        if local_only {
            "a network filesystem whose flock locks hold on one machine only (mount options \
             or client default): two nodes could claim one task"
                .into()
        } else {
            "a network filesystem: flock may cross machines, but a lock of a node that dies \
             is not reliably freed"
                .into()
        }
    }
}

/// The `statfs(2)` magic number of the filesystem holding `dir`.
fn statfs_magic(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut buf = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `path` is a valid C string and `buf` is large enough for a `statfs`.
    let rc = unsafe { libc::statfs(path.as_ptr(), buf.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statfs succeeded and filled `buf`.
    let f_type = unsafe { buf.assume_init() }.f_type;
    // The field's C type differs between architectures; the magic numbers are 32-bit.
    #[allow(clippy::unnecessary_cast)]
    Some((f_type as i64 as u64) & 0xFFFF_FFFF)
}

/// The mount (type, mount point, options) of `path` in a `/proc/self/mountinfo` text: the
/// entry with the longest mount point that holds `path`, the later one of equals (a later
/// mount hides an earlier one).
pub fn mount_of(mountinfo: &str, path: &Path) -> Option<(String, PathBuf, Vec<String>)> {
    let mut best: Option<(String, PathBuf, Vec<String>)> = None;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        if left.len() < 6 || right.len() < 3 {
            continue;
        }
        let mount_point = PathBuf::from(unescape(left[4]));
        if !path.starts_with(&mount_point) {
            continue;
        }
        if best
            .as_ref()
            .is_some_and(|(_, m, _)| m.as_os_str().len() > mount_point.as_os_str().len())
        {
            continue;
        }
        let mut options: Vec<String> = left[5].split(',').map(str::to_string).collect();
        for o in right[2].split(',') {
            if !options.iter().any(|x| x == o) {
                options.push(o.to_string());
            }
        }
        best = Some((right[0].to_string(), mount_point, options));
    }
    best
}

/// A mountinfo field with its octal escapes (`\040` for a space) decoded.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let n = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(n);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How the runs on a root claim tasks and reserve output numbers (`claims` in
/// runvqgan.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimSetting {
    /// `flock` on a local filesystem; a lease (plus `flock` between the runs of one
    /// machine) on a network filesystem.
    #[default]
    Auto,
    /// `flock` only: every run on this root runs on one machine.
    Flock,
    /// A lease only, also between the runs of one machine.
    Lease,
}

/// The claim kind a root uses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPlan {
    /// Whether `flock` is taken (one machine's fast path).
    pub flock: bool,
    /// Whether a lease is taken (across machines).
    pub lease: bool,
    /// The sentence the log gives.
    pub reason: String,
}

impl ClaimPlan {
    /// The claims `setting` asks for on `fs`.
    pub fn choose(setting: ClaimSetting, fs: &FsInfo) -> ClaimPlan {
        let on = fs.describe();
        match setting {
            ClaimSetting::Flock => ClaimPlan {
                flock: true,
                lease: false,
                reason: format!(
                    "claims = \"flock\" in runvqgan.toml: flock only, on {on}; correct only while \
                     every run on this folder runs on one machine"
                ),
            },
            ClaimSetting::Lease => ClaimPlan {
                flock: false,
                lease: true,
                reason: format!("claims = \"lease\" in runvqgan.toml: a lease only, on {on}"),
            },
            ClaimSetting::Auto if !fs.kind.is_shared() => ClaimPlan {
                flock: true,
                lease: false,
                reason: format!("flock only: {on} is {}", fs.flock_verdict()),
            },
            ClaimSetting::Auto => ClaimPlan {
                flock: true,
                lease: true,
                reason: format!(
                    "a lease across machines (and flock between the runs of this machine): {on} \
                     is {}",
                    fs.flock_verdict()
                ),
            },
        }
    }

    /// `flock`, `lease` or `flock+lease`, for the record.
    pub fn kind(&self) -> &'static str {
        match (self.flock, self.lease) {
            (true, true) => "flock+lease",
            (false, true) => "lease",
            _ => "flock",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
40 22 0:40 / /mnt/lab rw,relatime shared:20 - nfs4 srv:/lab rw,vers=4.2,rsize=1048576,local_lock=none,addr=10.0.0.1
41 22 0:41 / /mnt/old\\040lab rw,relatime - nfs srv:/old rw,vers=3,nolock,local_lock=all
42 22 0:42 / /lustre rw - lustre 10.0.0.2@tcp:/fs rw,localflock
43 22 0:43 / /beegfs rw - beegfs beegfs_nodev rw,cfgFile=/etc/beegfs/beegfs-client.conf
44 40 0:44 / /mnt/lab/scratch rw - tmpfs tmpfs rw
";

    fn info(path: &str) -> FsInfo {
        let (fs_type, mount_point, options) = mount_of(MOUNTINFO, Path::new(path)).unwrap();
        FsInfo {
            kind: FsKind::from_type(&fs_type),
            fs_type,
            mount_point,
            options,
        }
    }

    #[test]
    fn the_deepest_mount_holding_the_folder_is_its_filesystem() {
        assert_eq!(info("/home/lab").fs_type, "ext4");
        assert_eq!(info("/mnt/lab/queue").fs_type, "nfs4");
        assert_eq!(info("/mnt/lab/scratch/x").fs_type, "tmpfs");
        assert_eq!(info("/mnt/labx").fs_type, "ext4");
        assert_eq!(
            info("/mnt/old lab/q").mount_point,
            Path::new("/mnt/old lab")
        );
    }

    #[test]
    fn lock_options_are_read_from_mount_and_superblock_options() {
        assert_eq!(info("/mnt/lab/q").lock_options(), ["local_lock=none"]);
        assert_eq!(
            info("/mnt/old lab/q").lock_options(),
            ["nolock", "local_lock=all"]
        );
        assert_eq!(info("/lustre/q").lock_options(), ["localflock"]);
    }

    #[test]
    fn auto_takes_flock_on_local_disks_and_a_lease_on_every_network_filesystem() {
        let local = ClaimPlan::choose(ClaimSetting::Auto, &info("/home/lab"));
        assert!(local.flock && !local.lease, "{local:?}");
        for path in ["/mnt/lab/q", "/mnt/old lab/q", "/lustre/q", "/beegfs/q"] {
            let plan = ClaimPlan::choose(ClaimSetting::Auto, &info(path));
            assert!(plan.flock && plan.lease, "{path}: {plan:?}");
        }
        let nolock = ClaimPlan::choose(ClaimSetting::Auto, &info("/mnt/old lab/q"));
        assert!(
            nolock.reason.contains("one machine only") && nolock.reason.contains("nolock"),
            "{}",
            nolock.reason
        );
        let forced = ClaimPlan::choose(ClaimSetting::Lease, &info("/home/lab"));
        assert_eq!(forced.kind(), "lease");
    }

    #[test]
    fn the_magic_number_names_the_family() {
        assert_eq!(FsKind::from_magic(0x6969), Some(FsKind::Nfs));
        assert_eq!(FsKind::from_magic(0x0BD0_0BD0), Some(FsKind::Lustre));
        assert_eq!(FsKind::from_magic(0x1983_0326), Some(FsKind::BeeGfs));
        assert_eq!(FsKind::from_magic(0x4750_4653), Some(FsKind::Gpfs));
        assert_eq!(FsKind::from_magic(0xEF53), None);
        assert_eq!(FsKind::from_type("fuse.sshfs"), FsKind::OtherShared);
    }

    #[test]
    fn this_machines_temporary_folder_is_inspected() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FsInfo::of(dir.path());
        assert_ne!(fs.fs_type, "unknown", "{fs:?}");
    }
}
