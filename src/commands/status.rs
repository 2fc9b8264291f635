//! `runvqgan status --root DIR [--json]`: the morning view in ten seconds: what the last run
//! did (from its summary in `.runvqgan/runs/`), what is queued now, per member, and how long
//! tonight's queue will take (from the speeds earlier runs measured). Nothing is written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::commands::write_permissions;
use crate::config::{Config, ConfigOverrides};
use crate::process::exit_codes::ExitCode;
use crate::process::slurm::describe_job;
use crate::queue::estimate::estimate;
use crate::queue::plan::{PlannedTask, Verdict, plan};
use crate::queue::tonight::{Tonight, tonight};
use crate::records::speeds::{Estimate, Speeds, about};
use crate::records::summary::RunSummary;
use crate::shared_folder::locks::claim::{ProcLocks, flock_holder};
use crate::shared_folder::locks::method::{ClaimMethod, lease_holder};
use crate::shared_folder::permissions::{self, Finding};
use crate::shared_folder::root::Root;

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

/// The whole status, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub root: String,
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
/// the night (`order`) is expected to end.
pub fn queue(tasks: &[PlannedTask], order: &Tonight) -> Queue {
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
    let last = RunSummary::last(root.path());
    Ok(Status {
        root: root.path().display().to_string(),
        last_array: last
            .as_ref()
            .and_then(|r| r.slurm_array_job_id.as_deref())
            .map(|a| RunSummary::of_array(root.path(), a))
            .unwrap_or_default(),
        last_run: last,
        queue: queue(&tasks, &tonight(&tasks, config, &Speeds::load(root.path()))),
        estimate: estimate(root.path(), config, &tasks),
        claims: claims_now(root.path(), config, &tasks),
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
        writeln!(out, "{}", crate::process::text::json_safe(&json))?;
    } else {
        write_human(&status, out)?;
    }
    Ok(ExitCode::Success)
}

fn write_human(s: &Status, out: &mut dyn Write) -> std::io::Result<()> {
    match &s.last_run {
        None => writeln!(
            out,
            "Last run: none recorded yet (.runvqgan/runs/ is empty)."
        )?,
        Some(r) => {
            let took = crate::records::speeds::about(r.seconds as f64).replacen("about ", "", 1);
            let how = outcome_words(&r.outcome);
            writeln!(
                out,
                "Last run: started {}, {how} after {took} (exit code {}).",
                crate::process::text::escape(&r.started),
                r.exit_code
            )?;
            if let Some(error) = &r.error {
                writeln!(out, "  why: {}", crate::process::text::escape(error))?;
            }
            let t = &r.tasks;
            writeln!(
                out,
                "  {} image(s) written; tasks: {} done, {} failed, {} invalid, {} skipped{}",
                r.images,
                t.done,
                t.failed,
                t.invalid,
                t.skipped,
                if t.busy > 0 {
                    format!(", {} left to another run", t.busy)
                } else {
                    String::new()
                }
            )?;
            for f in &r.failed {
                writeln!(
                    out,
                    "  failed: {} ({}): {}",
                    crate::process::text::escape(&f.task),
                    crate::process::text::escape(&f.kind),
                    crate::process::text::escape(&f.message)
                )?;
            }
            for i in &r.invalid {
                writeln!(
                    out,
                    "  invalid: {}: {}",
                    crate::process::text::escape(&i.task),
                    crate::process::text::escape(i.problems.first().map_or("", String::as_str))
                )?;
            }
            if let Some(why) = &r.budget_reached {
                writeln!(out, "  stopped: {}", crate::process::text::escape(why))?;
            }
            if let (Some(array), false) = (&r.slurm_array_job_id, s.last_array.is_empty()) {
                writeln!(
                    out,
                    "  it was an element of Slurm array job {}:",
                    crate::process::text::escape(array)
                )?;
                for e in &s.last_array {
                    writeln!(
                        out,
                        "    element {} on {}: {}, {} image(s), exit code {}",
                        crate::process::text::escape(
                            e.slurm_array_task_id.as_deref().unwrap_or("?")
                        ),
                        crate::process::text::escape(&e.host),
                        outcome_words(&e.outcome),
                        e.images,
                        e.exit_code
                    )?;
                }
            }
        }
    }
    let q = &s.queue;
    writeln!(
        out,
        "Queued now: {} task(s), {} image(s).",
        q.tasks, q.images
    )?;
    for m in &q.members {
        let finish = m
            .finish_seconds
            .map(|s| format!(", done {} after the night's start", about(s)))
            .unwrap_or_default();
        writeln!(
            out,
            "  {:<16} {} task(s), {} image(s){finish}",
            crate::process::text::escape(&m.member),
            m.tasks,
            m.images
        )?;
    }
    if !q.invalid.is_empty() {
        let names: Vec<String> = q
            .invalid
            .iter()
            .map(|t| crate::process::text::escape(t))
            .collect();
        writeln!(
            out,
            "  {} invalid task(s) wait for a fix: {}",
            q.invalid.len(),
            names.join(", ")
        )?;
    }
    for line in &q.not_run {
        writeln!(out, "  {}", crate::process::text::escape(line))?;
    }
    match &s.estimate {
        Some(e) if q.images > 0 => writeln!(
            out,
            "Tonight: {} on {} (model set {}), from the speeds of earlier runs{}.",
            e.text,
            crate::process::text::escape(&e.device),
            crate::process::text::escape(&e.model_set),
            if e.images_scaled > 0 {
                format!(
                    "; {} image(s) of sizes never made, scaled by pixels",
                    e.images_scaled
                )
            } else {
                String::new()
            }
        )?,
        Some(_) => writeln!(out, "Tonight: nothing to do.")?,
        None if q.images == 0 => writeln!(out, "Tonight: nothing to do.")?,
        None => writeln!(
            out,
            "Tonight: no estimate yet (no earlier run measured this model set on this device)."
        )?,
    }
    write_claims(&s.claims, out)?;
    write_permissions(&s.permissions, out)
}

/// How a run ended, in words.
fn outcome_words(outcome: &str) -> &'static str {
    match outcome {
        "finished" => "finished",
        "budget_reached" => "stopped for its time budget",
        "interrupted" => "was interrupted",
        _ => "FAILED",
    }
}

fn write_claims(c: &ClaimsNow, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Claims: {}{} ({}).",
        c.kind,
        c.lease_seconds
            .map(|s| format!(", leases of {s} s"))
            .unwrap_or_default(),
        crate::process::text::escape(&c.reason)
    )?;
    for h in &c.held {
        let slurm = h
            .slurm_job_id
            .as_deref()
            .map(|j| {
                let job = describe_job(
                    j,
                    h.slurm_array_job_id.as_deref(),
                    h.slurm_array_task_id.as_deref(),
                );
                format!(", {}", crate::process::text::escape(&job))
            })
            .unwrap_or_default();
        let state = match h.lease_expires_in {
            Some(s) if s < 0.0 => format!(
                "; its lease expired {:.0} s ago: the next run takes it over",
                -s
            ),
            Some(s) => format!("; lease renewed, {s:.0} s left"),
            None => String::new(),
        };
        writeln!(
            out,
            "  working now: {} (host {}, process {}{slurm}, {}{state})",
            crate::process::text::escape(&h.task),
            crate::process::text::escape(&h.host),
            h.pid,
            h.claim
        )?;
    }
    Ok(())
}
