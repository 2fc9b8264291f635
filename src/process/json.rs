//! JSON for a terminal: pretty-printed as serde_json prints it, with every control character
//! that serde_json leaves raw written as a `\u` escape; a long list (a plan of 100,000 tasks)
//! streamed into the writer a piece at a time, never held in memory as one string.
//!
//! serde_json escapes U+0000..U+001F itself, and its structural whitespace is only line
//! feeds and spaces, so DEL and the C1 controls U+0080..U+009F (such as the one-character
//! CSI U+009B) can only stand inside a string, where `\u009b` means the same character: the
//! JSON is equal, and no escape sequence reaches a terminal. The text is written by a
//! serializer of this module's ([`pretty`]), which escapes those too as it writes a string.

use std::io::Write;

use serde::Serialize;

mod pretty;
mod string;

/// Writes `value` as pretty JSON onto `out`, control characters escaped (see the module
/// docs), without a final line feed.
pub fn write_pretty<T: Serialize + ?Sized, W: Write + ?Sized>(
    value: &T,
    out: &mut W,
) -> std::io::Result<()> {
    let mut text = Vec::new();
    pretty::write(value, &mut text).map_err(std::io::Error::other)?;
    out.write_all(&text)
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
/// returns.
fn write_piece(piece: impl Serialize, mut text: Vec<u8>) -> std::io::Result<Vec<u8>> {
    text.clear();
    pretty::write(&piece, &mut text).map_err(std::io::Error::other)?;
    Ok(text)
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
/// command's output passes here (the terminal guard, [`crate::process::text::TerminalSafe`]):
/// a first scan, 32 bytes at a time and without branches (the
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

#[cfg(test)]
mod pretty_tests;
#[cfg(test)]
mod tests;
