//! This process and the system around it, the leaf that every other module may use: who
//! and where it runs (the account and its names, the host name, the Slurm job
//! ([`slurm`]), what this account may reach ([`access`])), how it stops ([`stop`]: the
//! signals; [`exit_codes`]: what cron and scripts read), how it speaks ([`text`]:
//! member-chosen text escaped, time stamps, the nearest known name; [`json`]: JSON made safe
//! for a terminal), and the fault hooks of
//! the tests ([`testhook`]).

pub mod access;
pub mod exit_codes;
pub mod json;
pub mod slurm;
pub mod stop;
pub mod testhook;
pub mod text;

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

/// This machine's boot id (`/proc/sys/kernel/random/boot_id`): a process id means the same
/// process only within one boot, so a lease names the boot its holder ran in. `None` when it
/// cannot be read.
pub fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = id.trim();
    (!id.is_empty() && id.len() <= 64).then(|| id.to_string())
}

/// This process's PID namespace (the inode of `/proc/self/ns/pid`): a process id means the
/// same process only inside one namespace (containers on one host share the host name and
/// the boot, not the process ids). `None` when it cannot be read.
pub fn pid_namespace() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino())
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

/// This process's effective user id: the account whose files and folders runvqgan makes.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The name of user `uid` from the system's user database, else the number.
pub fn user_name(uid: u32) -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null; the name is copied
    // out at once.
    unsafe {
        let pw = libc::getpwuid(uid);
        if pw.is_null() {
            return uid.to_string();
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// The name of group `gid` from the system's group database, else the number.
pub fn group_name(gid: u32) -> String {
    // SAFETY: getgrgid returns a pointer into static storage or null; the name is copied
    // out at once.
    unsafe {
        let gr = libc::getgrgid(gid);
        if gr.is_null() {
            return gid.to_string();
        }
        std::ffi::CStr::from_ptr((*gr).gr_name)
            .to_string_lossy()
            .into_owned()
    }
}
