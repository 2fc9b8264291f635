//! The life of a task file (DESIGN section 6): error files that follow the task (written,
//! updated only when their message changes, removed once the task is valid), and the `.done`
//! rename.

mod common;
use common::Shared;
use runvqgan::config::Config;
use runvqgan::outputs::lifecycle::mark_done;
use runvqgan::queue::plan::{Status, plan};
use runvqgan::shared_folder::files::error_file_path;
use runvqgan::shared_folder::root::Root;

/// The modification time of `rel`.
fn mtime(s: &Shared, rel: &str) -> std::time::SystemTime {
    std::fs::metadata(s.root().join(rel))
        .unwrap()
        .modified()
        .unwrap()
}

#[test]
fn error_file_follows_the_task_until_it_is_valid_then_goes() {
    let s = Shared::new();
    let task = s.write("tasks/dog.txt", r#"{"text": "dog", "iteration": 3}"#);
    let root = Root::open(&s.root()).unwrap();
    let config = Config::default();

    // 1. Invalid: check writes the error file; the task is untouched.
    assert_eq!(plan(&root, &config).unwrap()[0].status(), Status::Invalid);
    let (code, out) = s.check();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("tasks/dog.txt: wrote tasks/dog_ERROR.txt"),
        "{out}"
    );
    let err = error_file_path(&task);
    assert_eq!(err, s.root().join("tasks/dog_ERROR.txt"));
    let report = s.read("tasks/dog_ERROR.txt");
    assert!(
        report.starts_with("runvqgan could not run the task file tasks/dog.txt."),
        "{report}"
    );
    assert!(report.contains("Problem 1 of 2 (field `iteration`):\n  `iteration` is not a field of a task file; did you mean `iterations`?"), "{report}");
    assert!(report.contains("(field `out_file`)"), "{report}");
    assert!(
        report.ends_with(
            "Nothing runs for this task until it is fixed. Fix the task file and save it: it is \
             checked again within a few minutes and at the start of every nightly run, and this \
             file disappears once the task is fine.\n"
        ),
        "{report}"
    );
    assert!(
        !report.contains("runvqgan validate"),
        "members have no shell: {report}"
    );
    assert_eq!(
        s.read("tasks/dog.txt"),
        r#"{"text": "dog", "iteration": 3}"#
    );
    // The error file itself is never taken for a task, nor listed as not run.
    assert_eq!(s.planned_tasks(), ["tasks/dog.txt"]);
    assert!(s.not_run().is_empty());

    // 2. Still invalid, same message: the error file is not rewritten (no churn).
    s.set_mtime("tasks/dog_ERROR.txt", 1);
    let before = mtime(&s, "tasks/dog_ERROR.txt");
    let (_, out) = s.check();
    assert!(out.contains("tasks/dog.txt: still invalid"), "{out}");
    assert_eq!(mtime(&s, "tasks/dog_ERROR.txt"), before);

    // 3. Still invalid, another mistake: the error file says the new one.
    s.write(
        "tasks/dog.txt",
        r#"{"text": "dog", "out_file": "dog", "each": 0}"#,
    );
    s.check();
    let report = s.read("tasks/dog_ERROR.txt");
    assert!(report.contains("`each` is 0"), "{report}");
    assert!(!report.contains("iteration"), "{report}");

    // 4. Fixed: the error file goes at once, whatever the two files' ages.
    s.write("tasks/dog.txt", r#"{"text": "dog", "out_file": "dog"}"#);
    s.set_mtime("tasks/dog.txt", 0);
    let (_, out) = s.check();
    assert!(
        out.contains("tasks/dog.txt: removed tasks/dog_ERROR.txt, which no longer applies"),
        "{out}"
    );
    assert!(!s.exists("tasks/dog_ERROR.txt"));
    assert_eq!(plan(&root, &config).unwrap()[0].status(), Status::Ok);

    // 5. Done: renamed to .done.
    let done = mark_done(&task).unwrap();
    assert_eq!(done, s.root().join("tasks/dog.txt.done"));
    assert!(!s.exists("tasks/dog.txt"));
    assert!(plan(&root, &config).unwrap().is_empty());
}

#[test]
fn a_task_made_invalid_by_a_missing_folder_runs_once_the_folder_exists() {
    let s = Shared::new();
    s.write(
        "anna/task_cat.txt",
        r#"{"text": "cat", "out_file": "cat", "out_folder": "anna/cats"}"#,
    );
    s.check();
    assert!(
        s.read("anna/task_cat_ERROR.txt")
            .contains("`out_folder` \"anna/cats\"")
    );
    // The owner makes the folder; the task file is not saved again.
    s.mkdir("anna/cats");
    assert_eq!(s.planned("anna/task_cat.txt")["status"], "ok");
    s.check();
    assert!(!s.exists("anna/task_cat_ERROR.txt"));
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
