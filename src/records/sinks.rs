//! The three human-facing sinks of a night's [`Event`]s: the run log file (`runvqgan.log`,
//! one line per event for the owner), the terminal (messages between the progress bars) and
//! the members' `_ERROR.txt` files. Every name that reaches a log line or the terminal has
//! its control characters escaped ([`escape`]), so a task file's name cannot forge a line.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::outputs::lifecycle::{self, Failure};
use crate::process::text::{escape, timestamp};
use crate::records::events::{Event, NoteState, Sink};
use crate::records::progress::{Progress, RunLog};

mod log_line;
pub use log_line::log_line;

/// How loud a terminal message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// The terminal's message for `event`, or `None`. Most are the log line; a few are shorter.
pub fn terminal_line(event: &Event) -> Option<(Level, String)> {
    let (level, text) = match event {
        Event::TaskSkipped { reason, .. } => (Level::Info, reason.clone()),
        Event::TaskInvalid {
            problems,
            error_file_state: NoteState::Unchanged,
            ..
        } => (
            Level::Info,
            format!("still invalid: {}", problems.lines().join("; ")),
        ),
        Event::TaskInvalid { problems, .. } => (
            Level::Warn,
            format!("invalid task: {}", problems.lines().join("; ")),
        ),
        Event::TaskWarning { .. }
        | Event::TaskNotes { .. }
        | Event::RunStarted { .. }
        | Event::ModelSetLoaded { .. } => {
            return None;
        }
        Event::ImageWritten {
            output,
            seconds,
            iterations,
            final_loss,
            seed,
            ..
        } => (
            Level::Info,
            format!(
                "wrote {output} ({seconds:.1} s, {:.2} it/s, loss {final_loss:.4}, seed {seed})",
                f64::from(*iterations) / seconds.max(1e-9)
            ),
        ),
        Event::ImageFailed {
            task,
            output,
            message,
            ..
        } => (Level::Error, format!("{task} -> {output}: {message}")),
        Event::TaskDone { task, .. } => (Level::Info, format!("done: {task}")),
        Event::TaskFailed { .. } | Event::TaskGone { .. } => return None,
        Event::ClaimFailed { .. }
        | Event::ErrorFileFailed { .. }
        | Event::DoneRenameFailed { .. }
        | Event::RunFailed { .. } => (Level::Error, log_line(event)?),
        Event::GalleryFailed { .. } => (Level::Warn, log_line(event)?),
        Event::GalleryBuilt { .. } => (Level::Info, log_line(event)?),
        Event::DeviceBusy { .. }
        | Event::PermissionProblem { .. }
        | Event::ClaimsDegraded { .. }
        | Event::OutsideWindow { .. } => (Level::Warn, log_line(event)?),
        Event::BatchSplit { .. }
        | Event::TaskChanged { .. }
        | Event::ClaimLost { .. }
        | Event::ClaimTakenOver { .. }
        | Event::BudgetReached { .. }
        | Event::UnfinishedRunFound { .. }
        | Event::Interrupted {} => (Level::Warn, log_line(event)?),
        Event::TaskBusy { .. }
        | Event::NothingToClaim { .. }
        | Event::RunFinished { .. }
        | Event::ClaimsChosen { .. } => (Level::Info, log_line(event)?),
    };
    Some((level, escape(&text)))
}

/// The run log file as a sink.
pub struct LogSink(pub RunLog);

impl Sink for LogSink {
    fn event(&self, event: &Event, _at: SystemTime, _follow: &mut Vec<Event>) {
        if let Some(line) = log_line(event) {
            self.0.line(&line);
        }
    }
}

/// The terminal as a sink: messages go through `tracing`, between the progress bars.
pub struct TerminalSink(pub Arc<Progress>);

impl Sink for TerminalSink {
    fn event(&self, event: &Event, _at: SystemTime, _follow: &mut Vec<Event>) {
        let Some((level, text)) = terminal_line(event) else {
            return;
        };
        self.0.say(|| match level {
            Level::Info => tracing::info!("{text}"),
            Level::Warn => tracing::warn!("{text}"),
            Level::Error => tracing::error!("{text}"),
        });
        if let Event::ImageFailed { traceback, .. } = event
            && !traceback.is_empty()
        {
            tracing::debug!("{traceback}");
        }
    }
}

/// The members' `_ERROR.txt` files of failures as a sink: a task that failed while generating
/// gets the reason and a hint (an invalid task's error file is kept by [`crate::queue::notes::sync`],
/// which `check` shares). A file that cannot be written becomes an [`Event::ErrorFileFailed`].
pub struct ErrorFileSink {
    /// The root the events' paths are relative to.
    pub root: PathBuf,
}

impl Sink for ErrorFileSink {
    fn event(&self, event: &Event, _at: SystemTime, follow: &mut Vec<Event>) {
        // An invalid task's error file is written by `notes::sync` (shared with `check`)
        // before its event; this sink writes the reports of failures while generating.
        let (task, error_file, written) = match event {
            Event::TaskFailed {
                task,
                output,
                error_file,
                kind,
                message,
                size,
            } => {
                let failure = Failure {
                    kind: *kind,
                    message: message.clone(),
                    size: *size,
                };
                let text = lifecycle::failure_report(task, output, &failure);
                (
                    task,
                    error_file,
                    lifecycle::write_failure_file(&self.root.join(task), &text),
                )
            }
            _ => return,
        };
        if let Err(e) = written {
            follow.push(Event::ErrorFileFailed {
                task: task.clone(),
                error_file: error_file.clone(),
                error: e.to_string(),
            });
        }
    }
}

/// The RFC 3339 form of a deadline, for [`Event::RunStarted`].
pub fn deadline_text(deadline: Option<SystemTime>) -> Option<String> {
    deadline.map(timestamp)
}
