//! The machine and job this process runs on: its host name, its Slurm job ([`slurm`]), what
//! this account may reach ([`access`]) and the fault hooks of the tests ([`testhook`]).

pub mod access;
pub mod slurm;
pub mod testhook;

/// This machine's host name (`gethostname(2)`; a UTS namespace has its own).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `name` (a host name) reduced to characters safe in a file name on any share, at most 64
/// of them; `localhost` when none is left.
pub fn file_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(64)
        .collect();
    if safe.is_empty() {
        "localhost".into()
    } else {
        safe
    }
}
