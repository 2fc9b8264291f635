//! Reading back what runvqgan wrote itself.

use std::io::Read;
use std::path::Path;

/// A file runvqgan wrote itself (gallery pages, state under `.runvqgan/`), read without
/// following a link or blocking on a fifo, at most `cap` bytes; `None` when it is missing,
/// not a regular file, or unreadable.
pub fn read_own_file(path: &Path, cap: u64) -> Option<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(cap).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}
