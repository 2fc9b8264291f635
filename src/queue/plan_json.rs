//! `plan --json`: the plan as other tools read it, in waiting order, each image with its
//! place in tonight's order ([`crate::queue::tonight`]) and its estimated start.

use serde::Serialize;

use crate::queue::plan::{PlannedTask, Status, Verdict};
use crate::queue::tonight::Tonight;

/// One image in `plan --json`.
#[derive(Debug, Serialize)]
pub struct JsonImage<'a> {
    /// The PNG, relative to the root.
    pub output: &'a str,
    /// The final prompt string.
    pub prompt: &'a str,
    /// `[width, height]`.
    pub size: [u32; 2],
    /// Iterations.
    pub iterations: u32,
    /// The seed, or null when the engine will pick one.
    pub seed: Option<u64>,
    /// Its turn in tonight's order (1-based; images made together share a turn).
    pub turn: Option<usize>,
    /// Estimated start, seconds after the night's start; null when no earlier run measured
    /// this model set on this device (the order holds all the same).
    pub start_seconds: Option<f64>,
}

/// One task in `plan --json`. The shape is an interface: other tools read it.
#[derive(Debug, Serialize)]
pub struct JsonTask<'a> {
    /// The task file, relative to the root.
    pub task: &'a str,
    /// `ok`, `invalid` or `skipped`.
    pub status: Status,
    /// The problems (invalid) or the reason (skipped); null when ok.
    pub error: Option<String>,
    /// Caps applied.
    pub warnings: &'a [String],
    /// A rerun of a done task, or resuming an interrupted one (see
    /// [`crate::queue::plan::ReadyTask::history`]); null for a new task.
    pub history: Option<String>,
    /// The images still to make.
    pub images: Vec<JsonImage<'a>>,
}

/// The `plan --json` view of a plan and its order, made one task at a time ([`Self::task`]):
/// a plan of 100,000 tasks is written a piece at a time, each piece's view made by the
/// thread that writes it.
pub struct JsonPlan<'a> {
    tasks: &'a [PlannedTask],
    tonight: &'a Tonight,
    /// Each task's images' turns and starts ([`Tonight::image_turns`]).
    turns: Vec<Vec<Option<(usize, f64)>>>,
}

impl<'a> JsonPlan<'a> {
    /// The view of `tasks` in tonight's order `tonight`.
    pub fn new(tasks: &'a [PlannedTask], tonight: &'a Tonight) -> JsonPlan<'a> {
        let turns = tonight.image_turns(tasks.len());
        JsonPlan {
            tasks,
            tonight,
            turns,
        }
    }

    /// How many tasks the plan holds.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the plan holds no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The `n`-th task, in waiting order.
    pub fn task(&self, n: usize) -> JsonTask<'a> {
        let t = &self.tasks[n];
        JsonTask {
            task: &t.file.rel,
            status: t.status(),
            error: t.error_text(),
            warnings: t.warnings(),
            history: match &t.verdict {
                Verdict::Ready(ready) => ready.history(),
                _ => None,
            },
            images: t
                .images()
                .iter()
                .enumerate()
                .map(|(k, i)| {
                    let turn = self.turns[n].get(k).copied().flatten();
                    JsonImage {
                        output: &i.output_rel,
                        prompt: i.prompt(),
                        size: i.size(),
                        iterations: i.iterations(),
                        seed: i.seed(),
                        turn: turn.map(|(n, _)| n),
                        start_seconds: turn
                            .filter(|_| self.tonight.timed)
                            .map(|(_, s)| (s * 10.0).round() / 10.0),
                    }
                })
                .collect(),
        }
    }
}
