//! `runvqgan status --root DIR [--json]`: the morning view in ten seconds: what the last run
//! did (from its summary in `.runvqgan/runs/`), what is queued now, per member, and how long
//! tonight's queue will take (from the speeds earlier runs measured). Nothing is written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use anyhow::Context;
use serde::Serialize;

use crate::config::{Config, ConfigOverrides};
use crate::process::exit_codes::ExitCode;
use crate::process::text::local_timestamp;
use crate::queue::estimate::estimate;
use crate::queue::plan::{PlannedTask, Verdict, plan};
use crate::queue::tonight::{Tonight, tonight};
use crate::records::live::LiveRecord;
use crate::records::speeds::{Estimate, Speeds};
use crate::records::summary::RunSummary;
use crate::records::unfinished;
use crate::shared_folder::locks::claim::{ProcLocks, flock_holder};
use crate::shared_folder::locks::method::{ClaimMethod, lease_holder};
use crate::shared_folder::permissions::{self, Finding};
use crate::shared_folder::root::Root;

mod text;
use text::write_human;

/// Options of `status`.
#[derive(Debug, Clone)]
pub struct StatusOptions<'a> {
    /// The shared folder.
    pub root: &'a Path,
    /// Print JSON instead of text.
    pub json: bool,
    /// Flags that override `runvqgan.toml`.
    pub overrides: ConfigOverrides,
}

/// One member's queue (`tasks` for the shared folder).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberQueue {
    pub member: String,
    pub tasks: usize,
    pub images: usize,
    /// When their last image is expected to be made, in seconds after the night's start, in
    /// tonight's fair-share order ([`crate::queue::tonight`]); null without measured speeds.
    pub finish_seconds: Option<f64>,
    /// The same as a local time (`2026-12-03T23:10:00+01:00`) when runvqgan.toml sets a night
    /// `window` (the night is taken to start at its start); null otherwise.
    pub finish_at: Option<String>,
}

/// What is waiting now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Queue {
    pub tasks: usize,
    pub images: usize,
    pub members: Vec<MemberQueue>,
    /// Invalid tasks (they wait for their owner to fix them).
    pub invalid: Vec<String>,
    pub skipped: usize,
    /// Of the files not run, those their owner should fix (a name that cannot be used,
    /// notes beside a picture; not the templates): `path: not run: reason`.
    pub not_run: Vec<String>,
}

/// How the runs on this root claim tasks, and who holds claims now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimsNow {
    /// `flock`, `lease` or `flock+lease`, as a run would choose now.
    pub kind: String,
    /// The filesystem type of the root (`ext4`, `nfs4`, `lustre`).
    pub filesystem: String,
    pub mount_point: String,
    /// Why that kind (the mount options that decide it).
    pub reason: String,
    /// `lease_seconds`, when leases are used.
    pub lease_seconds: Option<f64>,
    /// The tasks a run works on now.
    pub held: Vec<HeldTask>,
}

/// A task claimed now, and by whom.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldTask {
    pub task: String,
    /// `lease` (from the lease file beside it) or `flock` (a run on this machine).
    pub claim: String,
    /// The holder's host (this machine's name for a `flock` claim).
    pub host: String,
    pub pid: u32,
    pub slurm_job_id: Option<String>,
    pub slurm_array_job_id: Option<String>,
    pub slurm_array_task_id: Option<String>,
    /// Seconds until the lease expires unless renewed; below 0: its holder stopped
    /// renewing it (a node that died) and the next run takes the task over.
    pub lease_expires_in: Option<f64>,
}

/// The claims of `root` now: the kind a run would use, and every task of `tasks` that a
/// lease file or (on this machine) a held `flock` says is being worked on.
pub fn claims_now(root: &Path, config: &Config, tasks: &[PlannedTask]) -> ClaimsNow {
    let method = ClaimMethod::for_root(root, config.claims, config.lease_seconds);
    let locks = ProcLocks::read();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i128;
    let held = tasks
        .iter()
        .filter_map(|t| {
            let rel = method.task_rel(&t.file.path);
            if let Some(r) = lease_holder(&method.root, &rel, method.ttl) {
                return Some(HeldTask {
                    task: t.file.rel.clone(),
                    claim: "lease".into(),
                    host: r.host,
                    pid: r.pid,
                    slurm_job_id: r.slurm_job_id,
                    slurm_array_job_id: r.slurm_array_job_id,
                    slurm_array_task_id: r.slurm_array_task_id,
                    lease_expires_in: Some((r.expires_ms as i128 - now_ms) as f64 / 1000.0),
                });
            }
            flock_holder(&method.root, &rel, &locks).map(|pid| HeldTask {
                task: t.file.rel.clone(),
                claim: "flock".into(),
                host: method.holder.host.clone(),
                pid,
                slurm_job_id: None,
                slurm_array_job_id: None,
                slurm_array_task_id: None,
                lease_expires_in: None,
            })
        })
        .collect();
    ClaimsNow {
        kind: method.plan.kind().into(),
        filesystem: method.fs.fs_type.clone(),
        mount_point: method.fs.mount_point.display().to_string(),
        reason: method.plan.reason.clone(),
        lease_seconds: method.plan.lease.then_some(config.lease_seconds),
        held,
    }
}

