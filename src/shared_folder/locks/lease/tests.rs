//! The lease's unit tests: taking, taking over, renewing and releasing leases in a
//! temporary root, and files planted in a lease's place. Expiry is driven by a
//! [`ManualClock`] the tests move forward, not by waiting.

use std::path::PathBuf;
use std::time::SystemTime;

use super::*;

/// Clocks that stand still until a test moves them: a lease expires when the test says,
/// without waiting for it. The wall clock starts at the machine's time, plus `skew` (a
/// machine whose clock is off), the boot clock at the machine's; `advance` moves both.
#[derive(Debug)]
struct ManualClock(Mutex<(SystemTime, Duration)>);

impl ManualClock {
    fn new() -> Arc<ManualClock> {
        ManualClock::skewed(Duration::ZERO, false)
    }

    /// A clock `skew` ahead of the machine's (`behind`: that far behind).
    fn skewed(skew: Duration, behind: bool) -> Arc<ManualClock> {
        let now = SystemTime::now();
        let wall = if behind { now - skew } else { now + skew };
        Arc::new(ManualClock(Mutex::new((wall, clock::boot_time()))))
    }

    fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap();
        t.0 += by;
        t.1 += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.0.lock().unwrap().0
    }

    fn since_boot(&self) -> Duration {
        self.0.lock().unwrap().1
    }
}

/// A temporary folder registered as a root (lease files live under one).
fn root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = crate::shared_folder::root::Root::open(dir.path()).unwrap();
    let path = root.path().to_path_buf();
    (dir, path)
}

fn host(name: &str) -> Holder {
    Holder {
        host: name.into(),
        pid: 1,
        slurm: None,
        boot_id: None,
        pid_ns: None,
    }
}

#[test]
fn a_lease_is_exclusive_until_dropped() {
    let (_dir, root) = root();
    let path = root.as_path().join(".t.lease");
    let ttl = Duration::from_secs(30);
    let a = Lease::try_acquire(&path, &host("a"), ttl).unwrap().unwrap();
    assert!(
        Lease::try_acquire(&path, &host("b"), ttl)
            .unwrap()
            .is_none()
    );
    assert_eq!(read_at(&path, ttl).unwrap().host, "a");
    drop(a);
    assert!(!path.exists());
    assert!(
        Lease::try_acquire(&path, &host("b"), ttl)
            .unwrap()
            .is_some()
    );
    let left: Vec<_> = std::fs::read_dir(root.as_path()).unwrap().collect();
    assert!(left.len() <= 1, "temporaries left: {left:?}");
}

#[test]
fn an_expired_lease_is_taken_over_and_its_holder_learns_it_lost() {
    let (_dir, root) = root();
    let path = root.as_path().join(".t.lease");
    let short = Duration::from_millis(300);
    let clock = ManualClock::new();
    let a = Lease::try_acquire_with(&path, &host("a"), short, clock.clone())
        .unwrap()
        .unwrap();
    assert!(
        Lease::try_acquire_with(&path, &host("b"), short, clock.clone())
            .unwrap()
            .is_none()
    );
    clock.advance(Duration::from_millis(400));
    let b = Lease::try_acquire_with(&path, &host("b"), short, clock.clone())
        .unwrap()
        .unwrap();
    assert_eq!(b.took_over.as_ref().unwrap().host, "a");
    assert_eq!(read_at(&path, short).unwrap().host, "b");
    // The old holder cannot renew any more, and dropping it leaves b's lease alone.
    assert!(!a.shared.renew());
    drop(a);
    assert_eq!(read_at(&path, short).unwrap().host, "b");
    drop(b);
    assert!(!path.exists());
}

