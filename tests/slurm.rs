//! `runvqgan slurm-script`: the sbatch script of a night as a Slurm job array. The script
//! itself is unit-tested in `src/slurm.rs`; a real Slurm runs it in `scripts/slurm-test.sh`.

mod common;

use common::Shared;
use runvqgan::shared_folder::files::lease_path;

#[test]
fn slurm_script_prints_an_array_over_the_root_and_makes_the_output_folder() {
    let s = Shared::new();
    s.mkdir("tasks");
    let out = s
        .cmd()
        .args(["slurm-script", "--gpus", "2", "--elements", "5", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let root = s.root().canonicalize().unwrap();
    assert!(text.contains("#SBATCH --array=0-4%2\n"), "{text}");
    assert!(text.contains("#SBATCH --gres=gpu:1\n"), "{text}");
    // Each element's CPU threads stay within its own cores.
    assert!(
        text.contains("export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "#SBATCH --output={}/.runvqgan/slurm-%A_%a.out\n",
            root.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            " run --root {} --device cuda --failed-tasks-ok\n",
            root.display()
        )),
        "{text}"
    );
    assert!(text.contains("#SBATCH --signal=B:TERM@60\n"), "{text}");
    assert!(!text.contains("--begin"), "no window, no --begin: {text}");
    assert!(root.join(".runvqgan").is_dir());
}

/// With a night window in runvqgan.toml the array waits for its start (`--begin`), and the
/// elements keep it (they read the file on the node); pass-through options reach the script.
#[test]
fn slurm_script_begins_at_the_night_window_and_passes_account_qos_gpu_type_and_mail() {
    let s = Shared::new();
    s.write("runvqgan.toml", "window = \"22:30-06:30\"\n");
    let out = s
        .cmd()
        .args([
            "slurm-script",
            "--account",
            "vision",
            "--qos",
            "night",
            "--gpu-type",
            "a100",
            "--mem",
            "24G",
            "--mail-user",
            "owner@lab.example.org",
            "--root",
        ])
        .arg(s.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "#SBATCH --begin=22:30\n",
        "#SBATCH --account=vision\n",
        "#SBATCH --qos=night\n",
        "#SBATCH --gres=gpu:a100:1\n",
        "#SBATCH --mem-per-gpu=24G\n",
        "#SBATCH --mail-user=owner@lab.example.org\n",
        "#SBATCH --mail-type=FAIL\n",
        "#SBATCH --requeue\n",
        "#SBATCH --open-mode=append\n",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    let bad = s
        .cmd()
        .args(["slurm-script", "--qos", "a b", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--qos"));
}

#[test]
fn slurm_script_refuses_a_root_it_cannot_write_into_a_directive() {
    let s = Shared::new();
    let spaced = s.mkdir("my queue");
    let out = s
        .cmd()
        .args(["slurm-script", "--root"])
        .arg(&spaced)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("symbolic link"), "{err}");
    assert!(out.stdout.is_empty());
}

/// `status` says which claims the runs on the root use, and which hosts and array elements
/// hold claims now: from the lease files beside the tasks, and for `flock` claims of this
/// machine from the kernel's lock table.
#[test]
fn status_shows_the_claim_kind_and_which_hosts_and_array_elements_hold_claims_now() {
    use std::time::Duration;

    use runvqgan::process::slurm::SlurmJob;
    use runvqgan::shared_folder::locks::claim::TaskClaim;
    use runvqgan::shared_folder::locks::lease::{Holder, Lease};
    use runvqgan::shared_folder::root::Root;

    let s = Shared::new();
    s.write("runvqgan.toml", "claims = \"lease\"\nlease_seconds = 60\n");
    for name in ["dog", "cat", "cow", "owl"] {
        s.write(&format!("tasks/{name}.txt"), common::task(name));
    }
    let root = Root::open(&s.root()).unwrap();
    let task = |name: &str| lease_path(root.path(), &format!("tasks/{name}.txt"));
    let leases = runvqgan::shared_folder::state::StateDir::open(root.path()).unwrap();
    leases
        .sub(runvqgan::shared_folder::files::LEASES_NAME)
        .unwrap();
    let element = Holder {
        host: "node7".into(),
        pid: 4711,
        slurm: Some(SlurmJob {
            job_id: "1234".into(),
            array_job_id: Some("1230".into()),
            array_task_id: Some("4".into()),
            end_time: None,
        }),
        boot_id: None,
        pid_ns: None,
    };
    let live = Lease::try_acquire(&task("dog"), &element, Duration::from_secs(60))
        .unwrap()
        .unwrap();
    // A node that died holding the cat an hour ago: its lease ran out long since.
    let hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        - 3_600_000;
    std::fs::write(
        task("cat"),
        format!(r#"{{"host":"node9","pid":99,"token":"0a1b2c3d4e5f","expires_ms":{hour_ago}}}"#),
    )
    .unwrap();
    let flock = TaskClaim::try_claim(root.path(), "tasks/cow.txt")
        .unwrap()
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));

    let out = s
        .cmd()
        .args(["status", "--json", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let claims = &status["claims"];
    assert_eq!(claims["kind"], "lease", "{claims}");
    assert_eq!(claims["lease_seconds"], 60.0, "{claims}");
    assert!(!claims["filesystem"].as_str().unwrap().is_empty());
    let held = claims["held"].as_array().unwrap();
    let of = |name: &str| {
        held.iter()
            .find(|h| h["task"] == format!("tasks/{name}.txt"))
            .cloned()
    };
    let dog = of("dog").expect("the element's claim is shown");
    assert_eq!(
        (&dog["claim"], &dog["host"], &dog["pid"]),
        (&"lease".into(), &"node7".into(), &4711.into())
    );
    assert_eq!(dog["slurm_array_job_id"], "1230");
    assert_eq!(dog["slurm_array_task_id"], "4");
    assert!(dog["lease_expires_in"].as_f64().unwrap() > 30.0, "{dog}");
    let cat = of("cat").expect("an expired lease is shown");
    assert_eq!(cat["host"], "node9");
    assert!(cat["lease_expires_in"].as_f64().unwrap() < 0.0, "{cat}");
    let cow = of("cow").expect("a flock claim of this machine is shown");
    assert_eq!(cow["claim"], "flock");
    assert_eq!(cow["pid"], std::process::id());
    assert!(of("owl").is_none(), "an unclaimed task is not shown");
    assert_eq!(held.len(), 3);

    let out = s
        .cmd()
        .args(["status", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\nClaims: lease, leases of 60 s (claims = \"lease\" in runvqgan.toml: a lease only, on "),
        "{text}"
    );
    assert!(
        text.contains(
            "working now: tasks/dog.txt (host node7, process 4711, Slurm array job 1230, \
             element 4, lease; lease renewed,"
        ),
        "{text}"
    );
    assert!(text.contains("the next run takes it over"), "{text}");
    drop(live);
    flock.finish();
}

/// Each element of a job array logs and records its host and element; `status` lists every
/// element of the array the last run belonged to.
#[test]
fn status_lists_the_elements_of_the_last_array_and_the_log_names_each() {
    let s = Shared::new();
    s.mkdir("tasks");
    for (job, element) in [("1231", "1"), ("1232", "0")] {
        let out = s
            .cmd()
            .args(["run", "--device", "cpu", "--root"])
            .arg(s.root())
            .env("SLURM_JOB_ID", job)
            .env("SLURM_ARRAY_JOB_ID", "1230")
            .env("SLURM_ARRAY_TASK_ID", element)
            .env("SLURM_JOB_END_TIME", "4102444800")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let log = std::fs::read_to_string(s.root().join("runvqgan.log")).unwrap();
    assert!(
        log.contains(", Slurm array job 1230, element 1, device cpu)"),
        "{log}"
    );
    assert!(
        log.contains(", Slurm array job 1230, element 0, device cpu)"),
        "{log}"
    );

    let out = s
        .cmd()
        .args(["status", "--json", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let elements: Vec<(&str, &str)> = status["last_array"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(!r["host"].as_str().unwrap().is_empty(), "{r}");
            (
                r["slurm_array_task_id"].as_str().unwrap(),
                r["slurm_job_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(elements, [("0", "1232"), ("1", "1231")]);
    assert_eq!(status["last_run"]["slurm_array_job_id"], "1230");
    assert!(
        ["flock", "flock+lease"].contains(&status["last_run"]["claims"].as_str().unwrap()),
        "{status}"
    );

    let out = s
        .cmd()
        .args(["status", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("  it was an element of Slurm array job 1230:\n    element 0 on "),
        "{text}"
    );
    assert!(text.contains("    element 1 on "), "{text}");
}
