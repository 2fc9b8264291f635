//! Issues 13 and 17 from the lab member's side: the file a member (or the owner) writes, the
//! files they then see in the shared folder, and the exact words where they matter. One test
//! per "Why" bullet of each issue, plus a plan over a folder laid out like the R runner's lab.

mod common;
use common::{Shared, task};

fn stone() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stone.png"
    ))
    .unwrap()
}

fn mtime(s: &Shared, rel: &str) -> std::time::SystemTime {
    std::fs::metadata(s.root().join(rel))
        .unwrap()
        .modified()
        .unwrap()
}

/// The night's log, after a `run` that generates nothing (only invalid and not-run files).
fn night_without_images(s: &Shared) -> (i32, String) {
    let out = s
        .cmd()
        .args(["run", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let log = std::fs::read_to_string(s.root().join("runvqgan.log")).unwrap_or_default();
    (out.status.code().unwrap_or(-1), log)
}

// ---- Issue 13 ----------------------------------------------------------------------------

#[test]
fn a_typo_is_explained_beside_the_task_minutes_later_in_words_for_members() {
    let s = Shared::new();
    s.write(
        "carla/task_owl.txt",
        r#"{"text": "An owl", "out_file": "owl", "iteration": 300}"#,
    );
    let (code, out) = s.check();
    assert_eq!(code, 0, "{out}");
    let error = s.read("carla/task_owl_ERROR.txt");
    assert!(
        error.contains("`iteration` is not a field of a task file; did you mean `iterations`?"),
        "{error}"
    );
    assert!(
        error.contains("Fix the task file and save it: it is checked again within a few minutes"),
        "{error}"
    );
    assert!(!error.contains("runvqgan validate"), "no shell: {error}");
    // Nothing else appeared, and the task is untouched.
    assert!(s.exists("carla/task_owl.txt"));
    assert!(!s.exists("carla/task_owl_WARNINGS.txt"));
}

#[test]
fn a_fixed_task_loses_its_old_error_file_at_the_next_check() {
    let s = Shared::new();
    s.write(
        "tasks/moon.txt",
        r#"{"text": "moon", "out_file": "moon", "each": 0}"#,
    );
    s.check();
    assert!(s.exists("tasks/moon_ERROR.txt"));
    s.write(
        "tasks/moon.txt",
        r#"{"text": "moon", "out_file": "moon", "each": 75}"#,
    );
    s.check();
    assert!(!s.exists("tasks/moon_ERROR.txt"));

    // A failure while generating, reported last night, is replaced or removed as the task
    // changes: the member saved the task after reading it.
    s.write(
        "tasks/moon_ERROR.txt",
        "runvqgan could not finish the task file tasks/moon.txt.\n\nThe GPU ran out of memory.\n",
    );
    s.set_mtime("tasks/moon_ERROR.txt", 100);
    s.set_mtime("tasks/moon.txt", 50);
    s.check();
    assert!(
        s.exists("tasks/moon_ERROR.txt"),
        "the task was not saved since the failure: the member still needs to read it"
    );
    s.set_mtime("tasks/moon.txt", 200);
    s.check();
    assert!(!s.exists("tasks/moon_ERROR.txt"));
}

#[test]
fn a_ratio_a_time_and_a_style_with_commas_are_pointed_out_in_a_warnings_file() {
    let s = Shared::new();
    s.write(
        "tasks/photo.txt",
        r#"{"text": "photo in ratio 3:2|clock at 10:30", "style": ["Picasso, Monet"], "out_file": "photo"}"#,
    );
    s.check();
    let note = s.read("tasks/photo_WARNINGS.txt");
    assert!(
        note.starts_with("runvqgan accepts the task file tasks/photo.txt, but please check:\n"),
        "{note}"
    );
    assert!(note.contains("  - `text`: \"photo in ratio 3:2\" is read as the prompt \"photo in ratio 3\" with weight 2, because a colon in a prompt starts its weight."), "{note}");
    assert!(
        note.contains("\"clock at 10:30\" is read as the prompt \"clock at 10\" with weight 30"),
        "{note}"
    );
    assert!(note.contains("  - `style`: \"Picasso, Monet\" is one style: its images are made \"in the style of Picasso, Monet\". For one series of images per style, write each as its own list entry: [\"Picasso\", \"Monet\"]."), "{note}");
    // plan shows the same warnings; the task still runs.
    let planned = s.planned("tasks/photo.txt");
    assert_eq!(planned["status"], "ok");
    assert_eq!(planned["warnings"].as_array().unwrap().len(), 3);
    // The note stays while it applies, and is not rewritten; it goes once fixed.
    s.set_mtime("tasks/photo_WARNINGS.txt", 1);
    let before = mtime(&s, "tasks/photo_WARNINGS.txt");
    s.check();
    assert_eq!(mtime(&s, "tasks/photo_WARNINGS.txt"), before);
    s.write(
        "tasks/photo.txt",
        r#"{"text": "photo in ratio 3 to 2", "style": ["Picasso", "Monet"], "out_file": "photo"}"#,
    );
    let (_, out) = s.check();
    assert!(
        out.contains("tasks/photo.txt: removed tasks/photo_WARNINGS.txt, which no longer applies"),
        "{out}"
    );
    assert!(!s.exists("tasks/photo_WARNINGS.txt"));
    // The warnings note is runvqgan's own file: never a task, never listed.
    s.write(
        "tasks/photo.txt",
        r#"{"text": "x 3:2", "out_file": "photo", "each": 99}"#,
    );
    s.check();
    assert!(s.exists("tasks/photo_WARNINGS.txt"));
    assert_eq!(s.planned_tasks(), ["tasks/photo.txt"]);
    assert!(s.not_run().is_empty());
}

#[test]
fn curly_quotes_are_named_with_the_fix() {
    let s = Shared::new();
    s.write(
        "tasks/word.txt",
        "{\u{201C}text\u{201D}: \u{201C}A dog\u{201D}, \"out_file\": \"dog\"}",
    );
    s.check();
    let error = s.read("tasks/word_ERROR.txt");
    assert!(error.contains("line 1, column 2: the file is not valid JSON: key must be a string. The file contains curly quotes (\u{201C} \u{201D}), which word processors type instead of straight ones; JSON needs straight double quotes (\") around every field name and text."), "{error}");
    // Curly quotes inside a text are fine.
    s.write(
        "tasks/word.txt",
        "{\"text\": \"A \u{201C}friendly\u{201D} dog\", \"out_file\": \"dog\"}",
    );
    s.check();
    assert!(!s.exists("tasks/word_ERROR.txt"));
}

#[test]
fn a_task_in_tasks_can_start_from_last_nights_image() {
    let s = Shared::new();
    s.write("output/lighthouse_1.png", stone());
    s.write(
        "tasks/again.txt",
        r#"{"text": "lighthouse", "out_file": "again", "template_file": "../output/lighthouse_1.png", "in_file": "../output/lighthouse_1.png"}"#,
    );
    let (code, out) = s.validate("tasks/again.txt");
    assert_eq!(code, 0, "{out}");
    assert_eq!(s.planned("tasks/again.txt")["status"], "ok");
    // Climbing out of the shared folder is still refused, with the same message as a full
    // path outside it.
    for bad in ["../../../etc/passwd", "/etc/passwd"] {
        s.write(
            "tasks/again.txt",
            format!(r#"{{"text": "x", "out_file": "again", "in_file": "{bad}"}}"#),
        );
        let (code, out) = s.validate("tasks/again.txt");
        assert_eq!(code, 1);
        assert!(
            out.contains(&format!("`in_file` \"{bad}\" cannot be used: it lies outside the shared folder; give the path of a picture inside the shared folder, relative to the folder of this task file")),
            "{out}"
        );
    }
}

#[test]
fn validate_opens_the_picture_and_blames_the_file_not_the_workstation() {
    let s = Shared::new();
    s.write("anna/sketch.png", "this is a text file, not a picture");
    s.write(
        "anna/task_sketch.txt",
        r#"{"text": "x", "out_file": "s", "in_file": "sketch.png"}"#,
    );
    let (code, out) = s.validate("anna/task_sketch.txt");
    assert_eq!(code, 1);
    assert!(out.contains("anna/task_sketch.txt: `in_file` \"sketch.png\" cannot be used: it is not a picture: its content is not PNG or JPEG (a file renamed to .png does not become a picture); save or export the picture as PNG or JPEG."), "{out}");
    s.check();
    assert!(s.read("anna/task_sketch_ERROR.txt").contains(
        "(field `in_file`):\n  `in_file` \"sketch.png\" cannot be used: it is not a picture"
    ));
}

#[test]
fn validate_checks_a_file_outside_any_shared_folder_with_the_defaults_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.txt");
    std::fs::write(&file, r#"{"text": "dog", "out_file": "dog", "each": 99}"#).unwrap();
    let out = assert_cmd::Command::cargo_bin("runvqgan")
        .unwrap()
        .env_remove("RUNVQGAN_ROOT")
        .current_dir(dir.path())
        .args(["validate", "mine.txt"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("mine.txt: note: no shared folder found above this file: checked with the default settings"), "{stdout}");
    assert!(stdout.contains("mine.txt: valid: 25 image(s)"), "{stdout}");
    assert!(
        stdout.contains("`each` 99 is above the workstation's limit of 25"),
        "{stdout}"
    );
}

#[test]
fn validate_of_a_glob_passes_over_error_files_and_sidecars_with_a_note() {
    let s = Shared::new();
    s.write("carla/task_a.txt", task("a"));
    s.write("carla/task_b.txt", r#"{"text": "b"}"#);
    s.check();
    s.write(
        "carla/task_a_1.txt",
        "python generate.py -p 'a' -i 200 -s 450 300 -o carla/task_a_1.png\n",
    );
    s.write("carla/task_a_1.png", stone());
    // What the shell gives for carla/task_*.
    let out = s
        .cmd()
        .args([
            "validate",
            "carla/task_a.txt",
            "carla/task_a_1.png",
            "carla/task_a_1.txt",
            "carla/task_b.txt",
            "carla/task_b_ERROR.txt",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "task_b is invalid: {stdout}");
    assert!(stdout.contains("carla/task_a.txt: valid"), "{stdout}");
    assert!(stdout.contains("carla/task_a_1.txt: skipped: it is the .txt of an image (its first line is a generate call), not a task"), "{stdout}");
    assert!(stdout.contains("carla/task_b_ERROR.txt: skipped: it is an error report (_ERROR.txt) about a task, not a task"), "{stdout}");
    assert!(
        stdout.contains("carla/task_a_1.png: skipped: only .txt files are task files."),
        "{stdout}"
    );
    assert!(!stdout.contains("task_b_ERROR.txt: line"), "{stdout}");
    assert!(
        stdout.contains("carla/task_b.txt: the required field `out_file` is missing"),
        "{stdout}"
    );
}

#[test]
fn a_general_setting_under_the_model_heading_is_explained() {
    let s = Shared::new();
    s.write(
        "runvqgan.toml",
        "[models.default]\nclip_model = \"ViT-B/32\"\nmax_each = 10\n",
    );
    let out = s
        .cmd()
        .args(["plan", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("`max_each` sits under [models.default] because it comes after that heading"),
        "{stderr}"
    );
    assert!(
        stderr.contains("move the line `max_each = 10` above the first [heading]"),
        "{stderr}"
    );
    assert!(!stderr.contains("did you mean `max_each`"), "{stderr}");
}

// ---- Issue 17 ----------------------------------------------------------------------------

#[test]
fn a_task_whose_name_ends_in_error_in_any_case_runs() {
    let s = Shared::new();
    s.write("tasks/a22_trial_and_error.txt", task("a22"));
    s.write("tasks/a23_Trial_Error.txt", task("a23"));
    s.write("tasks/a24_ERROR.txt", task("a24"));
    let mut planned = s.planned_tasks();
    planned.sort();
    assert_eq!(
        planned,
        [
            "tasks/a22_trial_and_error.txt",
            "tasks/a23_Trial_Error.txt",
            "tasks/a24_ERROR.txt"
        ]
    );
    assert_eq!(
        s.outputs("tasks/a22_trial_and_error.txt"),
        ["output/a22_1.png"]
    );
    let (_, out) = s.check();
    assert!(out.contains("3 valid"), "{out}");
}

#[test]
fn a_task_beside_the_picture_it_uses_runs() {
    let s = Shared::new();
    s.write("tasks/a21_ref.png", stone());
    s.write(
        "tasks/a21_ref.txt",
        r#"{"text": ["A stone"], "in_file": ["a21_ref.png"], "out_file": ["a21"]}"#,
    );
    assert_eq!(s.planned_tasks(), ["tasks/a21_ref.txt"]);
    assert_eq!(s.planned("tasks/a21_ref.txt")["status"], "ok");
    assert_eq!(s.outputs("tasks/a21_ref.txt"), ["output/a21_1.png"]);
}

#[test]
fn a_task_blocked_by_something_outside_it_runs_once_that_is_fixed() {
    let s = Shared::new();
    // The missing picture: the member adds it later, without saving the task again.
    s.write(
        "anna/task_cat.txt",
        r#"{"text": "cat", "out_file": "cat", "in_file": "cat.png"}"#,
    );
    s.set_mtime("anna/task_cat.txt", 0);
    let (code, log) = night_without_images(&s);
    assert_eq!(code, 3, "{log}");
    assert!(log.contains("task invalid: anna/task_cat.txt"), "{log}");
    assert!(
        s.read("anna/task_cat_ERROR.txt")
            .contains("it does not exist")
    );
    s.write("anna/cat.png", stone());
    assert_eq!(s.planned("anna/task_cat.txt")["status"], "ok");
    s.check();
    assert!(!s.exists("anna/task_cat_ERROR.txt"));

    // At migration: an R runner error file newer than its task does not hold the task back,
    // and is removed once the task is valid.
    s.write("tasks/old.txt", task("old"));
    s.set_mtime("tasks/old.txt", 0);
    s.write(
        "tasks/old_ERROR.txt",
        "Error: Target folder does not exist!\n",
    );
    assert_eq!(s.planned("tasks/old.txt")["status"], "ok");
    let (_, out) = s.check();
    assert!(
        out.contains("tasks/old.txt: removed tasks/old_ERROR.txt"),
        "{out}"
    );
    // One still invalid gets runvqgan's explanation in place of the R runner's.
    s.write("tasks/bad.txt", r#"{"text": "bad"}"#);
    s.write(
        "tasks/bad_ERROR.txt",
        "Error in parameter file. Check format!\n",
    );
    s.check();
    assert!(
        s.read("tasks/bad_ERROR.txt")
            .contains("the required field `out_file` is missing")
    );
}

#[test]
fn an_absolute_in_file_inside_the_shared_folder_is_accepted() {
    let s = Shared::new();
    s.write("bob/ref.png", stone());
    let full = s.root().join("bob/ref.png");
    s.write(
        "bob/task_ref.txt",
        format!(
            r#"{{"text": "x", "out_file": "r", "in_file": "{}"}}"#,
            full.display()
        ),
    );
    let (code, out) = s.validate("bob/task_ref.txt");
    assert_eq!(code, 0, "{out}");
    // A Windows path from the R runner's days: refused, saying what to write.
    s.write(
        "bob/task_win.txt",
        r#"{"text": "x", "out_file": "w", "in_file": "C:/Users/bob/ref.png"}"#,
    );
    let (_, out) = s.validate("bob/task_win.txt");
    assert!(out.contains("`in_file` \"C:/Users/bob/ref.png\" cannot be used: it is a Windows drive path; give the path of a picture inside the shared folder, relative to the folder of this task file"), "{out}");
    assert!(
        !out.contains("relative to the shared folder, such as"),
        "{out}"
    );
}

#[test]
fn files_not_run_are_reported_by_plan_check_and_the_nights_log() {
    let s = Shared::new();
    s.write("tasks/sample.txt", task("sample"));
    s.write("tasks/notes.png", stone());
    s.write("tasks/notes.txt", "ideas for next week");
    s.write("tasks/broken_ERROR.txt", "my own text");
    s.write("tasks/bad.txt", r#"{"text": "x"}"#);
    let reasons = s.not_run();
    let paths: Vec<&str> = reasons.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "tasks/broken_ERROR.txt",
            "tasks/notes.txt",
            "tasks/sample.txt"
        ]
    );
    let (code, log) = night_without_images(&s);
    assert_eq!(code, 3, "a new invalid task: {log}");
    assert!(
        log.contains(
            "tasks/notes.txt: not run: it lies beside the picture notes.png and holds no task"
        ),
        "{log}"
    );
    assert!(
        log.contains("tasks/sample.txt: not run: sample files"),
        "{log}"
    );
    assert!(
        log.contains("tasks/broken_ERROR.txt: not run: its name ends in _ERROR.txt"),
        "{log}"
    );
    let (_, out) = s.check();
    for (p, _) in &reasons {
        assert!(out.contains(&format!("{p}: not run: ")), "{out}");
    }
    // A second night with nothing changed: the invalid task is still reported in the log,
    // its error file is not rewritten, and the exit code says nothing new went wrong.
    s.set_mtime("tasks/bad_ERROR.txt", 1);
    let before = mtime(&s, "tasks/bad_ERROR.txt");
    let (code, log) = night_without_images(&s);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("task still invalid: tasks/bad.txt"), "{log}");
    assert_eq!(mtime(&s, "tasks/bad_ERROR.txt"), before);
}

/// The task files the R runner's `get_task_files` picked up: every `.txt` under `tasks/`
/// whose path does not contain `sample.txt`, every `task_*.txt` anywhere, without paths
/// ending in `_ERROR.txt` (its pattern `_ERROR.txt$`, where `.` is any character) or
/// `README.txt`; less the sidecars it wrote itself (first line `python generate.py`), which
/// it tried to read as tasks when their name started with `task_`.
fn r_runner_would_run(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let name = entry.file_name().to_string_lossy().into_owned();
        let in_tasks =
            rel.starts_with("tasks/") && rel.ends_with(".txt") && !rel.contains("sample.txt");
        let task_name = name.starts_with("task_")
            && name.ends_with(".txt")
            && name != "sample.txt"
            && name != "task_sample.txt";
        if !(in_tasks || task_name) {
            continue;
        }
        let error_like = rel.len() >= 10 && {
            let tail = &rel[rel.len() - 10..];
            tail.starts_with("_ERROR") && tail.ends_with("txt")
        };
        if error_like || rel.ends_with("README.txt") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if text.starts_with("python generate.py") {
            continue;
        }
        out.push(rel);
    }
    out.sort();
    out
}

#[test]
fn plan_over_an_r_runner_lab_plans_every_task_it_ran_or_says_why() {
    let s = Shared::new();
    let r_sidecar = |prompt: &str, out: &str| {
        format!(
            "python generate.py -p '{prompt}' -i 300 -s 450 300 -o C:/Users/alex/Nextcloud/Projects/vqgan-clip/{out}\n\n"
        )
    };
    // The shared task folder, as the lab's README describes it.
    s.write(
        "tasks/README.txt",
        "Readme file for running VQGAN-CLIP on Alex's workstation",
    );
    s.write(
        "tasks/sample.txt",
        r#"{"text": ["A painting of a something doing something"], "style": ["", "Banksy"], "iterations": [200], "out_file": ["something"], "out_folder": ["output"], "portrait": [false], "each": [1]}"#,
    );
    s.write(
        "tasks/a20_lighthouse.txt",
        r#"{"text": ["A painting of a lighthouse"], "style": [""], "iterations": [300], "out_file": ["a20"], "out_folder": ["output"], "portrait": [false], "each": [2]}"#,
    );
    s.write("tasks/a21_ref.png", stone());
    s.write(
        "tasks/a21_ref.txt",
        r#"{"text": ["A stone"], "style": [""], "iterations": [100], "out_file": ["a21"], "out_folder": ["output"], "portrait": [false], "each": [1], "in_file": ["a21_ref.png"]}"#,
    );
    s.write("tasks/a22_trial_and_error.txt", task("a22"));
    // Fixed after the R runner's last night: its error file is newer than the task.
    s.write("tasks/a23_fixed.txt", task("a23"));
    s.set_mtime("tasks/a23_fixed.txt", 0);
    s.write(
        "tasks/a23_fixed_ERROR.txt",
        "Error in parameter file. Check format!\n",
    );
    // Still broken, with the R runner's error file.
    s.write(
        "tasks/a24_broken.txt",
        "{\"text\": [\"A cat\"], \"out_file\": [\"a24\"],}",
    );
    s.write(
        "tasks/a24_broken_ERROR.txt",
        "Error in parameter file. Not in JSON format??\n",
    );
    s.write("tasks/a19_done.txt.done", task("a19"));
    s.write(
        "tasks/a18_done_ERROR.txt",
        "Error: Target folder does not exist!\n",
    );
    // Plain notes beside a picture in tasks/.
    s.write("tasks/moodboard.png", stone());
    s.write("tasks/moodboard.txt", "colours: teal, orange");
    // Output with R runner sidecars (one named like a task).
    for n in 1..=3 {
        s.write(&format!("output/a20_{n}.png"), stone());
        s.write(
            &format!("output/a20_{n}.txt"),
            r_sidecar("A painting of a lighthouse", &format!("output/a20_{n}.png")),
        );
    }
    s.write("output/task_x_1.png", stone());
    s.write("output/task_x_1.txt", r_sidecar("x", "output/task_x_1.png"));
    // Member folders.
    s.write("alex/task_sample.txt", task("sample"));
    s.write("alex/task_owl.txt", task("owl"));
    s.write("alex/notes.txt", "not a task");
    s.write(
        "bob/task_forest.txt",
        r#"{"text": "forest", "out_file": "forest", "iteration": 3}"#,
    );
    s.write(
        "bob/task_forest_ERROR.txt",
        "Error in parameter file. Check format!\n",
    );
    s.write("bob/bob_forest_1.png", stone());
    s.write(
        "bob/bob_forest_1.txt",
        r_sidecar("forest", "bob/bob_forest_1.png"),
    );
    s.write("bob/deep/task_river.txt", task("river"));

    let expected_r = r_runner_would_run(&s.root());
    let planned = s.planned_tasks();
    let not_run = s.not_run();
    for rel in &expected_r {
        let reported = planned.contains(rel)
            || not_run
                .iter()
                .any(|(p, why)| p == rel && why.contains("not run: "));
        assert!(
            reported,
            "{rel}: the R runner ran it, but plan neither plans it nor says why\nplanned: {planned:?}\nnot run: {not_run:?}"
        );
    }
    let mut planned_sorted = planned.clone();
    planned_sorted.sort();
    assert_eq!(
        planned_sorted,
        [
            "alex/task_owl.txt",
            "bob/deep/task_river.txt",
            "bob/task_forest.txt",
            "tasks/a20_lighthouse.txt",
            "tasks/a21_ref.txt",
            "tasks/a22_trial_and_error.txt",
            "tasks/a23_fixed.txt",
            "tasks/a24_broken.txt",
        ]
    );
    let status = |rel: &str| s.planned(rel)["status"].as_str().unwrap().to_string();
    for ok in [
        "alex/task_owl.txt",
        "bob/deep/task_river.txt",
        "tasks/a20_lighthouse.txt",
        "tasks/a21_ref.txt",
        "tasks/a22_trial_and_error.txt",
        "tasks/a23_fixed.txt",
    ] {
        assert_eq!(status(ok), "ok", "{ok}");
    }
    assert_eq!(status("tasks/a24_broken.txt"), "invalid");
    assert_eq!(status("bob/task_forest.txt"), "invalid");
    // Numbering continues after the R runner's images.
    assert_eq!(
        s.outputs("tasks/a20_lighthouse.txt"),
        ["output/a20_4.png", "output/a20_5.png"]
    );
    assert_eq!(
        s.not_run_paths(),
        [
            "alex/task_sample.txt",
            "tasks/README.txt",
            "tasks/moodboard.txt",
            "tasks/sample.txt"
        ]
    );
    // The daytime check turns the R runner's error files into runvqgan's or removes them.
    s.check();
    assert!(!s.exists("tasks/a23_fixed_ERROR.txt"));
    assert!(
        s.read("tasks/a24_broken_ERROR.txt")
            .starts_with("runvqgan could not run the task file tasks/a24_broken.txt.")
    );
    assert!(
        s.read("bob/task_forest_ERROR.txt")
            .contains("did you mean `iterations`?")
    );
    assert_eq!(
        s.read("tasks/a18_done_ERROR.txt"),
        "Error: Target folder does not exist!\n",
        "an R error file beside a finished task is left alone"
    );
}

#[test]
fn reproduce_of_a_picture_uses_its_txt_or_the_settings_in_the_picture() {
    use runvqgan::call::png_settings::{Source, from_png, source};
    let s = Shared::new();
    let _root = runvqgan::shared_folder::root::Root::open(&s.root()).unwrap();
    // A PNG as the engine writes it: the settings as JSON in a text chunk.
    let settings = r#"{"prompts": "A stone", "iterations": 3, "size": [64, 64], "seed": 42, "clip_model": "ViT-B/32", "vqgan_config": "models/v.yaml", "vqgan_checkpoint": "models/v.ckpt", "deterministic": true, "mode": "reference", "size_used": [64, 64]}"#;
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, 1, 1);
        enc.set_color(png::ColorType::Grayscale);
        enc.add_text_chunk("settings".into(), settings.into())
            .unwrap();
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[0]).unwrap();
    }
    let png_path = s.write("output/stone_1.png", &bytes);
    let exists = |p: &std::path::Path| p.is_file();
    // Without its .txt: the settings recorded in the picture.
    let src = source(&png_path, &exists);
    assert_eq!(src, Source::Picture(png_path.clone()));
    assert_eq!(src.sidecar_path(), s.root().join("output/stone_1.txt"));
    assert!(
        src.note(std::path::Path::new("stone_1.png"))
            .unwrap()
            .contains("has no .txt beside it: using the settings recorded in the picture itself")
    );
    let sidecar = from_png(&png_path).unwrap();
    assert_eq!(sidecar.call.job.prompts.as_deref(), Some("A stone"));
    assert_eq!(sidecar.call.job.seed, Some(42));
    assert_eq!(sidecar.call.job.iterations, Some(3));
    assert_eq!(
        sidecar.call.models.vqgan_checkpoint.as_deref(),
        Some("models/v.ckpt")
    );
    assert!(sidecar.call.deterministic);
    // With its .txt beside it, the .txt is used (not "stream did not contain valid UTF-8").
    s.write(
        "output/stone_1.txt",
        "python generate.py -p 'A stone' -i 5 -s 64 64 -sd 7 -o output/stone_1.png\n",
    );
    let src = source(&png_path, &exists);
    assert_eq!(
        src,
        Source::TxtBesidePicture(s.root().join("output/stone_1.txt"))
    );
    assert!(
        src.note(std::path::Path::new("stone_1.png"))
            .unwrap()
            .contains("is a picture: using the .txt beside it")
    );
    // A .txt is read as it is.
    let txt = s.root().join("output/stone_1.txt");
    assert_eq!(source(&txt, &exists), Source::Sidecar(txt.clone()));
}
