//! A run checks what it can before it claims anything (issue 25, item 8): `--device cuda…`
//! on a machine whose driver shows no GPU ends at once with exit code 2 and one plain line,
//! touching no task and starting no engine; a traceback in the log keeps its lines.

mod common;

use common::{Shared, tiny_models_toml};

#[test]
fn a_cuda_device_on_a_machine_without_one_is_refused_before_any_claim() {
    let s = Shared::new();
    s.write("runvqgan.toml", tiny_models_toml());
    s.write(
        "tasks/dog.txt",
        r#"{"text": "dog", "out_file": "dog", "iterations": 2, "resolution": [32, 32]}"#,
    );
    let out = s
        .cmd()
        .args(["run", "--root", ".", "--device", "cuda:0"])
        .env("RUNVQGAN_TEST_GPU", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let said: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("runvqgan:"))
        .collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(
        said[0].contains("cuda:0") && said[0].contains("--device cpu"),
        "{stderr}"
    );
    let log = s.read("runvqgan.log");
    assert!(log.contains("run failed: "), "{log}");
    assert!(
        !log.contains("loaded model set"),
        "the engine started:\n{log}"
    );
    assert!(
        !log.contains("claims:"),
        "it got as far as claiming:\n{log}"
    );
    assert!(!s.exists(".runvqgan/claims"), "a claim was made");
    assert!(!s.exists("tasks/dog_ERROR.txt") && s.exists("tasks/dog.txt"));
}

#[test]
fn a_run_that_fails_keeps_the_lines_of_its_error_indented_under_the_entry() {
    let s = Shared::new();
    // A configuration whose second line is wrong: the error has several lines (TOML's
    // message with the line shown and a caret).
    s.write("runvqgan.toml", "max_each = 3\nmax_iterations = \"many\"\n");
    let out = s.cmd().args(["run", "--root", "."]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let log = s.read("runvqgan.log");
    let entry = log
        .lines()
        .position(|l| l.contains("run failed: "))
        .unwrap_or_else(|| panic!("{log}"));
    let rest: Vec<&str> = log.lines().skip(entry + 1).collect();
    assert!(!rest.is_empty(), "the error's other lines are kept:\n{log}");
    assert!(rest.iter().all(|l| l.starts_with("    | ")), "{log}");
    assert!(!log.contains("\\n"), "no literal \\n:\n{log}");
}
