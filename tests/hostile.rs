//! Every task file is untrusted. The regression corpus in `tests/corpus/` (one hostile file
//! each) goes through the whole parse + validate path on every test run: no panic, and each
//! file gets the message a member can act on. Hostile *files* (a folder, a fifo, a link loop,
//! a bad name) go through a real `runvqgan run`, which must write an `_ERROR.txt` for each,
//! never block, and go on. None of these tests starts Python.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Shared, task};
use runvqgan::config::Limits;
use runvqgan::shared_folder::root::Root;
use runvqgan::task::validate::{TaskContext, check_bytes};
use runvqgan::task::{Problems, TaskKind};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// What each corpus file must give: `None` valid, else a piece of the message.
const EXPECTED: &[(&str, Option<&str>)] = &[
    ("abs", Some("it is an absolute path")),
    ("array_top", Some("a task file holds one JSON object")),
    ("bad_utf8", Some("not UTF-8 text")),
    ("bidi_text", None),
    ("bom_only", Some("the file is empty")),
    ("crlf_bom_valid", None),
    ("ctrl_out", Some("contains a control character")),
    ("ctrl_style", Some("control character")),
    ("ctrl_text", Some("control character U+001B")),
    ("deep", Some("nested more than 16 deep")),
    ("deep_in_string_ok", None),
    ("dotdot", Some("it contains `..`")),
    ("drive", Some("Windows drive path")),
    (
        "duplicate_keys",
        Some("`text` is written twice (lines 1 and 1)"),
    ),
    ("empty", Some("the file is empty")),
    ("empty_list", Some("required field `text` is missing")),
    ("empty_out", Some("it is empty")),
    ("empty_res", Some("two whole numbers")),
    ("empty_style", Some("the list is empty")),
    ("empty_text", Some("the prompt is empty")),
    ("exp_int", Some("must be a whole number")),
    ("float_each", Some("must be a whole number")),
    ("huge_float", Some("far too large")),
    ("huge_int", Some("must be a whole number")),
    ("in_dotdot", Some("it lies outside the shared folder")),
    ("in_drive", Some("Windows drive path")),
    ("infinity", Some("not valid JSON")),
    ("lone_surrogate", Some("not valid JSON")),
    ("long_text", Some("larger than 64 KiB")),
    ("long_text_in_limit", Some("at most 5000")),
    ("many_styles", Some("at most 100 styles")),
    ("nan", Some("not valid JSON")),
    ("neg", Some("must be at least 1")),
    ("neg_each", Some("must be at least 1")),
    ("neg_resolution", Some("at least 16 pixels")),
    ("nested_objects", Some("nested more than 16 deep")),
    ("nul_escaped", Some("NUL character")),
    ("nul_outside", Some("not valid JSON")),
    ("nul_raw", Some("control character")),
    ("only_pipes", Some("has no text")),
    ("out_dot", Some("starts with a dot")),
    ("out_dotdot", Some("it contains `..`")),
    ("out_folder_backslash", Some("backslash")),
    ("out_long", Some("longer than 100 characters")),
    ("out_rtl", Some("invisible formatting character")),
    ("out_slash", Some("folder separator")),
    ("raw_bad", Some("`-o` is not allowed")),
    ("raw_device", Some("`-cd` is not allowed")),
    ("raw_models", Some("`-ckpt` is not allowed")),
    ("raw_quotes", Some("is not an option")),
    ("raw_shell", Some("is not an option")),
    ("res_float", Some("two whole numbers")),
    ("seed_float", Some("must be a whole number")),
    ("seed_overflow", Some("too large for a seed")),
    ("string_top", Some("a task file holds one JSON object")),
    ("template_abs", Some("it lies outside the shared folder")),
    ("u64_seed", Some("too large")),
    ("utf16", Some("not UTF-8 text")),
    ("weights_huge", None),
    ("weights_nan", Some("is not a number")),
    ("zero", Some("must be at least 1")),
    ("zero_resolution", Some("at least 16 pixels")),
];

