//! The shared folder is untrusted (DESIGN.md section 10, issue 10). Each test here is an
//! attack a lab member can make with what they can write (task files, sidecars, hidden
//! markers and claims, folders, links, fifos, a runvqgan.toml), run against the real binary
//! as the owner would run it. Each failed on the code before the fix and passes after.
//!
//! `RUNVQGAN_ATTACK_BIN=/path/to/runvqgan` runs them against another build (to show that an
//! older one falls to them). Tests that need a member who is not the owner create the user
//! `runvqgan-member` (CI runs as root) and act as that user in a child process.

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{
    OUTER_SETTINGS, Shared, give_to, member, member_can_lock, member_holds_lock, tiny_models_toml,
    wait_paused,
};

/// A tiny image: two iterations at 32 x 32 pixels.
const TINY: &str = r#""iterations": 2, "resolution": [32, 32]"#;

/// The binary under attack.
fn bin() -> PathBuf {
    std::env::var_os("RUNVQGAN_ATTACK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("runvqgan"))
}

/// `runvqgan ARGS` in the root, with no settings from the environment.
fn cmd(s: &Shared, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args).current_dir(s.root()).stdin(Stdio::null());
    for var in OUTER_SETTINGS {
        c.env_remove(var);
    }
    c
}

/// Runs `c` to its end, or kills it and fails the test when it takes longer than `secs`
/// (a fifo or /dev/zero made it block).
fn finish(mut c: Command, secs: u64) -> Output {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "runvqgan did not finish within {secs} s (it blocked):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The outputs `plan --json` gives task `rel`.
fn outputs(s: &Shared, rel: &str) -> Vec<String> {
    let out = finish(cmd(s, &["plan", "--json", "--root", "."]), 120);
    assert!(out.status.success(), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let task = plan
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == rel)
        .unwrap_or_else(|| panic!("{rel} is not in the plan"));
    task["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["output"].as_str().unwrap().to_string())
        .collect()
}

/// A shared folder whose runvqgan.toml (owned by the owner, 0644) uses the tiny models.
fn shared_with_models() -> Shared {
    let s = Shared::new();
    s.write("runvqgan.toml", tiny_models_toml());
    s
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0, "mkfifo");
}

/// Every file (not folder) under `dir`, relative.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

/// Copies `from` to `to` as the member (a child process with the member's uid and gid).
fn member_copies(ids: (u32, u32), from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg(from)
        .arg(to)
        .uid(ids.0)
        .gid(ids.1)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the member could not write {}",
        to.display()
    );
}

/// Starts `c` with the pause hook at `point`, stderr to `log`.
fn spawn_paused(mut c: Command, point: &str, log: &Path) -> Child {
    c.env("RUNVQGAN_TEST_PAUSE_AT", point)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, sig) };
}

/// A sidecar of a tiny image, as runvqgan writes it.
fn sidecar_line(output: &str) -> String {
    format!("python generate.py -p 'A dog' -i 2 -s 32 32 -sd 1 -o {output}\n")
}

/// A Python environment that announces its use: its `.pth` file (run by `site` at engine
/// start) creates `flag`.
fn env_that_touches(dir: &Path, flag: &Path) -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/lib");
    let py = std::fs::read_dir(&venv)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .find(|n| n.to_string_lossy().starts_with("python"))
        .expect("the project's .venv");
    let site = dir.join("lib").join(py).join("site-packages");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(
        site.join("announce.pth"),
        format!(
            "import pathlib; pathlib.Path({:?}).touch()\n",
            flag.display().to_string()
        ),
    )
    .unwrap();
    dir.to_path_buf()
}

