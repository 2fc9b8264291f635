//! The owner's `plan` takes a task that the owner's last `check` knew in its present version
//! from what that check kept (issue 27), so it reads only what changed since; and it says
//! exactly what it says without that index: after the task changed, with another
//! configuration, for a task beside images already made, and as a member, who cannot read
//! the owner's state. `plan` writes nothing, not even the state folder.

mod common;

use common::*;

const INDEX: &str = ".runvqgan/check-tasks.index";

/// `plan --json` (with `args`) and its debug log: (stdout, how many tasks it planned as the
/// last check knew them, how many it read and validated).
fn plan_logged(s: &Shared, args: &[&str]) -> (String, usize, usize) {
    let out = s
        .cmd()
        .env("RUST_LOG", "runvqgan=debug")
        .args(["plan", "--json", "--root"])
        .arg(s.root())
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stderr);
    let (known, read) = logged_counts(&log, "planned as the owner's last check knew them");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        known,
        read,
    )
}

fn check(s: &Shared) {
    let out = s
        .cmd()
        .args(["check", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 3), "{out:?}");
}

/// A folder of tasks that exercise what a plan takes from a task: styles, `each`, a seed,
/// caps (warnings), `raw` options, a story prompt with weights, a member's folder, a task
/// with an image already made, and an invalid task.
fn lab() -> Shared {
    let s = Shared::new();
    s.write("tasks/dog.txt", task("dog"));
    s.write(
        "tasks/story.txt",
        r#"{"text": ["A dog:2|cat:-0.5^a story"], "style": ["", "Banksy"], "each": [2], "seed": [12], "iterations": [99999], "raw": "-lr 0.05 -cuts 16 -aug Ji Sh", "out_file": ["story"]}"#,
    );
    s.mkdir("anna");
    s.write(
        "anna/task_sea.txt",
        r#"{"text": "the sea", "out_file": "sea", "each": 3, "portrait": true}"#,
    );
    s.write("anna/sea_1.png", "made earlier");
    s.write(
        "anna/task_bad.txt",
        r#"{"text": "a cat", "out_file": "cat", "iterations": -3}"#,
    );
    s
}

#[test]
fn a_plan_after_a_check_reads_only_what_changed_and_says_the_same() {
    let s = lab();
    let (before, known, read) = plan_logged(&s, &[]);
    assert_eq!((known, read), (0, 4), "no index yet");
    assert!(!s.exists(".runvqgan"), "plan wrote the state folder");
    check(&s);
    assert!(s.exists(INDEX));
    let (after, known, read) = plan_logged(&s, &[]);
    assert_eq!(
        (known, read),
        (3, 1),
        "the invalid task is read for its problems"
    );
    assert_eq!(after, before);

    // A task changed since the check is read again; the others are still known.
    s.write(
        "tasks/dog.txt",
        r#"{"text": ["A painting of a fox"], "out_file": ["dog"]}"#,
    );
    let (changed, known, read) = plan_logged(&s, &[]);
    assert_eq!((known, read), (2, 2), "{changed}");
    assert!(changed.contains("A painting of a fox"), "{changed}");
    assert!(!changed.contains("A painting of a dog"), "{changed}");

    // An image made since the check changes the names, not the task: the plan says so.
    s.write("output/story_1.png", "made since");
    let (named, known, _) = plan_logged(&s, &[]);
    assert_eq!(known, 2, "{named}");
    assert!(!named.contains("\"output/story_1.png\""), "{named}");
    assert!(named.contains("\"output/story_2.png\""), "{named}");
}

#[test]
fn a_plan_under_another_configuration_reads_every_task() {
    let s = lab();
    check(&s);
    let (plain, known, _) = plan_logged(&s, &[]);
    assert_eq!(known, 3, "{plain}");
    let (capped, known, read) = plan_logged(&s, &["--max-iterations", "50"]);
    assert_eq!((known, read), (0, 4), "{capped}");
    assert!(capped.contains("\"iterations\": 50"), "{capped}");
}

#[test]
fn a_damaged_index_means_a_plan_that_reads_every_task_and_says_the_same() {
    let s = lab();
    let (before, _, _) = plan_logged(&s, &[]);
    check(&s);
    let bytes = std::fs::read(s.root().join(INDEX)).unwrap();
    // Cut short: the file's own length no longer matches what it says it holds.
    std::fs::write(s.root().join(INDEX), &bytes[..bytes.len() / 2]).unwrap();
    let (after, known, read) = plan_logged(&s, &[]);
    assert_eq!((known, read), (0, 4));
    assert_eq!(after, before);
}
