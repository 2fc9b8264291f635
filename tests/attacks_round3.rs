//! Untrusted folder, round 3: the owner's state, the locks and `reproduce`'s root. Each
//! test is a finding, written as the attack (docs/permissions.md has the threat table).
//! Findings about the gallery are in tests/gallery_attacks.rs, about names and state read
//! back in tests/state_and_names.rs; the state folder's and the locks' own rules are unit
//! tests in src/shared_folder/state/tests.rs and src/shared_folder/locks/.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Shared, give_to, member, member_can_lock, member_holds_lock, tiny_models_toml};

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("runvqgan")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Finding 10: a member makes `output/tasks/` (and a `runvqgan.toml` and models of theirs
/// there); the owner runs the `reproduce output/x_1.txt` that the gallery offers. `output/`
/// (the owner's, holding `tasks/`) was taken as the root: the built-in defaults replaced
/// the owner's runvqgan.toml and its caps. The root is now found only in a folder the owner
/// owns that holds a runvqgan.toml the owner may trust: the real root, whose cap holds.
#[test]
fn f10_a_member_made_output_tasks_is_not_a_root_for_the_owners_reproduce() {
    let ids = member();
    let s = Shared::new();
    s.write(
        "runvqgan.toml",
        format!("max_iterations = 50\n{}", tiny_models_toml()),
    );
    let root = s.root();
    s.write("output/x_1.png", b"png");
    s.write(
        "output/x_1.txt",
        "python generate.py -p 'a dog' -i 400 -s 32 32 -sd 7 -o output/x_1.png\n",
    );
    let fake = s.mkdir("output/tasks");
    give_to(&fake, ids);
    s.write("output/runvqgan.toml", "max_iterations = 100000\n");
    give_to(&root.join("output/runvqgan.toml"), ids);

    let out = Command::new(bin())
        .args(["reproduce", "output/x_1.txt"])
        .current_dir(&root)
        .env_remove("RUNVQGAN_ROOT")
        .env_remove("RUNVQGAN_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("400") && said.contains("50"),
        "the real root's cap (max_iterations = 50) must refuse -i 400:\n{said}"
    );
    assert!(!said.contains("output/runvqgan.toml"), "{said}");
}

/// Finding 11: while the names lock was held, a run waiting for it ignored SIGTERM (still
/// running 11 minutes later), and a second signal killed it without its summary. The wait
/// now looks at the stop request at least once a second: the run ends within a few seconds,
/// interrupted (exit 130), with its summary and its last log line.
#[test]
fn f11_sigterm_while_waiting_for_the_names_lock_ends_the_run_with_its_summary() {
    let s = Shared::new();
    s.write("runvqgan.toml", tiny_models_toml());
    s.write(
        "tasks/dog.txt",
        r#"{"text": "dog", "out_file": "dog", "iterations": 2, "resolution": [32, 32]}"#,
    );
    let root = s.root();
    drop(
        runvqgan::shared_folder::state::StateDir::open(&root)
            .unwrap()
            .lock_file("names.lock")
            .unwrap(),
    );
    let mut holder = Command::new("flock")
        .arg("--close")
        .arg(root.join(".runvqgan/names.lock"))
        .args(["sleep", "600"])
        .spawn()
        .unwrap();
    let mut run = Command::new(bin())
        .args(["run", "--root", "."])
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    // Until the run waits for the lock: its log says how it claims (it plans, claims the
    // task and waits for the names lock right after; the engine starts after that).
    let deadline = Instant::now() + Duration::from_secs(300);
    while !std::fs::read_to_string(root.join("runvqgan.log"))
        .unwrap_or_default()
        .contains("claims: ")
    {
        assert!(Instant::now() < deadline, "the run never started");
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before waiting"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        run.try_wait().unwrap().is_none(),
        "the run should be waiting"
    );
    // SAFETY: kill with a valid pid and signal.
    unsafe { libc::kill(run.id() as i32, libc::SIGTERM) };
    let signalled = Instant::now();
    let code = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "the run ignored SIGTERM while it waited for the names lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = holder.kill();
    let _ = holder.wait();
    let out = run.wait_with_output().unwrap();
    assert_eq!(code, Some(130), "{}", text(&out));
    let log = std::fs::read_to_string(root.join("runvqgan.log")).unwrap();
    assert!(log.contains("run interrupted"), "{log}");
    let summaries = std::fs::read_dir(root.join(".runvqgan/runs"))
        .unwrap()
        .count();
    assert_eq!(summaries, 1, "the run's summary was written");
    assert!(
        !s.exists("tasks/dog_ERROR.txt"),
        "an interrupt is no failure"
    );
}

/// The gallery is the owner's (finding 5, and "a member can create either folder before the
/// first night"): a `gallery/` a member made, or one others can write, is refused with the
/// fix (exit 2); a new one is made the owner's alone, whatever the umask and the shared
/// folder's default ACL.
#[test]
fn a_gallery_folder_a_member_made_or_can_write_is_refused_with_the_fix() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let ids = member();
    let s = Shared::new();
    let root = s.root();
    let gallery = |s: &Shared| {
        Command::new(bin())
            .args(["gallery", "--root", "."])
            .current_dir(s.root())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let g = s.mkdir("gallery");
    give_to(&g, ids);
    let out = gallery(&s);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("belongs to runvqgan-member"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("mv "), "{}", text(&out));

    std::os::unix::fs::chown(&g, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&g, std::fs::Permissions::from_mode(0o775)).unwrap();
    let out = gallery(&s);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("can be written by other accounts"),
        "{}",
        text(&out)
    );

    std::fs::remove_dir(&g).unwrap();
    let out = gallery(&s);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mode = std::fs::metadata(root.join("gallery")).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o755);
}

