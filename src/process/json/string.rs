//! JSON strings for [`super`]'s pretty JSON: serde_json's escapes, plus DEL and the C1
//! controls as `\u` escapes, written in one pass. Every string of `plan --json` (millions)
//! passes here, so the common case, a short string that needs no escape, is written without
//! a loop or a call.

/// For each byte of a string: 0 (written as it is), the letter of its escape after `\`, `u`
/// (`\u00XX`), or `c` (0xC2, the first byte of U+0080..U+00BF: a `\u` escape if the next byte
/// is at most 0x9F).
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[0x7f] = b'u';
    table[0xc2] = b'c';
    table
};

/// Writes `text` as a JSON string: serde_json's escapes (`\"`, `\\`, `\n`, `\u001b`...),
/// plus DEL and U+0080..U+009F as `\u007f`, `\u0080`...
///
/// Most strings need no escape, and most are short (a field's name): one of 4 to 16 bytes is
/// read as two overlapping words, tested a word at a time ([`special_in`]) and written as two
/// copies of a fixed size (no call); a longer one is tested 16 bytes at a time.
#[inline]
pub(super) fn string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let len = bytes.len();
    if (8..=16).contains(&len) {
        let head: [u8; 8] = bytes[..8].try_into().expect("8 bytes");
        let tail: [u8; 8] = bytes[len - 8..].try_into().expect("8 bytes");
        if special_in(u64::from_ne_bytes(head)) | special_in(u64::from_ne_bytes(tail)) {
            return escaped(out, bytes);
        }
        return overlapping(out, head, tail, len);
    }
    if (4..8).contains(&len) {
        let head: [u8; 4] = bytes[..4].try_into().expect("4 bytes");
        let tail: [u8; 4] = bytes[len - 4..].try_into().expect("4 bytes");
        let both = u64::from(u32::from_ne_bytes(head)) << 32 | u64::from(u32::from_ne_bytes(tail));
        if special_in(both) {
            return escaped(out, bytes);
        }
        return overlapping(out, head, tail, len);
    }
    long(out, bytes);
}

/// [`string`] of `bytes` of other lengths, tested 16 bytes at a time.
#[inline(never)]
fn long(out: &mut Vec<u8>, bytes: &[u8]) {
    let special = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\') | (b == 0x7f) | (b == 0xc2);
    let any = |block: &[u8]| block.iter().fold(false, |any, &b| any | special(b));
    let last = &bytes[bytes.len().saturating_sub(16)..];
    let blocks = bytes.chunks_exact(16);
    if blocks.fold(any(last), |found, block| found | any(block)) {
        return escaped(out, bytes);
    }
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// Writes a string of `len` bytes (`N` to `2 * N`) in quotes, from its first `N` bytes `head`
/// and its last `N` bytes `tail`: `tail` written over the end of `head`.
#[inline]
fn overlapping<const N: usize>(out: &mut Vec<u8>, head: [u8; N], tail: [u8; N], len: usize) {
    let start = out.len();
    out.reserve(len + 2);
    out.push(b'"');
    out.extend_from_slice(&head);
    out.truncate(start + 1 + len - N);
    out.extend_from_slice(&tail);
    out.push(b'"');
}

/// Whether one of the 8 bytes of `x` may need an escape (see [`ESCAPE`]: a byte below 0x20,
/// `"`, `\\`, DEL or 0xC2), tested all at once: a byte below 0x20 (and under 0x80) borrows
/// into its top bit when 0x20 is taken from it, a byte equal to `b` is zero after `^ b`, and
/// a false alarm can only come from the borrow of a byte found already.
#[inline]
fn special_in(x: u64) -> bool {
    const fn each(b: u8) -> u64 {
        u64::from_ne_bytes([b; 8])
    }
    let zero = |y: u64| y.wrapping_sub(each(1)) & !y;
    let found = x.wrapping_sub(each(0x20)) & !x
        | zero(x ^ each(b'"'))
        | zero(x ^ each(b'\\'))
        | zero(x ^ each(0x7f))
        | zero(x ^ each(0xc2));
    found & each(0x80) != 0
}

/// [`string`] of the UTF-8 `bytes` that may need an escape (see [`ESCAPE`]).
#[cold]
#[inline(never)]
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        let escape = ESCAPE[usize::from(bytes[i])];
        if escape == 0 {
            i += 1;
            continue;
        }
        // 0xC2 is always followed by a continuation byte: `bytes` are UTF-8.
        let (code, len) = match escape {
            b'c' if bytes[i + 1] > 0x9f => {
                i += 2;
                continue;
            }
            b'c' => (bytes[i + 1], 2),
            _ => (bytes[i], 1),
        };
        out.extend_from_slice(&bytes[start..i]);
        if matches!(escape, b'u' | b'c') {
            let hex = [HEX[usize::from(code >> 4)], HEX[usize::from(code & 0xf)]];
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&hex);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        i += len;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}