// Defect 1: code execution as whoever runs `reproduce`, through a root (and so a
// runvqgan.toml and a python_env) taken from the sidecar or dropped above it.
#[test]
fn d1_reproduce_never_takes_root_config_or_python_env_from_the_sidecar() {
    let s = Shared::new();
    let root = s.root();
    let evil = tempfile::tempdir().unwrap();
    let pwned = evil.path().join("pwned");
    let honest = root.join(".honest-env-used");
    let honest_env = env_that_touches(&root.join(".honest-env"), &honest);
    // The owner's configuration names the owner's environment.
    s.write(
        "runvqgan.toml",
        format!(
            "python_env = {:?}\n{}",
            honest_env.display().to_string(),
            tiny_models_toml()
        ),
    );
    let evil_env = env_that_touches(&evil.path().join("env"), &pwned);
    let evil_toml = format!("python_env = {:?}\n", evil_env.display().to_string());
    std::fs::write(evil.path().join("runvqgan.toml"), &evil_toml).unwrap();
    std::fs::create_dir(evil.path().join("tasks")).unwrap();

    // (a) The sidecar's `# root:` line names the member's folder outside.
    s.write(
        "output/dog_1.txt",
        format!(
            "{}# root: {}\n",
            sidecar_line("output/dog_1.png"),
            evil.path().display()
        ),
    );
    s.write("output/dog_1.png", b"png");
    let out = finish(cmd(&s, &["reproduce", "output/dog_1.txt"]), 600);
    assert!(
        !pwned.exists(),
        "the sidecar's root was used:\n{}",
        text(&out)
    );
    assert!(
        honest.exists(),
        "the owner's environment was used:\n{}",
        text(&out)
    );

    // (b) A member drops a runvqgan.toml (and a tasks folder) into their own folder, above
    // their sidecar.
    std::fs::remove_file(&honest).unwrap();
    let ids = member();
    let alice = s.mkdir("alice");
    give_to(&alice, ids);
    std::fs::write(root.join(".evil.toml"), &evil_toml).unwrap();
    member_copies(ids, &root.join(".evil.toml"), &alice.join("runvqgan.toml"));
    std::fs::create_dir(alice.join("tasks")).unwrap();
    give_to(&alice.join("tasks"), ids);
    s.write("alice/dog_1.txt", sidecar_line("alice/dog_1.png"));
    s.write("alice/dog_1.png", b"png");
    let out = finish(cmd(&s, &["reproduce", "alice/dog_1.txt"]), 600);
    assert!(
        !pwned.exists(),
        "the member's runvqgan.toml was used:\n{}",
        text(&out)
    );
    assert!(
        honest.exists(),
        "the owner's environment was used:\n{}",
        text(&out)
    );
}

// Defect 1 (configuration half): a runvqgan.toml in the root that a member owns, or that
// members can change, is refused with the fix; `--config` names one explicitly.
#[test]
fn d1_a_config_in_the_root_that_a_member_owns_or_can_change_is_refused() {
    let s = Shared::new();
    let config = s.write("runvqgan.toml", "max_each = 3\n");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = finish(cmd(&s, &["plan", "--root", "."]), 120);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("chmod go-w"), "{}", text(&out));

    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    give_to(&config, member());
    let out = finish(cmd(&s, &["plan", "--root", "."]), 120);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not by you"), "{}", text(&out));

    let mut explicit = cmd(&s, &["plan", "--root", "."]);
    explicit.env("RUNVQGAN_CONFIG", &config);
    let out = finish(explicit, 120);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

// Defect 2: a member swaps their output folder for a link out of the root after the first
// image; the rest must not be written there, and the task must not be marked done.
#[test]
fn d2_an_output_folder_swapped_for_a_link_mid_task_gets_nothing_written_outside() {
    let s = shared_with_models();
    let root = s.root();
    let outside = tempfile::tempdir().unwrap();
    s.mkdir("anna/out");
    s.write(
        "anna/task_sea.txt",
        format!(
            r#"{{"text": "sea", "out_file": "sea", "each": 2, "out_folder": "anna/out", "seed": 1, {TINY}}}"#
        ),
    );
    let log = root.join(".stderr");
    let mut child = spawn_paused(cmd(&s, &["run", "--root", "."]), "before-image:2", &log);
    wait_paused(&mut child, &log);
    assert!(s.exists("anna/out/sea_1.png") && s.exists("anna/out/sea_1.txt"));
    std::fs::rename(root.join("anna/out"), root.join("anna/out-real")).unwrap();
    symlink(outside.path(), root.join("anna/out")).unwrap();
    signal(&child, libc::SIGCONT);
    let status = child.wait().unwrap();
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        files_under(outside.path()),
        Vec::<String>::new(),
        "written outside the root ({status}):\n{said}"
    );
    assert!(s.exists("anna/task_sea.txt"), "not marked done:\n{said}");
    let error = std::fs::read_to_string(root.join("anna/task_sea_ERROR.txt")).unwrap();
    assert!(error.contains("outside the shared folder"), "{error}");
    assert!(s.exists("anna/out-real/sea_1.png") && s.exists("anna/out-real/sea_1.txt"));
}

