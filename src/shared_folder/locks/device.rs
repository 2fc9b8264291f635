//! One run per GPU. Task claims ([`crate::shared_folder::locks::claim`]) keep two runs off one task, but not off
//! one GPU: an overlapping cron start or a manual run beside the nightly one would load the
//! models twice and double the memory on the device. So a run takes an exclusive OS lock
//! (`flock`) for its GPU before it touches any task, and a second run on the same GPU
//! exits at once, saying which process holds it.
//!
//! The lock file is `<root>/.runvqgan/device-<host>-gpu<N>.lock`: per machine (several
//! machines may share a root, each with its own `cuda:0`) and per physical GPU (`cuda:N`
//! counts among `CUDA_VISIBLE_DEVICES` when that is set). Runs on other GPUs share the root
//! as before. The CPU is not locked: it is not a device whose memory a second run would
//! double, and several CPU runs on one root are how the claims are exercised without a GPU.
//! Like every `flock`, the lock is released by the operating system when the process ends,
//! however it ends.
//!
//! Inside a Slurm job the GPU is named by Slurm's own numbering: Slurm gives each element
//! of a job array its own GPU, but with cgroup device confinement (`ConstrainDevices`) it
//! sets `CUDA_VISIBLE_DEVICES=0` in every element, so two elements on different GPUs of
//! one node would both look like "GPU 0" here and the second would stop at once. Slurm's
//! `SLURM_STEP_GPUS` / `SLURM_JOB_GPUS` list the job's GPUs by their index on the node (the
//! same order as `CUDA_VISIBLE_DEVICES`), so the `n`-th visible GPU is the `n`-th entry
//! there; a run outside Slurm on that GPU (`cuda:N` with nothing hidden) gets the same lock.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::shared_folder::files::STATE_DIR;
use crate::shared_folder::state::StateDir;

/// What [`DeviceLock::acquire`] found.
#[derive(Debug)]
pub enum DeviceLock {
    /// This run has the GPU until the value is dropped.
    Held(HeldLock),
    /// Another live run holds the GPU; what its lock file says about it.
    Busy {
        /// The GPU, as this run named it (e.g. `cuda:0`).
        device: String,
        /// The other run's own line (`process 123 since ...`), when it wrote one.
        holder: String,
    },
    /// The run is on the CPU: nothing to lock.
    NotNeeded,
}

/// The held lock of one GPU.
#[derive(Debug)]
pub struct HeldLock {
    _file: File,
    /// The lock file.
    pub path: PathBuf,
}

impl DeviceLock {
    /// Takes the lock of the GPU that `device` (the configured device; `None`: CUDA when
    /// present) names, for the root `root`. Never blocks.
    pub fn acquire(root: &Path, device: Option<&str>) -> std::io::Result<DeviceLock> {
        DeviceLock::acquire_in(root, device, &GpuEnv::from_env())
    }

    /// [`DeviceLock::acquire`] with the GPU environment given (testable without one).
    fn acquire_in(root: &Path, device: Option<&str>, env: &GpuEnv) -> std::io::Result<DeviceLock> {
        let Some(gpu) = physical_gpu(device, env) else {
            return Ok(DeviceLock::NotNeeded);
        };
        let shown = device.unwrap_or("cuda (the default)").to_string();
        let state = StateDir::open(root)?;
        let host = crate::process::file_safe(&crate::process::host_name());
        let name = format!("device-{host}-gpu{gpu}.lock");
        let path = state.path().join(&name);
        // Owner-only (0600) in the owner-only state folder: a member cannot open it, so
        // cannot hold it (StateDir::lock_file).
        let mut file = state.lock_file(&name)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = (&mut file).take(200).read_to_string(&mut holder);
                return Ok(DeviceLock::Busy {
                    device: shown,
                    holder: crate::process::text::escape(holder.trim()),
                });
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(
            file,
            "process {} since {}",
            std::process::id(),
            crate::process::text::timestamp(SystemTime::now())
        )?;
        Ok(DeviceLock::Held(HeldLock { _file: file, path }))
    }
}

/// What `run` does before it plans: takes the lock of its GPU, with an error that names the
/// state folder. [`DeviceLock::Busy`]: another run has the GPU, and `run` reports that (its
/// `device_busy` event) and ends at once without touching a task.
pub fn for_run(root: &Path, device: Option<&str>) -> anyhow::Result<DeviceLock> {
    DeviceLock::acquire(root, device).map_err(|e| {
        anyhow::anyhow!(
            "cannot take the lock of the device in {}: {e}",
            root.join(STATE_DIR).display()
        )
    })
}

/// What the environment says about the GPUs a run may use.
#[derive(Debug, Clone, Default)]
struct GpuEnv {
    /// `CUDA_VISIBLE_DEVICES`.
    visible: Option<String>,
    /// `SLURM_STEP_GPUS`, else `SLURM_JOB_GPUS`: the node's indices of the GPUs Slurm gave
    /// this job, in the order of `CUDA_VISIBLE_DEVICES`.
    slurm_gpus: Option<String>,
    /// Whether this machine has an NVIDIA GPU (what the engine's default, "cuda when
    /// present", decides on).
    present: bool,
}

