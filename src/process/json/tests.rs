//! Tests of the terminal-safe pretty JSON: the same text as serde_json's, made safe.
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
