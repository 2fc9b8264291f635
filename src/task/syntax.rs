//! Why a task file is not JSON, in a lab member's words. The JSON reader's own message
//! ("invalid escape", "key must be a string") names a symptom; the usual causes are few and
//! each has its own fix: a Windows path with single backslashes, a file saved as RTF by Mac
//! TextEdit, a `//` comment, an empty file, a missing comma at the end of a line, curly quotes.
//! Every message shows the line with a caret under the place.

use super::TaskError;
use crate::process::text::escape;

/// A problem found before the JSON reader runs: an empty file or an RTF document (whose
/// `{\rtf1` the reader would call "key must be a string").
pub(super) fn before_parsing(text: &str) -> Option<TaskError> {
    if text.trim().is_empty() {
        return Some(TaskError::Empty);
    }
    text.trim_start()
        .starts_with("{\\rtf")
        .then_some(TaskError::Rtf)
}

/// The message for the JSON reader's error `e` on the file's `text`.
pub(super) fn json_error(text: &str, e: &serde_json::Error) -> TaskError {
    let full = e.to_string();
    let mut detail = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    let (mut line, mut column) = (e.line(), e.column());
    let line_text = text.lines().nth(line.saturating_sub(1)).unwrap_or_default();
    let at = byte_at(line_text, column);
    let rest = line_text.get(at..).unwrap_or_default();
    let hint = if let Some(curly) = curly_quotes_hint(line_text) {
        curly
    } else if rest.starts_with("//") || rest.starts_with("/*") || rest.starts_with('#') {
        detail = "a comment".into();
        "JSON has no comments: delete the note from where it starts to the end of the line (a field that is not a task field is an error too, so a note cannot be kept in the file)."
            .into()
    } else if detail.contains("invalid escape") || detail.contains("invalid unicode code point") {
        let value = quoted_around(line_text, at);
        if line_text[..at].ends_with('\\') {
            column -= 1;
        }
        detail = format!("a single backslash (\\) in the text {value}");
        backslash_hint(&value)
    } else if detail.contains("expected `,` or `}`") || detail.contains("expected `,` or `]`") {
        match previous_content(text, line, at) {
            Some((l, c)) if l < line => {
                (line, column) = (l, c + 1);
                detail = format!("a comma is missing at the end of line {l}");
                format!(
                    "Fields (and list items) are separated by commas: put a comma at the end of line {l}, before the field on line {}.",
                    e.line()
                )
            }
            _ => "A comma is missing between two fields or list items, or a text is not in double quotes.".into(),
        }
    } else {
        let hint = if detail.contains("trailing comma") {
            "Remove the comma after the last field or list item."
        } else if detail.contains("key must be a string") {
            "Put every field name in double quotes, like \"text\"."
        } else if detail.contains("EOF") {
            "A closing brace `}` or bracket `]`, or a closing quote, is missing."
        } else if detail.contains("number out of range") {
            "A number there is far too large; write a plain whole number such as 3."
        } else if detail.contains("control character") {
            "A text contains a line break or tab; write it as \\n or \\t, or keep the text on one line."
        } else if detail.contains("expected value") {
            "A value is missing there, or a text is not in double quotes (write \"text\": \"a dog\", not \"text\": a dog)."
        } else {
            "Check the spelling around that place: texts in double quotes, fields separated by commas."
        };
        hint.into()
    };
    let shown = text.lines().nth(line.saturating_sub(1)).unwrap_or_default();
    TaskError::JsonSyntax {
        line,
        column,
        detail,
        hint,
        excerpt: excerpt(shown, column),
    }
}

