//! Issue 25, items 5 and 8: a lease's life is judged from each process's own observations
//! (its boot clock, and how long it saw a lease unchanged), not from other machines' clocks
//! or a file's modification time; a holder is "dead on this host" only when host name, boot
//! id and PID namespace all match.

use super::*;

/// Sets the modification time of `path` to 1970, as a file server whose clock is far
/// behind would stamp it.
fn stamp_1970(path: &Path) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH).unwrap();
}

#[test]
fn a_lease_renewed_with_its_file_dated_1970_is_never_taken_over() {
    let (_dir, root) = root();
    let path = root.as_path().join(".t.lease");
    let ttl = Duration::from_millis(900);
    // The holder's clock runs behind the reader's by most of a lease time.
    let holder_clock = ManualClock::skewed(Duration::from_millis(800), true);
    let reader_clock = ManualClock::new();
    let held = Lease::try_acquire_with(&path, &host("a"), ttl, holder_clock.clone())
        .unwrap()
        .unwrap();
    for _ in 0..12 {
        stamp_1970(&path);
        assert!(
            Lease::try_acquire_with(&path, &host("b"), ttl, reader_clock.clone())
                .unwrap()
                .is_none(),
            "a renewed lease was taken over"
        );
        holder_clock.advance(ttl / 3);
        reader_clock.advance(ttl / 3);
        assert!(held.shared.step(), "the holder lost its own lease");
    }
    assert!(!held.is_lost());
}

#[test]
fn a_lease_whose_holder_clock_runs_a_day_ahead_is_free_once_seen_unchanged_for_a_lease_time() {
    let (_dir, root) = root();
    let path = root.as_path().join(".t.lease");
    let ttl = Duration::from_millis(600);
    let ahead = ManualClock::skewed(Duration::from_secs(86_400), false);
    Lease::try_acquire_with(&path, &host("a"), ttl, ahead)
        .unwrap()
        .unwrap()
        .abandon();
    let reader = ManualClock::new();
    assert!(
        Lease::try_acquire_with(&path, &host("b"), ttl, reader.clone())
            .unwrap()
            .is_none()
    );
    reader.advance(ttl / 2);
    assert!(
        Lease::try_acquire_with(&path, &host("b"), ttl, reader.clone())
            .unwrap()
            .is_none()
    );
    reader.advance(ttl);
    let b = Lease::try_acquire_with(&path, &host("b"), ttl, reader.clone())
        .unwrap()
        .expect("unchanged for more than a lease time: its holder stopped");
    assert_eq!(b.took_over.as_ref().unwrap().host, "a");
}

#[test]
fn a_lease_that_ran_out_long_ago_is_free_at_first_sight_and_one_just_run_out_is_not() {
    let (_dir, root) = root();
    let ttl = Duration::from_secs(60);
    for (name, ago, free) in [("old", 3600, true), ("new", 30, false)] {
        let path = root.as_path().join(format!(".{name}.lease"));
        let past = ManualClock::skewed(Duration::from_secs(ago) + ttl, true);
        Lease::try_acquire_with(&path, &host("a"), ttl, past)
            .unwrap()
            .unwrap()
            .abandon();
        // Expired `ago` seconds ago by the writer's clock: within the lease time it may
        // still be a live holder whose clock runs behind.
        let taken = Lease::try_acquire_with(&path, &host("b"), ttl, ManualClock::new()).unwrap();
        assert_eq!(taken.is_some(), free, "{name}");
    }
}

#[test]
fn a_holder_frozen_for_a_lease_time_learns_it_lost_its_lease_before_anyone_may_take_it() {
    let (_dir, root) = root();
    let path = root.as_path().join(".t.lease");
    let ttl = Duration::from_millis(600);
    let clock = ManualClock::new();
    let held = Lease::try_acquire_with(&path, &host("a"), ttl, clock.clone())
        .unwrap()
        .unwrap();
    clock.advance(ttl / 2);
    assert!(held.confirm(), "held and renewed within its time");
    // Frozen (SIGSTOP, a suspended machine): its boot clock counts the time it slept.
    clock.advance(ttl);
    // Nobody has taken it yet, but someone may have: the holder must stop.
    assert!(!held.confirm());
    assert!(held.is_lost());
    assert_eq!(read_at(&path, ttl).unwrap().host, "a", "nothing rewritten");
}

#[test]
fn a_dead_process_id_of_another_pid_namespace_or_boot_is_left_to_expire() {
    let (_dir, root) = root();
    let ttl = Duration::from_secs(3600);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let me = Holder::this_process();
    assert!(me.boot_id.is_some() && me.pid_ns.is_some(), "{me:?}");
    let cases = [
        (
            "a container on this host",
            Holder {
                pid: dead,
                pid_ns: me.pid_ns.map(|n| n + 1),
                ..me.clone()
            },
            false,
        ),
        (
            "an earlier boot of this host",
            Holder {
                pid: dead,
                boot_id: Some("00000000-0000-0000-0000-000000000000".into()),
                ..me.clone()
            },
            false,
        ),
        (
            "a writer that did not say",
            Holder {
                pid: dead,
                boot_id: None,
                pid_ns: None,
                ..me.clone()
            },
            false,
        ),
        (
            "this host, boot and namespace",
            Holder {
                pid: dead,
                ..me.clone()
            },
            true,
        ),
    ];
    for (i, (what, holder, free)) in cases.into_iter().enumerate() {
        let path = root.as_path().join(format!(".{i}.lease"));
        Lease::try_acquire(&path, &holder, ttl)
            .unwrap()
            .unwrap()
            .abandon();
        let taken = Lease::try_acquire(&path, &me, ttl).unwrap();
        assert_eq!(taken.is_some(), free, "{what}");
    }
}