impl GpuEnv {
    fn from_env() -> GpuEnv {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        GpuEnv {
            visible: std::env::var("CUDA_VISIBLE_DEVICES").ok(),
            slurm_gpus: var("SLURM_STEP_GPUS").or_else(|| var("SLURM_JOB_GPUS")),
            present: gpu_present(),
        }
    }
}

/// The physical GPU a run on `device` uses, as a name for the lock file, or `None` for
/// the CPU.
fn physical_gpu(device: Option<&str>, env: &GpuEnv) -> Option<String> {
    let index: usize = match device.map(str::trim) {
        None if env.present => 0,
        None => return None,
        Some("cuda") => 0,
        Some(d) => d.strip_prefix("cuda:")?.parse().ok()?,
    };
    let entry = match &env.visible {
        // The `index`-th visible GPU; none there: the engine falls back to the CPU.
        Some(visible) => {
            let entry = visible.split(',').map(str::trim).nth(index)?;
            if entry.is_empty() || entry == "-1" {
                return None;
            }
            entry.to_string()
        }
        None => index.to_string(),
    };
    // In a Slurm job the `index`-th GPU of the job is the `index`-th of Slurm's list.
    let entry = match env.slurm_gpus.as_deref() {
        Some(slurm) => slurm
            .split(',')
            .map(str::trim)
            .nth(index)
            .filter(|e| !e.is_empty())
            .map_or(entry, str::to_string),
        None => entry,
    };
    let name: String = entry
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Whether the NVIDIA driver (or AMD's ROCm, which torch also calls CUDA) shows a GPU.
fn gpu_present() -> bool {
    crate::process::testhook::gpu().unwrap_or_else(|| {
        Path::new("/dev/nvidia0").exists()
            || Path::new("/dev/kfd").exists()
            || std::fs::read_dir("/proc/driver/nvidia/gpus").is_ok_and(|mut d| d.next().is_some())
    })
}

/// Before a run claims anything: a CUDA device asked for (`--device cuda…`, or `device` in
/// runvqgan.toml) on a machine whose driver shows none is refused at once, in one plain
/// sentence with the fix, rather than after the first claim when the engine fails to start.
pub fn preflight(device: Option<&str>) -> Result<(), String> {
    match device {
        Some(d) if d.starts_with("cuda") && !gpu_present() => Err(format!(
            "names the CUDA device {d}, but this machine shows none (no /dev/nvidia0, \
             /dev/kfd or /proc/driver/nvidia/gpus: no GPU, or its driver is not loaded); run \
             with --device cpu, or check the driver with nvidia-smi"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
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
        let two = DeviceLock::acquire_in(root.path(), Some("cuda"), &slurm_element("2")).unwrap();
        let three = DeviceLock::acquire_in(root.path(), Some("cuda"), &slurm_element("3")).unwrap();
        assert!(matches!(two, DeviceLock::Held(_)), "{two:?}");
        assert!(matches!(three, DeviceLock::Held(_)), "{three:?}");
        // A run outside Slurm on the node's GPU 2 (nothing hidden) is the same GPU.
        assert!(matches!(
            DeviceLock::acquire_in(root.path(), Some("cuda:2"), &env(None, true)).unwrap(),
            DeviceLock::Busy { .. }
        ));
        // And so is a second element given GPU 2 (a resubmission while the first runs).
        assert!(matches!(
            DeviceLock::acquire_in(root.path(), Some("cuda"), &slurm_element("2")).unwrap(),
            DeviceLock::Busy { .. }
        ));
    }

    #[test]
    fn runs_on_the_cpu_never_lock_inside_slurm_or_out() {
        let root = tempfile::tempdir().unwrap();
        for gpus in [env(None, true), env(Some("0"), true), slurm_element("1")] {
            let first = DeviceLock::acquire_in(root.path(), Some("cpu"), &gpus).unwrap();
            let second = DeviceLock::acquire_in(root.path(), Some("cpu"), &gpus).unwrap();
            assert!(matches!(first, DeviceLock::NotNeeded), "{first:?}");
            assert!(matches!(second, DeviceLock::NotNeeded), "{second:?}");
        }
        // A CPU-only Slurm element (no --gres) on a machine without a GPU: nothing to lock.
        let cpu_slot = GpuEnv::default();
        assert!(matches!(
            DeviceLock::acquire_in(root.path(), None, &cpu_slot).unwrap(),
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
        let lock = DeviceLock::acquire_in(root.path(), Some("cuda:0"), &env(None, true)).unwrap();
        assert!(matches!(lock, DeviceLock::Held(_)), "{lock:?}");
        let meta = std::fs::metadata(&planted).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        drop(held);
    }
}
