//! Tonight's order for a plan: the valid tasks of a [`plan`](crate::queue::plan::plan) given to
//! [`crate::queue::fair::turns`] with each image's estimated seconds from the stored speeds.
//! `plan`, `run`, `status` and the gallery's queue page all take the order from here.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use rayon::prelude::*;

use crate::config::Config;
use crate::queue::fair::{self, Shape, Turn, Waiting};
use crate::queue::plan::{PlannedTask, Verdict};
use crate::records::speeds::{DEFAULT_FACTOR, Speeds, engine_size, expected_device};

/// The night's turns for a list of planned tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Tonight {
    /// In order; `turn.task` is an index into the planned tasks and `turn.images` a range of
    /// that task's [`PlannedTask::images`].
    pub turns: Vec<Turn>,
    /// Whether the times are seconds from measured speeds. When nothing was measured for
    /// this model set and device, the order is made from each image's iterations times its
    /// pixels (the work it is), and the times mean nothing.
    pub timed: bool,
    /// The device the estimate is for, when known.
    pub device: Option<String>,
}

/// A member's share of tonight.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberTonight {
    /// `tasks` for the shared folder.
    pub member: String,
    /// Images to make.
    pub images: usize,
    /// Estimated seconds after the night's start of their first and last image's end.
    pub first_start: f64,
    pub finish: f64,
}

/// Tonight's order for `tasks` (a plan, in waiting order), from `speeds`.
pub fn tonight(tasks: &[PlannedTask], config: &Config, speeds: &Speeds) -> Tonight {
    let device = expected_device(config.device.as_deref(), speeds, &config.model);
    // A run that names no device uses the GPU when there is one: the nights are made for it.
    let dev = device.as_deref().unwrap_or("cuda:0");
    let ready: Vec<usize> = (0..tasks.len())
        .into_par_iter()
        .filter(|i| matches!(tasks[*i].verdict, Verdict::Ready(_)))
        .collect();
    let measured = |size, iterations| {
        device
            .as_deref()
            .and_then(|d| speeds.image_seconds(&config.model, d, size, iterations))
    };
    let timed = ready.par_iter().all(|i| {
        tasks[*i]
            .images()
            .iter()
            .all(|img| measured(img.size(), img.iterations()).is_some())
    }) && device.is_some();
    let factor = speeds
        .factor
        .get(&config.model)
        .copied()
        .unwrap_or(DEFAULT_FACTOR);
    let cost = |size: [u32; 2], iterations: u32| -> f64 {
        if timed {
            measured(size, iterations).unwrap_or_default()
        } else {
            // The work of the image, in "seconds" of a nominal 448x288 image at 0.1 s per
            // iteration: only the order is meaningful.
            let [w, h] = engine_size(size, factor);
            f64::from(iterations) * f64::from(w) * f64::from(h) / (448.0 * 288.0) * 0.1
        }
    };
    let waiting: Vec<Waiting> = ready
        .par_iter()
        .map(|i| {
            let t = &tasks[*i];
            Waiting {
                member: t.file.kind.member(),
                priority: t.file.priority,
                costs: t
                    .images()
                    .iter()
                    .map(|img| cost(img.size(), img.iterations()))
                    .collect(),
            }
        })
        .collect();
    let startup = device
        .as_deref()
        .and_then(|d| speeds.startup.get(&format!("{}@{d}", config.model)))
        .copied()
        .filter(|_| timed)
        .unwrap_or(0.0);
    let shape = Shape {
        part: fair::batch_size(config.max_batch, dev),
        startup,
        pause: config.delay_seconds,
    };
    let turns = fair::turns(&waiting, shape)
        .into_iter()
        .map(|t| Turn {
            task: ready[t.task],
            ..t
        })
        .collect();
    Tonight {
        turns,
        timed,
        device,
    }
}

impl Tonight {
    /// The turns of each task, in order (indices into `turns`), for `tasks` planned tasks:
    /// one pass, so that per-task questions cost no scan of the whole order.
    pub fn by_task(&self, tasks: usize) -> Vec<Vec<usize>> {
        let mut by = vec![Vec::new(); tasks];
        for (n, t) in self.turns.iter().enumerate() {
            if let Some(mine) = by.get_mut(t.task) {
                mine.push(n);
            }
        }
        by
    }

