//! Claims degrade, not fail (issue 25, item 4): on a filesystem that refuses `flock` (an NFS
//! mount without a lock daemon gives ENOLCK, Lustre `noflock` ENOSYS), `claims = "auto"`
//! falls back to leases, logged once, for the task claims, the names lock and the GPU lock;
//! and a member's error file never blames the member for runvqgan's own claim files. The
//! refusal is made by the test hook `RUNVQGAN_TEST_FLOCK=refused` (debug builds: every
//! `flock` fails with ENOLCK).

mod common;

use std::process::Output;
use std::time::Duration;

use common::{Shared, tiny_models_toml};
use runvqgan::shared_folder::locks::device::{DeviceLock, LockSetting};
use runvqgan::shared_folder::locks::filesystem::ClaimSetting;

const REFUSED: (&str, &str) = ("RUNVQGAN_TEST_FLOCK", "refused");

fn run(s: &Shared, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = s.run_process();
    c.args(args).envs(env.iter().copied());
    c.output().unwrap()
}

fn tiny(out_file: &str) -> String {
    serde_json::json!({
        "text": "A painting of a lighthouse",
        "out_file": out_file,
        "iterations": 2,
        "resolution": [32, 32],
        "raw": "-cuts 4",
    })
    .to_string()
}

#[test]
fn with_claims_auto_a_refused_flock_falls_back_to_leases_logged_once() {
    let s = Shared::new();
    s.write(
        "runvqgan.toml",
        format!("device = \"cpu\"\ngallery = false\n{}", tiny_models_toml()),
    );
    s.write("tasks/dog.txt", tiny("dog"));
    s.write("tasks/cat.txt", tiny("cat"));
    let out = run(&s, &[], &[REFUSED]);
    let log = std::fs::read_to_string(s.root().join("runvqgan.log")).unwrap();
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        s.exists("tasks/dog.txt.done") && s.exists("tasks/cat.txt.done"),
        "{log}"
    );
    assert!(!s.exists("tasks/dog_ERROR.txt") && !s.exists("tasks/cat_ERROR.txt"));
    assert_eq!(
        log.matches("the filesystem refuses flock").count(),
        1,
        "logged once, though two claims and the names lock were refused:\n{log}"
    );
    assert!(s.exists(".runvqgan/leases"), "the leases stood in");
}

#[test]
fn with_claims_flock_the_member_is_not_blamed_for_runvqgans_claim_file() {
    let s = Shared::new();
    s.write(
        "runvqgan.toml",
        "device = \"cpu\"\ngallery = false\nclaims = \"flock\"\n",
    );
    s.write("tasks/dog.txt", tiny("dog"));
    let out = run(&s, &[], &[REFUSED]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let error = s.read("tasks/dog_ERROR.txt");
    assert!(error.contains("not a problem of your task"), "{error}");
    assert!(!error.contains("remove it"), "{error}");
    let log = std::fs::read_to_string(s.root().join("runvqgan.log")).unwrap();
    assert!(log.contains("set claims = \"auto\" or \"lease\""), "{log}");
    assert!(s.exists("tasks/dog.txt"), "the task waits for the next run");
}

#[test]
fn the_gpu_lock_falls_back_to_a_lease_that_keeps_a_second_run_off_the_gpu() {
    // SAFETY: set before any thread of this test reads them; the other tests of this file
    // pass their environment to the processes they start instead.
    unsafe {
        std::env::set_var(REFUSED.0, REFUSED.1);
        std::env::set_var("RUNVQGAN_TEST_GPU", "1");
    }
    let s = Shared::new();
    s.write("runvqgan.toml", "gallery = false\n");
    s.write("tasks/dog.txt", tiny("dog"));
    let root = runvqgan::shared_folder::root::Root::open(&s.root()).unwrap();
    let setting = LockSetting {
        claims: ClaimSetting::Auto,
        lease: Duration::from_secs(60),
    };
    let held = DeviceLock::acquire_with(root.path(), Some("cuda:0"), setting).unwrap();
    let DeviceLock::Held(lock) = held else {
        panic!("not held: {held:?}")
    };
    assert!(
        lock.path.to_string_lossy().ends_with("-gpu0.lease"),
        "{lock:?}"
    );

    let gpu = [REFUSED, ("RUNVQGAN_TEST_GPU", "1")];
    let out = run(&s, &["--device", "cuda:0"], &gpu);
    let log = std::fs::read_to_string(s.root().join("runvqgan.log")).unwrap();
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains(&format!(
            "device cuda:0 is in use by another runvqgan run (process {} on host",
            std::process::id()
        )),
        "{log}"
    );
    assert!(s.exists("tasks/dog.txt"), "no task touched");
    assert!(log.contains("the filesystem refuses flock"), "{log}");

    // claims = "flock": nothing stands in, and the run says why.
    s.write("runvqgan.toml", "gallery = false\nclaims = \"flock\"\n");
    let out = run(&s, &["--device", "cuda:0"], &gpu);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("cannot take the lock of the device"),
        "{said}"
    );
    drop(lock);
}
