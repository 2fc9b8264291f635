//! `plan --json`: the plan as other tools read it, in waiting order, each image with its
//! place in tonight's order ([`crate::queue::tonight`]) and its estimated start.

use serde::Serialize;

use crate::queue::plan::{PlannedImage, PlannedTask, Status, Verdict};
use crate::queue::tonight::{ImageTurns, Tonight};

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
    pub images: JsonImages<'a>,
}

/// A task's images in `plan --json`: each image's view ([`JsonImage`]) is made as it is
/// written, none kept.
#[derive(Clone, Copy)]
pub struct JsonImages<'a> {
    plan: &'a JsonPlan<'a>,
    /// The task's place in the plan.
    task: usize,
}

impl<'a> JsonImages<'a> {
    /// The images, in order.
    pub fn iter(self) -> impl ExactSizeIterator<Item = JsonImage<'a>> {
        let images = self.plan.tasks[self.task].images().iter().enumerate();
        images.map(move |(k, image)| self.plan.image(self.task, k, image))
    }
}

impl Serialize for JsonImages<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl std::fmt::Debug for JsonImages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Tasks read ahead at a time ([`JsonPlan::warm`]).
const WARM: usize = 32;

/// The `plan --json` view of a plan and its order, made one task at a time ([`Self::task`]):
/// a plan of 100,000 tasks is written a piece at a time, each piece's view made by the
/// thread that writes it.
pub struct JsonPlan<'a> {
    tasks: &'a [PlannedTask],
    tonight: &'a Tonight,
    /// Each image's turn and start ([`Tonight::image_turns`]).
    turns: ImageTurns<'a>,
}

impl<'a> JsonPlan<'a> {
    /// The view of `tasks` in tonight's order `tonight`.
    pub fn new(tasks: &'a [PlannedTask], tonight: &'a Tonight) -> JsonPlan<'a> {
        let turns = tonight.image_turns(tasks.iter().map(|t| t.images().len()));
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
    pub fn task(&'a self, n: usize) -> JsonTask<'a> {
        if n.is_multiple_of(WARM) {
            self.warm(n..self.tasks.len().min(n + WARM));
        }
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
            images: JsonImages {
                plan: self,
                task: n,
            },
        }
    }

    /// Reads what the view of `tasks` reads, one step of each pointer chain at a time: the
    /// plan's parts lie scattered in memory, and one at a time, each read waits for memory;
    /// read side by side (many reads in flight), the waits overlap.
    fn warm(&self, tasks: std::ops::Range<usize>) {
        use std::hint::black_box;
        let tasks = &self.tasks[tasks];
        for t in tasks {
            black_box((t.images().len(), t.file.rel.as_bytes().first().copied()));
        }
        for image in tasks.iter().flat_map(|t| t.images()) {
            black_box(image.output_rel.len());
        }
        for image in tasks.iter().flat_map(|t| t.images()) {
            black_box((image.output_rel.as_bytes().first().copied(), image.size()));
        }
        for image in tasks.iter().flat_map(|t| t.images()) {
            black_box(image.prompt().as_bytes().first().copied());
        }
    }

    /// Image `k` of the `n`-th task, `image`.
    fn image(&self, n: usize, k: usize, image: &'a PlannedImage) -> JsonImage<'a> {
        let turn = self.turns.get(n, k);
        JsonImage {
            output: &image.output_rel,
            prompt: image.prompt(),
            size: image.size(),
            iterations: image.iterations(),
            seed: image.seed(),
            turn: turn.map(|(n, _)| n),
            start_seconds: turn
                .filter(|_| self.tonight.timed)
                .map(|(_, turn)| (turn.start * 10.0).round() / 10.0),
        }
    }
}
