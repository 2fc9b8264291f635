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
pub fn write_pretty<T: Serialize + ?Sized>(value: &T, out: &mut dyn Write) -> std::io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, Safe(PrettyFormatter::new()));
    value.serialize(&mut ser).map_err(std::io::Error::other)
}

/// Writes the list `items` as [`write_pretty`] writes it (the same bytes), its items
/// serialised in parallel a chunk at a time: a plan of 100,000 tasks is 100 MB of JSON.
pub fn write_pretty_list<T: Serialize + Sync>(
    items: &[T],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    use rayon::prelude::*;
    // Items per piece, and pieces made at once (bounds the memory held: a few MB).
    const PIECE: usize = 256;
    const ROUND: usize = 64 * PIECE;
    if items.is_empty() {
        return out.write_all(b"[]");
    }
    out.write_all(b"[")?;
    for (r, round) in items.chunks(ROUND).enumerate() {
        let pieces: Vec<std::io::Result<Vec<u8>>> = round
            .par_chunks(PIECE)
            .map(|piece| {
                // A piece alone is `[` + `\n  item` + `,\n  item`... + `\n]`, each item at the
                // depth it has in the whole list: its middle is the whole list's text.
                let mut text = Vec::new();
                write_pretty(piece, &mut text)?;
                text.truncate(text.len() - 2);
                text.drain(..1);
                Ok(text)
            })
            .collect();
        for (p, piece) in pieces.into_iter().enumerate() {
            if r > 0 || p > 0 {
                out.write_all(b",")?;
            }
            out.write_all(&piece?)?;
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
/// DEL, or a C1 control (UTF-8 `C2 80`..`C2 9F`). A byte scan: most text holds none.
pub fn has_control(text: &str, keep: &[u8]) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        (b < 0x20 && !keep.contains(&b))
            || b == 0x7f
            || (b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
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
    fn control_scan_finds_c1_and_del_but_not_other_latin() {
        assert!(has_control("a\u{9b}", b""));
        assert!(has_control("a\u{7f}", b""));
        assert!(has_control("a\tb", b"\n"));
        assert!(!has_control("a\tb\n", b"\n\t"));
        assert!(!has_control("café ÿ \u{a0} €", b""));
    }
}
