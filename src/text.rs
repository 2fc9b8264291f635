//! Text forms that every layer shares: member-chosen strings escaped for a terminal or a log
//! line, time stamps, and the nearest known name for a misspelt one.

use std::time::SystemTime;

/// `text` with every control character written as an escape (`\n`, `\u{7}`), so that a name
/// chosen by a member (a task file called `a\n2026-01-01T00:00:00Z task done: b.txt`) cannot
/// forge a line of the log or the terminal.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The time now as RFC 3339 with seconds, in UTC, for log lines and sidecars.
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `t` as the local clock shows it, RFC 3339 with seconds and the offset from UTC
/// (`2026-11-29T23:00:01+01:00`): for the log, which the owner reads beside a time budget
/// given in local time. UTC (`Z`) when the local time zone cannot be read.
pub fn local_timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as libc::time_t;
    // SAFETY: `tm` is a plain C struct that localtime_r fills in from `secs`.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return timestamp(t);
        }
        tm
    };
    let offset = tm.tm_gmtoff;
    let (sign, abs) = if offset < 0 {
        ('-', -offset)
    } else {
        ('+', offset)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        abs / 3600,
        abs % 3600 / 60
    )
}

/// The nearest of `known` to `name`, when it is close enough to be a likely typo.
pub fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase().replace(['-', ' '], "_");
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&lower, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("a\nb\u{7}c\td"), "a\\nb\\u{7}c\\td");
        assert_eq!(escape("plain é/ü"), "plain é/ü");
    }

    #[test]
    fn suggests_nearest_field() {
        assert_eq!(
            nearest("iteration", crate::task::FIELDS),
            Some("iterations")
        );
        assert_eq!(nearest("outfile", crate::task::FIELDS), Some("out_file"));
        assert_eq!(nearest("Portrait", crate::task::FIELDS), Some("portrait"));
        assert_eq!(nearest("colour", crate::task::FIELDS), None);
    }
}
