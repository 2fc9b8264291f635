//! `runvqgan status --root DIR [--json]`: the morning view in ten seconds: what the last run
//! did (from its summary in `.runvqgan/runs/`), what is queued now, per member, and how long
//! tonight's queue will take (from the speeds earlier runs measured). Nothing is written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::config::{Config, ConfigOverrides};
use crate::exit_codes::ExitCode;
use crate::plan::{PlannedTask, Verdict, plan};
use crate::root::Root;
use crate::speeds::{Estimate, Speeds, expected_device};
use crate::summary::RunSummary;

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
}

/// The whole status, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub root: String,
    pub last_run: Option<RunSummary>,
    pub queue: Queue,
    /// `None` when no earlier run measured this model set on this device.
    pub estimate: Option<Estimate>,
}

/// What the queue of `tasks` holds, member by member.
pub fn queue(tasks: &[PlannedTask]) -> Queue {
    let mut members: BTreeMap<String, MemberQueue> = BTreeMap::new();
    let mut queue = Queue {
        tasks: 0,
        images: 0,
        members: Vec::new(),
        invalid: Vec::new(),
        skipped: 0,
    };
    for t in tasks {
        match &t.verdict {
            Verdict::Ready(ready) if !ready.images.is_empty() => {
                let member = t.file.rel.split('/').next().unwrap_or_default().to_string();
                let m = members.entry(member.clone()).or_insert(MemberQueue {
                    member,
                    tasks: 0,
                    images: 0,
                });
                m.tasks += 1;
                m.images += ready.images.len();
                queue.tasks += 1;
                queue.images += ready.images.len();
            }
            Verdict::Ready(_) => {}
            Verdict::Invalid(_) => queue.invalid.push(t.file.rel.clone()),
            Verdict::Skipped(_) => queue.skipped += 1,
        }
    }
    queue.members = members.into_values().collect();
    queue
}

/// How long `run` would take for `tasks` now, from the measured speeds of `root`.
pub fn estimate(root: &Path, config: &Config, tasks: &[PlannedTask]) -> Option<Estimate> {
    let speeds = Speeds::load(root);
    let device = expected_device(config.device.as_deref(), &speeds, &config.model)?;
    let images: Vec<([u32; 2], u32)> = tasks
        .iter()
        .flat_map(|t| t.images())
        .map(|i| (i.size(), i.iterations()))
        .collect();
    speeds.estimate(&config.model, &device, &images)
}

/// The status of `root`.
pub fn status(root: &Root, config: &Config) -> anyhow::Result<Status> {
    let tasks = plan(root, config)
        .with_context(|| format!("cannot read the shared folder {}", root.path().display()))?;
    Ok(Status {
        root: root.path().display().to_string(),
        last_run: RunSummary::last(root.path()),
        queue: queue(&tasks),
        estimate: estimate(root.path(), config, &tasks),
    })
}

/// Runs `status`. Exit code 0.
pub fn run(opts: &StatusOptions<'_>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let root = Root::open(opts.root)?;
    let config = Config::load(root.path(), &opts.overrides)?;
    let status = status(&root, &config)?;
    if opts.json {
        serde_json::to_writer_pretty(&mut *out, &status)?;
        writeln!(out)?;
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
            let took = crate::speeds::about(r.seconds as f64).replacen("about ", "", 1);
            let how = match r.outcome.as_str() {
                "finished" => "finished".to_string(),
                "budget_reached" => "stopped for its time budget".to_string(),
                "interrupted" => "was interrupted".to_string(),
                _ => "FAILED".to_string(),
            };
            writeln!(
                out,
                "Last run: started {}, {how} after {took} (exit code {}).",
                r.started, r.exit_code
            )?;
            if let Some(error) = &r.error {
                writeln!(out, "  why: {}", crate::events::escape(error))?;
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
                    crate::events::escape(&f.task),
                    f.kind,
                    crate::events::escape(&f.message)
                )?;
            }
            for i in &r.invalid {
                writeln!(
                    out,
                    "  invalid: {}: {}",
                    crate::events::escape(&i.task),
                    crate::events::escape(i.problems.first().map_or("", String::as_str))
                )?;
            }
            if let Some(why) = &r.budget_reached {
                writeln!(out, "  stopped: {}", crate::events::escape(why))?;
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
        writeln!(
            out,
            "  {:<16} {} task(s), {} image(s)",
            crate::events::escape(&m.member),
            m.tasks,
            m.images
        )?;
    }
    if !q.invalid.is_empty() {
        let names: Vec<String> = q.invalid.iter().map(|t| crate::events::escape(t)).collect();
        writeln!(
            out,
            "  {} invalid task(s) wait for a fix: {}",
            q.invalid.len(),
            names.join(", ")
        )?;
    }
    match &s.estimate {
        Some(e) if q.images > 0 => writeln!(
            out,
            "Tonight: {} on {} (model set {}), from the speeds of earlier runs{}.",
            e.text,
            e.device,
            e.model_set,
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
    Ok(())
}