#[test]
fn a_renewed_lease_outlives_its_time_and_one_not_renewed_does_not() {
    let (_dir, root) = root();
    let renewed = root.as_path().join(".r.lease");
    let stalled = root.as_path().join(".s.lease");
    let ttl = Duration::from_millis(600);
    let clock = ManualClock::new();
    // `r` is renewed by the step its renewal thread makes every third of the lease time,
    // called here as the clock reaches each of those moments.
    let r = Lease::try_acquire_with(&renewed, &host("a"), ttl, clock.clone())
        .unwrap()
        .unwrap();
    let s = Lease::try_acquire_with(&stalled, &host("a"), ttl, clock.clone())
        .unwrap()
        .unwrap()
        .keep_renewed();
    s.abandon();
    for _ in 0..7 {
        clock.advance(ttl / 3);
        r.shared.step();
    }
    clock.advance(Duration::from_millis(100)); // 1.5 s in all
    assert!(
        Lease::try_acquire_with(&renewed, &host("b"), ttl, clock.clone())
            .unwrap()
            .is_none()
    );
    assert!(!r.is_lost());
    let taken = Lease::try_acquire_with(&stalled, &host("b"), ttl, clock.clone()).unwrap();
    assert!(
        taken.is_some(),
        "a holder that stopped renewing keeps its lease"
    );
}

#[test]
fn a_lease_of_a_dead_process_on_this_host_is_free_at_once() {
    let (_dir, root) = root();
    let path = root.as_path().join(".t.lease");
    let ttl = Duration::from_secs(3600);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let me = Holder::this_process();
    let gone = Holder {
        pid: dead,
        ..me.clone()
    };
    Lease::try_acquire(&path, &gone, ttl)
        .unwrap()
        .unwrap()
        .abandon();
    let elsewhere = Holder {
        host: format!("{}-other", me.host),
        pid: dead,
        ..me.clone()
    };
    // Another host cannot see the process, so it waits for the expiry; this host can.
    assert!(
        Lease::try_acquire(&path, &elsewhere, ttl)
            .unwrap()
            .is_none()
    );
    let taken = Lease::try_acquire(&path, &me, ttl).unwrap().unwrap();
    assert_eq!(taken.took_over.as_ref().unwrap().pid, dead);
}

#[test]
fn a_foreign_file_in_the_leases_place_expires_after_the_lease_time() {
    let (_dir, root) = root();
    let path = root.as_path().join(".t.lease");
    std::fs::write(&path, "not a lease").unwrap();
    // Not a lease runvqgan wrote: free once this process has seen it unchanged for a lease time.
    let clock = ManualClock::new();
    let ttl = Duration::from_millis(300);
    assert!(
        Lease::try_acquire_with(&path, &host("a"), ttl, clock.clone())
            .unwrap()
            .is_none()
    );
    clock.advance(Duration::from_millis(400));
    assert!(
        Lease::try_acquire_with(&path, &host("a"), ttl, clock.clone())
            .unwrap()
            .is_some()
    );
}

#[test]
fn hosts_racing_for_the_same_tasks_each_get_every_task_at_most_once() {
    let (_dir, root) = root();
    let ttl = Duration::from_millis(200);
    let tasks: Vec<PathBuf> = (0..40)
        .map(|i| root.as_path().join(format!(".task{i}.lease")))
        .collect();
    // Half the tasks start with the lease of a node that died: the racers take it over.
    for path in tasks.iter().step_by(2) {
        let dead = LeaseRecord::of(
            &host("dead-node"),
            new_token(&host("dead-node")),
            SystemClock.now_ms() - 1000,
        );
        let file = LeaseFile::open(path).unwrap();
        assert!(create_exclusive(&file.dir, &file.name, &dead).unwrap());
    }
    let done = Arc::new(Mutex::new(Vec::<(usize, String)>::new()));
    std::thread::scope(|s| {
        for h in ["node1", "node2", "node3", "node4"] {
            let (tasks, done) = (&tasks, done.clone());
            s.spawn(move || {
                for (i, path) in tasks.iter().enumerate() {
                    if let Some(lease) = Lease::try_acquire(path, &host(h), ttl).unwrap() {
                        let lease = lease.keep_renewed();
                        std::thread::sleep(Duration::from_millis(2));
                        assert!(!lease.is_lost());
                        done.lock().unwrap().push((i, h.to_string()));
                        // Finished tasks keep their lease file, like a `.done` task
                        // that is no longer listed.
                        std::mem::forget(lease);
                    }
                }
            });
        }
    });
    let mut got = done.lock().unwrap().clone();
    got.sort();
    let numbers: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
    assert_eq!(numbers, (0..40).collect::<Vec<_>>(), "{got:?}");
}

