//! JSON for a terminal: pretty-printed as serde_json prints it, streamed into the writer
//! (a plan of 100,000 tasks is never held in memory as one string, nor copied to be made
//! safe), with every control character that serde_json leaves raw written as a `\u` escape.
//!
//! serde_json escapes U+0000..U+001F itself, and its structural whitespace is only line
//! feeds and spaces, so DEL and the C1 controls U+0080..U+009F (such as the one-character
//! CSI U+009B) can only stand inside a string, where `\u009b` means the same character: the
//! JSON is equal, and no escape sequence reaches a terminal.

use std::io::Write;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

/// Writes `value` as pretty JSON onto `out`, control characters escaped (see the module
/// docs), without a final line feed.
pub fn write_pretty<T: Serialize + ?Sized, W: Write + ?Sized>(
    value: &T,
    out: &mut W,
) -> std::io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, Safe(PrettyFormatter::new()));
    value.serialize(&mut ser).map_err(std::io::Error::other)
}

/// Writes the list `items` as [`write_pretty`] writes it (the same bytes): see
/// [`write_pretty_items`].
pub fn write_pretty_list<T: Serialize + Sync>(
    items: &[T],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    write_pretty_items(items.len(), |i| &items[i], out)
}

/// Items per piece (a piece is serialised by one thread, into one buffer of some 100 kB), and
/// pieces per round (made at once, in parallel, while `out` takes the round before).
const PIECE: usize = 128;
const ROUND: usize = 16;

/// Writes the list of `len` items, `item(i)` the `i`-th, as [`write_pretty`] writes a list of
/// them (the same bytes). A plan of 100,000 tasks is 130 MB of JSON: the items are made and
/// serialised in parallel, a piece at a time, while the calling thread writes the pieces
/// already made onto `out`, in order. Memory held: a few rounds of pieces, their buffers
/// reused.
pub fn write_pretty_items<T, F>(len: usize, item: F, out: &mut dyn Write) -> std::io::Result<()>
where
    T: Serialize,
    F: Fn(usize) -> T + Sync,
{
    use rayon::prelude::*;
    use std::sync::{Mutex, mpsc};
    if len == 0 {
        return out.write_all(b"[]");
    }
    let pieces = len.div_ceil(PIECE);
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let (send, made) = mpsc::sync_channel::<Vec<std::io::Result<Vec<u8>>>>(1);
    let (item, spare_ref) = (&item, &spare);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for round in (0..pieces).step_by(ROUND) {
                let texts = (round..pieces.min(round + ROUND))
                    .into_par_iter()
                    .map(|p| {
                        let reused = spare_ref.lock().expect("no panic holds it").pop();
                        let text = reused.unwrap_or_else(|| Vec::with_capacity(1 << 18));
                        write_piece(Piece(p * PIECE..len.min(p * PIECE + PIECE), item), text)
                    })
                    .collect();
                if send.send(texts).is_err() {
                    return; // The writer failed and stopped reading.
                }
            }
        });
        write_pieces(made, &spare, out)
    })
}

/// Writes `piece` as [`write_pretty`] writes it into `text` (emptied first), which it
/// returns. Serialised with serde_json's own pretty formatter, then made safe as a whole
/// ([`push_safe`]), which is the same: outside strings, serde_json writes no control character
/// but line feeds. A fragment at a time, the test for control characters would be a call per
/// string of the plan's millions; over the whole piece, it is one scan.
fn write_piece(piece: impl Serialize, mut text: Vec<u8>) -> std::io::Result<Vec<u8>> {
    text.clear();
    let mut ser = serde_json::Serializer::with_formatter(&mut text, PrettyFormatter::new());
    piece.serialize(&mut ser).map_err(std::io::Error::other)?;
    if !control_in(&text, b"\n") {
        return Ok(text);
    }
    let json = std::str::from_utf8(&text).map_err(std::io::Error::other)?;
    let mut safe = Vec::with_capacity(text.len() + 64);
    push_safe(&mut safe, json)?;
    Ok(safe)
}

/// The items `range` of a list, `item(i)` the `i`-th, serialised as a list.
struct Piece<'a, F>(std::ops::Range<usize>, &'a F);

