//! A lab of Unix accounts, end to end: an owner account (not root) and two members in one
//! group, each with umask 022, as a real lab has them (docs/permissions.md). The owner runs
//! `init`; the members make their folders and task files by hand; the owner's night runs
//! in cron's bare environment; a member reproduces another member's image into their own
//! folder; a member's attempts on the owner's gallery, state and locks fail; a folder the
//! owner cannot write is named by `status` with its fix.
//!
//! CI runs as root: the test makes the accounts (useradd) and runs every command as one of
//! them through `setpriv` (real and effective ids, the account's groups). It needs root to
//! make accounts, as CI has; elsewhere it fails saying so.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GROUP: &str = "rvq-lab";
const TINY: &str = r#""iterations": 2, "resolution": [32, 32]"#;

#[derive(Debug, Clone, Copy)]
struct Account {
    name: &'static str,
    uid: u32,
    gid: u32,
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ids(name: &str) -> Option<(u32, u32)> {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: getpwnam with a valid C string; the ids are copied out at once.
    unsafe {
        let pw = libc::getpwnam(c.as_ptr());
        (!pw.is_null()).then(|| ((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// The lab's group and its accounts, made once per machine.
fn lab() -> (Account, Account, Account) {
    static ONCE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test makes the lab's accounts (useradd), which needs root, as CI has"
    );
    if !run(Command::new("getent").args(["group", GROUP]))
        .status
        .success()
    {
        let out = run(Command::new("groupadd").args(["--system", GROUP]));
        assert!(out.status.success(), "groupadd: {}", text(&out));
    }
    let account = |name: &'static str| {
        if ids(name).is_none() {
            let out = run(Command::new("useradd").args([
                "--system",
                "--no-create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                "--groups",
                GROUP,
                name,
            ]));
            assert!(out.status.success(), "useradd {name}: {}", text(&out));
        }
        let (uid, gid) = ids(name).unwrap();
        Account { name, uid, gid }
    };
    (
        account("rvq-owner"),
        account("rvq-anna"),
        account("rvq-bob"),
    )
}

/// `program args` as `who`, with umask 022 and cron's bare environment.
fn as_user(who: Account, program: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("/usr/bin/setpriv");
    c.args([
        "--reuid",
        &who.uid.to_string(),
        "--regid",
        &who.gid.to_string(),
    ])
    .args(["--init-groups", "--"])
    .arg(program)
    .args(args)
    .env_clear()
    .env("PATH", "/usr/bin:/bin")
    .current_dir("/");
    // SAFETY: umask is async-signal-safe and only sets the child's file mode mask.
    unsafe {
        c.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    c
}

/// Whether every folder above `path` lets other accounts through.
fn reachable_by_others(path: &Path) -> bool {
    path.ancestors()
        .skip(1)
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.mode() & 0o001 != 0))
}

/// The project (binary, python/, vendor/, .venv, tiny models) where the lab's accounts can
/// reach it: the checkout itself, or, when it lies in a folder only root may enter (a clone
/// under /root), a copy made of hard links (no data copied) in a folder they can enter.
fn project_for_others(base: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_runvqgan"));
    if reachable_by_others(repo) && bin.starts_with(repo) {
        return repo.to_path_buf();
    }
    let stage = base.join("project");
    std::fs::create_dir_all(stage.join("target/debug")).unwrap();
    std::fs::create_dir_all(stage.join("models")).unwrap();
    for (from, to) in [
        (bin.clone(), stage.join("target/debug/runvqgan")),
        (repo.join("python"), stage.join("python")),
        (repo.join("vendor"), stage.join("vendor")),
        (repo.join(".venv"), stage.join(".venv")),
        (repo.join("models/tiny"), stage.join("models/tiny")),
    ] {
        let linked = run(Command::new("cp").arg("-al").arg(&from).arg(&to));
        if !linked.status.success() {
            let copied = run(Command::new("cp").arg("-a").arg(&from).arg(&to));
            assert!(copied.status.success(), "cp {from:?}: {}", text(&copied));
        }
    }
    run(Command::new("chmod").args(["-R", "a+rX"]).arg(&stage));
    stage
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// A folder for one test's lab (readable by the lab's accounts), the project as they can
/// reach it, and the owner's home in it, made by the owner.
fn lab_folders(owner: Account) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let base = tempfile::Builder::new()
        .prefix("runvqgan-lab-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let project = project_for_others(base.path());
    let home = base.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(owner.uid), Some(owner.gid)).unwrap();
    (base, project, home)
}

#[test]
fn a_lab_of_accounts_works_and_members_cannot_touch_the_owners_state() {
    let (owner, anna, bob) = lab();
    let (base, project, home) = lab_folders(owner);
    let bin = project.join("target/debug/runvqgan");
    let python = std::fs::canonicalize(project.join(".venv/bin/python3")).unwrap();
    assert!(
        reachable_by_others(&python),
        "the Python environment's interpreter {} is private to root: the lab's accounts \
         cannot run the engine; scripts/setup.sh makes it with Debian's python3.11",
        python.display()
    );
    let root = home.join("lab");
    let root_s = root.to_str().unwrap();

    // The owner makes the shared folder for the lab's group.
    let out = run(&mut as_user(
        owner,
        &bin,
        &["init", "--group", GROUP, root_s],
    ));
    assert!(out.status.success(), "init: {}", text(&out));
    for folder in ["", "tasks", "output"] {
        let p = root.join(folder);
        assert_eq!(mode(&p), 0o3775, "{}", p.display());
        assert_eq!(std::fs::metadata(&p).unwrap().uid(), owner.uid);
    }
    for folder in [".runvqgan", "gallery"] {
        assert_eq!(mode(&root.join(folder)), 0o755, "{folder}");
    }
    // The owner's configuration: the tiny models.
    let models = project.join("models/tiny");
    let config = format!(
        "[models.default]\nvqgan_config = \"{}\"\nvqgan_checkpoint = \"{}\"\nclip_model = \"{}\"\n",
        models.join("vqgan.yaml").display(),
        models.join("vqgan.ckpt").display(),
        models.join("clip.pt").display()
    );
    std::fs::write(root.join("runvqgan.toml"), config).unwrap();
    std::os::unix::fs::chown(root.join("runvqgan.toml"), Some(owner.uid), None).unwrap();

    // The members make their folders and task files by hand, with umask 022.
    let drafts = base.path().join("drafts");
    std::fs::create_dir(&drafts).unwrap();
    let draft = |name: &str, body: String| {
        let p = drafts.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p
    };
    let robot = draft(
        "robot.txt",
        format!(r#"{{"text": "a robot", "out_file": "robot", "each": 2, "seed": 7, {TINY}}}"#),
    );
    let bad = draft("bad.txt", r#"{"text": "x", "out_fiel": "x"}"#.into());
    let sea = draft(
        "sea.txt",
        format!(r#"{{"text": "the sea", "out_file": "bob_sea", {TINY}}}"#),
    );
    let p = |rel: &str| root.join(rel).to_str().unwrap().to_string();
    let ok = |c: &mut Command, what: &str| {
        let out = run(c);
        assert!(out.status.success(), "{what}: {}", text(&out));
    };
    let (mkdir, cp) = (Path::new("/bin/mkdir"), Path::new("/bin/cp"));
    ok(&mut as_user(anna, mkdir, &[&p("anna")]), "anna's mkdir");
    ok(&mut as_user(bob, mkdir, &[&p("bob")]), "bob's mkdir");
    let (robot_s, bad_s, sea_s) = (
        robot.to_str().unwrap(),
        bad.to_str().unwrap(),
        sea.to_str().unwrap(),
    );
    ok(
        &mut as_user(anna, cp, &[robot_s, &p("anna/task_robot.txt")]),
        "anna's task",
    );
    ok(
        &mut as_user(anna, cp, &[bad_s, &p("anna/task_bad.txt")]),
        "anna's bad task",
    );
    ok(
        &mut as_user(bob, cp, &[sea_s, &p("tasks/bob_sea.txt")]),
        "bob's task",
    );
    assert_eq!(std::fs::metadata(root.join("anna")).unwrap().gid(), {
        std::fs::metadata(&root).unwrap().gid()
    });

    // The owner's night, in cron's bare environment.
    let out = run(&mut as_user(owner, &bin, &["run", "--root", root_s]));
    assert_eq!(
        out.status.code(),
        Some(3),
        "the night (one invalid task): {}",
        text(&out)
    );
    for made in [
        "anna/robot_1.png",
        "anna/robot_1.txt",
        "anna/robot_2.png",
        "anna/task_robot.txt.done",
        "anna/task_bad_ERROR.txt",
        "output/bob_sea_1.png",
        "tasks/bob_sea.txt.done",
    ] {
        assert!(root.join(made).exists(), "{made} missing: {}", text(&out));
    }
    assert_eq!(
        std::fs::metadata(root.join("anna/robot_1.png"))
            .unwrap()
            .uid(),
        owner.uid
    );
    let error = std::fs::read_to_string(root.join("anna/task_bad_ERROR.txt")).unwrap();
    assert!(error.contains("out_file"), "{error}");
    let log = std::fs::read_to_string(root.join("runvqgan.log")).unwrap();
    assert!(
        !log.contains("permissions:"),
        "no permission problem yet:\n{log}"
    );

    // Bob reproduces Anna's image into his own folder, with the owner's configuration.
    let out = run(&mut as_user(
        bob,
        &bin,
        &[
            "reproduce",
            "--root",
            root_s,
            "--config",
            &p("runvqgan.toml"),
            &p("anna/robot_1.txt"),
            "-o",
            &p("bob/robot_1.png"),
        ],
    ));
    assert!(out.status.success(), "bob's reproduce: {}", text(&out));
    let copies: Vec<String> = std::fs::read_dir(root.join("bob"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}: {}", text(&out));

    // A member can neither write nor replace the owner's gallery, state or locks.
    let touch = Path::new("/usr/bin/touch");
    let mv = Path::new("/bin/mv");
    let flock = Path::new("/usr/bin/flock");
    for (program, args) in [
        (touch, vec![p("gallery/index.html")]),
        (touch, vec![p(".runvqgan/speeds.json")]),
        (touch, vec![p(".runvqgan/runs/forged.json")]),
        (mv, vec![p("gallery"), p("gallery.old")]),
        (mv, vec![p(".runvqgan"), p("anna/state")]),
        (mv, vec![p("runvqgan.toml"), p("anna/toml")]),
        (
            flock,
            vec![
                "--nonblock".into(),
                p(".runvqgan/names.lock"),
                "/bin/true".into(),
            ],
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&mut as_user(anna, program, &args));
        assert!(
            !out.status.success(),
            "the member {} could run {} {args:?}",
            anna.name,
            program.display()
        );
    }

    // Anna's folder becomes unwritable for the owner: status names it, with the fix.
    ok(
        &mut as_user(anna, Path::new("/bin/chmod"), &["0755", &p("anna")]),
        "anna's chmod",
    );
    let out = run(&mut as_user(owner, &bin, &["status", "--root", root_s]));
    assert!(out.status.success(), "status: {}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("Permissions: "), "{shown}");
    assert!(
        shown.contains("anna: rvq-owner cannot write this folder"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("chmod 2775 {}", p("anna"))),
        "{shown}"
    );
    // The night's log names it too, with the fix.
    let out = run(&mut as_user(owner, &bin, &["run", "--root", root_s]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let log = std::fs::read_to_string(root.join("runvqgan.log")).unwrap();
    assert!(
        log.contains("permissions: anna: rvq-owner cannot write this folder"),
        "{log}"
    );
    // A member sees the queue too (status trusts the owner's configuration for reading).
    let out = run(&mut as_user(bob, &bin, &["status", "--root", root_s]));
    assert!(out.status.success(), "bob's status: {}", text(&out));
}

/// The owner's `plan` takes the tasks its last `check` knew from the owner's index (issue
/// 27); a member cannot read that index, reads every task, and is shown the same plan.
#[test]
fn a_members_plan_is_the_owners_plan_without_the_owners_index() {
    let (owner, anna, _) = lab();
    let (base, project, home) = lab_folders(owner);
    let bin = project.join("target/debug/runvqgan");
    let root = home.join("lab");
    let root_s = root.to_str().unwrap();
    let p = |rel: &str| root.join(rel).to_str().unwrap().to_string();
    let ok = |c: &mut Command, what: &str| {
        let out = run(c);
        assert!(out.status.success(), "{what}: {}", text(&out));
        out
    };
    ok(
        &mut as_user(owner, &bin, &["init", "--group", GROUP, root_s]),
        "init",
    );
    ok(
        &mut as_user(anna, Path::new("/bin/mkdir"), &[&p("anna")]),
        "mkdir",
    );
    let tasks = [
        (
            "anna/task_dog.txt",
            r#"{"text": "a dog:2|cat", "out_file": "dog", "each": 2, "seed": 3, "raw": "-cuts 16"}"#,
        ),
        ("anna/task_bad.txt", r#"{"text": "x", "out_fiel": "x"}"#),
        (
            "anna/task_sea.txt",
            r#"{"text": "the sea", "out_file": "sea", "style": ["", "Monet"], "iterations": 99999}"#,
        ),
    ];
    for (rel, body) in tasks {
        let draft = base.path().join("draft.txt");
        std::fs::write(&draft, body).unwrap();
        std::fs::set_permissions(&draft, std::fs::Permissions::from_mode(0o644)).unwrap();
        let cp = [draft.to_str().unwrap(), &p(rel)];
        ok(&mut as_user(anna, Path::new("/bin/cp"), &cp), "anna's task");
    }
    let out = run(&mut as_user(owner, &bin, &["check", "--root", root_s]));
    assert_eq!(out.status.code(), Some(0), "check: {}", text(&out));
    let index = root.join(".runvqgan/check-tasks.index");
    assert_eq!(mode(&index), 0o600, "the index is the owner's alone");
    let plan = |who: Account| {
        let args = ["plan", "--json", "--root", root_s];
        let out = ok(
            as_user(who, &bin, &args).env("RUST_LOG", "runvqgan=debug"),
            "plan",
        );
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        let line = log
            .lines()
            .find(|l| l.contains("planned as the owner's last check knew them"))
            .unwrap_or_else(|| panic!("no index line in the log:\n{log}"))
            .to_string();
        (String::from_utf8_lossy(&out.stdout).into_owned(), line)
    };
    let (owners, owners_log) = plan(owner);
    let (annas, annas_log) = plan(anna);
    assert!(
        owners_log.contains(" 2 task file(s) planned"),
        "{owners_log}"
    );
    assert!(annas_log.contains(" 0 task file(s) planned"), "{annas_log}");
    assert!(annas_log.contains(" 3 read and validated"), "{annas_log}");
    assert_eq!(owners, annas);
    assert!(owners.contains("\"anna/dog_2.png\""), "{owners}");
}