/// The byte offset in `line` of the reader's 1-based `column` (which counts bytes), on a
/// character boundary.
fn byte_at(line: &str, column: usize) -> usize {
    let mut at = column.saturating_sub(1).min(line.len());
    while !line.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The line, indented, with a caret under `column` (1-based, in bytes); tabs become spaces so
/// the caret stays under its character.
fn excerpt(line: &str, column: usize) -> String {
    let line = line.trim_end_matches('\r').replace('\t', " ");
    let before = line.get(..byte_at(&line, column)).unwrap_or_default();
    let pad: usize = before
        .chars()
        .map(|c| escape(&c.to_string()).chars().count())
        .sum();
    format!("    {}\n    {}^", escape(&line), " ".repeat(pad))
}

/// The quoted text of `line` that holds byte `at` (quotes included), or the rest of the line.
fn quoted_around(line: &str, at: usize) -> String {
    let start = line[..at].rfind('"').unwrap_or(0);
    let end = line[at..].find('"').map_or(line.len(), |i| at + i + 1);
    line[start..end].to_string()
}

/// The (line, column) of the last character before byte `at` of 1-based `line` that is not
/// white space: where a missing comma belongs.
fn previous_content(text: &str, line: usize, at: usize) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut l = line;
    let mut upto = at;
    while l >= 1 {
        let t = lines.get(l - 1)?.trim_end_matches('\r');
        let part = t.get(..upto.min(t.len())).unwrap_or(t);
        let trimmed = part.trim_end();
        if !trimmed.is_empty() {
            return Some((l, trimmed.len()));
        }
        l -= 1;
        upto = usize::MAX;
    }
    None
}

/// The fix for a backslash in `value` (a quoted text): a Windows path is the usual cause.
fn backslash_hint(value: &str) -> String {
    let inner = value.trim_matches('"');
    let drive = inner.as_bytes().get(1) == Some(&b':') && inner.as_bytes().get(2) == Some(&b'\\');
    let name = inner.rsplit('\\').next().unwrap_or(inner);
    if drive {
        format!(
            "This is a Windows path: in JSON a backslash starts an escape such as \\n, so the path cannot be read as written, and the workstation cannot open files on your computer anyway. Copy the picture into the shared folder (beside this task file, say) and write its name, \"{name}\", or its path inside the shared folder with forward slashes (/)."
        )
    } else {
        "In JSON a backslash starts an escape such as \\n: write / in paths, or \\\\ for a backslash itself.".to_string()
    }
}

/// The hint for a JSON error on a line (`text`) that holds curly quotes (“ ” ‘ ’, which word
/// processors and some phones type instead of "): JSON needs straight double quotes.
pub fn curly_quotes_hint(text: &str) -> Option<String> {
    let found: Vec<char> = ['\u{201C}', '\u{201D}', '\u{201E}', '\u{2018}', '\u{2019}']
        .into_iter()
        .filter(|c| text.contains(*c))
        .collect();
    if found.is_empty() {
        return None;
    }
    let shown: String = found.iter().map(|c| format!("{c} ")).collect();
    Some(format!(
        "The file contains curly quotes ({}), which word processors type instead of straight ones; JSON needs straight double quotes (\") around every field name and text. Replace each curly quote with \", or write the file in a plain text editor (Notepad, TextEdit in plain text mode) with smart quotes turned off.",
        shown.trim_end()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> TaskError {
        let e = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
        json_error(text, &e)
    }

    #[test]
    fn a_missing_comma_is_placed_at_the_end_of_its_line_even_with_crlf_and_blank_lines() {
        let e = error("{\r\n  \"text\": \"dog\"\r\n\r\n  \"out_file\": \"d\"\r\n}");
        let TaskError::JsonSyntax {
            line,
            column,
            excerpt,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!((*line, *column), (2, 16), "{e}");
        assert_eq!(excerpt, "      \"text\": \"dog\"\n                   ^");
    }

    #[test]
    fn a_backslash_outside_a_windows_path_says_how_to_write_one() {
        let e = error("{\"text\": \"a\\qb\"}").to_string();
        assert!(
            e.contains("write / in paths, or \\\\ for a backslash itself"),
            "{e}"
        );
    }

    #[test]
    fn control_characters_in_the_shown_line_are_escaped() {
        let e = error("{\"text\": \"a\u{1b}[2J\" x}");
        assert!(!e.excerpt().unwrap().contains('\u{1b}'), "{e:?}");
    }
}
