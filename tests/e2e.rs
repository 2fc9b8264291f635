//! End to end: the real binary, the embedded Python engine and the tiny random models
//! (`models/tiny`, made by `scripts/setup.sh --env-only`) on a shared folder as the lab's
//! members fill it. These tests run Python; the task-file tests elsewhere never do.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use common::{Shared, tiny_models_toml};

/// A shared folder whose runvqgan.toml uses the tiny models.
fn shared_with_models() -> Shared {
    let shared = Shared::new();
    shared.write("runvqgan.toml", tiny_models_toml());
    shared
}

/// `runvqgan run --root ROOT` to its end; panics with its stderr unless it exits `code`.
fn run_night(shared: &Shared, code: i32) -> std::process::Output {
    let out = shared
        .cmd()
        .args(["run", "--root"])
        .arg(shared.root())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "runvqgan run exited {:?}; stderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `runvqgan reproduce SIDECAR`, run in the root; panics with its stderr unless it succeeds.
fn reproduce(shared: &Shared, sidecar: &str) -> std::process::Output {
    let out = shared.cmd().args(["reproduce", sidecar]).output().unwrap();
    assert!(
        out.status.success(),
        "runvqgan reproduce {sidecar} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every file under the root except the hidden ones, the log and the gallery (tested in
/// tests/gallery.rs), with its size and modification time.
fn files(root: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
    {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(root).unwrap();
            let rel = rel.to_string_lossy().replace('\\', "/");
            if rel == "runvqgan.log" || rel.starts_with("gallery/") {
                continue;
            }
            let meta = entry.metadata().unwrap();
            out.insert(rel, (meta.len(), meta.modified().unwrap()));
        }
    }
    out
}

fn names(root: &Path) -> Vec<String> {
    files(root).into_keys().collect()
}

/// No temporary file is left anywhere, hidden or not.
fn assert_no_temporaries(root: &Path) {
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy();
        assert!(
            !name.ends_with(".tmp") && !name.contains(".part"),
            "temporary file left behind: {}",
            entry.path().display()
        );
    }
}

fn log_text(root: &Path) -> String {
    std::fs::read_to_string(root.join("runvqgan.log")).unwrap_or_default()
}

const SIZE: &str = "\"resolution\": [48, 32]";

/// Three members and the common folder: a plain valid task, an invalid one, two styles x
/// two repetitions, and an image prompt (`in_file`).
fn lab_folder() -> Shared {
    let shared = shared_with_models();
    // Alice's four images are optimised together, as on a GPU (the CPU default is 1), so
    // reproducing one of them alone checks that batching does not change an image.
    shared.write(
        "runvqgan.toml",
        format!("max_batch = 4\n{}", tiny_models_toml()),
    );
    // An earlier image of the same name: the new one must be numbered after it.
    shared.write("output/lighthouse_1.png", b"not really a png");
    shared.write(
        "tasks/lighthouse.txt",
        format!(
            r#"{{"text": ["A lighthouse in a storm"], "iterations": [4], "out_file": ["lighthouse"], "seed": 7, {SIZE}}}"#
        ),
    );
    shared.write(
        "alice/task_robot.txt",
        format!(
            r#"{{"text": "A \"friendly\" robot:1.5|rust:-0.3", "style": ["", "Banksy"], "each": 2, "iterations": 3, "out_file": "alice_robot", {SIZE}}}"#
        ),
    );
    shared.write(
        "bob/task_forest.txt",
        r#"{"text": "A forest", "iteration": 3, "out_file": "bob_forest"}"#,
    );
    shared.write(
        "carol/stone.png",
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stone.png"))
            .unwrap(),
    );
    shared.write(
        "carol/task_stone.txt",
        format!(
            r#"{{"text": "A stone", "in_file": "stone.png", "iterations": 3, "out_file": "carol_stone", {SIZE}}}"#
        ),
    );
    shared
}

#[test]
fn a_night_makes_exactly_the_expected_files_then_a_second_run_changes_nothing_and_reproduce_is_byte_identical()
 {
    let shared = lab_folder();
    let root = shared.root();

    // An invalid task makes the exit code 3.
    let first = run_night(&shared, 3);
    let stderr = String::from_utf8_lossy(&first.stderr);

    let expected = [
        "alice/alice_robot_1.png",
        "alice/alice_robot_1.txt",
        "alice/alice_robot_2.png",
        "alice/alice_robot_2.txt",
        "alice/alice_robot_3.png",
        "alice/alice_robot_3.txt",
        "alice/alice_robot_4.png",
        "alice/alice_robot_4.txt",
        "alice/task_robot.txt.done",
        "bob/task_forest.txt",
        "bob/task_forest_ERROR.txt",
        "carol/carol_stone_1.png",
        "carol/carol_stone_1.txt",
        "carol/stone.png",
        "carol/task_stone.txt.done",
        "output/lighthouse_1.png",
        "output/lighthouse_2.png",
        "output/lighthouse_2.txt",
        "runvqgan.toml",
        "tasks/lighthouse.txt.done",
    ];
    assert_eq!(names(&root), expected, "stderr:\n{stderr}");
    assert_no_temporaries(&root);
    // The run ends by building the gallery of every image with a sidecar.
    let data = std::fs::read_to_string(root.join("gallery/data.js")).unwrap();
    assert_eq!(data.matches("\"id\":").count(), 6, "{data}");
    assert!(data.contains("\"id\":\"carol/carol_stone_1.png\""));
    // Sidecars record the versions and switches an image depends on.
    let sidecar = std::fs::read_to_string(root.join("alice/alice_robot_1.txt")).unwrap();
    for key in [
        "# torch: ",
        "# cuda: ",
        "# driver: ",
        "# determinism: deterministic algorithms on",
    ] {
        assert!(sidecar.contains(key), "{key} missing:\n{sidecar}");
    }

    // Every new PNG is a real PNG; the old file was not touched.
    for png in expected.iter().filter(|n| n.ends_with(".png")) {
        let bytes = std::fs::read(root.join(png)).unwrap();
        if *png == "output/lighthouse_1.png" {
            assert_eq!(bytes, b"not really a png");
        } else {
            assert!(
                bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
                "{png} is not a PNG"
            );
        }
    }

    // The error file names the field and the fix.
    let error = std::fs::read_to_string(root.join("bob/task_forest_ERROR.txt")).unwrap();
    assert!(error.contains("`iteration`"), "{error}");
    assert!(error.contains("did you mean `iterations`?"), "{error}");

    // The styles: images 3 and 4 carry the style before the first prompt's weight.
    let third = std::fs::read_to_string(root.join("alice/alice_robot_3.txt")).unwrap();
    assert!(
        third.starts_with(
            "python generate.py -p 'A \"friendly\" robot in the style of Banksy:1.5|rust:-0.3'"
        ),
        "{third}"
    );
    assert!(third.contains("# image: 3 of 4"), "{third}");
    assert!(
        third.contains("# batch-size: 4"),
        "made in one batch: {third}"
    );
    assert!(third.contains(" -sd "), "the seed is recorded: {third}");
    let first_plain = std::fs::read_to_string(root.join("alice/alice_robot_1.txt")).unwrap();
    assert!(
        first_plain.starts_with("python generate.py -p 'A \"friendly\" robot:1.5|rust:-0.3'"),
        "{first_plain}"
    );
    let lighthouse = std::fs::read_to_string(root.join("output/lighthouse_2.txt")).unwrap();
    assert!(
        lighthouse.contains(" -sd 7 "),
        "seed + k - 1 for k = 1: {lighthouse}"
    );
    let stone = std::fs::read_to_string(root.join("carol/carol_stone_1.txt")).unwrap();
    assert!(stone.contains(" -ip carol/stone.png "), "{stone}");

    // The models were loaded once for the whole night.
    let log = log_text(&root);
    assert_eq!(
        log.matches("loaded model set").count(),
        1,
        "models are loaded once per run:\n{log}"
    );
    assert_eq!(
        log.lines().filter(|l| l.contains(" image ")).count(),
        6,
        "one log line per image:\n{log}"
    );
    assert!(
        log.contains("3 task(s) done, 0 failed, 1 invalid, 0 skipped; 6 image(s) written"),
        "{log}"
    );

    // A second run changes nothing: the invalid task is not retried, nothing is remade.
    let before = files(&root);
    run_night(&shared, 0);
    assert_eq!(files(&root), before, "the second run changed files");
    assert!(
        !log_text(&root)[log.len()..].contains("loaded model set"),
        "nothing to make: no models are loaded"
    );

    // reproduce gives the same bytes, under the next free number, and says where.
    let out = reproduce(&shared, "alice/alice_robot_3.txt");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("note:"),
        "same method, nothing to note: {stdout}"
    );
    let original = std::fs::read(root.join("alice/alice_robot_3.png")).unwrap();
    let again = std::fs::read(root.join("alice/alice_robot_5.png")).unwrap();
    assert!(original == again, "reproduce gave different bytes");
    let copy = std::fs::read_to_string(root.join("alice/alice_robot_5.txt")).unwrap();
    assert!(
        copy.contains("# reproduced-from: alice/alice_robot_3.txt"),
        "{copy}"
    );
    assert!(
        copy.contains("# engine-mode: fast") && !copy.contains("# batch-size:"),
        "the copy records how it was made itself, alone: {copy}"
    );
    assert!(
        copy.contains("\n# method: upstream-2022-parity-"),
        "the copy records the method its image follows: {copy}"
    );
    assert_eq!(
        std::fs::read(root.join("alice/alice_robot_3.txt")).unwrap(),
        third.as_bytes(),
        "the original sidecar is untouched"
    );
}

