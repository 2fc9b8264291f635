//! The night's time budget: `run --until HH:MM` (local time) and `max_minutes` in
//! `runvqgan.toml`. Before each image the run asks whether it can still finish in time, from
//! the seconds per iteration measured on this run's earlier images; before the first image,
//! from the speed earlier runs measured for its size ([`Budget::assume`], from
//! [`crate::records::speeds`], which leaves out what no real run can have measured), and when
//! no run ever measured it, the image is assumed to fit. An image that would not fit is
//! not started; the run stops cleanly and the rest waits for the next night. The pause
//! between tasks (`delay_seconds`) counts too: a pause that would pass the end stops the night.
//!
//! Time comes from a [`Clock`], so that the rules are tested without waiting.

use std::time::{Duration, SystemTime};

/// Where a run gets the time and how it waits.
pub trait Clock: Send + Sync {
    /// The time now.
    fn now(&self) -> SystemTime;
    /// Waits `d` (or less: callers check their stop flag between short waits).
    fn sleep(&self, d: Duration);
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Parses `HH:MM` (24-hour clock).
pub fn parse_until(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("--until {text:?} is not a time of day; write HH:MM, for example 06:30");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok((h, m))
}

/// The next moment after `now` at which the local clock shows `hour:minute` (today when that
/// is still ahead, else tomorrow).
pub fn next_local(hour: u32, minute: u32, now: SystemTime) -> SystemTime {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as libc::time_t;
    for add_days in 0..3 {
        // SAFETY: `tm` is a plain C struct that localtime_r fills in; both calls only read
        // and write the values passed to them.
        let t = unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            if libc::localtime_r(&secs, &mut tm).is_null() {
                break;
            }
            tm.tm_mday += add_days;
            tm.tm_hour = hour as libc::c_int;
            tm.tm_min = minute as libc::c_int;
            tm.tm_sec = 0;
            tm.tm_isdst = -1;
            libc::mktime(&mut tm)
        };
        if t > secs {
            return SystemTime::UNIX_EPOCH + Duration::from_secs(t as u64);
        }
    }
    now + Duration::from_secs(24 * 3600)
}

/// The deadline of a run and what its images have cost so far.
#[derive(Debug, Clone)]
pub struct Budget {
    deadline: Option<SystemTime>,
    /// Why the deadline is what it is, for messages ("--until 06:30", "max_minutes 90").
    reason: String,
    iterations: u64,
    seconds: f64,
    /// Seconds per iteration from earlier runs, used until this run measured one.
    assumed: Option<f64>,
}

impl Budget {
    /// A budget ending at the earlier of `until` (local time) and `max_minutes` after `start`.
    pub fn new(until: Option<(u32, u32)>, max_minutes: Option<f64>, start: SystemTime) -> Budget {
        let mut deadline: Option<(SystemTime, String)> = None;
        if let Some((h, m)) = until {
            deadline = Some((next_local(h, m, start), format!("--until {h:02}:{m:02}")));
        }
        if let Some(minutes) = max_minutes {
            let t = start + Duration::from_secs_f64(minutes.max(0.0) * 60.0);
            if deadline.as_ref().is_none_or(|(d, _)| t < *d) {
                deadline = Some((t, format!("max_minutes = {minutes}")));
            }
        }
        Budget {
            reason: deadline.as_ref().map(|d| d.1.clone()).unwrap_or_default(),
            deadline: deadline.map(|d| d.0),
            iterations: 0,
            seconds: 0.0,
            assumed: None,
        }
    }

    /// The same budget ending at `end` instead, when that is earlier (a Slurm job's end
    /// time); `reason` names it in messages.
    pub fn limit_to(mut self, end: SystemTime, reason: String) -> Budget {
        if self.deadline.is_none_or(|d| end < d) {
            self.deadline = Some(end);
            self.reason = reason;
        }
        self
    }