impl<T: Serialize, F: Fn(usize) -> T> Serialize for Piece<'_, F> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.clone().map(self.1))
    }
}

/// The writing half of [`write_pretty_items`]: each piece, a list in itself, is `[` +
/// `\n  item` + `,\n  item`... + `\n]` with each item at the depth it has in the whole list,
/// so the whole list is `[`, the pieces' middles joined by `,`, and `\n]`. Dropping `made`
/// on an error stops the pieces' maker.
fn write_pieces(
    made: std::sync::mpsc::Receiver<Vec<std::io::Result<Vec<u8>>>>,
    spare: &std::sync::Mutex<Vec<Vec<u8>>>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut first = true;
    for texts in made {
        for text in texts {
            let mut text = text?;
            // The piece's `[` becomes the `,` before it (or stays, the list's own `[`).
            if !std::mem::take(&mut first) {
                text[0] = b',';
            }
            out.write_all(&text[..text.len() - 2])?;
            spare.lock().expect("no panic holds it").push(text);
        }
    }
    out.write_all(b"\n]")
}

/// `json` (serde_json's output) with the control characters it leaves raw escaped.
pub fn json_safe(json: &str) -> String {
    let mut out = Vec::with_capacity(json.len());
    push_safe(&mut out, json).expect("writing to memory");
    String::from_utf8(out).expect("escaping keeps UTF-8")
}

/// Whether `text` holds a control character other than a line feed: a byte below 0x20,
/// DEL, or a C1 control (UTF-8 `C2 80`..`C2 9F`). Most text holds none, and the whole of a
/// plan's JSON passes here: a first scan, 32 bytes at a time and without branches (the
/// compiler makes it vector code), looks for a byte that may start one; only a block that
/// holds such a byte is looked at byte by byte.
pub fn has_control(text: &str, keep: &[u8]) -> bool {
    control_in(text.as_bytes(), keep)
}

/// [`has_control`] of UTF-8 `bytes`.
fn control_in(bytes: &[u8], keep: &[u8]) -> bool {
    const BLOCK: usize = 32;
    // A kept line feed or tab is let through by the first scan (JSON is full of line feeds);
    // other kept bytes are rare, and left to the exact test.
    let pass = |c: u8| if keep.contains(&c) { c } else { 0xff };
    let (lf, tab) = (pass(b'\n'), pass(b'\t'));
    let maybe = |b: u8| ((b < 0x20) & (b != lf) & (b != tab)) | (b == 0x7f) | (b == 0xc2);
    let is_control = |i: usize| {
        let b = bytes[i];
        (b < 0x20 && !keep.contains(&b))
            || b == 0x7f
            || (b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    };
    let blocks = bytes.chunks_exact(BLOCK);
    let tail = blocks.remainder().len();
    for (n, block) in blocks.enumerate() {
        if block.iter().fold(false, |any, &b| any | maybe(b))
            && (n * BLOCK..n * BLOCK + BLOCK).any(is_control)
        {
            return true;
        }
    }
    (bytes.len() - tail..bytes.len()).any(is_control)
}

/// Writes `text` with every control character but the line feed as `\uXXXX`.
fn push_safe<W: Write + ?Sized>(out: &mut W, text: &str) -> std::io::Result<()> {
    if !has_control(text, b"\n") {
        return out.write_all(text.as_bytes());
    }
    let mut buf = [0u8; 4];
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            write!(out, "\\u{:04x}", u32::from(c))?;
        } else {
            out.write_all(c.encode_utf8(&mut buf).as_bytes())?;
        }
    }
    Ok(())
}

/// serde_json's pretty formatter with the strings' raw parts made safe.
struct Safe<'a>(PrettyFormatter<'a>);

