//! Walking down from a [`Dir`] by handle, never through a link: a subfolder opened (or made)
//! with `O_NOFOLLOW` from its parent's handle, and a regular file opened from its folder's
//! handle and checked with `fstat`. A walk that holds these handles keeps working on the
//! folders it opened even when a member renames them or puts a link in their place: what
//! was listed, read, written and removed through one handle all happened in one folder,
//! inside the root.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use super::{Dir, errno, not_regular, read_flags};

/// How often opening a folder just made (or found) is tried again when it vanished in
/// between (a member renaming it at that moment).
const TRIES: u32 = 3;

/// `name` as one file name inside a folder: not empty, not `.` or `..`, no `/`; anything
/// else would let a name walk out of the folder.
fn single(name: &OsStr) -> std::io::Result<&OsStr> {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{name:?} is not a single file name"),
        ));
    }
    Ok(name)
}

/// Whether an error from opening a folder with `O_NOFOLLOW` means that something else
/// than a folder (a link, a file) is there.
pub fn is_not_a_folder(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR))
}

impl Dir {
    /// Opens the subfolder `name` without following a link: a link (or a file) there is an
    /// error ([`is_not_a_folder`]), whatever it points to.
    pub fn open_subdir(&self, name: &OsStr) -> std::io::Result<Dir> {
        let fd = rustix::fs::openat(
            &self.fd,
            single(name)?,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        Ok(Dir { fd })
    }

    /// Opens the subfolder `name` as [`Dir::open_subdir`] does, making it first (with
    /// permission bits `mode`, less the umask) when it is missing.
    pub fn open_or_make_subdir(&self, name: &OsStr, mode: u32) -> std::io::Result<Dir> {
        let name = single(name)?;
        let mut tries = 0;
        loop {
            match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(errno(e)),
            }
            match self.open_subdir(name) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < TRIES => tries += 1,
                result => return result,
            }
        }
    }

    /// Opens the file `name` for reading: a link is not followed, nothing blocks (a fifo
    /// is opened and refused, never waited on), and only a regular file is returned, with
    /// its status from the opened file. Whatever is read from it afterwards is that file,
    /// wherever it has been moved or whatever now has its name.
    pub fn open_regular(&self, name: &OsStr) -> std::io::Result<(std::fs::File, rustix::fs::Stat)> {
        let fd = rustix::fs::openat(
            &self.fd,
            single(name)?,
            read_flags() | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        let stat = rustix::fs::fstat(&fd).map_err(errno)?;
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind != FileType::RegularFile {
            return Err(not_regular(kind));
        }
        Ok((std::fs::File::from(fd), stat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn dir() -> (tempfile::TempDir, Dir) {
        let t = tempfile::tempdir().unwrap();
        let canonical = t.path().canonicalize().unwrap();
        super::super::register(&canonical).unwrap();
        let d = super::super::open_dir(&canonical).unwrap();
        (t, d)
    }

    #[test]
    fn subfolders_and_files_are_never_opened_through_a_link() {
        let (t, d) = dir();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("f"), "outside").unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("f"), t.path().join("f")).unwrap();
        for e in [
            d.open_subdir(OsStr::new("link")).unwrap_err(),
            d.open_or_make_subdir(OsStr::new("link"), 0o755)
                .unwrap_err(),
        ] {
            assert!(is_not_a_folder(&e), "{e}");
        }
        assert!(d.open_regular(OsStr::new("f")).is_err());
        for bad in ["", ".", "..", "a/b"] {
            assert!(d.open_subdir(OsStr::new(bad)).is_err(), "{bad:?}");
            assert!(d.open_regular(OsStr::new(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_handle_keeps_its_folder_when_the_name_becomes_a_link() {
        let (t, d) = dir();
        let sub = d.open_or_make_subdir(OsStr::new("sub"), 0o755).unwrap();
        std::fs::write(t.path().join("sub/a"), "inside").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("a"), "outside").unwrap();
        std::fs::rename(t.path().join("sub"), t.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("sub")).unwrap();
        let (mut f, stat) = sub.open_regular(OsStr::new("a")).unwrap();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        assert_eq!((text.as_str(), stat.st_size), ("inside", 6));
        sub.remove(OsStr::new("a")).unwrap();
        assert!(outside.path().join("a").exists());
        assert!(!t.path().join("moved/a").exists());
    }
}
