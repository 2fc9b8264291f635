//! The GPU lock's unit tests: which GPU a run names, in Slurm and out, and who holds it.

use super::*;

fn env(visible: Option<&str>, present: bool) -> GpuEnv {
    GpuEnv {
        visible: visible.map(String::from),
        slurm_gpus: None,
        present,
    }
}

/// An element of a Slurm job array that was given the node's GPU `gpu`, with cgroup
/// device confinement (it sees only that GPU, as `CUDA_VISIBLE_DEVICES=0`).
fn slurm_element(gpu: &str) -> GpuEnv {
    GpuEnv {
        visible: Some("0".into()),
        slurm_gpus: Some(gpu.into()),
        present: true,
    }
}

#[test]
fn slurm_elements_on_different_gpus_of_one_node_take_different_locks() {
    assert_eq!(
        physical_gpu(Some("cuda"), &slurm_element("2")).as_deref(),
        Some("2")
    );
    assert_eq!(
        physical_gpu(None, &slurm_element("3")).as_deref(),
        Some("3")
    );
    // Without confinement Slurm shows the node's numbers: the same GPU either way.
    let unconfined = GpuEnv {
        visible: Some("2,3".into()),
        slurm_gpus: Some("2,3".into()),
        present: true,
    };
    assert_eq!(
        physical_gpu(Some("cuda:1"), &unconfined).as_deref(),
        Some("3")
    );

    let root = tempfile::tempdir().unwrap();
    let two = DeviceLock::acquire_in(root.path(), Some("cuda"), &slurm_element("2"), None).unwrap();
    let three =
        DeviceLock::acquire_in(root.path(), Some("cuda"), &slurm_element("3"), None).unwrap();
    assert!(matches!(two, DeviceLock::Held(_)), "{two:?}");
    assert!(matches!(three, DeviceLock::Held(_)), "{three:?}");
    // A run outside Slurm on the node's GPU 2 (nothing hidden) is the same GPU.
    assert!(matches!(
        DeviceLock::acquire_in(root.path(), Some("cuda:2"), &env(None, true), None).unwrap(),
        DeviceLock::Busy { .. }
    ));
    // And so is a second element given GPU 2 (a resubmission while the first runs).
    assert!(matches!(
        DeviceLock::acquire_in(root.path(), Some("cuda"), &slurm_element("2"), None).unwrap(),
        DeviceLock::Busy { .. }
    ));
}

#[test]
fn runs_on_the_cpu_never_lock_inside_slurm_or_out() {
    let root = tempfile::tempdir().unwrap();
    for gpus in [env(None, true), env(Some("0"), true), slurm_element("1")] {
        let first = DeviceLock::acquire_in(root.path(), Some("cpu"), &gpus, None).unwrap();
        let second = DeviceLock::acquire_in(root.path(), Some("cpu"), &gpus, None).unwrap();
        assert!(matches!(first, DeviceLock::NotNeeded), "{first:?}");
        assert!(matches!(second, DeviceLock::NotNeeded), "{second:?}");
    }
    // A CPU-only Slurm element (no --gres) on a machine without a GPU: nothing to lock.
    let cpu_slot = GpuEnv::default();
    assert!(matches!(
        DeviceLock::acquire_in(root.path(), None, &cpu_slot, None).unwrap(),
        DeviceLock::NotNeeded
    ));
    assert!(!root.path().join(STATE_DIR).exists(), "no lock file made");
}

#[test]
fn cuda_devices_name_their_gpu_and_the_cpu_is_never_locked() {
    assert_eq!(
        physical_gpu(Some("cuda"), &env(None, true)).as_deref(),
        Some("0")
    );
    assert_eq!(
        physical_gpu(Some("cuda:0"), &env(None, false)).as_deref(),
        Some("0")
    );
    assert_eq!(
        physical_gpu(Some("cuda:3"), &env(None, true)).as_deref(),
        Some("3")
    );
    assert_eq!(physical_gpu(Some("cpu"), &env(None, true)), None);
    assert_eq!(physical_gpu(Some("mps"), &env(None, true)), None);
}

