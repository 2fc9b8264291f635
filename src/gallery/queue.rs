//! The gallery's "tonight's queue" page (`queue.html`): per member, their waiting tasks in
//! tonight's fair-share order ([`crate::queue::tonight`]) with estimated start and finish
//! times, what is being made now, and the invalid tasks with their reasons. `check` writes it
//! in the daytime (times after the night's start), `run` at its start and before every turn
//! (clock times), and `run` again at its end (what is left, as `check` would show it).
//!
//! Members' text (task names, problems) is hostile: the template is escaped by minijinja
//! (HTML auto-escaping for `.html` templates). The page is one file with its style inline:
//! it opens offline from the synced folder. It is written like every gallery file, through
//! the gallery's own folder handle ([`super::disk`]), only when its bytes change.

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use minijinja::value::Serde;
use minijinja::{Environment, context};
use serde::Serialize;

use super::disk::{GalleryError, check_owners, open_folders, write_if_changed};
use crate::queue::plan::{PlannedTask, Verdict};
use crate::queue::tonight::{QueueNow, offset_text};
use crate::shared_folder::confined;
use crate::shared_folder::root::{Root, check_relative};

/// The page's file name in the gallery's folder.
pub const QUEUE_PAGE: &str = "queue.html";

const TEMPLATE: &str = include_str!("templates/queue.html");

/// A task waiting tonight.
#[derive(Debug, Clone, Serialize)]
struct TaskRow {
    task: String,
    images: usize,
    start: String,
    finish: String,
    history: Option<String>,
}

/// A member's share of tonight.
#[derive(Debug, Clone, Serialize)]
struct MemberRow {
    member: String,
    images: usize,
    finish: String,
    tasks: Vec<TaskRow>,
}

/// What is being made now.
#[derive(Debug, Clone, Serialize)]
struct Making {
    task: String,
    member: String,
    which: String,
    since: String,
}

/// An invalid task and its problems.
#[derive(Debug, Clone, Serialize)]
struct InvalidRow {
    task: String,
    member: String,
    problems: String,
}

/// The page for the queue at `q`.
pub fn page(q: &QueueNow<'_>) -> Result<String, GalleryError> {
    let turns = &q.tonight.turns;
    let next = q.next.min(turns.len());
    // During a run the turn at `next` starts now: later turns are shifted by what the night
    // has gained or lost against the estimate.
    let base = match (q.started, q.expected_start) {
        (Some(_), _) => {
            let now = secs(q.now);
            Some(now - turns.get(next).map_or(0.0, |t| t.start))
        }
        (None, expected) => expected.map(secs),
    };
    let when = |offset: f64| -> String {
        if !q.tonight.timed {
            return "not estimated yet".into();
        }
        match base {
            Some(b) => clock(b + offset),
            None => offset_text(offset),
        }
    };
    let mut members: Vec<MemberRow> = Vec::new();
    let by_task = q.tonight.by_task(q.tasks.len());
    let mut seen = vec![false; q.tasks.len()];
    for (n, turn) in turns.iter().enumerate().skip(next) {
        if seen[turn.task] || turn.images.is_empty() {
            continue;
        }
        seen[turn.task] = true;
        let task = &q.tasks[turn.task];
        let mine: Vec<_> = by_task[turn.task]
            .iter()
            .filter(|&&m| m >= n)
            .map(|&m| &turns[m])
            .collect();
        let images: usize = mine.iter().map(|t| t.images.len()).sum();
        let end = mine.last().map_or(turn.end, |t| t.end);
        let member = task.file.kind.member().to_string();
        let row = TaskRow {
            task: task.file.rel.clone(),
            images,
            start: if n == next && base.is_some() {
                "now".into()
            } else {
                when(turn.start)
            },
            finish: when(end),
            history: match &task.verdict {
                Verdict::Ready(r) => r.history(),
                _ => None,
            },
        };
        match members.iter_mut().find(|m| m.member == member) {
            Some(m) => {
                m.images += images;
                m.tasks.push(row);
            }
            None => members.push(MemberRow {
                member,
                images,
                finish: String::new(),
                tasks: vec![row],
            }),
        }
    }
    for m in &mut members {
        let last = turns
            .iter()
            .skip(next)
            .filter(|t| q.tasks[t.task].file.kind.member() == m.member)
            .map(|t| t.end)
            .fold(0.0, f64::max);
        m.finish = match (q.tonight.timed, base) {
            (false, _) => "time not estimated yet".into(),
            (true, Some(b)) => format!("about {}", clock(b + last)),
            (true, None) => format!("{} after the night's start", offset_text(last)),
        };
    }
    let making = (q.started.is_some())
        .then(|| turns.get(next))
        .flatten()
        .filter(|t| !t.images.is_empty())
        .map(|t| {
            // The turns of the same task right after it are made with it.
            let end = turns[next..]
                .iter()
                .take_while(|u| u.task == t.task)
                .last()
                .map_or(t.images.end, |u| u.images.end);
            let task = &q.tasks[t.task];
            let images = &task.images()[t.images.start..end];
            let (first, last) = (&images[0], &images[images.len() - 1]);
            Making {
                task: task.file.rel.clone(),
                member: task.file.kind.member().to_string(),
                which: if images.len() == 1 {
                    format!("image {} of {}", first.index, first.total)
                } else {
                    format!("images {}-{} of {}", first.index, last.index, first.total)
                },
                since: clock(secs(q.now)),
            }
        });
    let invalid: Vec<InvalidRow> = q
        .tasks
        .iter()
        .filter_map(|t| match &t.verdict {
            Verdict::Invalid(problems) => Some(InvalidRow {
                task: t.file.rel.clone(),
                member: t.file.kind.member().to_string(),
                problems: problems.to_string(),
            }),
            _ => None,
        })
        .collect();
    let updated = format!("updated {}", super::when::local_time(q.now).minute);
    let share = "Each member's turn comes by a fair share of the night's GPU time: whoever has \
                 used least goes next, a batch of images at a time.";
    let times = if q.tonight.timed {
        "Times are estimates from the speeds measured on earlier nights."
    } else {
        "No times yet: no earlier night measured this model set on this device."
    };
    let about = match q.started {
        Some(s) if next >= turns.len() => format!(
            "The night that started at {} has nothing more to make.",
            clock(secs(s))
        ),
        Some(s) => format!("The night started at {}. {share} {times}", clock(secs(s))),
        None if q.tonight.timed && q.expected_start.is_some() => format!(
            "Tonight's order, for the night that starts at {}. {share} {times}",
            clock(base.unwrap_or_default())
        ),
        None if q.tonight.timed => format!(
            "Tonight's order if the night started now. {share} Times are after the night's \
             start, estimated from the speeds measured on earlier nights."
        ),
        None => format!("Tonight's order. {share} {times}"),
    };
    let mut env = Environment::new();
    env.add_template(QUEUE_PAGE, TEMPLATE)
        .map_err(|e| template_error(&e))?;
    env.get_template(QUEUE_PAGE)
        .and_then(|t| {
            t.render(context! { updated, about, making => Serde(making),
            members => Serde(members), invalid => Serde(invalid) })
        })
        .map_err(|e| template_error(&e))
}