#[test]
fn a_link_or_fifo_planted_at_a_lease_is_replaced_without_following_or_blocking() {
    let (_dir, root) = root();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("owners-file");
    std::fs::write(&target, "the owner's").unwrap();
    let link = root.join(".l.lease");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = root.join(".f.lease");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
    let ttl = Duration::from_secs(60);
    for path in [&link, &fifo] {
        let lease = Lease::try_acquire(path, &host("a"), ttl)
            .unwrap()
            .expect("a planted entry holds nothing");
        assert!(std::fs::symlink_metadata(path).unwrap().is_file());
        assert_eq!(read_at(path, ttl).unwrap().host, "a");
        drop(lease);
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "the owner's");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
}

#[test]
fn a_folder_at_a_lease_or_a_folder_swapped_for_a_link_out_is_an_error() {
    let (_dir, root) = root();
    let path = root.join(".d.lease");
    std::fs::create_dir(&path).unwrap();
    let e = Lease::try_acquire(&path, &host("a"), Duration::from_secs(60)).unwrap_err();
    assert!(e.to_string().contains("a folder"), "{e}");
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
    let e = Lease::try_acquire(
        &root.join("out/.t.lease"),
        &host("a"),
        Duration::from_secs(60),
    )
    .unwrap_err();
    assert!(crate::shared_folder::confined::is_escape(&e), "{e}");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn a_forged_lease_whose_token_would_lead_the_takeover_marker_out_is_foreign() {
    let (_dir, root) = root();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("owners-file");
    std::fs::write(&victim, "the owner's").unwrap();
    let path = root.join(".t.lease");
    // The folder the forged token walks through exists: a member made it.
    std::fs::create_dir(root.join(".t.lease.takeover-x")).unwrap();
    let up = "../".repeat(root.components().count() + 2);
    let token = format!(
        "x/{up}{}",
        victim.display().to_string().trim_start_matches('/')
    );
    let forged =
        format!(r#"{{"host": "node\u001b[31m", "pid": 1, "token": {token:?}, "expires_ms": 0}}"#);
    std::fs::write(&path, forged).unwrap();
    let clock = ManualClock::new();
    let ttl = Duration::from_millis(300);
    let read = read_at(&path, ttl).unwrap();
    assert!(
        read.host.is_empty() && read.token.starts_with("unreadable-"),
        "{read:?}"
    );
    clock.advance(Duration::from_millis(400));
    let lease = Lease::try_acquire_with(&path, &host("a"), ttl, clock.clone())
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "the owner's");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    drop(lease);
}

/// Finding 8 of round 3: a forged lease that claims to last until 2099, its file's time set
/// to 2099 as well (`touch -d`), held the task for ever. Its life is now judged from what
/// this process observed: unchanged for a lease time, it is taken over.
#[test]
fn a_forged_lease_dated_2099_expires_once_seen_unchanged_for_a_lease_time() {
    let (_dir, root) = root();
    let path = root.as_path().join(".forged.lease");
    let ttl = Duration::from_secs(30);
    let year_2099_ms: u64 = 4_070_908_800_000;
    let forged = LeaseRecord::of(
        &host("node-forged"),
        "0123456789abcdef01234567".into(),
        year_2099_ms,
    );
    std::fs::write(&path, serde_json::to_string(&forged).unwrap()).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_millis(year_2099_ms))
        .unwrap();
    let clock = ManualClock::new();
    let us = host("owner");
    assert!(
        Lease::try_acquire_with(&path, &us, ttl, clock.clone())
            .unwrap()
            .is_none(),
        "held while it is new"
    );
    clock.advance(ttl - Duration::from_secs(1));
    assert!(
        Lease::try_acquire_with(&path, &us, ttl, clock.clone())
            .unwrap()
            .is_none()
    );
    clock.advance(Duration::from_secs(2));
    let ours = Lease::try_acquire_with(&path, &us, ttl, clock.clone())
        .unwrap()
        .expect("taken over a lease time after it was first seen unchanged, whatever it says");
    assert_eq!(ours.took_over.as_ref().unwrap().host, "node-forged");
}

mod time_and_identity;
