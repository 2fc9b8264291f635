//! Reading a file opened as untrusted input: a regular file only, at most a cap.

use std::io::Read;
use std::os::fd::OwnedFd;

use rustix::fs::FileType;

use super::{Untrusted, errno, not_regular};

/// Checks that `fd` is a regular file and reads at most `cap` + 1 bytes of it. A file of
/// the size its status gives is read with one `read` (asking for one byte more, which a
/// file that grew meanwhile fills); any other outcome reads on to the end of the file (or
/// `cap` + 1 bytes) as before.
pub(super) fn read_fd(fd: OwnedFd, cap: u64) -> std::io::Result<Untrusted> {
    let stat = rustix::fs::fstat(&fd).map_err(errno)?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        return Err(not_regular(kind));
    }
    let size = stat.st_size.max(0) as u64;
    let mut file = std::fs::File::from(fd).take(cap + 1);
    let mut bytes = vec![0; size.min(cap) as usize + 1];
    let n = loop {
        match file.read(&mut bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            read => break read?,
        }
    };
    bytes.truncate(n);
    if n as u64 != size {
        file.read_to_end(&mut bytes)?;
    }
    Ok(Untrusted { bytes, stat })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &std::path::Path, cap: u64) -> Vec<u8> {
        let fd = OwnedFd::from(std::fs::File::open(path).unwrap());
        read_fd(fd, cap).unwrap().bytes
    }

    #[test]
    fn reads_whole_files_up_to_one_byte_over_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, 9, 10, 11, 12, 5000] {
            let path = dir.path().join(format!("f{len}"));
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(read(&path, 10), bytes[..len.min(11)], "{len} bytes");
            assert_eq!(read(&path, 10_000), bytes, "{len} bytes");
        }
    }

    #[test]
    fn a_file_larger_than_its_status_says_is_read_to_its_end() {
        // files of /proc give a size of 0 and hold more
        let status = read(std::path::Path::new("/proc/self/status"), 1 << 20);
        assert!(String::from_utf8(status).unwrap().contains("\nPid:"));
    }
}
