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
//!
//! Where the filesystem refuses `flock` (an NFS mount without a lock daemon, Lustre with
//! `noflock`) and `claims` is not `"flock"`, the lock is a lease instead,
//! `device-<host>-gpu<N>.lease` beside it ([`crate::shared_folder::locks::lease`]), as the
//! task claims do ([`crate::shared_folder::locks::method`]).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::shared_folder::files::STATE_DIR;
use crate::shared_folder::locks::claim::{flock_refused, note_flock_refused, try_flock};
use crate::shared_folder::locks::filesystem::ClaimSetting;
use crate::shared_folder::locks::lease::{Holder, Lease};
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
    _hold: Hold,
    /// The lock file (or lease).
    pub path: PathBuf,
}

/// What holds the GPU: a `flock` on the open lock file, or a lease kept renewed.
#[derive(Debug)]
enum Hold {
    Flock(#[allow(dead_code)] File),
    Lease(#[allow(dead_code)] Box<Lease>),
}

/// How the GPU lock may be taken: `claims` and `lease_seconds` of runvqgan.toml.
#[derive(Debug, Clone, Copy)]
pub struct LockSetting {
    /// `"flock"`: no lease stands in when the filesystem refuses `flock`.
    pub claims: ClaimSetting,
    /// The lease time, when a lease stands in.
    pub lease: std::time::Duration,
}

impl DeviceLock {
    /// Takes the lock of the GPU that `device` (the configured device; `None`: CUDA when
    /// present) names, for the root `root`. Never blocks.
    pub fn acquire(root: &Path, device: Option<&str>) -> std::io::Result<DeviceLock> {
        DeviceLock::acquire_in(root, device, &GpuEnv::from_env(), None)
    }

    /// [`DeviceLock::acquire`], with a lease standing in where the filesystem refuses
    /// `flock` and `setting` allows it.
    pub fn acquire_with(
        root: &Path,
        device: Option<&str>,
        setting: LockSetting,
    ) -> std::io::Result<DeviceLock> {
        DeviceLock::acquire_in(root, device, &GpuEnv::from_env(), Some(setting))
    }

    /// [`DeviceLock::acquire`] with the GPU environment given (testable without one).
    fn acquire_in(
        root: &Path,
        device: Option<&str>,
        env: &GpuEnv,
        setting: Option<LockSetting>,
    ) -> std::io::Result<DeviceLock> {
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
        match try_flock(&file) {
            Ok(true) => {}
            Ok(false) => {
                let mut holder = String::new();
                let _ = (&mut file).take(200).read_to_string(&mut holder);
                return Ok(DeviceLock::Busy {
                    device: shown,
                    holder: crate::process::text::escape(holder.trim()),
                });
            }
            Err(e) => match setting {
                Some(s) if s.claims != ClaimSetting::Flock && flock_refused(&e) => {
                    note_flock_refused(&path, &e);
                    let lease = path.with_extension("lease");
                    return by_lease(&lease, shown, s.lease);
                }
                _ => return Err(e),
            },
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(
            file,
            "process {} since {}",
            std::process::id(),
            crate::process::text::timestamp(SystemTime::now())
        )?;
        Ok(DeviceLock::Held(HeldLock {
            _hold: Hold::Flock(file),
            path,
        }))
    }
}

/// The GPU lock as the lease at `path`: held, or busy with the words of its holder's lease.
fn by_lease(path: &Path, device: String, ttl: std::time::Duration) -> std::io::Result<DeviceLock> {
    match Lease::try_acquire(path, &Holder::this_process(), ttl)? {
        Some(lease) => Ok(DeviceLock::Held(HeldLock {
            _hold: Hold::Lease(Box::new(lease.keep_renewed())),
            path: path.to_path_buf(),
        })),
        None => {
            let holder = crate::shared_folder::locks::lease::read_at(path, ttl)
                .map(|r| format!("process {} on host {} (its lease says)", r.pid, r.host))
                .unwrap_or_default();
            Ok(DeviceLock::Busy {
                device,
                holder: crate::process::text::escape(&holder),
            })
        }
    }
}

/// What `run` does before it plans: takes the lock of its GPU, with an error that names the
/// state folder. [`DeviceLock::Busy`]: another run has the GPU, and `run` reports that (its
/// `device_busy` event) and ends at once without touching a task.
pub fn for_run(
    root: &Path,
    device: Option<&str>,
    setting: LockSetting,
) -> anyhow::Result<DeviceLock> {
    DeviceLock::acquire_with(root, device, setting).map_err(|e| {
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
mod tests;
