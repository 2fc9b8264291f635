//! What the end of a run hands to the owner's own tools: the Prometheus textfile
//! (`metrics_file`, replaced whole) and the `on_finish` command (a program and its arguments,
//! never a shell), which gets the run's summary JSON on its standard input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `on_finish` may take before it is stopped.
pub const ON_FINISH_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) fn prometheus_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes the metrics textfile whole (temporary file in its folder, then rename), so that
/// the collector never reads half of it. The path is the owner's (usually outside the shared
/// folder, such as node_exporter's textfile folder), so it is written as given.
pub(crate) fn write_metrics(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".runvqgan-metrics-")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Runs `argv` (no shell) with `input` on its standard input; its output goes where
/// runvqgan's goes. `Err` when it cannot start, fails, or outlives `timeout` (then it is
/// killed).
pub fn run_on_finish(argv: &[String], input: &[u8], timeout: Duration) -> Result<(), String> {
    let (program, args) = argv.split_first().ok_or("the command is empty")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start it: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is fine.
        let _ = stdin.write_all(input);
    }
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("it exited with {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "it ran longer than {} s and was stopped",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.to_string()),
        }
    }
}
