//! Which files are task files, and in which order they run (DESIGN section 3).

mod common;
use common::{Shared, task};

#[test]
fn finds_any_txt_in_tasks_and_task_star_txt_in_member_folders() {
    let s = Shared::new();
    s.write("tasks/dog.txt", task("dog"));
    s.write("tasks/deep/er/cat.txt", task("cat"));
    s.write("anna/task_robot.txt", task("robot"));
    s.write("anna/sub/task_tree.txt", task("tree"));
    s.write("anna/notes.txt", "my notes");
    s.write("top_level.txt", task("x"));
    let mut found = s.planned_tasks();
    found.sort();
    assert_eq!(
        found,
        [
            "anna/sub/task_tree.txt",
            "anna/task_robot.txt",
            "tasks/deep/er/cat.txt",
            "tasks/dog.txt"
        ]
    );
}

#[test]
fn skips_sample_files() {
    let s = Shared::new();
    s.write("tasks/sample.txt", task("a"));
    s.write("tasks/Sample.TXT", task("a"));
    s.write("anna/task_sample.txt", task("b"));
    s.write("tasks/task_sample.txt", task("c"));
    assert!(s.planned_tasks().is_empty());
    // Not run, but not in silence: plan lists them with the reason.
    let not_run = s.not_run();
    assert_eq!(
        not_run.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        [
            "anna/task_sample.txt",
            "tasks/Sample.TXT",
            "tasks/sample.txt",
            "tasks/task_sample.txt"
        ]
    );
    assert!(
        not_run[0]
            .1
            .contains("not run: sample files (sample.txt, task_sample.txt) are templates"),
        "{not_run:?}"
    );
}

#[test]
fn skips_readme_in_any_case() {
    let s = Shared::new();
    s.write("tasks/README.txt", "read me");
    s.write("tasks/sub/readme.txt", "read me");
    s.write("tasks/ReadMe.txt", "read me");
    assert!(s.planned_tasks().is_empty());
    assert_eq!(s.not_run().len(), 3);
}

#[test]
fn skips_error_files_and_done_files() {
    let s = Shared::new();
    s.write("tasks/dog_ERROR.txt", "runvqgan could not run ...");
    s.write("anna/task_x_ERROR.txt", "runvqgan could not run ...");
    s.write("tasks/cat.txt.done", task("cat"));
    s.write("anna/task_y.txt.done", task("y"));
    assert!(s.planned_tasks().is_empty());
    // runvqgan's own files are the silent skips.
    assert!(s.not_run().is_empty(), "{:?}", s.not_run());
}

#[test]
fn skips_hidden_files_and_folders() {
    let s = Shared::new();
    s.write("tasks/.dog.txt", task("dog"));
    s.write("tasks/.sync/cat.txt", task("cat"));
    s.write(".hidden/task_x.txt", task("x"));
    s.write("anna/.trash/task_y.txt", task("y"));
    assert!(s.planned_tasks().is_empty());
}

#[test]
fn skips_a_sidecar_named_like_a_task_beside_its_png() {
    let s = Shared::new();
    // out_file "task_robot" in anna's own folder: its sidecar is task_robot_1.txt.
    s.write("anna/task_robot_1.png", b"\x89PNG");
    s.write(
        "anna/task_robot_1.txt",
        "written by someone else, not a generate call",
    );
    s.write("output/task_robot_1.png", b"\x89PNG");
    s.write("output/task_robot_1.txt", "anything");
    // The task itself, beside its outputs, is still found.
    s.write("anna/task_robot.txt", task("task_robot"));
    assert_eq!(s.planned_tasks(), ["anna/task_robot.txt"]);
    // Notes beside a picture are not run, and plan says why.
    let not_run = s.not_run();
    assert_eq!(
        s.not_run_paths(),
        ["anna/task_robot_1.txt", "output/task_robot_1.txt"]
    );
    assert!(
        not_run[0]
            .1
            .contains("it lies beside the picture task_robot_1.png and holds no task"),
        "{not_run:?}"
    );
}

