//! The machine-readable record of each run, `.runvqgan/events/<run>.jsonl`, and its reading.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use super::{Event, Sink};
use crate::shared_folder::files::{EVENTS_DIR_NAME, EVENTS_FILE, STATE_DIR};

/// A run's identity in the record: its start time, host and process id, e.g.
/// `20261129T230000Z-gpu1-4711`. The host keeps apart the runs of several machines on one
/// root (the elements of a Slurm job array start in the same second, and process ids repeat
/// across machines); it is reduced to characters safe in a file name.
pub fn run_id(started: SystemTime, host: &str, pid: u32) -> String {
    let stamp = humantime::format_rfc3339_seconds(started)
        .to_string()
        .replace(['-', ':'], "");
    format!("{stamp}-{}-{pid}", crate::process::file_safe(host))
}

/// One line of `events.jsonl`.
#[derive(Serialize)]
struct Record<'a> {
    time: String,
    run: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

/// The machine-readable record of a run, `<root>/.runvqgan/events/<run>.jsonl`: one JSON
/// object per line. Each run writes its own file and no other process writes it, so nothing
/// depends on `O_APPEND` being atomic between writers, which NFS does not give across
/// machines (two hosts appending to one file overwrite each other's lines). Readers merge
/// the files by time ([`read_all`]). The file is opened without following links.
pub struct JsonlSink {
    file: Mutex<Option<File>>,
    path: PathBuf,
    run: String,
}

impl JsonlSink {
    /// Opens (creates) the record of `root` for run `run`. A record that cannot be opened
    /// is reported once and the run goes on without it.
    pub fn open(root: &Path, run: &str) -> JsonlSink {
        let name = format!("{run}.jsonl");
        let path = root.join(STATE_DIR).join(EVENTS_DIR_NAME).join(&name);
        let file = crate::shared_folder::state::StateDir::open(root)
            .and_then(|state| state.sub(EVENTS_DIR_NAME))
            .map_err(std::io::Error::from)
            .and_then(|events| events.append(&name));
        if let Err(e) = &file {
            tracing::warn!("cannot write the record of events {}: {e}", path.display());
        }
        JsonlSink {
            file: Mutex::new(file.ok()),
            path,
            run: run.to_string(),
        }
    }
}

impl Sink for JsonlSink {
    fn event(&self, event: &Event, at: SystemTime, _follow: &mut Vec<Event>) {
        let record = Record {
            time: humantime::format_rfc3339_millis(at).to_string(),
            run: &self.run,
            event,
        };
        let mut line = serde_json::to_vec(&record).expect("an event always serialises");
        line.push(b'\n');
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = guard.as_mut() {
            // One write call per line, by the file's only writer.
            match f.write(&line) {
                Ok(n) if n == line.len() => {}
                Ok(n) => {
                    tracing::warn!(
                        "the record of events {} is full: wrote {n} of {} bytes",
                        self.path.display(),
                        line.len()
                    );
                    *guard = None;
                }
                Err(e) => {
                    tracing::warn!(
                        "cannot write the record of events {}: {e}",
                        self.path.display()
                    );
                    *guard = None;
                }
            }
        }
    }
}

/// Every line of the root's record of events, of every run, merged in time order: the files
/// `.runvqgan/events/<run>.jsonl` and the single `.runvqgan/events.jsonl` of older versions.
/// Each line starts with its `time` (RFC 3339 in UTC, fixed width), so ordering by the text
/// orders by time; the lines of one run keep their order. A line that is not JSON (a file a
/// member could not have written, but a disk that filled) is left out.
pub fn read_all(root: &Path) -> Vec<String> {
    let mut files = vec![root.join(EVENTS_FILE)];
    let dir = root.join(STATE_DIR).join(EVENTS_DIR_NAME);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        names.sort();
        files.extend(names);
    }
    let mut lines: Vec<String> = Vec::new();
    for f in files {
        let Some(bytes) = crate::shared_folder::confined::read_own_file(&f, 256 << 20) else {
            continue;
        };
        lines.extend(
            String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
                .map(str::to_string),
        );
    }
    lines.sort_by(|a, b| time_of(a).cmp(time_of(b)));
    lines
}

/// The `time` of a record line (its first key), for ordering.
fn time_of(line: &str) -> &str {
    line.strip_prefix("{\"time\":\"")
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
}
