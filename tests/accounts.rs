//! runvqgan is built by one account and run by another: the owner's cron job or service
//! (`User=vqgan`), a member's `reproduce`. What the build records (the Python it embeds, its
//! standard library) must be readable by them, and when it is not, the message names the
//! folder that stops them. These tests run the binary as `nobody` when they run as root
//! (root may enter every folder, whatever its mode), else as the account running them.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Shared, tiny_models_toml};
use runvqgan::engine::pyhome::BUILT_VERSION;
use runvqgan::process::access::first_denied;

/// The account the binary runs as: `nobody` when the tests run as root.
const NOBODY: u32 = 65534;

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Whether an account that neither owns a folder nor is in its group may enter it.
fn others_may_enter(dir: &Path) -> std::io::Result<()> {
    if std::fs::metadata(dir)?.permissions().mode() & 0o001 == 0 {
        return Err(std::io::ErrorKind::PermissionDenied.into());
    }
    Ok(())
}

/// `runvqgan ARGS` as another account (`nobody` under root), in `cwd`, with a bare
/// environment as cron gives.
fn as_other_account(binary: &Path, cwd: &Path, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut cmd = Command::new(binary);
    cmd.current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", cwd)
        .args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    if running_as_root() {
        // std drops the supplementary groups when it changes the user.
        cmd.uid(NOBODY).gid(NOBODY);
    }
    cmd.output().unwrap()
}

/// A shared folder that other accounts may enter, with the tiny models' runvqgan.toml.
fn open_shared() -> Shared {
    let shared = Shared::new();
    shared.write("runvqgan.toml", tiny_models_toml());
    chmod(&shared.root(), 0o755);
    shared
}

#[test]
fn an_account_that_cannot_enter_the_python_home_is_told_which_folder_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().canonicalize().unwrap();
    chmod(&top, 0o755);
    // The home stands in for one built under /root with pyenv: a complete standard library
    // under a folder only its owner may enter (0700; 0000 when the tests run unprivileged,
    // since the owner may enter 0700).
    let locked = top.join("locked");
    let prefix = locked.join("py");
    let stdlib = prefix.join(format!("lib/python{BUILT_VERSION}"));
    std::fs::create_dir_all(stdlib.join("lib-dynload")).unwrap();
    std::fs::write(stdlib.join("os.py"), "").unwrap();
    chmod(&locked, if running_as_root() { 0o700 } else { 0o000 });
    // The environment itself is readable.
    let env = top.join("venv");
    std::fs::create_dir_all(env.join(format!("lib/python{BUILT_VERSION}/site-packages"))).unwrap();
    std::fs::write(
        env.join("pyvenv.cfg"),
        format!(
            "home = {}/bin\nversion = {BUILT_VERSION}.0\n",
            prefix.display()
        ),
    )
    .unwrap();
    // A project folder (python/, vendor/) and the binary where the other account reaches
    // them, wherever this checkout lives.
    let project = top.join("project");
    std::fs::create_dir_all(project.join("python/runvqgan_glue")).unwrap();
    std::fs::create_dir_all(project.join("vendor")).unwrap();
    let binary = project.join("runvqgan");
    std::fs::copy(env!("CARGO_BIN_EXE_runvqgan"), &binary).unwrap();
    chmod(&binary, 0o755);
    let shared = open_shared();

    let out = as_other_account(
        &binary,
        &shared.root(),
        &[
            ("RUNVQGAN_TEST_PYTHON_HOME", &prefix),
            ("RUNVQGAN_HOME", &project),
        ],
        &[
            "models",
            "check",
            "--root",
            shared.root().to_str().unwrap(),
            "--python-env",
            env.to_str().unwrap(),
        ],
    );
    chmod(&locked, 0o700);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    let denied = format!("permission denied on {},", locked.display());
    assert!(stderr.contains(&denied), "stderr:\n{stderr}");
    assert!(!stderr.contains("os.py"), "stderr:\n{stderr}");
    assert!(
        stderr.contains("rebuild runvqgan with a Python every account can read"),
        "stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("scripts/setup.sh uses Debian's python3.11"),
        "stderr:\n{stderr}"
    );
}

/// The folders another account must enter to run this checkout's build: the binary's, the
/// project's, its .venv and the tiny models. The first one it cannot enter, if any.
fn closed_to_others(project: &Path) -> Option<PathBuf> {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_runvqgan"));
    let folders = [
        binary.parent().unwrap().to_path_buf(),
        project.join(".venv/bin"),
        project.join("models/tiny"),
        project.join("python/runvqgan_glue"),
    ];
    folders
        .iter()
        .find_map(|f| first_denied(f, others_may_enter))
}

#[test]
fn another_account_loads_the_models_with_the_python_the_build_recorded() {
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    let models = common::tiny_models();
    if let Some(closed) = closed_to_others(project) {
        // Not a fault of the build: this checkout itself is private (CI may clone under
        // /root). The build's own Python is what this test is about.
        eprintln!(
            "SKIPPED: other accounts cannot enter {} (this checkout), so they cannot run its \
             build at all; clone it under a folder they may enter to run this test",
            closed.display()
        );
        return;
    }
    assert!(models.is_dir());
    let shared = open_shared();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_runvqgan"));
    let out = as_other_account(
        &binary,
        &shared.root(),
        &[],
        &["models", "check", "--root", shared.root().to_str().unwrap()],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code()
    );
    assert!(stdout.contains("codebook"), "{stdout}");
}
