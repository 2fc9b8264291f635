//! The run log in the shared folder (`<root>/runvqgan.log`) is written only through the
//! root's handle: a member who plants a link at its place gets nothing written through it,
//! and the night goes on.

mod common;

use common::{Shared, tiny_models_toml};

#[test]
fn a_link_planted_at_the_run_log_is_not_followed_and_the_night_goes_on() {
    let shared = Shared::new();
    shared.write("runvqgan.toml", tiny_models_toml());
    shared.write(
        "tasks/dog.txt",
        r#"{"text": "A dog", "iterations": 2, "out_file": "dog", "resolution": [32, 32], "raw": "-cuts 4"}"#,
    );
    // A file of the owner's, outside the shared folder, that a member wants written to.
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("owner.conf");
    std::fs::write(&target, "the owner's settings\n").unwrap();
    std::os::unix::fs::symlink(&target, shared.root().join("runvqgan.log")).unwrap();
    // And a link to a file inside the root: not followed either.
    let inside = shared.write("output/notes.txt", "a member's notes\n");

    let out = shared
        .cmd()
        .args(["run", "--root"])
        .arg(shared.root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(shared.exists("output/dog_1.png") && shared.exists("tasks/dog.txt.done"));
    assert!(
        stderr.contains("cannot write the log file")
            && stderr.contains("it is a link, which runvqgan does not follow there"),
        "stderr:\n{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "the owner's settings\n"
    );
    let log = shared.root().join("runvqgan.log");
    assert!(std::fs::symlink_metadata(&log).unwrap().is_symlink());

    // A link to a file inside the root is not followed either.
    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink("output/notes.txt", &log).unwrap();
    let out = shared
        .cmd()
        .args(["run", "--root"])
        .arg(shared.root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stderr.contains("it is a link"), "stderr:\n{stderr}");
    assert_eq!(
        std::fs::read_to_string(&inside).unwrap(),
        "a member's notes\n"
    );
}