    /// Whether there is a deadline at all.
    pub fn is_limited(&self) -> bool {
        self.deadline.is_some()
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<SystemTime> {
        self.deadline
    }

    /// Records an image that took `seconds` for `iterations`.
    pub fn record(&mut self, iterations: u32, seconds: f64) {
        if seconds.is_finite() && seconds >= 0.0 {
            self.iterations += u64::from(iterations);
            self.seconds += seconds;
        }
    }

    /// Seconds from `now` to the deadline (0 once it passed); `None` without a deadline.
    fn seconds_left(&self, now: SystemTime) -> Option<f64> {
        self.deadline
            .map(|d| d.duration_since(now).unwrap_or_default().as_secs_f64())
    }

    /// Seconds per iteration: measured on this run once an image was made, else assumed.
    pub fn seconds_per_iteration(&self) -> Option<f64> {
        if self.iterations > 0 {
            Some(self.seconds / self.iterations as f64)
        } else {
            self.assumed
        }
    }

    /// Whether this run has measured an image yet.
    pub fn measured(&self) -> bool {
        self.iterations > 0
    }

    /// Takes `seconds_per_iteration` (from earlier runs) for the next image, as long as this
    /// run has measured none.
    pub fn assume(&mut self, seconds_per_iteration: f64) {
        if seconds_per_iteration.is_finite() && seconds_per_iteration > 0.0 {
            self.assumed = Some(seconds_per_iteration);
        }
    }

    /// `Ok` when an image of `iterations` may start at `now`; else why not, as a sentence.
    pub fn check(&self, iterations: u32, now: SystemTime) -> Result<(), String> {
        let Some(left) = self.seconds_left(now) else {
            return Ok(());
        };
        if left <= 0.0 {
            return Err(format!("the time budget ({}) is used up", self.reason));
        }
        let Some(rate) = self.seconds_per_iteration() else {
            return Ok(());
        };
        let need = rate * f64::from(iterations);
        if need > left {
            return Err(format!(
                "the next image needs about {:.0} s ({iterations} iterations at {rate:.2} s each), \
                 but only {:.0} s are left before the time budget ({}) ends",
                need, left, self.reason
            ));
        }
        Ok(())
    }

    /// `Ok` when a pause of `seconds` starting at `now` ends before the deadline; else why
    /// not, as a sentence.
    pub fn check_pause(&self, seconds: f64, now: SystemTime) -> Result<(), String> {
        let Some(left) = self.seconds_left(now) else {
            return Ok(());
        };
        if seconds >= left {
            return Err(format!(
                "the pause of {seconds} s between tasks (delay_seconds) would end after the \
                 time budget ({}), {left:.0} s from now",
                self.reason
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_job_end_time_becomes_the_deadline_and_a_later_one_does_not() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let end = start + Duration::from_secs(300);
        let b = Budget::new(None, Some(60.0), start).limit_to(end, "the job's end".into());
        assert_eq!(b.deadline(), Some(end));
        let e = b.check(1, end + Duration::from_secs(1)).unwrap_err();
        assert!(e.contains("the job's end"), "{e}");
        let b = Budget::new(None, Some(1.0), start).limit_to(end, "the job's end".into());
        assert_eq!(b.deadline(), Some(start + Duration::from_secs(60)));
        let b = Budget::new(None, None, start).limit_to(end, "x".into());
        assert_eq!(b.deadline(), Some(end));
    }

    #[test]
    fn parses_times_of_day() {
        assert_eq!(parse_until("06:30"), Ok((6, 30)));
        assert_eq!(parse_until("7:05"), Ok((7, 5)));
        assert!(parse_until("24:00").is_err());
        assert!(parse_until("6").is_err());
        assert!(parse_until("06:3").is_err());
    }

    #[test]
    fn next_local_is_ahead_and_within_a_day() {
        let now = SystemTime::now();
        let t = next_local(6, 30, now);
        assert!(t > now);
        assert!(t <= now + Duration::from_secs(25 * 3600));
    }

    #[test]
    fn an_image_that_cannot_finish_is_not_started() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut b = Budget::new(None, Some(10.0), start);
        assert!(
            b.check(1000, start).is_ok(),
            "no measurement yet: assume it fits"
        );
        b.record(100, 100.0); // 1 s per iteration
        assert!(b.check(500, start + Duration::from_secs(60)).is_ok());
        let e = b.check(600, start + Duration::from_secs(60)).unwrap_err();
        assert!(e.contains("max_minutes"), "{e}");
        assert!(b.check(1, start + Duration::from_secs(600)).is_err());
    }

    #[test]
    fn a_pause_that_would_pass_the_deadline_is_refused() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let b = Budget::new(None, Some(1.0), start);
        assert!(b.check_pause(30.0, start).is_ok());
        let e = b.check_pause(60.0, start).unwrap_err();
        assert!(
            e.contains("delay_seconds") && e.contains("max_minutes"),
            "{e}"
        );
        assert!(
            Budget::new(None, None, start)
                .check_pause(1e6, start)
                .is_ok()
        );
    }
}
