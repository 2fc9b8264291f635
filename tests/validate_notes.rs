//! `validate` and the notes beside a task (issue 24, item 6): a task fixed and validated does
//! not keep its old `_ERROR.txt`. The account whose `check` writes the notes (the owner)
//! brings them up to date at once; a member, who may not write them (docs/permissions.md),
//! is told that the owner's check will, within minutes.

mod common;
use common::{Shared, give_to, member};

const INVALID: &str = r#"{"text": "a lighthouse", "out_file": "lh", "iterations": "20"}"#;
const FIXED: &str = r#"{"text": "a lighthouse", "out_file": "lh", "iterations": 20}"#;

#[test]
fn validate_of_a_fixed_task_removes_its_stale_error_file() {
    let s = Shared::new();
    s.write("anna/task_lh.txt", INVALID);
    s.check();
    assert!(
        s.read("anna/task_lh_ERROR.txt")
            .contains("`iterations` is \"20\"")
    );
    s.write("anna/task_lh.txt", FIXED);
    let (code, out) = s.validate("anna/task_lh.txt");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("anna/task_lh.txt: removed anna/task_lh_ERROR.txt, which no longer applies"),
        "{out}"
    );
    assert!(!s.exists("anna/task_lh_ERROR.txt"));
    // Nothing left to do: validate says only that the task is valid.
    let (_, again) = s.validate("anna/task_lh.txt");
    assert_eq!(again.lines().count(), 1, "{again}");
}

#[test]
fn validate_of_a_task_with_another_mistake_rewrites_its_error_file_as_check_would() {
    let s = Shared::new();
    s.write("tasks/t.txt", INVALID);
    s.check();
    s.write(
        "tasks/t.txt",
        r#"{"text": "a lighthouse", "out_file": "lh", "each": 0}"#,
    );
    let (code, out) = s.validate("tasks/t.txt");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("tasks/t.txt: wrote tasks/t_ERROR.txt"),
        "{out}"
    );
    let written = s.read("tasks/t_ERROR.txt");
    assert!(written.contains("`each` is 0"), "{written}");
    // check finds it up to date: validate wrote exactly what check writes.
    let (_, checked) = s.check();
    assert!(
        checked.contains("tasks/t.txt: still invalid, its error file is up to date"),
        "{checked}"
    );
    assert_eq!(s.read("tasks/t_ERROR.txt"), written);
}

#[test]
fn a_members_validate_leaves_the_owners_notes_and_says_when_they_are_updated() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let s = Shared::new();
    s.write("anna/task_lh.txt", INVALID);
    s.check(); // the owner's check: .runvqgan/ and the error file are the owner's
    s.write("anna/task_lh.txt", FIXED);
    let ids = member();
    give_to(&s.root().join("anna"), ids);
    give_to(&s.root().join("anna/task_lh.txt"), ids);
    // The member reaches the shared folder and a copy of the binary.
    std::fs::set_permissions(s.root(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let bin = s.root().join(".bin");
    std::fs::copy(env!("CARGO_BIN_EXE_runvqgan"), &bin).unwrap();
    let out = std::process::Command::new(&bin)
        .args(["validate", "--root"])
        .arg(s.root())
        .arg(s.root().join("anna/task_lh.txt"))
        .env_remove("RUNVQGAN_ROOT")
        .current_dir("/")
        .uid(ids.0)
        .gid(ids.1)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("anna/task_lh.txt: note: the notes beside it (_ERROR.txt, _WARNINGS.txt) still say what an earlier check found; this account does not write them"),
        "{text}"
    );
    assert!(
        text.contains("the owner's `runvqgan check` brings them up to date within a few minutes"),
        "{text}"
    );
    assert!(s.exists("anna/task_lh_ERROR.txt"));
    // The owner's next check removes it.
    let (_, checked) = s.check();
    assert!(
        checked.contains("removed anna/task_lh_ERROR.txt"),
        "{checked}"
    );
}