#[test]
fn the_default_device_is_gpu_0_only_when_a_gpu_is_present() {
    assert_eq!(physical_gpu(None, &env(None, true)).as_deref(), Some("0"));
    assert_eq!(physical_gpu(None, &env(None, false)), None);
}

#[test]
fn cuda_visible_devices_maps_to_the_physical_gpu() {
    assert_eq!(
        physical_gpu(Some("cuda:0"), &env(Some("2,3"), true)).as_deref(),
        Some("2")
    );
    assert_eq!(
        physical_gpu(Some("cuda:1"), &env(Some("2, 3"), true)).as_deref(),
        Some("3")
    );
    assert_eq!(
        physical_gpu(Some("cuda"), &env(Some("GPU-8a1b/x"), true)).as_deref(),
        Some("GPU-8a1bx")
    );
    // No GPU visible: the engine falls back to the CPU.
    assert_eq!(physical_gpu(None, &env(Some(""), true)), None);
    assert_eq!(physical_gpu(None, &env(Some("-1"), true)), None);
    assert_eq!(physical_gpu(Some("cuda:2"), &env(Some("0,1"), true)), None);
}

#[test]
fn a_second_lock_on_the_same_gpu_is_busy_and_names_the_holder() {
    let root = tempfile::tempdir().unwrap();
    let first = DeviceLock::acquire(root.path(), Some("cuda:0")).unwrap();
    let DeviceLock::Held(held) = first else {
        panic!("first lock not held: {first:?}")
    };
    match DeviceLock::acquire(root.path(), Some("cuda")).unwrap() {
        DeviceLock::Busy { device, holder } => {
            assert_eq!(device, "cuda");
            assert!(
                holder.starts_with(&format!("process {} since ", std::process::id())),
                "{holder}"
            );
        }
        other => panic!("not busy: {other:?}"),
    }
    assert!(matches!(
        DeviceLock::acquire(root.path(), Some("cuda:1")).unwrap(),
        DeviceLock::Held(_)
    ));
    drop(held);
    assert!(matches!(
        DeviceLock::acquire(root.path(), Some("cuda:0")).unwrap(),
        DeviceLock::Held(_)
    ));
}

#[test]
fn a_linked_state_folder_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), root.path().join(STATE_DIR)).unwrap();
    let err = DeviceLock::acquire(root.path(), Some("cuda:0")).unwrap_err();
    assert!(err.to_string().contains("not a folder"), "{err}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

/// Finding 6 of round 3: a member made `device-<host>-gpu0.lock` (0666) in a state folder
/// they could write and held it, so the GPU night said "in use by another runvqgan run"
/// with text the member wrote, and did nothing. A lock file of another account is now
/// replaced (the state folder is the owner's alone), and the night takes the GPU.
#[test]
fn a_device_lock_file_of_another_account_is_replaced_and_the_gpu_taken() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let state = StateDir::open(root.path()).unwrap();
    let host = crate::process::file_safe(&crate::process::host_name());
    let planted = state.path().join(format!("device-{host}-gpu0.lock"));
    std::fs::write(&planted, "pid 1 on gpu-node-7").unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::os::unix::fs::lchown(&planted, Some(65534), Some(65534))
        .expect("giving a file to another account needs root (CI is root)");
    // The member holds it open with a lock, as `flock` would.
    let held = std::fs::File::open(&planted).unwrap();
    held.try_lock_shared().unwrap();
    let lock = DeviceLock::acquire_in(root.path(), Some("cuda:0"), &env(None, true), None).unwrap();
    assert!(matches!(lock, DeviceLock::Held(_)), "{lock:?}");
    let meta = std::fs::metadata(&planted).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    drop(held);
}