#[test]
fn reproduce_accepts_an_r_runner_sidecar_and_says_the_result_will_differ() {
    let shared = shared_with_models();
    let root = shared.root();
    shared.write(
        "output/dog_1.txt",
        "python generate.py -p 'A painting of a dog' -i 2 -s 48 32 -o C:/x/output/dog_1.png\n\n",
    );
    shared.write("output/dog_1.png", b"old image");
    let out = reproduce(&shared, "output/dog_1.txt");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("records no seed"), "{stdout}");
    assert!(
        stdout.contains("was made before images recorded their method"),
        "{stdout}"
    );
    assert!(stdout.contains("will differ"), "{stdout}");
    assert!(root.join("output/dog_2.png").exists());
    assert!(root.join("output/dog_2.txt").exists());
    assert_eq!(
        std::fs::read(root.join("output/dog_1.png")).unwrap(),
        b"old image"
    );
}

/// Starts `runvqgan run` in the background with its stderr going to a file.
fn spawn_run(shared: &Shared, stderr: &Path) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("runvqgan"))
        .args(["run", "--root"])
        .arg(shared.root())
        .env_remove("RUNVQGAN_ROOT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap()
}

/// Waits until `file` contains `needle`.
fn wait_for(file: &Path, needle: &str, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.contains(needle) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("runvqgan ended ({status}) before `{needle}` appeared:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for `{needle}`:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_mid_image_writes_nothing_partial_and_the_next_run_makes_only_the_missing_images() {
    let shared = shared_with_models();
    let root = shared.root();
    // Batches of two: images 1 and 2 are made together, then image 3 alone.
    let config = std::fs::read_to_string(root.join("runvqgan.toml")).unwrap();
    shared.write("runvqgan.toml", format!("max_batch = 2\n{config}"));
    shared.write(
        "tasks/storm.txt",
        format!(
            r#"{{"text": "A storm", "each": 3, "iterations": 40, "out_file": "storm", "seed": 3, {SIZE}}}"#
        ),
    );
    let stderr = root.join(".stderr-1");
    let mut child = spawn_run(&shared, &stderr);
    // The first batch is written, the third image has started: stop it there.
    wait_for(&stderr, "wrote output/storm_2.png", &mut child);
    wait_for(&stderr, "output/storm_3.png: iteration", &mut child);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&stderr).unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "exit code 130 on SIGTERM:\n{text}"
    );
    assert_eq!(
        names(&root),
        [
            "output/storm_1.png",
            "output/storm_1.txt",
            "output/storm_2.png",
            "output/storm_2.txt",
            "runvqgan.toml",
            "tasks/storm.txt"
        ],
        "no partial image, the task is not marked done:\n{text}"
    );
    assert_no_temporaries(&root);

    run_night(&shared, 0);
    assert_eq!(
        names(&root),
        [
            "output/storm_1.png",
            "output/storm_1.txt",
            "output/storm_2.png",
            "output/storm_2.txt",
            "output/storm_3.png",
            "output/storm_3.txt",
            "runvqgan.toml",
            "tasks/storm.txt.done"
        ]
    );
    let third = std::fs::read_to_string(root.join("output/storm_3.txt")).unwrap();
    assert!(third.contains("# image: 3 of 3"), "{third}");
    assert!(third.contains(" -sd 5 "), "image 3 gets seed + 2: {third}");
}
