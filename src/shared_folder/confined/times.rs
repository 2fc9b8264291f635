//! The times in a file's status, as `SystemTime`s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The modification time in a file's status (times before 1970 read as 1970).
pub fn mtime_of(st: &rustix::fs::Stat) -> SystemTime {
    stat_time(st.st_mtime, st.st_mtime_nsec)
}

/// The change time (a rename or a write; nobody can set it back) in a file's status.
pub fn ctime_of(st: &rustix::fs::Stat) -> SystemTime {
    stat_time(st.st_ctime, st.st_ctime_nsec)
}

fn stat_time(secs: i64, nsec: u64) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs.max(0) as u64, nsec as u32)
}
