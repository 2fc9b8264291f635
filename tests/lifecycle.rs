//! The life of a task file (DESIGN section 6): error files, not retrying until the task
//! changes, and the `.done` rename.

mod common;
use common::Shared;
use runvqgan::config::Config;
use runvqgan::lifecycle::{error_file_path, mark_done, write_error_file};
use runvqgan::plan::{Status, Verdict, plan};
use runvqgan::root::Root;

#[test]
fn error_file_is_written_beside_the_task_and_blocks_until_the_task_changes() {
    let s = Shared::new();
    let task = s.write("tasks/dog.txt", r#"{"text": "dog", "iteration": 3}"#);
    s.set_mtime("tasks/dog.txt", 100);
    let root = Root::open(&s.root()).unwrap();
    let config = Config::default();

    // 1. Invalid: the run writes the error file; the task is untouched.
    let first = plan(&root, &config).unwrap();
    assert_eq!(first[0].status(), Status::Invalid);
    let Verdict::Invalid(problems) = &first[0].verdict else {
        panic!("invalid: {:?}", first[0].verdict)
    };
    let err = write_error_file(&task, problems).unwrap();
    assert_eq!(err, s.root().join("tasks/dog_ERROR.txt"));
    assert_eq!(err, error_file_path(&task));
    let report = std::fs::read_to_string(&err).unwrap();
    assert!(
        report.starts_with("runvqgan could not run the task file tasks/dog.txt."),
        "{report}"
    );
    assert!(report.contains("Problem 1 of 2 (field `iteration`):\n  `iteration` is not a field of a task file; did you mean `iterations`?"), "{report}");
    assert!(report.contains("(field `out_file`)"), "{report}");
    assert!(
        report.contains("Fix the task file and save it again"),
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(&task).unwrap(),
        r#"{"text": "dog", "iteration": 3}"#
    );
    // The error file itself is never taken for a task.
    assert_eq!(plan(&root, &config).unwrap().len(), 1);

    // 2. Not retried while the task is older than its error file.
    let second = plan(&root, &config).unwrap();
    assert_eq!(second[0].status(), Status::Skipped);
    assert!(s.planned("tasks/dog.txt")["status"] == "skipped");

    // 3. Retried once the member saves the task again.
    std::fs::write(&task, r#"{"text": "dog", "out_file": "dog"}"#).unwrap();
    let later =
        std::fs::metadata(&err).unwrap().modified().unwrap() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&task)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let third = plan(&root, &config).unwrap();
    assert_eq!(third[0].status(), Status::Ok);

    // 4. Done: renamed to .done and the stale error file removed.
    let done = mark_done(&task).unwrap();
    assert_eq!(done, s.root().join("tasks/dog.txt.done"));
    assert!(!s.exists("tasks/dog.txt"));
    assert!(!s.exists("tasks/dog_ERROR.txt"));
    assert!(plan(&root, &config).unwrap().is_empty());
}

#[test]
fn a_task_with_an_older_error_file_is_retried() {
    let s = Shared::new();
    s.write("tasks/dog_ERROR.txt", "old error");
    s.set_mtime("tasks/dog_ERROR.txt", 1);
    s.write("tasks/dog.txt", r#"{"text": "dog", "out_file": "dog"}"#);
    s.set_mtime("tasks/dog.txt", 2);
    assert_eq!(s.planned("tasks/dog.txt")["status"], "ok");
}
