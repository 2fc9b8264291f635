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

/// `text` with every control character except line feeds and tabs written as an escape:
/// for a text runvqgan made of several lines (an error with a Python traceback) whose
/// member-chosen parts were escaped where they were put in, on its way to a terminal.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !crate::process::json::has_control(text, b"\n\t") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !matches!(c, '\n' | '\t') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A writer for a command's standard output that passes line feeds and tabs and writes every
/// other control character as an escape ([`terminal_safe`]), and a byte that is not UTF-8 as
/// `\x9b`: the last guard between a member-chosen name that a command forgot to escape and
/// the owner's terminal. Commands escape names themselves ([`escape`], which also escapes
/// line feeds); JSON output is made safe first ([`crate::process::json`]), so this writer never changes it.
pub struct TerminalSafe<W: std::io::Write> {
    inner: W,
    /// The start of a UTF-8 sequence that the last write ended in the middle of.
    pending: Vec<u8>,
}

impl<W: std::io::Write> TerminalSafe<W> {
    /// A writer onto `inner`.
    pub fn new(inner: W) -> TerminalSafe<W> {
        TerminalSafe {
            inner,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, bytes: &[u8], end: bool) -> std::io::Result<()> {
        let mut rest = bytes;
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => return self.inner.write_all(terminal_safe(text).as_bytes()),
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    let good = std::str::from_utf8(good).expect("valid up to here");
                    self.inner.write_all(terminal_safe(good).as_bytes())?;
                    match e.error_len() {
                        None if !end => {
                            self.pending = bad.to_vec();
                            return Ok(());
                        }
                        n => {
                            let n = n.unwrap_or(bad.len());
                            for b in &bad[..n] {
                                write!(self.inner, "\\x{b:02x}")?;
                            }
                            rest = &bad[n..];
                        }
                    }
                }
            }
        }
    }
}

impl<W: std::io::Write> std::io::Write for TerminalSafe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            self.emit(buf, false)?;
        } else {
            let mut bytes = std::mem::take(&mut self.pending);
            bytes.extend_from_slice(buf);
            self.emit(&bytes, false)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.emit(&pending, true)?;
        self.inner.flush()
    }
}

/// Whether `c` is a Unicode noncharacter: U+FDD0..U+FDEF and the last two code points of
/// every plane (U+FFFE, U+FFFF, U+1FFFE, ...). They are not text: XML 1.0 cannot hold
/// U+FFFE and U+FFFF at all and discourages the rest, so an image's XMP packet could not
/// carry a prompt holding one.
pub fn is_noncharacter(c: char) -> bool {
    let n = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE
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
    fn terminal_output_keeps_lines_and_escapes_the_rest() {
        assert_eq!(
            terminal_safe("a\n\tb\u{1b}[2J\u{9b}"),
            "a\n\tb\\u{1b}[2J\\u{9b}"
        );
        let mut out = TerminalSafe::new(Vec::new());
        // A C1 control split across two writes, a stray byte, an unfinished sequence.
        std::io::Write::write_all(&mut out, b"x\xc2").unwrap();
        std::io::Write::write_all(&mut out, b"\x9b\x9by\n\x1b\xe2\x82").unwrap();
        std::io::Write::flush(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out.inner).unwrap(),
            "x\\u{9b}\\x9by\n\\u{1b}\\xe2\\x82"
        );
    }

    #[test]
    fn a_large_write_passes_whole_or_with_its_controls_escaped() {
        let line = "  \"prompt\": \"caf\u{e9} \u{a0}\",\n\t".repeat(5000);
        let mut out = TerminalSafe::new(Vec::new());
        std::io::Write::write_all(&mut out, line.as_bytes()).unwrap();
        assert!(out.inner == line.as_bytes());
        let hidden = format!("{line}\u{9b}2J{line}\u{7f}");
        let mut out = TerminalSafe::new(Vec::new());
        std::io::Write::write_all(&mut out, hidden.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(out.inner).unwrap(),
            format!("{line}\\u{{9b}}2J{line}\\u{{7f}}")
        );
    }

    #[test]
    fn noncharacters_are_the_66_of_unicode() {
        let all: Vec<u32> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| is_noncharacter(*c))
            .map(u32::from)
            .collect();
        assert_eq!(all.len(), 66);
        assert!(all.contains(&0xFFFE) && all.contains(&0x10FFFF) && all.contains(&0xFDD0));
        assert!(!is_noncharacter('\u{FFFD}') && !is_noncharacter('a'));
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
