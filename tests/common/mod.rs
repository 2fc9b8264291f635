//! A temporary shared folder for integration tests, and the `runvqgan` command pointed at it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use assert_cmd::Command;

pub mod gallery;

/// The environment variables that set runvqgan's root and configuration or arm its test
/// hooks: a test's runvqgan never takes them from the environment the tests run in.
pub const OUTER_SETTINGS: [&str; 4] = [
    "RUNVQGAN_ROOT",
    "RUNVQGAN_CONFIG",
    "RUNVQGAN_TEST_PAUSE_AT",
    "RUNVQGAN_TEST_ABORT_AT",
];

/// Waits until `child` stopped itself at the pause hook's point (it says so on stderr, in
/// `log`, then stops: state T).
pub fn wait_paused(child: &mut std::process::Child, log: &Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        let said = std::fs::read_to_string(log).unwrap_or_default();
        if said.contains("test hook: paused at") {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
            if stat.split(") ").nth(1).is_some_and(|s| s.starts_with('T')) {
                return;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("runvqgan ended ({status}) without pausing:\n{said}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "runvqgan never paused:\n{said}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A shared folder with `tasks/` and `output/`, deleted at the end of the test.
pub struct Shared {
    dir: tempfile::TempDir,
}

impl Shared {
    /// An empty shared folder with `tasks/` and `output/`.
    pub fn new() -> Shared {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("tasks")).unwrap();
        std::fs::create_dir(dir.path().join("output")).unwrap();
        Shared { dir }
    }

    /// The root's path.
    pub fn root(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    /// Writes `contents` to `rel` (creating folders) and returns its path.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Creates the folder `rel`.
    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let path = self.root().join(rel);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    /// Sets the modification time of `rel` to `secs` seconds after a fixed instant.
    pub fn set_mtime(&self, rel: &str, secs: u64) {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000 + secs);
        std::fs::File::options()
            .write(true)
            .open(self.root().join(rel))
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    /// Whether `rel` exists.
    pub fn exists(&self, rel: &str) -> bool {
        self.root().join(rel).exists()
    }

    /// `runvqgan`, run in the root, with none of the settings and test hooks
    /// ([`OUTER_SETTINGS`]) an outer environment could give it.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("runvqgan").unwrap();
        cmd.current_dir(self.root());
        for var in OUTER_SETTINGS {
            cmd.env_remove(var);
        }
        cmd
    }

    /// `runvqgan run --root <root>` as a process to spawn or wait for (stdin empty), in the
    /// root, without [`OUTER_SETTINGS`].
    pub fn run_process(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("runvqgan"));
        c.arg("run")
            .arg("--root")
            .arg(self.root())
            .current_dir(self.root())
            .stdin(std::process::Stdio::null());
        for var in OUTER_SETTINGS {
            c.env_remove(var);
        }
        c
    }

    /// `runvqgan run --root <root>`, which must end with exit code 0 (its stderr shown if not).
    pub fn run_night(&self) -> std::process::Output {
        let out = self
            .cmd()
            .args(["run", "--root"])
            .arg(self.root())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The events named `name` in the night's merged record (every run's
    /// `.runvqgan/events/<run>.jsonl`), as JSON.
    pub fn events(&self, name: &str) -> Vec<serde_json::Value> {
        runvqgan::records::events::read_all(&self.root())
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == name)
            .collect()
    }

    /// `runvqgan plan --root <root> --json`, parsed.
    pub fn plan_json(&self) -> serde_json::Value {
        let out = self
            .cmd()
            .args(["plan", "--json", "--root"])
            .arg(self.root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "plan failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The `task` paths of `plan --json` that are tasks (not the files listed as not run,
    /// status `skipped`), in order.
    pub fn planned_tasks(&self) -> Vec<String> {
        self.plan_json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] != "skipped")
            .map(|t| t["task"].as_str().unwrap().to_string())
            .collect()
    }

    /// The files `plan --json` lists as not run (status `skipped`): (path, reason), by path.
    pub fn not_run(&self) -> Vec<(String, String)> {
        self.plan_json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] == "skipped")
            .map(|t| {
                (
                    t["task"].as_str().unwrap().to_string(),
                    t["error"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The paths of [`Shared::not_run`].
    pub fn not_run_paths(&self) -> Vec<String> {
        self.not_run().into_iter().map(|(p, _)| p).collect()
    }

    /// `runvqgan check --root <root>`: (exit code, stdout).
    pub fn check(&self) -> (i32, String) {
        let out = self
            .cmd()
            .args(["check", "--root"])
            .arg(self.root())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// The text of `rel`.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel))
            .unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
    }

    /// The one task of `plan --json` whose path is `rel`.
    pub fn planned(&self, rel: &str) -> serde_json::Value {
        self.plan_json()
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["task"] == rel)
            .unwrap_or_else(|| panic!("{rel} is not in the plan"))
            .clone()
    }

    /// `runvqgan validate <rel>` run in the root: (exit code, stdout).
    pub fn validate(&self, rel: &str) -> (i32, String) {
        let out = self.cmd().args(["validate", rel]).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// The outputs (`output` fields) planned for task `rel`.
    pub fn outputs(&self, rel: &str) -> Vec<String> {
        self.planned(rel)["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["output"].as_str().unwrap().to_string())
            .collect()
    }
}

/// A minimal valid task.
pub fn task(out_file: &str) -> String {
    format!(r#"{{"text": ["A painting of a dog"], "out_file": ["{out_file}"]}}"#)
}

/// The path of a file as a &Path (helper for readability).
pub fn p(s: &str) -> &Path {
    Path::new(s)
}

/// The tiny models of `scripts/make_tiny_models.py` (made by `scripts/setup.sh
/// --env-only`), or a panic that says how to make them. Only the tests that run the engine
/// use them.
pub fn tiny_models() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tiny");
    assert!(
        dir.join("clip.pt").exists() && dir.join("vqgan.ckpt").exists(),
        "the tiny models are missing in {}; run scripts/setup.sh --env-only",
        dir.display()
    );
    dir
}

/// The `[models.default]` table for the tiny models.
pub fn tiny_models_toml() -> String {
    let m = tiny_models();
    format!(
        "[models.default]\nvqgan_config = \"{}\"\nvqgan_checkpoint = \"{}\"\nclip_model = \"{}\"\n",
        m.join("vqgan.yaml").display(),
        m.join("vqgan.ckpt").display(),
        m.join("clip.pt").display()
    )
}

/// The uid and gid of a lab member who is not the owner (created once; needs root, as in
/// CI).
pub fn member() -> (u32, u32) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let name = std::ffi::CString::new("runvqgan-member").unwrap();
    // SAFETY: getpwnam with a valid C string; the record is copied out at once.
    let find = || unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        (!pw.is_null()).then(|| ((*pw).pw_uid, (*pw).pw_gid))
    };
    if let Some(ids) = find() {
        return ids;
    }
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test creates a second user (a lab member) and needs root, as CI has"
    );
    let status = std::process::Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
        ])
        .arg("runvqgan-member")
        .status()
        .expect("useradd");
    find().unwrap_or_else(|| panic!("useradd runvqgan-member failed: {status}"))
}

/// Makes `path` (a member's folder) belong to the member.
pub fn give_to(path: &Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

/// Whether the member `ids` can take a shared `flock` on `path` at once (to open it, they
/// must be allowed to read it).
pub fn member_can_lock(ids: (u32, u32), path: &Path) -> bool {
    use std::os::unix::process::CommandExt;
    std::process::Command::new("flock")
        .args(["--shared", "--nonblock"])
        .arg(path)
        .arg("true")
        .uid(ids.0)
        .gid(ids.1)
        .output()
        .unwrap()
        .status
        .success()
}

/// The member `ids` holding a shared `flock` on `path` for ten minutes (`--close`: the lock
/// stays with flock itself, not with the `sleep` it starts); kill the child to end it.
pub fn member_holds_lock(ids: (u32, u32), path: &Path) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    std::process::Command::new("flock")
        .args(["--shared", "--close"])
        .arg(path)
        .args(["sleep", "600"])
        .uid(ids.0)
        .gid(ids.1)
        .spawn()
        .unwrap()
}

/// The last two numbers of the first line of `log` that holds `marker`: what a command's
/// debug log says it took from the owner's index and what it read (`check`, `plan`).
pub fn logged_counts(log: &str, marker: &str) -> (usize, usize) {
    let line = log
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no line with {marker:?} in the log:\n{log}"));
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    let n = numbers.len();
    (numbers[n - 2], numbers[n - 1])
}
