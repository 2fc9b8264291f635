//! What a value read back from the state folder `.runvqgan/` may be. Every member can write
//! the shared folder, the state folder too where the owner has not locked it down, so the
//! measured speeds and the run summaries are untrusted input like a task file: a value a real
//! run cannot have written (not finite, negative, absurd) is ignored with a warning that names
//! the file and the value (escaped), and never used to schedule or shown raw. The bounds live
//! here, in one place, each with the reason for it.
//!
//! A value inside the bounds can still be forged (59 seconds per iteration makes a short
//! night stop early); that is what the ownership of `.runvqgan/` guards against (DESIGN
//! section 10). These bounds only keep a forged value from doing harm that no real
//! measurement could.

use std::ops::RangeInclusive;

/// Seconds per iteration of one image. The slowest real case, a full-size model on an old
/// CPU, takes a few seconds; a minute leaves room for a machine under load. The fastest, the
/// smallest image in a large batch on the fastest GPU, takes a millisecond or so; 10 µs is a
/// hundred times faster than that.
pub const SECONDS_PER_ITERATION: RangeInclusive<f64> = 1e-5..=60.0;

/// Seconds from a run's start to its models being loaded: Python's imports and the
/// checkpoints read from disk take seconds to a few minutes; an hour is generous.
pub const STARTUP_SECONDS: RangeInclusive<f64> = 0.0..=3600.0;

/// A VQGAN's downsampling factor: the taming models are f8 and f16 (f4 and f32 exist); a
/// power of two in this range.
pub const FACTOR: RangeInclusive<u32> = 2..=64;

/// The longest a run can last, in seconds: a Slurm job or a long weekend, 31 days.
pub const RUN_SECONDS: u64 = 31 * 24 * 3600;

/// The longest device name (`cuda:0`, `cpu`, `mps`).
const MAX_DEVICE_CHARS: usize = 32;

/// The longest word of a closed set (an outcome, a failure kind).
const MAX_WORD_CHARS: usize = 32;

/// Whether `seconds` is a measured seconds-per-iteration a real run can have written.
pub fn seconds_per_iteration(seconds: f64) -> bool {
    seconds.is_finite() && SECONDS_PER_ITERATION.contains(&seconds)
}

/// Whether `seconds` is a start-up time a real run can have written.
pub fn startup_seconds(seconds: f64) -> bool {
    seconds.is_finite() && STARTUP_SECONDS.contains(&seconds)
}

/// Whether `factor` is a VQGAN factor.
pub fn factor(factor: u32) -> bool {
    FACTOR.contains(&factor) && factor.is_power_of_two()
}

/// Whether `name` looks like a device as the engine names it: ASCII letters, digits and
/// `:`, `_`, `-`, `.`, at most 32 of them.
pub fn device(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_DEVICE_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.'))
}

/// Whether `word` is a lower-case `snake_case` word, as runvqgan's closed sets are
/// (`budget_reached`, `out_of_memory`).
pub fn word(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= MAX_WORD_CHARS
        && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// Whether `text` is a time stamp as runvqgan writes one: `2026-11-29T23:00:01+01:00` (or
/// `...Z`), digits where digits go.
pub fn timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let date_time = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    date_time
        && match &b[19..] {
            b"Z" => true,
            [sign, _, _, b':', _, _] => {
                matches!(sign, b'+' | b'-') && digits(20..22) && digits(23..25)
            }
            _ => false,
        }
}

/// Whether `run` is a run id as [`crate::records::events::run_id`] makes one: the UTC start
/// (`20261129T230000Z`), then `-host-pid`, in characters safe in a file name.
pub fn run_id(run: &str) -> bool {
    let b = run.as_bytes();
    b.len() > 17
        && b.len() <= 128
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-'
        && run[17..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_outside_what_a_run_can_measure_are_refused() {
        assert!(seconds_per_iteration(0.05));
        for bad in [1e9, 61.0, -1.0, 0.0, 1e-7, f64::NAN, f64::INFINITY] {
            assert!(!seconds_per_iteration(bad), "{bad}");
        }
        assert!(startup_seconds(20.0) && !startup_seconds(1e12) && !startup_seconds(-1.0));
        assert!(factor(16) && factor(8) && !factor(0) && !factor(12) && !factor(128));
    }

    #[test]
    fn names_and_stamps_have_their_shape() {
        assert!(device("cuda:0") && device("cpu") && !device("cpu\u{1b}[31m") && !device(""));
        assert!(word("out_of_memory") && !word("engine\u{1b}") && !word("Engine"));
        assert!(timestamp("2026-11-29T23:00:01+01:00") && timestamp("2026-11-29T22:00:01Z"));
        assert!(!timestamp("2026-11-29T23:00:01+01:00\n") && !timestamp("yesterday"));
        assert!(!timestamp("\u{1b}]0;x\u{7}2026-11-29T23:00:01Z"));
        assert!(run_id("20261129T230000Z-gpu1-4711"));
        assert!(!run_id("20261129T230000Z-gpu\u{1b}-1") && !run_id("99999999-x"));
    }
}