/// A night and its gallery over a folder whose member swaps their folder for a link to a
/// folder of the owner's, again and again, while the night runs: nothing outside the root is
/// read into the outputs or the gallery, written or removed, and every task that was not
/// disturbed is made.
#[test]
fn a_night_while_a_member_swaps_their_folder_for_a_link_in_a_loop_reaches_nothing_outside() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = Shared::new();
    s.write("runvqgan.toml", tiny_models_toml());
    let root = s.root();
    let tiny = r#""iterations": 2, "resolution": [32, 32]"#;
    for name in ["a", "b", "c", "d"] {
        s.write(
            &format!("alice/task_{name}.txt"),
            format!(r#"{{"text": "{name}", "out_file": "{name}", {tiny}}}"#),
        );
        s.write(
            &format!("tasks/{name}.txt"),
            format!(r#"{{"text": "{name}", "out_file": "shared_{name}", {tiny}}}"#),
        );
    }
    // The owner's own folder outside the root: a task and a picture of the owner's, 0600.
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("task_secret.txt");
    std::fs::write(
        &secret,
        format!(r#"{{"text": "owner secret", "out_file": "secret", {tiny}}}"#),
    )
    .unwrap();
    std::fs::write(outside.path().join("secret_1.png"), b"not for the gallery").unwrap();
    std::fs::write(
        outside.path().join("secret_1.txt"),
        "python generate.py -p 'owner secret' -i 2 -s 32 32 -sd 1 -o alice/secret_1.png\n",
    )
    .unwrap();
    let before = std::fs::read_dir(outside.path()).unwrap().count();

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, root, target) = (stop.clone(), root.clone(), outside.path().to_path_buf());
        std::thread::spawn(move || {
            let (alice, real) = (root.join("alice"), root.join("alice.real"));
            let mut swaps = 0;
            while !stop.load(Ordering::SeqCst) {
                if std::fs::rename(&alice, &real).is_ok() {
                    let _ = std::os::unix::fs::symlink(&target, &alice);
                    std::thread::sleep(Duration::from_millis(3));
                    let _ = std::fs::remove_file(&alice);
                    let _ = std::fs::rename(&real, &alice);
                    swaps += 1;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            swaps
        })
    };
    let out = Command::new(bin())
        .args(["run", "--root", "."])
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 10, "the folder was swapped only {swaps} times");
    assert!(out.status.code().is_some(), "{}", text(&out));

    let after: Vec<String> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(after.len(), before, "written outside the root: {after:?}");
    assert_eq!(
        std::fs::read(outside.path().join("secret_1.png")).unwrap(),
        b"not for the gallery"
    );
    for name in ["a", "b", "c", "d"] {
        assert!(
            s.exists(&format!("output/shared_{name}_1.png")),
            "the undisturbed shared task {name} was not made:\n{}",
            text(&out)
        );
    }
    let mut gallery = String::new();
    for entry in walkdir::WalkDir::new(root.join("gallery")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file()
            && let Ok(t) = std::fs::read_to_string(entry.path())
        {
            gallery.push_str(&t);
        }
    }
    assert!(!gallery.is_empty(), "no gallery was built:\n{}", text(&out));
    assert!(
        !gallery.contains("owner secret"),
        "an owner-only file reached the gallery"
    );
    assert!(!s.exists("output/secret_1.png") && !s.exists("alice/secret_1.png"));
}

/// Finding 9: any member could block any task on a local disk by holding `flock -s` on its
/// claim file beside the task ("another runvqgan process is working on it", every night, no
/// error file). Claims now live in the owner's state folder, 0600: the member cannot open
/// the claim, and a lock they hold where it used to be stops nothing.
#[test]
fn f9_a_member_cannot_hold_a_tasks_claim() {
    let ids = member();
    let s = Shared::new();
    s.write("runvqgan.toml", tiny_models_toml());
    s.write(
        "tasks/dog.txt",
        r#"{"text": "dog", "out_file": "dog", "iterations": 2, "resolution": [32, 32]}"#,
    );
    let root = s.root();
    // The claim as the owner's runs make it.
    let canonical = root.canonicalize().unwrap();
    drop(
        runvqgan::shared_folder::locks::claim::TaskClaim::try_claim(&canonical, "tasks/dog.txt")
            .unwrap()
            .unwrap(),
    );
    let claim = runvqgan::shared_folder::files::claim_path(&canonical, "tasks/dog.txt");
    assert!(claim.exists());
    assert!(
        !member_can_lock(ids, &claim),
        "the member could lock the claim"
    );
    // Where the claim used to be: the member holds a lock for ever.
    let old = root.join("tasks/.dog.txt.runvqgan-claim");
    std::fs::write(&old, "").unwrap();
    give_to(&old, ids);
    let mut holder = member_holds_lock(ids, &old);
    let out = Command::new(bin())
        .args(["run", "--root", "."])
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(s.exists("tasks/dog.txt.done") && s.exists("output/dog_1.png"));
}
