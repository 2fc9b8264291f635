//! When an image was made, as the gallery shows it: the local minute and the night it
//! belongs to.

use std::time::{Duration, SystemTime};

/// A moment in local time, as the gallery shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime {
    /// `YYYY-MM-DD HH:MM`.
    pub minute: String,
    /// The night it belongs to: the date of the evening, `YYYY-MM-DD`. A night runs from noon
    /// to noon, so an image made at 02:00 on the 29th belongs to the night of the 28th.
    pub night: String,
}

/// [`LocalTime`] of `t` in the machine's time zone.
pub fn local_time(t: SystemTime) -> LocalTime {
    let fmt = |tm: &libc::tm, with_time: bool| {
        let date = format!(
            "{:04}-{:02}-{:02}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday
        );
        if with_time {
            format!("{date} {:02}:{:02}", tm.tm_hour, tm.tm_min)
        } else {
            date
        }
    };
    let minute = fmt(&local_tm(t), true);
    let night = fmt(&local_tm(t - Duration::from_secs(12 * 3600)), false);
    LocalTime { minute, night }
}

/// The machine's time zone as it bears on [`local_time`]: `TZ` and the offset from UTC now
/// (a change of either may change the dates shown).
pub fn zone() -> String {
    let now = local_tm(SystemTime::now());
    format!("{:?} {}", std::env::var_os("TZ"), now.tm_gmtoff)
}

fn local_tm(t: SystemTime) -> libc::tm {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as libc::time_t,
        Err(e) => -(e.duration().as_secs() as libc::time_t),
    };
    // SAFETY: `tm` is a plain C struct that localtime_r fills in; the call only reads `secs`
    // and writes `tm`.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_night_runs_from_noon_to_noon() {
        // Whatever the time zone: 12 hours apart within one night give one night, and the
        // night of an image is never after its own date.
        let evening = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = local_time(evening);
        assert!(t.night.as_str() <= &t.minute[..10]);
        let day = local_tm(evening);
        let to_noon = (12 - i64::from(day.tm_hour)) * 3600 - i64::from(day.tm_min) * 60;
        let noon = if to_noon > 0 {
            evening + Duration::from_secs(to_noon as u64)
        } else {
            evening - Duration::from_secs((-to_noon) as u64)
        };
        let before = local_time(noon - Duration::from_secs(60));
        let after = local_time(noon + Duration::from_secs(60));
        assert_ne!(before.night, after.night);
        assert_eq!(after.night, after.minute[..10]);
    }
}
