//! The night's order: the one definition of who goes next, used by `plan`, `run`, `status`
//! and the gallery's queue page.
//!
//! Tasks in the priority folder come first, in their waiting order (oldest first), whole.
//! Then the night is shared by GPU time: each turn goes to the member who has used the least
//! of the night so far (estimated seconds; `tasks/` counts as one member), who gets the next
//! part of their oldest waiting task. A part is one batch of images (`max_batch`, else 4 on a
//! GPU and 1 on the CPU), so a large task is worked a batch at a time between other members'
//! tasks. Invalid tasks are not here, so they cost nothing. Ties go to the member whose
//! oldest task has waited longest (the order the tasks are given in).
//!
//! Pure: the costs and the night's shape are passed in, times are seconds after the night's
//! start; [`crate::queue::tonight`] feeds it from a plan and the stored speeds.

use std::collections::VecDeque;
use std::ops::Range;

/// One valid task waiting tonight, in waiting order (priority first, then oldest first).
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting<'a> {
    /// Who it belongs to (`tasks` for the shared folder).
    pub member: &'a str,
    /// In the priority folder.
    pub priority: bool,
    /// The estimated seconds of each image still to make, in the order they will be made.
    pub costs: Vec<f64>,
}

/// What the night looks like, apart from its tasks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Images per part (a batch).
    pub part: usize,
    /// Seconds before the first image (Python, the models).
    pub startup: f64,
    /// The pause between two parts of different tasks (`delay_seconds`).
    pub pause: f64,
}

/// One turn of the night: some images of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// The task's index in the list given to [`turns`].
    pub task: usize,
    /// Which of its images (indices into its `costs`); empty for a task with nothing to
    /// make, which gets one turn to be marked done.
    pub images: Range<usize>,
    /// Estimated start, seconds after the night's start (the pause before it included).
    pub start: f64,
    /// Estimated end.
    pub end: f64,
}

/// How many images of a task are optimised together, hence the size of a part: `max_batch`
/// when configured, else 4 on a GPU and 1 on the CPU, where CLIP's 32 cutouts of 224 pixels
/// per image already fill the cores and a batch only adds memory traffic (measured with
/// scripts/bench_run.py).
pub fn batch_size(configured: Option<u32>, device: &str) -> usize {
    match configured {
        Some(n) => n as usize,
        None if device.starts_with("cuda") => 4,
        None => 1,
    }
}