// Defect 3 (round 1): a claim that is a link made the run create the file it points to (as
// the owner); a claim that is a folder blocked the task for ever. Round 3: claims live in the
// owner's state folder (`.runvqgan/claims/`), so what a member plants where claims used to
// be (beside the task) is neither followed, nor touched, nor in the way.
#[test]
fn d3_files_planted_where_claims_used_to_be_are_never_followed_and_block_nothing() {
    let s = shared_with_models();
    let root = s.root();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("created-as-owner");
    s.write(
        "tasks/dog.txt",
        format!(r#"{{"text": "dog", "out_file": "dog", {TINY}}}"#),
    );
    symlink(&target, root.join("tasks/.dog.txt.runvqgan-claim")).unwrap();
    s.write(
        "tasks/cat.txt",
        format!(r#"{{"text": "cat", "out_file": "cat", {TINY}}}"#),
    );
    s.mkdir("tasks/.cat.txt.runvqgan-claim");
    let out = finish(cmd(&s, &["run", "--root", "."]), 600);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !target.exists(),
        "the planted link was followed:\n{}",
        text(&out)
    );
    assert!(
        std::fs::symlink_metadata(root.join("tasks/.dog.txt.runvqgan-claim"))
            .is_ok_and(|m| m.file_type().is_symlink()),
        "a member's file was touched"
    );
    for name in ["dog", "cat"] {
        assert!(
            s.exists(&format!("tasks/{name}.txt.done"))
                && s.exists(&format!("output/{name}_1.png")),
            "{name} was not made:\n{}",
            text(&out)
        );
    }
}

#[test]
fn d4_a_forged_pending_marker_never_reuses_the_number_of_a_finished_image() {
    let s = Shared::new();
    s.write("output/pic_1.png", b"anna's image");
    s.write("output/pic_1.txt", sidecar_line("output/pic_1.png"));
    let ben = r#"{"text": "mine now", "out_file": "pic"}"#;
    s.write("tasks/ben.txt", ben);
    let sha = runvqgan::outputs::lifecycle::task_sha256(ben.as_bytes());
    s.write(
        "output/.pic_1.runvqgan-pending",
        format!(r#"{{"task": "tasks/ben.txt", "task_sha256": "{sha}", "image": 1}}"#),
    );
    assert_eq!(outputs(&s, "tasks/ben.txt"), ["output/pic_2.png"]);
}

// Defect 5: `reproduce` did not reserve its number: two at once (or one during `run`) chose
// the same one, and one PNG replaced the other.
#[test]
fn d5_reproduce_reserves_its_number_as_run_does() {
    let s = shared_with_models();
    let root = s.root();
    s.write("output/dog_1.png", b"png");
    s.write("output/dog_1.txt", sidecar_line("output/dog_1.png"));
    s.write("tasks/dog.txt", r#"{"text": "dog", "out_file": "dog"}"#);
    let (log_a, log_b) = (root.join(".a"), root.join(".b"));
    let mut a = spawn_paused(
        cmd(&s, &["reproduce", "output/dog_1.txt"]),
        "reserved:1",
        &log_a,
    );
    wait_paused(&mut a, &log_a);
    let mut b = spawn_paused(
        cmd(&s, &["reproduce", "output/dog_1.txt"]),
        "reserved:1",
        &log_b,
    );
    wait_paused(&mut b, &log_b);
    // Both reproductions hold a number each, and a run planned now takes the next one.
    let markers: Vec<String> = files_under(&root.join("output"))
        .into_iter()
        .filter(|f| f.ends_with(".runvqgan-pending"))
        .collect();
    assert_eq!(
        markers,
        [".dog_2.runvqgan-pending", ".dog_3.runvqgan-pending"]
    );
    assert_eq!(outputs(&s, "tasks/dog.txt"), ["output/dog_4.png"]);
    for child in [&mut a, &mut b] {
        signal(child, libc::SIGKILL);
        child.wait().unwrap();
    }
}

// Defect 6: a fifo or a link to /dev/zero in place of a sidecar, a pending marker, a claim
// or an error file made `plan` and `reproduce` hang or eat all memory.
#[test]
fn d6_fifos_and_dev_zero_never_block_plan_or_reproduce() {
    let s = Shared::new();
    let root = s.root();
    s.write("tasks/dog.txt", r#"{"text": "dog", "out_file": "dog"}"#);
    s.write("output/dog_1.png", b"png");
    mkfifo(&root.join("output/dog_1.txt"));
    s.write("output/dog_2.png", b"png");
    symlink("/dev/zero", root.join("output/dog_2.txt")).unwrap();
    mkfifo(&root.join("output/.dog_3.runvqgan-pending"));
    symlink("/dev/zero", root.join("output/.dog_4.runvqgan-pending")).unwrap();
    mkfifo(&root.join("tasks/.dog.txt.runvqgan-claim"));
    s.write("tasks/cat.txt", r#"{"text": "cat", "out_file": "cat"}"#);
    s.set_mtime("tasks/cat.txt", 1);
    mkfifo(&root.join("tasks/cat_ERROR.txt"));

    let out = finish(cmd(&s, &["plan", "--json", "--root", "."]), 120);
    assert!(out.status.success(), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dog = plan
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == "tasks/dog.txt")
        .unwrap();
    assert_eq!(dog["images"][0]["output"], "output/dog_5.png");

    for sidecar in ["output/dog_1.txt", "output/dog_2.txt"] {
        let out = finish(cmd(&s, &["reproduce", "--root", ".", sidecar]), 120);
        assert!(!out.status.success(), "{}", text(&out));
        let said = text(&out);
        assert!(
            said.contains("not a regular file") || said.contains("link"),
            "{said}"
        );
    }
}

// Defect 7: `reproduce` confined nothing and capped nothing: `-ii` outside the root was read
// into member-readable output, and any size or number of iterations passed.
#[test]
fn d7_reproduce_confines_inputs_and_outputs_to_the_root_and_applies_its_caps() {
    let s = shared_with_models();
    let root = s.root();
    let secret = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stone.png"),
        secret.path().join("secret.png"),
    )
    .unwrap();
    symlink(secret.path(), root.join("output/linked")).unwrap();
    let cases = [
        (
            format!("python generate.py -p 'x' -i 2 -s 32 32 -ii {}/secret.png -o output/a_1.png\n", secret.path().display()),
            "absolute path",
        ),
        (
            "python generate.py -p 'x' -i 2 -s 32 32 -ip output/linked/secret.png -o output/b_1.png\n".to_string(),
            "outside the shared folder",
        ),
        (
            "python generate.py -p 'x' -i 2 -s 1024 1024 -o output/c_1.png\n".to_string(),
            "max_resolution",
        ),
        (
            "python generate.py -p 'x' -i 1000000 -s 32 32 -o output/d_1.png\n".to_string(),
            "max_iterations",
        ),
    ];
    for (i, (line, expected)) in cases.iter().enumerate() {
        let name = format!("output/case{i}_1.txt");
        s.write(&name, line);
        let out = finish(cmd(&s, &["reproduce", &name]), 120);
        assert!(!out.status.success(), "{line}: {}", text(&out));
        assert!(text(&out).contains(expected), "{line}: {}", text(&out));
        assert!(!s.exists(&format!("output/case{i}_2.png")));
    }
    // -o outside the root.
    s.write("output/e_1.txt", sidecar_line("output/e_1.png"));
    let target = secret.path().join("e_1.png");
    let out = finish(
        cmd(
            &s,
            &[
                "reproduce",
                "output/e_1.txt",
                "-o",
                target.to_str().unwrap(),
            ],
        ),
        120,
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(!target.exists());
}

// Defect 8: a task file name of 245 bytes passed `validate`, then failed every night (its
// claim file's name is too long) with a wrong cause and no error file.
#[test]
fn d8_task_names_too_long_for_runvqgans_own_files_are_refused_with_an_error_file() {
    let s = Shared::new();
    let name = format!("tasks/{}.txt", "n".repeat(241));
    s.write(&name, r#"{"text": "dog", "out_file": "dog"}"#);
    let out = finish(cmd(&s, &["validate", &name]), 120);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("245 bytes long"), "{}", text(&out));
    let out = finish(cmd(&s, &["run", "--root", "."]), 300);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let error = std::fs::read_to_string(
        s.root()
            .join(format!("tasks/{}_ERROR.txt", "n".repeat(241))),
    )
    .unwrap();
    assert!(error.contains("at most 239 bytes"), "{error}");
}

// Defect 10: duplicate JSON keys were accepted silently (the last value won).
#[test]
fn d10_a_field_written_twice_is_an_error_naming_it_and_both_lines() {
    let s = Shared::new();
    s.write(
        "tasks/art.txt",
        "{\n  \"text\": \"A bridge\",\n  \"style\": \"Banksy\",\n  \"out_file\": \"art\",\n  \"style\": \"Monet\"\n}\n",
    );
    let out = finish(cmd(&s, &["validate", "tasks/art.txt"]), 120);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("`style` is written twice (lines 3 and 5)"),
        "{}",
        text(&out)
    );
}

// Defect 11 (SIGHUP half): SIGHUP (the SSH session of a manual run closed) killed the run
// with exit 129 and no summary line.
#[test]
fn d11_sighup_stops_a_run_like_sigterm_with_the_summary_line_and_exit_130() {
    let s = shared_with_models();
    let root = s.root();
    s.write(
        "tasks/long.txt",
        r#"{"text": "long", "out_file": "long", "iterations": 50, "resolution": [32, 32]}"#,
    );
    let log = root.join(".stderr");
    let mut child = spawn_paused(cmd(&s, &["run", "--root", "."]), "mid-image:1", &log);
    wait_paused(&mut child, &log);
    signal(&child, libc::SIGHUP);
    signal(&child, libc::SIGCONT);
    let status = child.wait().unwrap();
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(130), "{status}:\n{said}");
    let runlog = std::fs::read_to_string(root.join("runvqgan.log")).unwrap();
    assert!(runlog.contains("run interrupted"), "{runlog}");
    assert!(!s.exists("output/long_1.png"), "nothing partial");
}

/// Fifos, links to /dev/zero, link-swapped folders and forged markers all at once: `plan`
/// and `run` finish, write nothing outside the root, and lose no image.
#[test]
fn a_hostile_folder_is_planned_and_run_without_blocking_escaping_or_losing_an_image() {
    let s = shared_with_models();
    let root = s.root();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("task_x.txt"),
        r#"{"text": "x", "out_file": "x"}"#,
    )
    .unwrap();
    let outside_before = files_under(outside.path());

    // Anna's finished image, and Ben's task aiming at its number with a forged marker.
    s.write("output/pic_1.png", b"anna's image");
    s.write("output/pic_1.txt", sidecar_line("output/pic_1.png"));
    let ben = format!(r#"{{"text": "ben", "out_file": "pic", "seed": 3, {TINY}}}"#);
    s.write("tasks/ben.txt", &ben);
    let sha = runvqgan::outputs::lifecycle::task_sha256(ben.as_bytes());
    s.write(
        "output/.pic_1.runvqgan-pending",
        format!(r#"{{"task": "tasks/ben.txt", "task_sha256": "{sha}", "image": 1}}"#),
    );
    // Fifos and /dev/zero where sidecars, markers, claims, error files and tasks go.
    s.write("output/pic_2.png", b"png");
    mkfifo(&root.join("output/pic_2.txt"));
    symlink("/dev/zero", root.join("output/.pic_3.runvqgan-pending")).unwrap();
    mkfifo(&root.join("tasks/.ben.txt.runvqgan-claim"));
    mkfifo(&root.join("tasks/pipe.txt"));
    symlink("/dev/zero", root.join("tasks/zero.txt")).unwrap();
    // A valid task is run whatever its error file's place holds (it is checked again every
    // night), so it is a tiny one: the fifo must not block, the night must stay short.
    s.write(
        "tasks/old.txt",
        format!(r#"{{"text": "old", "out_file": "old", {TINY}}}"#),
    );
    s.set_mtime("tasks/old.txt", 1);
    mkfifo(&root.join("tasks/old_ERROR.txt"));
    // Folders that are links out of the root, and a log that is one.
    symlink(outside.path(), root.join("erin")).unwrap();
    symlink(outside.path().join("owner.log"), root.join("runvqgan.log")).unwrap();
    symlink(outside.path(), root.join("output/elsewhere")).unwrap();
    s.write(
        "tasks/away.txt",
        r#"{"text": "away", "out_file": "away", "out_folder": "output/elsewhere"}"#,
    );

    let out = finish(cmd(&s, &["plan", "--root", "."]), 120);
    assert!(out.status.success(), "{}", text(&out));
    let out = finish(cmd(&s, &["run", "--root", "."]), 900);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    assert_eq!(
        files_under(outside.path()),
        outside_before,
        "nothing written outside"
    );
    assert_eq!(
        std::fs::read(root.join("output/pic_1.png")).unwrap(),
        b"anna's image"
    );
    let made = std::fs::read_to_string(root.join("output/pic_4.txt")).unwrap();
    assert!(made.contains("# task: tasks/ben.txt"), "{made}");
    assert!(s.exists("output/pic_4.png") && s.exists("tasks/ben.txt.done"));
    assert!(
        std::fs::read_to_string(root.join("tasks/away_ERROR.txt"))
            .unwrap()
            .contains("outside the shared folder")
    );
    assert!(s.exists("tasks/pipe_ERROR.txt"));
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(root.join("output/pic_2.txt"))
            .unwrap()
            .file_type()
            .is_fifo(),
        "the member's fifo is left alone"
    );
}

// Issue 15 put leases (claims that hold across machines) beside the tasks, in folders
// members write; round 3 moved them into the owner's state folder (`.runvqgan/leases/`). A
// member plants a link to a file of the owner's, a fifo and a folder where the leases used
// to be, and a link where the names lease used to be: nothing is followed, nothing blocks,
// nothing of theirs is touched, and every task runs.
#[test]
fn d12_files_planted_where_leases_used_to_be_are_never_followed_and_never_block() {
    let ids = member();
    let s = Shared::new();
    s.write(
        "runvqgan.toml",
        format!(
            "claims = \"lease\"\nlease_seconds = 30\n{}",
            tiny_models_toml()
        ),
    );
    let root = s.root();
    let outside = tempfile::tempdir().unwrap();
    let owners = outside.path().join("owners-file");
    std::fs::write(&owners, "the owner's").unwrap();
    let created = outside.path().join("created-as-owner");
    let alice = s.mkdir("alice");
    give_to(&alice, ids);
    for name in ["dog", "cat", "cow"] {
        s.write(
            &format!("alice/task_{name}.txt"),
            format!(r#"{{"text": "{name}", "out_file": "{name}", {TINY}}}"#),
        );
    }
    let as_member = |program: &str, args: &[&Path]| {
        let status = Command::new(program)
            .args(args)
            .uid(ids.0)
            .gid(ids.1)
            .status()
            .unwrap();
        assert!(status.success(), "the member could not run {program}");
    };
    let lease = |task: &str| alice.join(format!(".task_{task}.txt.runvqgan-lease"));
    as_member("ln", &[Path::new("-s"), &owners, &lease("dog")]);
    as_member("mkfifo", &[&lease("cat")]);
    as_member("mkdir", &[&lease("cow")]);
    symlink(&created, root.join(".runvqgan-names.lease")).unwrap();

    let out = finish(cmd(&s, &["run", "--root", "."]), 600);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&owners).unwrap(), "the owner's");
    assert_eq!(
        files_under(outside.path()),
        ["owners-file"],
        "nothing written outside:\n{}",
        text(&out)
    );
    for name in ["dog", "cat", "cow"] {
        assert!(
            s.exists(&format!("alice/task_{name}.txt.done"))
                && s.exists(&format!("alice/{name}_1.png")),
            "{name} was not made:\n{}",
            text(&out)
        );
        assert!(
            std::fs::symlink_metadata(lease(name)).is_ok(),
            "the member's planted {name} file was touched"
        );
    }
}

/// D13 (round 3): `flock` needs only a file that can be opened for reading, so a member
/// could hold the root's names lock (`.runvqgan.lock`, 0644 so that members' `reproduce`
/// could take it) for ever. Now the names lock is `.runvqgan/names.lock`, 0600 in the owner's
/// 0755 state folder, and `reproduce` needs no lock: the member cannot open it, and the lock
/// file they hold where it used to be stops nothing.
#[test]
fn d13_a_member_cannot_hold_the_names_lock_and_the_old_lock_file_stops_nothing() {
    let ids = member();
    let s = shared_with_models();
    let root = s.root();
    for name in ["dog", "cat"] {
        s.write(
            &format!("tasks/{name}.txt"),
            format!(r#"{{"text": "{name}", "out_file": "{name}", {TINY}}}"#),
        );
    }
    // The night before made the state folder and its names lock.
    let out = finish(cmd(&s, &["plan", "--root", "."]), 60);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    runvqgan::shared_folder::state::StateDir::open(&root)
        .unwrap()
        .lock_file("names.lock")
        .unwrap();
    let old = root.join(".runvqgan.lock");
    std::fs::write(&old, "").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        !member_can_lock(ids, &root.join(".runvqgan/names.lock")),
        "the member could open and lock the names lock"
    );
    let mut holder = member_holds_lock(ids, &old);
    let out = finish(cmd(&s, &["run", "--root", "."]), 600);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(s.exists("tasks/dog.txt.done") && s.exists("output/cat_1.png"));
}

/// D13: a names lock held for ever (by a process of the owner's that hangs: members can no
/// longer open it) does not hang the night: after the wait (`LOCK_WAIT`, 30 minutes; 2 s
/// here) the tasks fail at once with words naming the holder, the next night works.
#[test]
fn d13_a_names_lock_held_for_ever_ends_the_wait_and_names_the_holder() {
    let s = shared_with_models();
    let root = s.root();
    for name in ["dog", "cat"] {
        s.write(
            &format!("tasks/{name}.txt"),
            format!(r#"{{"text": "{name}", "out_file": "{name}", {TINY}}}"#),
        );
    }
    drop(
        runvqgan::shared_folder::state::StateDir::open(&root)
            .unwrap()
            .lock_file("names.lock")
            .unwrap(),
    );
    let lock = root.join(".runvqgan/names.lock");
    // --close: the lock stays with flock itself, not with the `sleep` it starts.
    let mut holder = Command::new("flock")
        .args(["--shared", "--close"])
        .arg(&lock)
        .args(["sleep", "600"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .any(|l| l.contains("FLOCK") && l.contains("READ"))
    {
        assert!(Instant::now() < deadline, "flock never took the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut c = cmd(&s, &["run", "--root", "."]);
    c.env("RUNVQGAN_TEST_LOCK_WAIT_SECONDS", "2");
    let out = finish(c, 600);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let dog = std::fs::read_to_string(root.join("tasks/dog_ERROR.txt"))
        .unwrap_or_else(|_| panic!("no error file:\n{}", text(&out)));
    assert!(
        dog.contains("names.lock has been held for 2s by process "),
        "{dog}"
    );
    assert!(dog.contains("(program flock, user "), "{dog}");
    assert!(
        dog.contains("While choosing the numbers of its images:"),
        "{dog}"
    );
    let cat = std::fs::read_to_string(root.join("tasks/cat_ERROR.txt")).unwrap();
    assert!(
        cat.contains("(program flock, user "),
        "the second task fails with the same words: {cat}"
    );
    assert!(!s.exists("tasks/dog.txt.done") && !s.exists("output/dog_1.png"));

    // The lock is free again: the next night makes both.
    let out = finish(cmd(&s, &["run", "--root", "."]), 600);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(s.exists("tasks/dog.txt.done") && s.exists("output/cat_1.png"));
}
