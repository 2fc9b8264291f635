//! `runvqgan plan`: what a run would do, in processing order, without writing anything.
//! Member-chosen names are escaped ([`escape`]); the JSON keeps no raw control character.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::config::{Config, ConfigOverrides};
use crate::process::exit_codes::ExitCode;
use crate::process::json::write_pretty_items;
use crate::process::text::escape;
use crate::queue::plan::{PlannedTask, Status, Verdict, plan};
use crate::queue::plan_json::JsonPlan;
use crate::queue::tonight::{Tonight, offset_text, tonight};
use crate::records::speeds::{DEFAULT_FACTOR, Speeds, engine_size};
use crate::shared_folder::root::Root;

/// Options of `plan`.
#[derive(Debug, Clone)]
pub struct PlanOptions<'a> {
    /// The shared folder.
    pub root: &'a Path,
    /// Print JSON instead of text.
    pub json: bool,
    /// Flags that override `runvqgan.toml`.
    pub overrides: ConfigOverrides,
}

/// Runs `plan`. Exit code 0 (the plan was made, whatever the tasks' status).
pub fn run(opts: &PlanOptions<'_>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let root = Root::open(opts.root)?;
    let config = Config::load_to_read(root.path(), &opts.overrides)?;
    let tasks = plan(&root, &config)
        .with_context(|| format!("cannot read the shared folder {}", root.path().display()))?;
    let speeds = Speeds::load(root.path());
    let order = tonight(&tasks, &config, &speeds);
    if opts.json {
        // Large writes (pieces of some 100 kB): the terminal guard behind `out` checks each
        // write it is given.
        let view = JsonPlan::new(&tasks, &order);
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        write_pretty_items(view.len(), |n| view.task(n), &mut out)?;
        writeln!(out)?;
        out.flush()?;
    } else {
        write_human(&root, &config, &tasks, &speeds, out)?;
        write_order(&tasks, &order, out)?;
    }
    // A plan of many tasks is a great many small allocations, and the process ends here:
    // freeing them one by one would cost a tenth of the command's time.
    std::mem::forget(tasks);
    Ok(ExitCode::Success)
}

fn write_human(
    root: &Root,
    config: &Config,
    tasks: &[PlannedTask],
    speeds: &Speeds,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    // Many small writes (80 MB for 100,000 tasks): the terminal guard behind `out` checks
    // each write it is given, so it is given few.
    let out = &mut std::io::BufWriter::with_capacity(1 << 16, out);
    let factor = speeds
        .factor
        .get(&config.model)
        .copied()
        .unwrap_or(DEFAULT_FACTOR);
    let count = |s: Status| tasks.iter().filter(|t| t.status() == s).count();
    let images: usize = tasks.iter().map(|t| t.images().len()).sum();
    writeln!(
        out,
        "Plan for {}: {} task(s) ({} ok, {} invalid, {} skipped), {images} image(s) to make.",
        root.path().display(),
        tasks.len(),
        count(Status::Ok),
        count(Status::Invalid),
        count(Status::Skipped),
    )?;
    for (i, t) in tasks.iter().enumerate() {
        writeln!(out)?;
        match &t.verdict {
            Verdict::Ready(ready) => {
                let made = ready
                    .history()
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{:>3}. {}  ok, {} image(s){made}",
                    i + 1,
                    escape(&t.file.rel),
                    ready.images.len()
                )?;
                for img in &ready.images {
                    let asked = img.size();
                    let [w, h] = engine_size(asked, factor);
                    let asked = if asked == [w, h] {
                        String::new()
                    } else {
                        format!(" (asked {}x{})", asked[0], asked[1])
                    };
                    let seed = img
                        .seed()
                        .map(|s| format!("seed {s}"))
                        .unwrap_or_else(|| "random seed".into());
                    writeln!(
                        out,
                        "       {}  {w}x{h}{asked}, {} iterations, {seed}, image {} of {}",
                        escape(&img.output_rel),
                        img.iterations(),
                        img.index,
                        img.total
                    )?;
                    writeln!(out, "         prompt: {:?}", img.prompt())?;
                    let (opts, size) = (img.options(), img.size());
                    if let Some(line) = crate::task::video::describe(opts, img.iterations(), size) {
                        writeln!(out, "         video: {}", escape(&line))?;
                    }
                }
            }
            Verdict::Invalid(problems) => {
                writeln!(
                    out,
                    "{:>3}. {}  INVALID (an _ERROR.txt will be written)",
                    i + 1,
                    escape(&t.file.rel)
                )?;
                for line in problems.lines() {
                    writeln!(out, "       {}", escape(&line))?;
                }
            }
            Verdict::Skipped(reason) => {
                // Not in the processing order: listed after it, by path.
                writeln!(out, "  -  {}  not run", escape(&t.file.rel))?;
                writeln!(out, "       {}", escape(&reason.to_string()))?;
            }
        }
        for w in t.warnings() {
            writeln!(out, "       warning: {}", escape(w))?;
        }
    }
    if images > 0 {
        writeln!(out)?;
        match crate::queue::estimate::estimate(root.path(), config, tasks) {
            Some(e) => writeln!(
                out,
                "Estimate: {} on {} (model set {}), from the speeds of earlier runs.",
                e.text,
                escape(&e.device),
                escape(&e.model_set)
            )?,
            None => writeln!(
                out,
                "Estimate: none yet (no earlier run measured model set {} on this device).",
                escape(&config.model)
            )?,
        }
    }
    out.flush()
}

/// Tonight's order, turn by turn, with estimated start times after the night's start.
fn write_order(tasks: &[PlannedTask], order: &Tonight, out: &mut dyn Write) -> std::io::Result<()> {
    let out = &mut std::io::BufWriter::with_capacity(1 << 16, out);
    let turns: Vec<_> = order
        .turns
        .iter()
        .filter(|t| !t.images.is_empty())
        .collect();
    if turns.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    if order.timed {
        writeln!(
            out,
            "Tonight's order (a fair share of the night's GPU time: the member who has used least \
             goes next; estimated start after the night's start):"
        )?;
    } else {
        writeln!(
            out,
            "Tonight's order (a fair share of the night's GPU time: the member who has used least \
             goes next; no times yet: no earlier run measured this model set on this device, so \
             the order weighs each image by its iterations and pixels):"
        )?;
    }
    for (n, turn) in turns.iter().enumerate() {
        let task = &tasks[turn.task];
        let images = &task.images()[turn.images.clone()];
        let (first, last) = (&images[0], &images[images.len() - 1]);
        let which = if images.len() == 1 {
            format!("image {} of {}", first.index, first.total)
        } else {
            format!("images {}-{} of {}", first.index, last.index, first.total)
        };
        let when = if order.timed {
            offset_text(turn.start)
        } else {
            format!("{:>3}.", n + 1)
        };
        writeln!(
            out,
            "  {when}  {}  {which}  ({})",
            escape(&task.file.rel),
            escape(&first.output_rel)
        )?;
    }
    out.flush()
}