/// The night's turns, in order (see the module docs).
pub fn turns(waiting: &[Waiting<'_>], shape: Shape) -> Vec<Turn> {
    let part = shape.part.max(1);
    let mut out: Vec<Turn> = Vec::new();
    let any = waiting.iter().any(|w| !w.costs.is_empty());
    let mut clock = if any { shape.startup.max(0.0) } else { 0.0 };
    let mut take = |task: usize, images: Range<usize>, out: &mut Vec<Turn>| -> f64 {
        let cost: f64 = waiting[task].costs[images.clone()].iter().sum();
        let pause = match out.last() {
            Some(prev) if prev.task != task && !images.is_empty() => shape.pause.max(0.0),
            _ => 0.0,
        };
        let start = clock + pause;
        clock = start + cost;
        out.push(Turn {
            task,
            images,
            start,
            end: clock,
        });
        cost
    };
    for (i, w) in waiting.iter().enumerate().filter(|(_, w)| w.priority) {
        let n = w.costs.len();
        let mut from = 0;
        loop {
            let to = (from + part).min(n);
            take(i, from..to, &mut out);
            from = to;
            if from >= n {
                break;
            }
        }
    }
    // Members in the order of their oldest task; each with its tasks and the next image.
    struct Member<'a> {
        name: &'a str,
        used: f64,
        tasks: VecDeque<(usize, usize)>,
    }
    let mut members: Vec<Member<'_>> = Vec::new();
    for (i, w) in waiting.iter().enumerate().filter(|(_, w)| !w.priority) {
        match members.iter_mut().find(|m| m.name == w.member) {
            Some(m) => m.tasks.push_back((i, 0)),
            None => members.push(Member {
                name: w.member,
                used: 0.0,
                tasks: VecDeque::from([(i, 0)]),
            }),
        }
    }
    loop {
        let next = members
            .iter_mut()
            .filter(|m| !m.tasks.is_empty())
            .reduce(|a, b| if b.used < a.used { b } else { a });
        let Some(member) = next else { break };
        let (task, from) = member.tasks[0];
        let n = waiting[task].costs.len();
        let to = (from + part).min(n);
        if to >= n {
            member.tasks.pop_front();
        } else {
            member.tasks[0].1 = to;
        }
        member.used += take(task, from..to, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w<'a>(member: &'a str, priority: bool, costs: &[f64]) -> Waiting<'a> {
        Waiting {
            member,
            priority,
            costs: costs.to_vec(),
        }
    }

    const SHAPE: Shape = Shape {
        part: 1,
        startup: 0.0,
        pause: 0.0,
    };

    /// `(task, first image, count)` of each turn.
    fn order(turns: &[Turn]) -> Vec<(usize, usize, usize)> {
        turns
            .iter()
            .map(|t| (t.task, t.images.start, t.images.len()))
            .collect()
    }

    #[test]
    fn a_large_task_is_worked_in_parts_between_the_small_tasks_of_another_member() {
        let waiting = [
            w("anna", false, &[10.0; 25]),
            w("ben", false, &[10.0]),
            w("ben", false, &[10.0]),
            w("ben", false, &[10.0]),
            w("ben", false, &[10.0]),
        ];
        let turns = turns(&waiting, SHAPE);
        let o = order(&turns);
        assert_eq!(
            &o[..8],
            &[
                (0, 0, 1),
                (1, 0, 1),
                (0, 1, 1),
                (2, 0, 1),
                (0, 2, 1),
                (3, 0, 1),
                (0, 3, 1),
                (4, 0, 1)
            ]
        );
        assert_eq!(turns.len(), 29);
        let anna_10th = turns
            .iter()
            .position(|t| t.task == 0 && t.images.start == 9)
            .unwrap();
        let ben_last = turns.iter().rposition(|t| t.task != 0).unwrap();
        assert!(ben_last < anna_10th);
    }

    #[test]
    fn turns_go_by_seconds_used_not_by_tasks() {
        // Anna's one image costs as much as four of Ben's: Ben makes four before Anna's next.
        let waiting = [w("anna", false, &[40.0, 40.0]), w("ben", false, &[10.0; 6])];
        let o = order(&turns(&waiting, SHAPE));
        assert_eq!(
            o,
            [
                (0, 0, 1),
                (1, 0, 1),
                (1, 1, 1),
                (1, 2, 1),
                (1, 3, 1),
                (0, 1, 1),
                (1, 4, 1),
                (1, 5, 1)
            ]
        );
    }

    #[test]
    fn the_priority_folder_goes_first_whole_and_costs_its_member_nothing() {
        let waiting = [
            w("tasks", true, &[5.0; 3]),
            w("anna", false, &[10.0; 2]),
            w("tasks", false, &[10.0; 2]),
        ];
        let o = order(&turns(&waiting, SHAPE));
        assert_eq!(
            o,
            [
                (0, 0, 1),
                (0, 1, 1),
                (0, 2, 1),
                (1, 0, 1),
                (2, 0, 1),
                (1, 1, 1),
                (2, 1, 1)
            ]
        );
    }

    #[test]
    fn a_member_works_through_their_tasks_oldest_first_a_batch_at_a_time() {
        let shape = Shape { part: 4, ..SHAPE };
        let waiting = [w("anna", false, &[1.0; 6]), w("anna", false, &[1.0; 2])];
        let o = order(&turns(&waiting, shape));
        assert_eq!(o, [(0, 0, 4), (0, 4, 2), (1, 0, 2)]);
    }

    #[test]
    fn start_times_add_the_startup_the_images_and_the_pause_between_tasks() {
        let shape = Shape {
            part: 2,
            startup: 30.0,
            pause: 5.0,
        };
        let waiting = [w("anna", false, &[10.0; 3]), w("ben", false, &[7.0])];
        let t = turns(&waiting, shape);
        let times: Vec<(f64, f64)> = t.iter().map(|t| (t.start, t.end)).collect();
        // anna 1-2 (20 s), ben (7 s, after a pause), anna 3 (after a pause).
        assert_eq!(times, [(30.0, 50.0), (55.0, 62.0), (67.0, 77.0)]);
    }

    #[test]
    fn a_task_with_nothing_to_make_gets_one_empty_turn_and_nothing_waits_for_the_startup() {
        let t = turns(&[w("anna", false, &[])], SHAPE);
        assert_eq!(order(&t), [(0, 0, 0)]);
        assert_eq!((t[0].start, t[0].end), (0.0, 0.0));
        assert!(turns(&[], SHAPE).is_empty());
    }

    #[test]
    fn ties_go_to_the_member_whose_task_waited_longest() {
        let waiting = [w("ben", false, &[1.0]), w("anna", false, &[1.0])];
        assert_eq!(order(&turns(&waiting, SHAPE)), [(0, 0, 1), (1, 0, 1)]);
    }

    #[test]
    fn the_batch_size_is_max_batch_else_four_on_a_gpu_and_one_on_the_cpu() {
        assert_eq!(batch_size(Some(3), "cpu"), 3);
        assert_eq!(batch_size(None, "cuda:1"), 4);
        assert_eq!(batch_size(None, "cpu"), 1);
    }
}
