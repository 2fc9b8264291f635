//! Fuzzing the whole parse + validate + expand path of task files with proptest: arbitrary
//! bytes, byte-level mutations of a valid task, and structured JSON built from the real field
//! names with hostile values. The parser must never panic, and whatever it accepts must make
//! sense (images within the caps, names that stay in their folder).
//!
//! A normal `cargo test` runs a few hundred cases of each. For a long run:
//!
//! ```sh
//! PROPTEST_CASES=200000 cargo test --release --test fuzz
//! ```

use std::path::PathBuf;

use proptest::prelude::*;
use runvqgan::config::Limits;
use runvqgan::shared_folder::root::Root;
use runvqgan::task::validate::{TaskContext, check_bytes, check_out_file};
use runvqgan::task::{FIELDS, TaskKind, expand};
use serde_json::{Map, Value, json};

/// A root with `tasks/`, `output/` and an image, shared by every case of a test.
struct Fixture {
    _dir: tempfile::TempDir,
    root: Root,
    task: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    for d in ["tasks", "output", "anna"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    std::fs::write(dir.path().join("tasks/photo.png"), b"png").unwrap();
    let root = Root::open(dir.path()).unwrap();
    let task = root.path().join("tasks/t.txt");
    Fixture {
        _dir: dir,
        root,
        task,
    }
}

/// Parses, validates and expands `bytes`; checks what is accepted.
fn check(f: &Fixture, bytes: &[u8]) {
    let limits = Limits::default();
    let ctx = TaskContext {
        root: &f.root,
        task: &f.task,
        kind: &TaskKind::Shared,
        limits: &limits,
        folders: None,
    };
    match check_bytes(bytes, &ctx) {
        Ok(v) => {
            let spec = &v.spec;
            assert!(spec.each >= 1 && spec.each <= limits.max_each);
            assert!(spec.iterations >= 1 && spec.iterations <= limits.max_iterations);
            assert!(!spec.styles.is_empty());
            let [w, h] = spec.size;
            assert!(w.max(h) <= 450 && w.min(h) <= 300 && w.min(h) >= 16);
            assert!(check_out_file(&spec.out_file).is_ok());
            assert!(spec.out_folder.starts_with(f.root.path()));
            let images = expand(spec);
            assert_eq!(images.len() as u32, spec.total_images());
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in errors {
                assert!(!e.to_string().is_empty());
            }
        }
    }
}

const VALID: &str = r#"{"text": ["A dog:2|cat:-0.5^a story"], "style": ["", "Banksy"], "iterations": [300], "out_file": ["john_dog"], "out_folder": ["output"], "portrait": [false], "each": [2], "resolution": [450, 300], "in_file": ["photo.png"], "seed": [12], "raw": "-lr 0.05 -cuts 16 -aug Ji Sh"}"#;

/// Hostile JSON values.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON has no NaN", |x| x.is_finite())
            .prop_map(|x| json!(x)),
        prop_oneof![
            Just(i64::MIN),
            Just(-1i64),
            Just(0),
            Just(1),
            Just(16),
            Just(6001),
            Just(i64::MAX)
        ]
        .prop_map(|n| json!(n)),
        ".*".prop_map(Value::String),
        prop_oneof![
            Just(""),
            Just(".."),
            Just("../output"),
            Just("/etc"),
            Just("C:\\x"),
            Just("output"),
            Just("anna"),
            Just("tasks"),
            Just("photo.png"),
            Just("a:b:c"),
            Just("dog:1e308"),
            Just("|^|"),
            Just("-o x"),
            Just("-lr 0.1 -cuts 0"),
            Just("\u{202e}x"),
            Just("x\u{0}y"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((".{0,8}", inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A task object: real field names (and near misses) with hostile values.
fn task_object() -> impl Strategy<Value = Value> {
    let name = prop_oneof![
        4 => prop::sample::select(FIELDS).prop_map(str::to_string),
        1 => ".{0,12}",
    ];
    prop::collection::vec((name, value()), 0..10)
        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        thread_local!(static F: Fixture = fixture());
        F.with(|f| check(f, &bytes));
    }

    #[test]
    fn mutated_valid_tasks_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)
    ) {
        thread_local!(static F: Fixture = fixture());
        let mut bytes = VALID.as_bytes().to_vec();
        for (at, byte, op) in edits {
            let len = bytes.len();
            let i = at.index(len.max(1));
            match op {
                0 if len > 0 => bytes[i.min(len - 1)] = byte,
                1 => bytes.insert(i.min(len), byte),
                _ if len > 0 => {
                    bytes.remove(i.min(len - 1));
                }
                _ => {}
            }
        }
        F.with(|f| check(f, &bytes));
    }

    #[test]
    fn structured_hostile_json_never_panics(task in task_object(), bom in any::<bool>(), crlf in any::<bool>()) {
        thread_local!(static F: Fixture = fixture());
        let mut text = serde_json::to_string_pretty(&task).unwrap();
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let mut bytes = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        bytes.extend_from_slice(text.as_bytes());
        F.with(|f| check(f, &bytes));
    }
}