    /// Each image of the planned tasks, `images` the number of each one's images (in the
    /// plan's order), with its turn in tonight's order: one pass over the order into one list
    /// for all the images (no list per task).
    pub fn image_turns(&self, images: impl ExactSizeIterator<Item = usize>) -> ImageTurns<'_> {
        let mut first = Vec::with_capacity(images.len() + 1);
        first.push(0);
        for n in images {
            first.push(first[first.len() - 1] + n);
        }
        let mut turn = vec![0; first[first.len() - 1]];
        for (n, t) in self.turns.iter().enumerate() {
            let Some(&[start, end]) = first.get(t.task..t.task + 2) else {
                continue;
            };
            let from = (start + t.images.start).min(end);
            turn[from..(start + t.images.end).clamp(from, end)].fill(n + 1);
        }
        ImageTurns {
            tonight: self,
            first,
            turn,
        }
    }

    /// Each member's share, in the order of their first turn.
    pub fn members(&self, tasks: &[PlannedTask]) -> Vec<MemberTonight> {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        let mut out: Vec<MemberTonight> = Vec::new();
        for t in &self.turns {
            let member = tasks[t.task].file.kind.member().to_string();
            let i = *by.entry(member.clone()).or_insert_with(|| {
                out.push(MemberTonight {
                    member,
                    images: 0,
                    first_start: t.start,
                    finish: t.end,
                });
                out.len() - 1
            });
            out[i].images += t.images.len();
            out[i].finish = out[i].finish.max(t.end);
        }
        out
    }
}

/// Each planned image's turn in tonight's order ([`Tonight::image_turns`]).
pub struct ImageTurns<'a> {
    tonight: &'a Tonight,
    /// Where each task's images start in `turn` (and, last, the number of images).
    first: Vec<usize>,
    /// Each image's turn, 1-based (0: none), task after task.
    turn: Vec<usize>,
}

impl ImageTurns<'_> {
    /// Image `k` (0-based) of task `task`: its position (1-based) in tonight's order and
    /// its turn there (images made together share one); `None` for an image with no turn.
    pub fn get(&self, task: usize, k: usize) -> Option<(usize, &Turn)> {
        let at = self.first.get(task)? + k;
        let n = *self.turn[..*self.first.get(task + 1)?].get(at)?;
        (n > 0).then(|| (n, &self.tonight.turns[n - 1]))
    }
}

/// The queue at one moment: what the queue page shows.
#[derive(Debug, Clone, Copy)]
pub struct QueueNow<'a> {
    /// The night's plan, in waiting order.
    pub tasks: &'a [PlannedTask],
    /// Its order.
    pub tonight: &'a Tonight,
    /// The turn about to start, or being made (`tonight.turns.len()`: the night is over;
    /// 0 before it).
    pub next: usize,
    /// When the night started, during a run (the order's times are seconds after it); `None`
    /// in the daytime.
    pub started: Option<SystemTime>,
    /// In the daytime, when the next night starts (the start of runvqgan.toml's `window`),
    /// so that times can be clock times; `None` without a window, or during a run.
    pub expected_start: Option<SystemTime>,
    /// Now.
    pub now: SystemTime,
}

/// `+1:05:30`: seconds after the night's start, as `plan` shows them.
pub fn offset_text(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("+{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The moment `seconds` after `start`.
pub fn at(start: SystemTime, seconds: f64) -> SystemTime {
    start + Duration::from_secs_f64(seconds.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_images_turn_and_each_tasks_turns_come_from_one_pass_over_the_order() {
        let turn = |task, images: std::ops::Range<usize>, start| Turn {
            task,
            images,
            start,
            end: start + 1.0,
        };
        let order = Tonight {
            turns: vec![
                turn(1, 0..2, 0.0),
                turn(0, 0..1, 2.0),
                turn(1, 2..3, 3.0),
                turn(2, 0..0, 4.0),
            ],
            timed: true,
            device: None,
        };
        assert_eq!(order.by_task(4), [vec![1], vec![0, 2], vec![3], vec![]]);
        let turns = order.image_turns([1, 3, 0, 0].into_iter());
        let of = |task, k| turns.get(task, k).map(|(n, turn)| (n, turn.start));
        assert_eq!([of(0, 0), of(0, 1)], [Some((2, 2.0)), None]);
        assert_eq!(
            [of(1, 0), of(1, 1), of(1, 2), of(1, 3)],
            [Some((1, 0.0)), Some((1, 0.0)), Some((3, 3.0)), None]
        );
        assert_eq!([of(2, 0), of(3, 0), of(4, 0)], [None, None, None]);
    }

    #[test]
    fn offsets_read_as_hours_minutes_and_seconds() {
        assert_eq!(offset_text(0.0), "+0:00:00");
        assert_eq!(offset_text(3930.4), "+1:05:30");
        assert_eq!(offset_text(-3.0), "+0:00:00");
    }
}
