//! The night window (`window = "23:00-06:30"` in runvqgan.toml, `run --window`): the hours,
//! in local time, in which a run may work. A run started outside them (a timer that fired
//! late with `Persistent=true`, a requeued or resubmitted Slurm element in the morning)
//! does nothing and says so; inside them, no image starts that cannot end by the window's
//! end.

use std::time::SystemTime;

/// A span of the local day, `start` inclusive, `end` exclusive; it may cross midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NightWindow {
    /// Minutes after local midnight.
    pub start: u32,
    /// Minutes after local midnight.
    pub end: u32,
}

impl NightWindow {
    /// Parses `HH:MM-HH:MM`. `Err`: a sentence with the fix.
    pub fn parse(text: &str) -> Result<NightWindow, String> {
        let bad = || {
            format!(
                "{text:?} is not a window of the day; write \"HH:MM-HH:MM\" in local time, for \
                 example \"23:00-06:30\" (it may cross midnight)"
            )
        };
        let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
        let minutes = |t: &str| -> Option<u32> {
            let (h, m) = t.trim().split_once(':')?;
            if h.is_empty() || h.len() > 2 || m.len() != 2 {
                return None;
            }
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        };
        let (start, end) = (minutes(a).ok_or_else(bad)?, minutes(b).ok_or_else(bad)?);
        if start == end {
            return Err(format!(
                "{text:?} starts where it ends; to run at any time, leave window out"
            ));
        }
        Ok(NightWindow { start, end })
    }

    /// Whether the local time `minute` (after midnight) is inside the window.
    pub fn contains_minute(&self, minute: u32) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }

    /// Whether `now` (local time) is inside the window.
    pub fn contains(&self, now: SystemTime) -> bool {
        self.contains_minute(local_minute(now))
    }

    /// `(hour, minute)` of the window's end.
    pub fn end_hm(&self) -> (u32, u32) {
        (self.end / 60, self.end % 60)
    }

    /// `(hour, minute)` of the window's start.
    pub fn start_hm(&self) -> (u32, u32) {
        (self.start / 60, self.start % 60)
    }

    /// When the next night starts, seen at `now`: `now` inside the window, else the window's
    /// next start (today's or tomorrow's, local time).
    pub fn next_start(&self, now: SystemTime) -> SystemTime {
        if self.contains(now) {
            return now;
        }
        let secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let minutes_to_go = u64::from((self.start + 24 * 60 - local_minute(now)) % (24 * 60));
        let start_of_minute =
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs - secs % 60);
        start_of_minute + std::time::Duration::from_secs(minutes_to_go * 60)
    }
}

impl std::fmt::Display for NightWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ((sh, sm), (eh, em)) = (self.start_hm(), self.end_hm());
        write!(f, "{sh:02}:{sm:02}-{eh:02}:{em:02}")
    }
}

/// Minutes after local midnight at `now`.
pub fn local_minute(now: SystemTime) -> u32 {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as libc::time_t;
    // SAFETY: `tm` is a plain C struct that localtime_r fills in; the call only reads `secs`
    // and writes `tm`.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return 0;
        }
        (tm.tm_hour as u32) * 60 + tm.tm_min as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_night_starts_at_the_window_or_now_inside_it() {
        let w = NightWindow::parse("23:00-06:30").unwrap();
        let now = SystemTime::now();
        let next = w.next_start(now);
        if w.contains(now) {
            assert_eq!(next, now);
        } else {
            assert_eq!(local_minute(next), w.start);
            let ahead = next.duration_since(now).unwrap().as_secs();
            assert!(ahead < 24 * 3600, "{ahead}");
        }
        let day = NightWindow::parse("00:00-00:01").unwrap();
        let next = day.next_start(now);
        assert!(next == now || local_minute(next) == 0);
    }

    #[test]
    fn a_window_across_midnight_holds_the_night_and_not_the_day() {
        let w = NightWindow::parse("23:00-06:30").unwrap();
        assert_eq!(w.to_string(), "23:00-06:30");
        for inside in [23 * 60, 23 * 60 + 59, 0, 3 * 60, 6 * 60 + 29] {
            assert!(w.contains_minute(inside), "{inside}");
        }
        for outside in [6 * 60 + 30, 13 * 60 + 5, 22 * 60 + 59] {
            assert!(!w.contains_minute(outside), "{outside}");
        }
        let day = NightWindow::parse("9:00-17:00").unwrap();
        assert!(day.contains_minute(9 * 60) && !day.contains_minute(17 * 60));
        assert!(!day.contains_minute(23 * 60));
    }

    #[test]
    fn a_window_that_is_not_two_times_of_day_is_refused_with_an_example() {
        for bad in [
            "23:00",
            "23:00-6",
            "25:00-06:30",
            "23:00-06:60",
            "tonight",
            "06:30-06:30",
        ] {
            let e = NightWindow::parse(bad).unwrap_err();
            assert!(
                e.contains("23:00-06:30") || e.contains("leave window out"),
                "{e}"
            );
        }
    }
}
