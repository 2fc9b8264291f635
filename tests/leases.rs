//! Claims across machines, with machines simulated: each "host" is a process in its own UTS
//! namespace (`unshare --uts`, util-linux) with its own host name, all working on one folder,
//! with leases of two seconds. The processes run this test binary's `host_process` (ignored
//! in normal runs; started by the tests below with `--ignored --exact`), which claims tasks
//! the way `run` does ([`ClaimMethod`]). Needs root (CI runs as root) for the namespaces.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use runvqgan::config::Config;
use runvqgan::process::host_name;
use runvqgan::shared_folder::locks::method::ClaimMethod;

const HOST: &str = "RUNVQGAN_TEST_HOST";
const DIR: &str = "RUNVQGAN_TEST_DIR";
const MODE: &str = "RUNVQGAN_TEST_MODE";

fn lease_config() -> Config {
    Config::from_toml("claims = \"lease\"\nlease_seconds = 2\n").unwrap()
}

/// Appends a line to `dir/record` (one write on an O_APPEND file: lines never interleave).
fn record(dir: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join("record"))
        .unwrap();
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

fn tasks(dir: &Path) -> Vec<PathBuf> {
    let mut t: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    t.sort();
    t
}

/// One simulated host. `race`: claim every task not done yet, record it, mark it done (as
/// `run` renames a task to `.done`). `hold`: claim the first task and keep it, recording
/// `lost` when the lease is found taken over. `wait`: try the first task until it is taken.
#[test]
#[ignore = "started by the other tests of this file in a UTS namespace of its own"]
fn host_process() {
    let host = std::env::var(HOST).expect("started by the tests of tests/leases.rs");
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    // SAFETY: the name is a valid buffer of its length.
    let rc = unsafe { libc::sethostname(host.as_ptr().cast(), host.len()) };
    assert_eq!(rc, 0, "sethostname: {}", std::io::Error::last_os_error());
    let me = host_name();
    // Lease files are reached through the root's confined access, as in `run`.
    let root = runvqgan::shared_folder::root::Root::open(&dir).unwrap();
    let dir = root.path().to_path_buf();
    let config = lease_config();
    let claims = ClaimMethod::for_root(&dir, config.claims, config.lease_seconds);
    assert_eq!(claims.holder.host, host);
    match std::env::var(MODE).unwrap().as_str() {
        "race" => {
            for task in tasks(&dir) {
                let Some(claim) = claims.claim(&task).unwrap() else {
                    continue;
                };
                let done = task.with_extension("txt.done");
                if !done.exists() {
                    record(&dir, &format!("{} {me}", task.display()));
                    std::thread::sleep(Duration::from_millis(20));
                    std::fs::write(&done, "").unwrap();
                }
                claim.finish();
            }
        }
        "hold" => {
            let task = &tasks(&dir)[0];
            let claim = claims.claim(task).unwrap().expect("the task is free");
            record(&dir, &format!("held {me}"));
            while !claim.is_lost() {
                std::thread::sleep(Duration::from_millis(50));
            }
            record(&dir, &format!("lost {me}"));
        }
        "wait" => {
            let task = &tasks(&dir)[0];
            let start = Instant::now();
            loop {
                if let Some(claim) = claims.claim(task).unwrap() {
                    let old = claim.took_over().expect("taken over from the holder");
                    record(
                        &dir,
                        &format!(
                            "took {me} from {} after {:.1}",
                            old.host,
                            start.elapsed().as_secs_f64()
                        ),
                    );
                    claim.finish();
                    return;
                }
                assert!(start.elapsed() < Duration::from_secs(20), "never freed");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        other => panic!("unknown mode {other}"),
    }
}

/// Starts `host_process` as host `host` in a new UTS namespace.
fn start_host(dir: &Path, host: &str, mode: &str) -> Child {
    Command::new("unshare")
        .arg("--uts")
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "host_process", "--nocapture"])
        .env(HOST, host)
        .env(DIR, dir)
        .env(MODE, mode)
        .stdout(Stdio::null())
        .spawn()
        .expect("unshare (util-linux) must be installed; the test runs as root")
}

fn wait_ok(child: Child) {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "a simulated host failed: {out:?}");
}

fn lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("record"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn three_hosts_racing_for_the_same_tasks_do_each_task_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..30 {
        std::fs::write(dir.path().join(format!("task{i:02}.txt")), "{}").unwrap();
    }
    let hosts: Vec<Child> = ["node-a", "node-b", "node-c"]
        .iter()
        .map(|h| start_host(dir.path(), h, "race"))
        .collect();
    for h in hosts {
        wait_ok(h);
    }
    let record = lines(dir.path());
    let mut done: Vec<&str> = record
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    done.sort();
    let expected: Vec<String> = tasks(dir.path())
        .iter()
        .map(|t| t.display().to_string())
        .collect();
    assert_eq!(done, expected, "each task exactly once:\n{record:#?}");
    for line in &record {
        let host = line.split(' ').nth(1).unwrap();
        assert!(host.starts_with("node-"), "host names differ: {line}");
    }
    assert_ne!(host_name(), "node-a");
}

#[test]
fn a_host_that_stops_renewing_loses_its_task_to_another_after_the_lease_expires() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("task.txt"), "{}").unwrap();
    let holder = start_host(dir.path(), "node-hung", "hold");
    let start = Instant::now();
    while !lines(dir.path()).iter().any(|l| l == "held node-hung") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the holder never claimed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The node hangs: its renewal thread stops with it.
    let pid = holder.id() as libc::pid_t;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    // `unshare` forks the test binary: stop that child too.
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for c in children.split_whitespace() {
        // SAFETY: signalling our own grandchild.
        unsafe { libc::kill(c.parse().unwrap(), libc::SIGSTOP) };
    }
    wait_ok(start_host(dir.path(), "node-b", "wait"));
    let took = lines(dir.path())
        .into_iter()
        .find(|l| l.starts_with("took"))
        .unwrap();
    assert!(
        took.starts_with("took node-b from node-hung after"),
        "{took}"
    );
    let after: f64 = took.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        after >= 1.0,
        "taken over before the 2 s lease could expire: {took}"
    );
    // The node wakes up and finds its lease gone.
    for c in children.split_whitespace() {
        // SAFETY: as above.
        unsafe { libc::kill(c.parse().unwrap(), libc::SIGCONT) };
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    wait_ok(holder);
    assert!(
        lines(dir.path()).iter().any(|l| l == "lost node-hung"),
        "{:?}",
        lines(dir.path())
    );
}