impl Formatter for Safe<'_> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        push_safe(writer, fragment)
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_made_safe_means_the_same() {
        let value = serde_json::json!({"name": "a\u{1b}b\u{7f}c\u{9b}d\ne", "n": [1, 2]});
        let json = json_safe(&serde_json::to_string_pretty(&value).unwrap());
        assert!(!json.chars().any(|c| c.is_control() && c != '\n'), "{json}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            value
        );
    }

    #[test]
    fn streamed_json_is_serde_jsons_pretty_print_made_safe() {
        let value = serde_json::json!([{"a": "x\u{9b}[2J", "b": [1, {"c": null}], "d": {}}, []]);
        let mut streamed = Vec::new();
        write_pretty(&value, &mut streamed).unwrap();
        let streamed = String::from_utf8(streamed).unwrap();
        assert_eq!(
            streamed,
            json_safe(&serde_json::to_string_pretty(&value).unwrap())
        );
        assert!(streamed.contains("x\\u009b[2J"), "{streamed}");
    }

    #[test]
    fn a_list_written_in_parallel_pieces_is_the_same_text() {
        for n in [0, 1, 2, 255, 256, 257, 600, 20_000] {
            let items: Vec<serde_json::Value> = (0..n)
                .map(|i| serde_json::json!({"i": i, "s": "x\u{9b}", "l": [i, [], {}], "o": {"a": [1]}}))
                .collect();
            let (mut whole, mut pieces) = (Vec::new(), Vec::new());
            write_pretty(&items, &mut whole).unwrap();
            write_pretty_list(&items, &mut pieces).unwrap();
            assert!(whole == pieces, "{n} items differ");
        }
    }

    #[test]
    fn pieces_with_and_without_control_characters_join_to_the_same_text() {
        // One C1 control, one DEL, in two pieces of many; the rest plain.
        let items: Vec<serde_json::Value> = (0..1000)
            .map(|i| match i {
                300 => serde_json::json!({"s": "a\u{9b}[2J", "t": "\u{1b}"}),
                777 => serde_json::json!(["\u{7f}", "é\u{a0}"]),
                _ => serde_json::json!({"i": i, "s": "plain"}),
            })
            .collect();
        let (mut whole, mut pieces) = (Vec::new(), Vec::new());
        write_pretty(&items, &mut whole).unwrap();
        write_pretty_list(&items, &mut pieces).unwrap();
        assert!(whole == pieces);
        let text = String::from_utf8(pieces).unwrap();
        assert!(
            text.contains("a\\u009b[2J") && text.contains("\\u007f"),
            "{text}"
        );
        assert!(!has_control(&text, b"\n"));
    }

    #[test]
    fn a_failing_writer_or_item_stops_the_list_with_its_error() {
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 -= 1;
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let items: Vec<u32> = (0..100_000).collect();
        let err = write_pretty_list(&items, &mut Full(3)).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        // A map with a key that is not a string cannot be JSON.
        let bad = |i: usize| std::collections::BTreeMap::from([(vec![i], 1)]);
        let err = write_pretty_items(50_000, bad, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("key must be a string"), "{err}");
    }

    #[test]
    fn control_scan_finds_each_control_at_every_place_in_a_block() {
        for len in [1, 31, 32, 33, 64, 100] {
            for at in 0..len {
                let plain = "a".repeat(len);
                for (c, keep) in [("\u{1}", &b"\n"[..]), ("\t", b"\n"), ("\r", b"\n\t")] {
                    let text = format!("{}{c}{}", &plain[..at], &plain[at + 1..]);
                    assert!(has_control(&text, keep), "{text:?} {keep:?}");
                }
                for (c, found) in [("\u{7f}", true), ("\u{9b}", true), ("\u{9f}", true)]
                    .into_iter()
                    .chain([
                        ("\u{a0}", false),
                        ("\u{c0}", false),
                        ("\n", false),
                        ("\t", false),
                    ])
                {
                    // A two-byte character may straddle two blocks.
                    let text = format!("{}{c}{}", &plain[..at], &plain[at + 1..]);
                    let keep = if c == "\t" { &b"\n\t"[..] } else { b"\n" };
                    assert_eq!(has_control(&text, keep), found, "{text:?}");
                }
            }
        }
        assert!(!has_control("", b""));
        assert!(
            !has_control("x\ry", b"\r"),
            "any kept byte, not only line feed and tab"
        );
    }

    #[test]
    fn control_scan_finds_c1_and_del_but_not_other_latin() {
        assert!(has_control("a\u{9b}", b""));
        assert!(has_control("a\u{7f}", b""));
        assert!(has_control("a\tb", b"\n"));
        assert!(!has_control("a\tb\n", b"\n\t"));
        assert!(!has_control("café ÿ \u{a0} €", b""));
    }
}
