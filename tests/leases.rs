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
const PID: &str = "RUNVQGAN_TEST_PID";

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
    if host != host_name() {
        // SAFETY: the name is a valid buffer of its length.
        let rc = unsafe { libc::sethostname(host.as_ptr().cast(), host.len()) };
        assert_eq!(rc, 0, "sethostname: {}", std::io::Error::last_os_error());
    }
    let me = host_name();
    // Lease files are reached through the root's confined access, as in `run`.
    let root = runvqgan::shared_folder::root::Root::open(&dir).unwrap();
    let dir = root.path().to_path_buf();
    let config = lease_config();
    let claims = ClaimMethod::for_root(&dir, config.claims, config.lease_seconds);
    assert_eq!(claims.holder.host, host);
    match std::env::var(MODE).unwrap().as_str() {
        // Process 1 of a new PID namespace: starts the holder (`hold`) as process `PID` of
        // the namespace (the kernel hands out the number after `ns_last_pid`).
        "hold-as-pid" => {
            let pid: u32 = std::env::var(PID).unwrap().parse().unwrap();
            std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
            let status = Command::new(std::env::current_exe().unwrap())
                .args(["--ignored", "--exact", "host_process", "--nocapture"])
                .env(MODE, "hold")
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
        }
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

/// Issue 25, item 5: containers on one host share its name and boot but not process ids. A
/// holder in another PID namespace (`unshare --pid`), whose process id names no process in
/// this namespace, is not taken for dead: its lease is left until it expires.
#[test]
fn a_live_holder_in_another_pid_namespace_is_not_taken_for_dead() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("task.txt"), "{}").unwrap();
    // A process id no process has in this namespace: the holder gets it in its own.
    let pid = (300..100_000u32)
        .find(|p| !Path::new(&format!("/proc/{p}")).exists())
        .unwrap();
    let mut holder = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--"])
        .arg(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "host_process", "--nocapture"])
        .env(HOST, host_name())
        .env(DIR, dir.path())
        .env(MODE, "hold-as-pid")
        .env(PID, pid.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("unshare (util-linux) must be installed; the test runs as root");
    let start = Instant::now();
    while !lines(dir.path()).iter().any(|l| l.starts_with("held ")) {
        assert!(start.elapsed() < Duration::from_secs(60), "never held");
        assert!(holder.try_wait().unwrap().is_none(), "the holder ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    let root = runvqgan::shared_folder::root::Root::open(dir.path()).unwrap();
    let lease = runvqgan::shared_folder::files::lease_path(root.path(), "task.txt");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&lease).unwrap()).unwrap();
    assert_eq!(record["host"], host_name().as_str(), "{record}");
    assert_eq!(record["pid"], pid, "{record}");
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_eq!(record["boot_id"], boot.trim(), "{record}");
    let ours = std::fs::metadata("/proc/self/ns/pid").unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_ne!(record["pid_ns"], ours.ino(), "{record}");
    // SAFETY: signal 0 only asks whether the process exists.
    assert_ne!(
        unsafe { libc::kill(pid as libc::pid_t, 0) },
        0,
        "pid {pid} is taken here"
    );

    let config = lease_config();
    let claims = ClaimMethod::for_root(root.path(), config.claims, config.lease_seconds);
    let task = root.path().join("task.txt");
    // Same host name, same boot, a process id that is free here: still not taken, through
    // more than two lease times of renewals.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(5) {
        assert!(
            claims.claim(&task).unwrap().is_none(),
            "taken from a live holder"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The container ends (its process 1 is killed, and with it the namespace): the lease
    // is no longer renewed, and it is taken once it has run out.
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", holder.id())).unwrap();
    for c in children.split_whitespace() {
        // SAFETY: signalling our own grandchild (process 1 of the namespace).
        unsafe { libc::kill(c.parse().unwrap(), libc::SIGKILL) };
    }
    let _ = holder.wait();
    let gone = Instant::now();
    let claim = loop {
        if let Some(c) = claims.claim(&task).unwrap() {
            break c;
        }
        assert!(gone.elapsed() < Duration::from_secs(20), "never freed");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(claim.took_over().unwrap().pid, pid);
    claim.finish();
}