#[test]
fn every_file_of_the_hostile_corpus_gets_its_message_and_nothing_panics() {
    let shared = Shared::new();
    let root = Root::open(&shared.root()).unwrap();
    let task_path = root.path().join("tasks/t.txt");
    let limits = Limits::default();
    let ctx = TaskContext {
        root: &root,
        task: &task_path,
        kind: &TaskKind::Shared,
        limits: &limits,
        folders: None,
    };
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let expected = EXPECTED
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("tests/corpus/{name}.json has no entry in EXPECTED"))
            .1;
        let result = check_bytes(&bytes, &ctx);
        match (expected, result) {
            (None, Ok(_)) => {}
            (None, Err(e)) => panic!("{name}: expected valid, got {e:?}"),
            (Some(want), Ok(_)) => panic!("{name}: expected {want:?}, but it is valid"),
            (Some(want), Err(errors)) => {
                let text = Problems {
                    task: "tasks/t.txt".into(),
                    errors,
                }
                .to_string();
                assert!(text.contains(want), "{name}: expected {want:?} in:\n{text}");
            }
        }
        seen.push(name);
    }
    assert_eq!(seen.len(), EXPECTED.len(), "a corpus file is missing");
}

/// The `_ERROR.txt` of `rel` (a task path relative to the root).
fn error_text(s: &Shared, rel: &str) -> String {
    let stem = rel.strip_suffix(".txt").unwrap();
    std::fs::read_to_string(s.root().join(format!("{stem}_ERROR.txt")))
        .unwrap_or_else(|e| panic!("no error file for {rel}: {e}"))
}

#[test]
fn hostile_files_each_get_an_error_file_and_the_run_goes_on_without_blocking() {
    use std::os::unix::fs::symlink;
    let s = Shared::new();
    // A folder, a fifo and a link loop where task files would be.
    s.mkdir("tasks/folder.txt");
    let fifo = s.root().join("anna/task_fifo.txt");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    symlink("loop_b.txt", s.root().join("tasks/loop_a.txt")).unwrap();
    symlink("loop_a.txt", s.root().join("tasks/loop_b.txt")).unwrap();
    // A task file whose name holds a control character: listed as not run, nothing
    // written beside it (an error file would hold the character too).
    s.write("tasks/bad\u{7}name.txt", task("bell"));
    // A link to a task file outside the root: only the log says so.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("evil.txt"), task("evil")).unwrap();
    symlink(
        outside.path().join("evil.txt"),
        s.root().join("tasks/evil.txt"),
    )
    .unwrap();
    // Content problems from the corpus, to show the run goes on past them.
    s.write(
        "tasks/huge.txt",
        std::fs::read(corpus_dir().join("long_text.json")).unwrap(),
    );
    s.write(
        "tasks/bytes.txt",
        std::fs::read(corpus_dir().join("bad_utf8.json")).unwrap(),
    );

    let started = Instant::now();
    let out = s
        .cmd()
        .args(["run", "--root"])
        .arg(s.root())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the run blocked"
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);

    assert!(error_text(&s, "tasks/folder.txt").contains("this is a folder, not a task file"));
    assert!(
        error_text(&s, "anna/task_fifo.txt")
            .contains("this is a named pipe (fifo), not a task file")
    );
    assert!(error_text(&s, "tasks/loop_a.txt").contains("link loop"));
    assert!(!s.exists("tasks/bad\u{7}name_ERROR.txt"));
    assert!(
        stderr.contains("tasks/bad\\u{7}name.txt: not run: its name holds a control character"),
        "{stderr}"
    );
    assert!(error_text(&s, "tasks/huge.txt").contains("larger than 64 KiB"));
    assert!(error_text(&s, "tasks/bytes.txt").contains("not UTF-8 text"));
    assert!(!s.exists("tasks/evil_ERROR.txt"));
    assert!(
        stderr.contains("a link that leads outside the shared folder"),
        "{stderr}"
    );
    // Nothing was written outside the root.
    let outside_files: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert_eq!(outside_files.len(), 1);
}

#[test]
fn a_fifo_given_to_validate_does_not_block() {
    let s = Shared::new();
    let fifo = s.root().join("tasks/pipe.txt");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (code, stdout) = s.validate("tasks/pipe.txt");
    assert_eq!(code, 1);
    assert!(stdout.contains("named pipe"), "{stdout}");
}

#[test]
fn an_unreadable_task_file_gets_an_error_file() {
    use std::os::unix::fs::PermissionsExt;
    let s = Shared::new();
    let path = s.write("tasks/secret.txt", task("secret"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&path).is_ok() {
        // Running as root: permission bits do not stop reading.
        eprintln!("skipped: this user can read a file with mode 000");
        return;
    }
    let out = s
        .cmd()
        .args(["run", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(error_text(&s, "tasks/secret.txt").contains("permission denied"));
}