/// A run working on the root now ([`crate::records::live`]).
#[derive(Debug, Clone, Serialize)]
pub struct RunningNow {
    #[serde(flatten)]
    pub record: LiveRecord,
    /// When it started (local time with offset).
    pub since: String,
    /// The task whose claim it holds now, when its claim shows it.
    pub task: Option<String>,
    /// When the night is expected to end (local time with offset), once an image is made.
    pub expected_end: Option<String>,
}

/// The whole status, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub root: String,
    /// The runs working on the root now.
    pub running: Vec<RunningNow>,
    pub last_run: Option<RunSummary>,
    /// When the last run was an element of a Slurm job array: every element's summary of
    /// that array, by element.
    pub last_array: Vec<RunSummary>,
    pub queue: Queue,
    /// `None` when no earlier run measured this model set on this device.
    pub estimate: Option<Estimate>,
    pub claims: ClaimsNow,
    /// What is not as the permission model says, seen by the account running `status`.
    pub permissions: Vec<Finding>,
}

/// What the queue of `tasks` holds, member by member, and when each member's share of
/// the night (`order`) is expected to end, also as a local time when the night's start is
/// known (`night_start`).
pub fn queue(tasks: &[PlannedTask], order: &Tonight, night_start: Option<SystemTime>) -> Queue {
    let mut members: BTreeMap<String, MemberQueue> = BTreeMap::new();
    let mut queue = Queue {
        tasks: 0,
        images: 0,
        members: Vec::new(),
        invalid: Vec::new(),
        skipped: 0,
        not_run: Vec::new(),
    };
    for t in tasks {
        match &t.verdict {
            Verdict::Ready(ready) if !ready.images.is_empty() => {
                let member = t.file.rel.split('/').next().unwrap_or_default().to_string();
                let m = members.entry(member.clone()).or_insert(MemberQueue {
                    member,
                    tasks: 0,
                    images: 0,
                    finish_seconds: None,
                    finish_at: None,
                });
                m.tasks += 1;
                m.images += ready.images.len();
                queue.tasks += 1;
                queue.images += ready.images.len();
            }
            Verdict::Ready(_) => {}
            Verdict::Invalid(_) => queue.invalid.push(t.file.rel.clone()),
            Verdict::Skipped(reason) => {
                queue.skipped += 1;
                if reason.asks_for_a_fix() {
                    queue.not_run.extend(t.error_text());
                }
            }
        }
    }
    if order.timed {
        for share in order.members(tasks) {
            if let Some(m) = members.get_mut(&share.member) {
                m.finish_seconds = Some(share.finish.round());
                m.finish_at = night_start
                    .map(|s| local_timestamp(crate::queue::tonight::at(s, share.finish.round())));
            }
        }
    }
    queue.members = members.into_values().collect();
    queue
}

/// The status of `root`.
pub fn status(root: &Root, config: &Config) -> anyhow::Result<Status> {
    let tasks = plan(root, config)
        .with_context(|| format!("cannot read the shared folder {}", root.path().display()))?;
    let now = std::time::SystemTime::now();
    let mut last = RunSummary::last(root.path());
    // A run that did not finish (killed, crashed) and that no run has recorded yet.
    for (_, dead) in unfinished::find(root.path(), now) {
        if last
            .as_ref()
            .is_none_or(|l| dead.started_unix >= l.started_unix)
        {
            last = Some(dead);
        }
    }
    let claims = claims_now(root.path(), config, &tasks);
    let at = |t: u64| local_timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t));
    let running = LiveRecord::all(root.path())
        .into_iter()
        .filter(|r| !unfinished::is_dead(r, now))
        .map(|r| RunningNow {
            since: at(r.since_unix),
            task: claims
                .held
                .iter()
                .find(|h| h.host == r.host && h.pid == r.pid)
                .map(|h| h.task.clone()),
            expected_end: r.expected_end().map(at),
            record: r,
        })
        .collect();
    Ok(Status {
        root: root.path().display().to_string(),
        running,
        last_array: last
            .as_ref()
            .and_then(|r| r.slurm_array_job_id.as_deref())
            .map(|a| RunSummary::of_array(root.path(), a))
            .unwrap_or_default(),
        last_run: last,
        queue: queue(
            &tasks,
            &tonight(&tasks, config, &Speeds::load(root.path())),
            config
                .night_window()
                .map(|w| w.next_start(SystemTime::now())),
        ),
        estimate: estimate(root.path(), config, &tasks),
        claims,
        permissions: permissions::check(
            root.path(),
            config.gallery_dir().as_deref(),
            &task_folders(&tasks),
        ),
    })
}

/// The folders the night writes for `tasks`: each task file's folder (its notes, its
/// `.done`) and each valid task's output folder.
pub fn task_folders(tasks: &[PlannedTask]) -> Vec<std::path::PathBuf> {
    let mut folders = Vec::new();
    for t in tasks {
        if let Some(dir) = t.file.path.parent() {
            folders.push(dir.to_path_buf());
        }
        if let Verdict::Ready(ready) = &t.verdict {
            folders.push(ready.spec.out_folder.clone());
        }
    }
    folders
}

/// Runs `status`. Exit code 0.
pub fn run(opts: &StatusOptions<'_>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let root = Root::open(opts.root)?;
    let config = Config::load_to_read(root.path(), &opts.overrides)?;
    let status = status(&root, &config)?;
    if opts.json {
        let json = serde_json::to_string_pretty(&status)?;
        writeln!(out, "{}", crate::process::json::json_safe(&json))?;
    } else {
        write_human(&status, out)?;
    }
    Ok(ExitCode::Success)
}
