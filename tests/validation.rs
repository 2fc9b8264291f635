//! Reading and checking task files (DESIGN section 4): every error is checked for its
//! message, which names the file, the field and the fix.

mod common;
use common::{Shared, task};

/// Validates `json` written as `tasks/t.txt`; returns (exit code, report).
fn check(json: &str) -> (i32, String) {
    let s = Shared::new();
    s.write("tasks/t.txt", json);
    s.validate("tasks/t.txt")
}

/// Asserts that validating `json` fails and the report contains every one of `needles`.
fn fails_with(json: &str, needles: &[&str]) {
    let (code, out) = check(json);
    assert_eq!(code, 1, "expected exit code 1 for {json}; report:\n{out}");
    for n in needles {
        assert!(out.contains(n), "report lacks {n:?}:\n{out}");
    }
    assert!(
        out.contains("tasks/t.txt: "),
        "report does not name the file:\n{out}"
    );
}

#[test]
fn accepts_a_minimal_task() {
    let (code, out) = check(&task("dog"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("tasks/t.txt: valid: 1 image(s) of 450x300 pixels, 200 iterations each, into output/dog_N.png"), "{out}");
}

#[test]
fn scalar_and_list_forms_mean_the_same() {
    let s = Shared::new();
    s.write(
        "tasks/list.txt",
        r#"{"text": ["dog"], "style": ["", "Monet"], "iterations": [300], "out_file": ["d"], "out_folder": ["output"], "portrait": [true], "each": [2], "resolution": [400, 200], "seed": [7], "raw": ["-lr 0.2"]}"#,
    );
    s.write(
        "tasks/scalar.txt",
        r#"{"text": "dog", "style": ["", "Monet"], "iterations": 300, "out_file": "d", "out_folder": "output", "portrait": true, "each": 2, "resolution": [400, 200], "seed": 7, "raw": "-lr 0.2"}"#,
    );
    let plan = s.plan_json();
    let prompts_sizes = |i: usize| -> Vec<(String, serde_json::Value, serde_json::Value)> {
        plan[i]["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|im| {
                (
                    im["prompt"].as_str().unwrap().to_string(),
                    im["size"].clone(),
                    im["seed"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(plan[0]["status"], "ok");
    assert_eq!(prompts_sizes(0), prompts_sizes(1));
    assert_eq!(plan[0]["images"][0]["size"], serde_json::json!([200, 400]));
}

#[test]
fn accepts_bom_and_crlf() {
    let (code, out) = check("\u{feff}{\r\n  \"text\": \"dog\",\r\n  \"out_file\": \"d\"\r\n}\r\n");
    assert_eq!(code, 0, "{out}");
}

#[test]
fn portrait_decides_orientation_whatever_the_order_in_resolution() {
    let s = Shared::new();
    s.write(
        "tasks/p.txt",
        r#"{"text": "dog", "out_file": "p", "portrait": true, "resolution": [400, 200]}"#,
    );
    s.write(
        "tasks/l.txt",
        r#"{"text": "dog", "out_file": "l", "portrait": false, "resolution": [200, 400]}"#,
    );
    s.write(
        "tasks/d.txt",
        r#"{"text": "dog", "out_file": "d", "portrait": true}"#,
    );
    assert_eq!(
        s.planned("tasks/p.txt")["images"][0]["size"],
        serde_json::json!([200, 400])
    );
    assert_eq!(
        s.planned("tasks/l.txt")["images"][0]["size"],
        serde_json::json!([400, 200])
    );
    assert_eq!(
        s.planned("tasks/d.txt")["images"][0]["size"],
        serde_json::json!([300, 450])
    );
}

#[test]
fn caps_iterations_with_a_warning() {
    let s = Shared::new();
    s.write(
        "tasks/t.txt",
        r#"{"text": "dog", "out_file": "d", "iterations": 9000}"#,
    );
    let t = s.planned("tasks/t.txt");
    assert_eq!(t["status"], "ok");
    assert_eq!(t["images"][0]["iterations"], 6000);
    assert_eq!(
        t["warnings"][0],
        "`iterations` 9000 is above the workstation's limit of 6000; 6000 is used instead."
    );
}

#[test]
fn caps_each_with_a_warning() {
    let s = Shared::new();
    s.write(
        "tasks/t.txt",
        r#"{"text": "dog", "out_file": "d", "each": 30, "style": ["", "Monet"]}"#,
    );
    let t = s.planned("tasks/t.txt");
    assert_eq!(t["images"].as_array().unwrap().len(), 50);
    assert_eq!(
        t["warnings"][0],
        "`each` 30 is above the workstation's limit of 25; 25 is used instead."
    );
}

#[test]
fn caps_long_and_short_side_with_warnings() {
    let s = Shared::new();
    s.write(
        "tasks/t.txt",
        r#"{"text": "dog", "out_file": "d", "resolution": [1000, 800], "portrait": true}"#,
    );
    let t = s.planned("tasks/t.txt");
    assert_eq!(t["images"][0]["size"], serde_json::json!([300, 450]));
    let w: Vec<&str> = t["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(
        w,
        [
            "`resolution`: the long side 1000 is above the workstation's limit of 450 pixels; 450 is used instead.",
            "`resolution`: the short side 800 is above the workstation's limit of 300 pixels; 300 is used instead.",
        ]
    );
}

#[test]
fn caps_come_from_the_config_and_flags() {
    let s = Shared::new();
    s.write("runvqgan.toml", "max_iterations = 500\n");
    s.write(
        "tasks/t.txt",
        r#"{"text": "dog", "out_file": "d", "iterations": 600}"#,
    );
    assert_eq!(s.planned("tasks/t.txt")["images"][0]["iterations"], 500);
    let out = s
        .cmd()
        .args(["plan", "--json", "--max-iterations", "100", "--root", "."])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["images"][0]["iterations"], 100);
}

#[test]
fn fails_with_unknown_field_and_suggests_nearest() {
    fails_with(
        r#"{"text": "dog", "out_file": "d", "iteration": 300}"#,
        &["`iteration` is not a field of a task file; did you mean `iterations`?"],
    );
    fails_with(
        r#"{"text": "dog", "out_file": "d", "colour": "red"}"#,
        &["`colour` is not a field of a task file; the fields are text, style"],
    );
}

#[test]
fn fails_when_text_or_out_file_is_missing() {
    fails_with(
        r#"{"style": [""]}"#,
        &[
            "the required field `text` is missing; add it, for example \"text\": \"A painting of a dog\".",
            "the required field `out_file` is missing",
        ],
    );
}

#[test]
fn fails_on_wrong_types() {
    fails_with(
        r#"{"text": 5, "out_file": "d", "iterations": "200", "portrait": "yes", "style": [1], "resolution": [450]}"#,
        &[
            "`text` must be a text in double quotes, but it is the number 5",
            "`iterations` is \"200\": a number in quotes is a text, not a number; write it without quotes: \"iterations\": 200.",
            "`portrait` must be true or false (without quotes), but it is the text \"yes\"",
            "`style` must be a list of texts",
            "`resolution` must be two whole numbers [width, height]",
        ],
    );
    fails_with(
        r#"{"text": "dog", "out_file": "d", "iterations": [100, 200]}"#,
        &["`iterations` takes one value, but the list holds 2"],
    );
    fails_with(
        r#"{"text": "dog", "out_file": "d", "seed": 1.5}"#,
        &["`seed` must be a whole number"],
    );
    fails_with(r#"["dog"]"#, &["a task file holds one JSON object"]);
}

#[test]
fn fails_when_iterations_or_each_is_below_one() {
    fails_with(
        r#"{"text": "dog", "out_file": "d", "iterations": 0, "each": -1}"#,
        &[
            "`iterations` is 0, but it must be at least 1",
            "`each` is -1, but it must be at least 1",
        ],
    );
}

#[test]
fn fails_on_a_bad_out_file() {
    for (name, reason) in [
        ("a/b", "it contains a folder separator"),
        ("a\\\\b", "it contains a folder separator"),
        ("..", "it contains `..`"),
        (".hidden", "it starts with a dot"),
        ("a\\nb", "control character"),
        ("", "it is empty"),
    ] {
        fails_with(
            &format!(r#"{{"text": "dog", "out_file": "{name}"}}"#),
            &[
                "`out_file`",
                "is not a plain file name",
                reason,
                "choose the folder with `out_folder`",
            ],
        );
    }
}

#[test]
fn fails_when_out_folder_is_missing_or_leaves_the_root() {
    for (folder, reason) in [
        ("nowhere", "it does not exist"),
        ("../outside", "it contains `..`"),
        ("/etc", "it is an absolute path"),
        ("C:/Users/x", "it is a Windows drive path"),
        ("output\\\\sub", "it contains a backslash"),
        ("tasks", "inside `tasks`"),
    ] {
        fails_with(
            &format!(r#"{{"text": "dog", "out_file": "d", "out_folder": "{folder}"}}"#),
            &["`out_folder`", "cannot be used", reason],
        );
    }
}

#[cfg(unix)]
#[test]
fn fails_when_out_folder_is_a_link_out_of_the_root() {
    let s = Shared::new();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), s.root().join("escape")).unwrap();
    s.write(
        "tasks/t.txt",
        r#"{"text": "dog", "out_file": "d", "out_folder": "escape"}"#,
    );
    let (code, out) = s.validate("tasks/t.txt");
    assert_eq!(code, 1);
    assert!(out.contains("`out_folder` \"escape\" cannot be used: it leads outside the shared folder through a link"), "{out}");
}

#[test]
fn personal_tasks_write_to_the_members_folder_by_default() {
    let s = Shared::new();
    s.write("anna/robots/task_r.txt", task("robot"));
    assert_eq!(s.outputs("anna/robots/task_r.txt"), ["anna/robot_1.png"]);
}

#[test]
fn in_file_and_template_file_are_relative_to_the_task_and_inside_the_root() {
    let s = Shared::new();
    s.write(
        "anna/pics/me.png",
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/stone.png"
        ))
        .unwrap(),
    );
    s.write("anna/task_ok.txt", r#"{"text": "dog", "out_file": "d", "in_file": "pics/me.png", "template_file": "pics/me.png"}"#);
    let (code, out) = s.validate("anna/task_ok.txt");
    assert_eq!(code, 0, "{out}");
    fails_with(
        r#"{"text": "dog", "out_file": "d", "in_file": "missing.png"}"#,
        &[
            "`in_file` \"missing.png\" cannot be used: it does not exist; give the path of a picture inside the shared folder, relative to the folder of this task file (\"ref.png\" beside it, \"../output/dog_1.png\" in another folder) or in full, starting with ",
        ],
    );
    fails_with(
        r#"{"text": "dog", "out_file": "d", "template_file": "../../etc/passwd"}"#,
        &[
            "`template_file` \"../../etc/passwd\" cannot be used: it lies outside the shared folder; give the path of a picture inside the shared folder",
        ],
    );
}

#[test]
fn fails_on_raw_options_outside_the_allow_list_and_says_why() {
    fails_with(
        r#"{"text": "dog", "out_file": "d", "raw": "-o x.png -ckpt other.ckpt -cd 1 -s 100 100 -foo 1 -lr fast"}"#,
        &[
            "`raw`: the option `-o` is not allowed: runvqgan names the output files itself; use `out_file` and `out_folder`.",
            "`raw`: the option `-ckpt` is not allowed: the models are chosen by the workstation owner",
            "`raw`: the option `-cd` is not allowed: the device and determinism are set by the workstation owner",
            "`raw`: the option `-s` is not allowed: use the fields `resolution` and `portrait`",
            "`raw`: `-foo` is not an option runvqgan accepts in `raw`; the allowed options are -lr -cuts",
            "`raw`: the option `-lr` needs a number above 0, but got \"fast\"",
        ],
    );
}

#[test]
fn fails_on_a_malformed_weight_and_names_the_part() {
    fails_with(
        r#"{"text": "a dog:abc|a cat:1:x", "out_file": "d"}"#,
        &[
            "`text`: in the prompt \"a dog:abc\", the part \"abc\" after the colon is not a number.",
            "`text`: in the prompt \"a cat:1:x\", the stop \"x\" after the last colon is not a number.",
            "write `text:weight` or `text:weight:stop`",
        ],
    );
}

#[test]
fn reports_json_syntax_errors_with_line_and_column() {
    fails_with(
        "{\n  \"text\": \"dog\"\n  \"out_file\": \"d\"\n}",
        &[
            "tasks/t.txt: line 2, column 16: the file is not valid JSON: a comma is missing at the end of line 2.",
        ],
    );
}

#[test]
fn validate_reports_line_and_column_of_a_trailing_comma() {
    fails_with(
        "{\n  \"text\": \"dog\",\n  \"out_file\": \"d\",\n}\n",
        &[
            "tasks/t.txt: line 4, column 1: the file is not valid JSON: trailing comma. Remove the comma after the last field or list item.",
        ],
    );
}

#[test]
fn collects_all_problems_of_a_file() {
    let (code, out) = check(r#"{"txt": "dog", "out_file": "a/b", "each": 0, "raw": "-o x"}"#);
    assert_eq!(code, 1);
    assert_eq!(out.lines().count(), 5, "{out}");
}

#[test]
fn validate_finds_the_root_above_the_file_and_checks_several_files() {
    let s = Shared::new();
    s.write("tasks/a.txt", task("a"));
    s.write("tasks/b.txt", r#"{"text": "dog"}"#);
    let out = s
        .cmd()
        .current_dir(s.root().join("tasks"))
        .args(["validate", "a.txt", "b.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tasks/a.txt: valid"), "{text}");
    assert!(
        text.contains("tasks/b.txt: the required field `out_file` is missing"),
        "{text}"
    );
}

#[test]
fn validate_notes_when_run_would_not_pick_the_file_up() {
    let s = Shared::new();
    s.write("anna/robot.txt", task("r"));
    let (code, out) = s.validate("anna/robot.txt");
    assert_eq!(code, 0);
    assert!(out.contains("note: `run` does not pick up this file: it holds a task, but in a personal folder only files named task_*.txt are run; rename it to task_robot.txt."), "{out}");
}

#[test]
fn validate_without_a_root_checks_with_the_default_settings_and_says_so() {
    // Issue 13: a file outside every shared folder is checked, not refused.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.txt"), task("x")).unwrap();
    let mut cmd = assert_cmd::Command::cargo_bin("runvqgan").unwrap();
    cmd.current_dir(dir.path())
        .env_remove("RUNVQGAN_ROOT")
        .args(["validate", "t.txt"]);
    cmd.assert().code(0).stdout(predicates::str::contains(
        "t.txt: note: no shared folder found above this file: checked with the default settings",
    ));
}