#[test]
fn skips_a_sidecar_without_png_whose_first_line_is_a_generate_call() {
    let s = Shared::new();
    s.write(
        "anna/task_robot_2.txt",
        "python generate.py -p 'A robot' -i 200 -s 450 300 -o anna/task_robot_2.png\n",
    );
    s.write(
        "tasks/cat_1.txt",
        "python -m vqgan_clip.generate -p 'A cat' -o output/cat_1.png\n# task: tasks/cat.txt\n",
    );
    s.write("tasks/cat.txt", task("cat"));
    assert_eq!(s.planned_tasks(), ["tasks/cat.txt"]);
}

#[cfg(unix)]
#[test]
fn skips_files_reached_through_a_link_that_leaves_the_root() {
    let s = Shared::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("task_evil.txt"), task("evil")).unwrap();
    std::fs::write(outside.path().join("evil.txt"), task("evil")).unwrap();
    s.mkdir("anna");
    std::os::unix::fs::symlink(outside.path(), s.root().join("anna/linked")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("evil.txt"),
        s.root().join("tasks/evil.txt"),
    )
    .unwrap();
    // A link that stays inside the root is followed.
    s.write("tasks/real/ok.txt", task("ok"));
    std::os::unix::fs::symlink(s.root().join("tasks/real"), s.root().join("tasks/alias")).unwrap();
    assert_eq!(s.planned_tasks(), ["tasks/alias/ok.txt"]);
    // The link that leaves the root is never followed, but plan says it is not run.
    assert_eq!(s.not_run_paths(), ["tasks/evil.txt"]);
    assert!(
        s.not_run()[0]
            .1
            .contains("a link that leads outside the shared folder")
    );
}

