//! The owner's `check` keeps an index of the task files it validated (issue 27): a pass
//! reads only what changed since the last one, and stays right when files change behind it:
//! a task rewritten with its old size and time, its output folder removed or swapped for a
//! link, a note removed by a member, the configuration changed, the index damaged.

mod common;

use common::*;

const INDEX: &str = ".runvqgan/check-tasks.index";

/// `check` with its debug log: (exit code, stdout, how many tasks it knew, how many it read).
fn check_logged(s: &Shared) -> (i32, String, usize, usize) {
    let out = s
        .cmd()
        .env("RUST_LOG", "runvqgan=debug")
        .args(["check", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let (known, read) = logged_counts(&log, "known from the last check");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        known,
        read,
    )
}

#[test]
fn a_second_pass_reads_nothing_and_says_the_same() {
    let s = Shared::new();
    s.write("tasks/dog.txt", task("dog"));
    s.write(
        "tasks/bad.txt",
        r#"{"text": "a cat", "out_file": "cat", "iterations": -3}"#,
    );
    let (code, first, known, read) = check_logged(&s);
    assert_eq!((code, known, read), (0, 0, 2), "{first}");
    assert!(s.exists("tasks/bad_ERROR.txt"));
    assert!(s.exists(INDEX));
    let error = s.read("tasks/bad_ERROR.txt");
    let (code, second, known, read) = check_logged(&s);
    assert_eq!((code, known, read), (0, 2, 0), "{second}");
    assert!(second.contains("tasks/bad.txt: still invalid"), "{second}");
    assert!(
        second.contains("1 valid (0 with warnings), 1 invalid"),
        "{second}"
    );
    assert_eq!(s.read("tasks/bad_ERROR.txt"), error);
}

#[test]
fn a_task_rewritten_with_its_old_size_and_time_is_checked_again() {
    let s = Shared::new();
    let good = r#"{"text": ["A painting of a dog"], "out_file": ["dog_aaaa"]}"#;
    let bad = r#"{"text": ["A painting of a dog"], "out_fil": ["dog_aaaaa"]}"#;
    assert_eq!(good.len(), bad.len());
    s.write("tasks/dog.txt", good);
    s.set_mtime("tasks/dog.txt", 100);
    let (_, out, _, _) = check_logged(&s);
    assert!(!s.exists("tasks/dog_ERROR.txt"), "{out}");
    // Rewritten in place: the same size, its time set back; only its change time differs.
    std::fs::write(s.root().join("tasks/dog.txt"), bad).unwrap();
    s.set_mtime("tasks/dog.txt", 100);
    let (_, out, known, read) = check_logged(&s);
    assert_eq!((known, read), (0, 1), "{out}");
    assert!(s.read("tasks/dog_ERROR.txt").contains("out_fil"), "{out}");
}

#[test]
fn a_known_task_whose_output_folder_went_away_is_invalid() {
    let s = Shared::new();
    s.mkdir("anna/pics");
    s.write(
        "anna/task_dog.txt",
        r#"{"text": "a dog", "out_file": "dog", "out_folder": "anna/pics"}"#,
    );
    check_logged(&s);
    assert!(!s.exists("anna/task_dog_ERROR.txt"));
    std::fs::remove_dir(s.root().join("anna/pics")).unwrap();
    let (_, out, _, read) = check_logged(&s);
    assert_eq!(read, 1, "{out}");
    assert!(
        s.read("anna/task_dog_ERROR.txt").contains("out_folder"),
        "{out}"
    );
    // Back again: valid again, the error file removed.
    s.mkdir("anna/pics");
    let (_, out, _, _) = check_logged(&s);
    assert!(!s.exists("anna/task_dog_ERROR.txt"), "{out}");
}

#[test]
fn a_known_task_whose_output_folder_became_a_link_out_of_the_root_is_invalid() {
    let s = Shared::new();
    let outside = tempfile::tempdir().unwrap();
    s.mkdir("anna/pics");
    s.write(
        "anna/task_dog.txt",
        r#"{"text": "a dog", "out_file": "dog", "out_folder": "anna/pics"}"#,
    );
    check_logged(&s);
    std::fs::remove_dir(s.root().join("anna/pics")).unwrap();
    std::os::unix::fs::symlink(outside.path(), s.root().join("anna/pics")).unwrap();
    let (_, out, _, read) = check_logged(&s);
    assert_eq!(read, 1, "{out}");
    assert!(s.exists("anna/task_dog_ERROR.txt"), "{out}");
}

#[test]
fn a_note_removed_by_a_member_is_written_again_for_a_known_task() {
    let s = Shared::new();
    s.write(
        "tasks/bad.txt",
        r#"{"text": "a cat", "out_file": "cat", "each": "two"}"#,
    );
    check_logged(&s);
    let error = s.read("tasks/bad_ERROR.txt");
    std::fs::remove_file(s.root().join("tasks/bad_ERROR.txt")).unwrap();
    let (_, out, known, _) = check_logged(&s);
    assert_eq!(known, 1, "{out}");
    assert_eq!(s.read("tasks/bad_ERROR.txt"), error, "{out}");
    // Edited by a member: put back as it should be.
    std::fs::write(s.root().join("tasks/bad_ERROR.txt"), "nothing wrong here\n").unwrap();
    check_logged(&s);
    assert_eq!(s.read("tasks/bad_ERROR.txt"), error);
}

#[test]
fn a_new_configuration_checks_every_task_again() {
    let s = Shared::new();
    s.write(
        "tasks/dog.txt",
        r#"{"text": "a dog", "out_file": "dog", "iterations": 300}"#,
    );
    check_logged(&s);
    assert!(!s.exists("tasks/dog_WARNINGS.txt"));
    s.write("runvqgan.toml", "max_iterations = 100\n");
    let (_, out, known, read) = check_logged(&s);
    assert_eq!((known, read), (0, 1), "{out}");
    assert!(
        s.read("tasks/dog_WARNINGS.txt").contains("iterations"),
        "{out}"
    );
}

#[test]
fn a_damaged_or_missing_index_means_a_full_pass_with_the_same_result() {
    let s = Shared::new();
    s.write("tasks/dog.txt", task("dog"));
    s.write(
        "tasks/bad.txt",
        "{\"text\": \"a cat\",\n\"out_file\": \"cat\"\n\"each\": 2}",
    );
    let (_, first, _, _) = check_logged(&s);
    let error = s.read("tasks/bad_ERROR.txt");
    for damage in [&b"rvqindex garbage"[..], b"", &[0xff; 64][..]] {
        std::fs::write(s.root().join(INDEX), damage).unwrap();
        let (code, out, known, read) = check_logged(&s);
        assert_eq!((code, known, read), (0, 0, 2), "{out}");
        assert_eq!(s.read("tasks/bad_ERROR.txt"), error);
        assert!(
            out.contains("1 valid (0 with warnings), 1 invalid"),
            "{first}\n{out}"
        );
    }
    std::fs::remove_file(s.root().join(INDEX)).unwrap();
    let (_, _, known, read) = check_logged(&s);
    assert_eq!((known, read), (0, 2));
    let (_, _, known, read) = check_logged(&s);
    assert_eq!((known, read), (2, 0));
}

#[test]
fn a_task_beside_a_picture_or_naming_one_is_checked_every_time() {
    let s = Shared::new();
    // Not a JSON object: whether it is a task depends on what lies beside it.
    s.write("anna/task_notes.txt", "a few words");
    // Names a picture, which may change.
    s.write(
        "anna/task_cat.txt",
        r#"{"text": "a cat", "out_file": "cat", "out_folder": "anna", "in_file": "anna/cat.png"}"#,
    );
    check_logged(&s);
    let (_, out, known, read) = check_logged(&s);
    assert_eq!((known, read), (0, 2), "{out}");
    assert!(s.exists("anna/task_notes_ERROR.txt"), "{out}");
    // A picture of that name appears beside the notes: they are its notes, not a task.
    s.write("anna/task_notes.png", b"");
    let (_, out, _, _) = check_logged(&s);
    assert!(!out.contains("task_notes.txt: still invalid"), "{out}");
}