/// Writes the queue page for `q` into the gallery folder `dir` (relative to the root),
/// through the gallery's own folder handles; returns whether its bytes changed.
pub fn write(root: &Root, dir: &str, q: &QueueNow<'_>) -> Result<bool, GalleryError> {
    check_relative(dir).map_err(|problem| GalleryError::BadDir {
        dir: dir.to_string(),
        problem,
    })?;
    let rel: PathBuf = Path::new(dir)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let path = root.path().join(&rel);
    let io = |source| GalleryError::Io {
        path: path.clone(),
        source,
    };
    let html = page(q)?;
    let root_dir = confined::open_dir(root.path()).map_err(io)?;
    let top = open_folders(&root_dir, root.path(), &rel).map_err(io)?;
    check_owners(&top).map_err(|problem| GalleryError::NotTheOwners {
        path: path.clone(),
        problem,
    })?;
    write_if_changed(&top, QUEUE_PAGE, html.as_bytes()).map_err(io)
}

/// Writes the queue page of the night of `tasks` (the plan of `root` now) as it would go if
/// it started now (`check`, and `run` once it ends: what is left for the next night).
pub fn write_planned(
    root: &Root,
    config: &crate::config::Config,
    dir: &str,
    now: SystemTime,
    tasks: &[PlannedTask],
) -> Result<bool, GalleryError> {
    let speeds = crate::records::speeds::Speeds::load(root.path());
    let order = crate::queue::tonight::tonight(tasks, config, &speeds);
    let q = QueueNow {
        tasks,
        tonight: &order,
        next: 0,
        started: None,
        expected_start: config.night_window().map(|w| w.next_start(now)),
        now,
    };
    write(root, dir, &q)
}

fn template_error(e: &minijinja::Error) -> GalleryError {
    GalleryError::Template {
        name: QUEUE_PAGE.into(),
        message: format!("{e:#}"),
    }
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// `HH:MM`, local time, of `seconds` since the epoch.
fn clock(seconds: f64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs_f64(seconds.max(0.0));
    let minute = super::when::local_time(t).minute;
    minute
        .split_once(' ')
        .map_or(minute.clone(), |(_, hm)| hm.to_string())
}