#[test]
fn runs_priority_folder_first_then_members_in_turn_oldest_first() {
    let s = Shared::new();
    s.write("runvqgan.toml", "priority_folder = \"tasks/urgent\"\n");
    for (rel, t) in [
        ("anna/task_a1.txt", 10),
        ("anna/task_a2.txt", 11),
        ("anna/task_a3.txt", 12),
        ("ben/task_b1.txt", 30),
        ("ben/task_b2.txt", 31),
        ("tasks/t1.txt", 20),
        ("tasks/urgent/u1.txt", 50),
        ("tasks/urgent/u2.txt", 40),
    ] {
        s.write(rel, task("x"));
        s.set_mtime(rel, t);
    }
    // The tasks in the order of their turn tonight (each makes one image of the same size).
    let plan = s.plan_json();
    let mut by_turn: Vec<(u64, String)> = plan
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "ok")
        .map(|t| {
            (
                t["images"][0]["turn"].as_u64().unwrap(),
                t["task"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_turn.sort();
    let by_turn: Vec<String> = by_turn.into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        by_turn,
        [
            "tasks/urgent/u2.txt",
            "tasks/urgent/u1.txt",
            // Then equal shares: each member's oldest, members in the order of their oldest
            // task.
            "anna/task_a1.txt",
            "tasks/t1.txt",
            "ben/task_b1.txt",
            // Round 2.
            "anna/task_a2.txt",
            "ben/task_b2.txt",
            // Round 3.
            "anna/task_a3.txt",
        ]
    );
}

#[test]
fn equal_times_are_ordered_by_path() {
    let s = Shared::new();
    for rel in ["tasks/b.txt", "tasks/a.txt", "tasks/c.txt"] {
        s.write(rel, task("x"));
        s.set_mtime(rel, 5);
    }
    assert_eq!(
        s.planned_tasks(),
        ["tasks/a.txt", "tasks/b.txt", "tasks/c.txt"]
    );
}

/// Issue 24 item 5: files that look like tasks but are not run, as members write them.
fn lookalikes() -> Shared {
    let s = Shared::new();
    s.write("anna/task lighthouse.txt", task("lh"));
    s.write("anna/task_x.json", task("x"));
    s.write("anna/mytask.txt", task("my"));
    s.write("tasks/shared.json", task("shared"));
    s.write("task_root.txt", task("root"));
    // Quiet: notes, a picture's .txt, a template, a README, the R runner's sample.
    s.write("anna/notes.txt", "remember the lighthouse");
    s.write("anna/old_1.txt", task("old"));
    s.write("anna/old_1.png", b"png");
    s.write("anna/data.json", "[1, 2, 3]");
    s.write("task_sample.txt", task("sample"));
    s.write("README.txt", "read me");
    s
}

const LOOKALIKES: &[(&str, &str)] = &[
    (
        "anna/mytask.txt",
        "it holds a task, but in a personal folder only files named task_*.txt are run; rename it to task_mytask.txt",
    ),
    (
        "anna/task lighthouse.txt",
        "in a personal folder only names of the form task_*.txt (task, an underscore, then letters, digits, - and _) are run; rename it to task_lighthouse.txt",
    ),
    (
        "anna/task_x.json",
        "task files end in .txt, and this one ends in .json; rename it to task_x.txt",
    ),
    (
        "task_root.txt",
        "task files in the top of the shared folder are not run (the old R runner ran them); move it into tasks/ or into your own folder",
    ),
    (
        "tasks/shared.json",
        "task files end in .txt, and this one ends in .json; rename it to shared.txt",
    ),
];

#[test]
fn files_that_look_like_tasks_are_listed_by_plan_with_the_reason_and_the_new_name() {
    let s = lookalikes();
    assert!(s.planned_tasks().is_empty(), "{:?}", s.planned_tasks());
    let not_run = s.not_run();
    let want: Vec<(String, String)> = LOOKALIKES
        .iter()
        .map(|(p, r)| (p.to_string(), format!("{p}: not run: {r}")))
        .collect();
    assert_eq!(not_run, want);
}

#[test]
fn files_that_look_like_tasks_are_listed_by_check_status_and_the_nights_log() {
    let s = lookalikes();
    let (code, check) = s.check();
    assert_eq!(code, 0, "{check}");
    let status = s
        .cmd()
        .args(["status", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    // A night with nothing to run starts no engine.
    s.run_night();
    let log = s.read("runvqgan.log");
    for (path, reason) in LOOKALIKES {
        let line = format!("{path}: not run: {reason}");
        assert!(check.contains(&line), "check lacks {line}:\n{check}");
        assert!(status.contains(&line), "status lacks {line}:\n{status}");
        assert!(log.contains(&line), "the log lacks {line}:\n{log}");
    }
    for quiet in ["notes.txt", "old_1.txt", "data.json", "README.txt"] {
        assert!(!check.contains(quiet), "{quiet} is listed:\n{check}");
    }
    // Nothing is written beside a file that is not run, and nothing is renamed.
    assert!(s.exists("anna/task lighthouse.txt") && !s.exists("anna/task lighthouse_ERROR.txt"));
    assert!(s.exists("task_root.txt") && !s.exists("task_root_ERROR.txt"));
}

#[test]
fn validate_of_a_file_that_looks_like_a_task_says_the_name_to_give_it() {
    let s = lookalikes();
    for (path, reason) in LOOKALIKES {
        let (code, out) = s.validate(path);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains(&format!(
                "{path}: note: `run` does not pick up this file: {reason}."
            )),
            "{out}"
        );
    }
}

/// The gallery's folder is runvqgan's own: never walked, so its task.schema.json (named
/// like a task) is not listed and a task-like file in it is not run.
#[test]
fn the_gallery_folder_is_not_walked() {
    let s = Shared::new();
    s.write("runvqgan.toml", "gallery = \"web/gallery\"\n");
    s.write(
        "web/gallery/assets/task.schema.json",
        r#"{"$schema": "x", "properties": {}}"#,
    );
    s.write("web/gallery/task_x.txt", task("x"));
    s.write("web/task_y.txt", task("y"));
    assert_eq!(s.planned_tasks(), ["web/task_y.txt"]);
    assert!(s.not_run_paths().is_empty(), "{:?}", s.not_run());
}
