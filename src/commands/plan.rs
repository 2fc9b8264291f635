//! `runvqgan plan`: what a run would do, in processing order, without writing anything.
//! Member-chosen names are escaped ([`escape`]); the JSON keeps no raw control character.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::config::{Config, ConfigOverrides};
use crate::process::exit_codes::ExitCode;
use crate::process::text::{escape, json_safe};
use crate::queue::plan::{PlannedTask, Status, Verdict, json_view, plan};
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
    if opts.json {
        let json = serde_json::to_string_pretty(&json_view(&tasks))?;
        writeln!(out, "{}", json_safe(&json))?;
    } else {
        write_human(&root, &config, &tasks, out)?;
    }
    Ok(ExitCode::Success)
}

fn write_human(
    root: &Root,
    config: &Config,
    tasks: &[PlannedTask],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let speeds = Speeds::load(root.path());
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
                let made = if ready.already_made.is_empty() {
                    String::new()
                } else {
                    format!(" ({} made earlier)", ready.already_made.len())
                };
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
                        .job
                        .seed
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
                    let (opts, size) = (&img.job.options, img.size());
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
    Ok(())
}
