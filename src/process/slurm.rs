//! The night as a Slurm job array: one element per GPU, each running `runvqgan run` on the
//! same shared folder, which the elements share through claims ([`crate::shared_folder::locks::lease`]).
//!
//! - [`SlurmJob::from_env`] reads what Slurm tells an element (job id, array index, the
//!   job's end time), so the run's log and record name the element and its time budget ends
//!   with the job.
//! - [`script`] writes the sbatch script that `runvqgan slurm-script` prints.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// What Slurm tells a process running inside a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmJob {
    /// `SLURM_JOB_ID`.
    pub job_id: String,
    /// `SLURM_ARRAY_JOB_ID`, for an array element.
    pub array_job_id: Option<String>,
    /// `SLURM_ARRAY_TASK_ID`, for an array element.
    pub array_task_id: Option<String>,
    /// `SLURM_JOB_END_TIME` (Unix seconds), when Slurm sets it.
    pub end_time: Option<SystemTime>,
}

impl SlurmJob {
    /// The job this process runs in, or `None` outside Slurm.
    pub fn from_env() -> Option<SlurmJob> {
        SlurmJob::from_vars(|k| std::env::var(k).ok())
    }

    /// The job that the variables `var` gives describe (testable without a Slurm).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<SlurmJob> {
        let job_id = var("SLURM_JOB_ID").filter(|v| !v.is_empty())?;
        let end_time = var("SLURM_JOB_END_TIME")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&t| t > 0)
            .map(|t| SystemTime::UNIX_EPOCH + Duration::from_secs(t));
        Some(SlurmJob {
            job_id,
            array_job_id: var("SLURM_ARRAY_JOB_ID").filter(|v| !v.is_empty()),
            array_task_id: var("SLURM_ARRAY_TASK_ID").filter(|v| !v.is_empty()),
            end_time,
        })
    }

    /// When the job ends: `SLURM_JOB_END_TIME`, else the time left that `squeue` reports.
    /// `None`: no time limit, or Slurm cannot be asked.
    pub fn end(&self, now: SystemTime) -> Option<SystemTime> {
        if let Some(t) = self.end_time {
            return Some(t);
        }
        let out = std::process::Command::new("squeue")
            .args(["--noheader", "--jobs", &self.job_id, "--format", "%L"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let left = parse_time_left(text.lines().next()?.trim())?;
        Some(now + left)
    }

    /// `Slurm job 1234` or `Slurm array job 1230, element 4`, for the log.
    pub fn describe(&self) -> String {
        describe_job(
            &self.job_id,
            self.array_job_id.as_deref(),
            self.array_task_id.as_deref(),
        )
    }
}

/// `Slurm job 1234` or `Slurm array job 1230, element 4`.
pub fn describe_job(
    job_id: &str,
    array_job_id: Option<&str>,
    array_task_id: Option<&str>,
) -> String {
    match (array_job_id, array_task_id) {
        (Some(a), Some(i)) => format!("Slurm array job {a}, element {i}"),
        _ => format!("Slurm job {job_id}"),
    }
}

/// Parses Slurm's time format (`MM:SS`, `HH:MM:SS`, `D-HH:MM:SS`, `D-HH`); `None` for
/// `UNLIMITED`, `INVALID` or anything else.
pub fn parse_time_left(text: &str) -> Option<Duration> {
    let (days, rest) = match text.split_once('-') {
        Some((d, r)) => (d.parse::<u64>().ok()?, r),
        None => (0, text),
    };
    let parts: Vec<u64> = rest
        .split(':')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    let (h, m, s) = match (text.contains('-'), parts.as_slice()) {
        (_, [h, m, s]) => (*h, *m, *s),
        (true, [h, m]) => (*h, *m, 0),
        (true, [h]) => (*h, 0, 0),
        (false, [m, s]) => (0, *m, *s),
        (false, [m]) => (0, *m, 0),
        _ => return None,
    };
    Some(Duration::from_secs(((days * 24 + h) * 60 + m) * 60 + s))
}

/// What the sbatch script asks of Slurm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOptions<'a> {
    /// The shared folder (absolute).
    pub root: &'a Path,
    /// The runvqgan binary the elements run (absolute).
    pub binary: &'a Path,
    /// Elements that run at once: GPUs used together (`%K`).
    pub gpus: u32,
    /// Elements in the array (`0-N`); at least `gpus`.
    pub elements: u32,
    /// No GPU: each element runs on the CPU (`--device cpu`, no `--gres`).
    pub cpu: bool,
    /// CPU cores per element.
    pub cpus_per_element: u32,
    /// `--time` (Slurm's format), if any.
    pub time: Option<&'a str>,
    /// `--partition`, if any.
    pub partition: Option<&'a str>,
}

/// The sbatch script of a night of `opts.elements` elements, `opts.gpus` at a time.
/// `Err`: a path or a value cannot be written into it safely, with the fix.
pub fn script(opts: &ScriptOptions<'_>) -> Result<String, String> {
    let root = directive_safe("--root", opts.root)?;
    let binary = directive_safe("the runvqgan binary", opts.binary)?;
    for (what, value) in [("--time", opts.time), ("--partition", opts.partition)] {
        if let Some(v) = value
            && (v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_:.,".contains(c)))
        {
            return Err(format!(
                "{what} {v:?} is not a Slurm value (letters, digits, - _ : . , only)"
            ));
        }
    }
    if opts.gpus < 1 || opts.elements < opts.gpus {
        return Err(format!(
            "--elements ({}) must be at least --gpus ({}), which must be at least 1",
            opts.elements, opts.gpus
        ));
    }
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(
        "# Written by `runvqgan slurm-script`: the night of a shared folder as a Slurm job\n",
    );
    s.push_str(
        "# array. Each element runs `runvqgan run` on its own GPU; the elements share the\n",
    );
    s.push_str("# folder's tasks through claims, so any number of them (and later submissions)\n");
    s.push_str("# make every image exactly once. Submit with: sbatch THIS_FILE\n");
    s.push_str("#SBATCH --job-name=runvqgan\n");
    s.push_str(&format!(
        "#SBATCH --array=0-{}%{}\n",
        opts.elements - 1,
        opts.gpus
    ));
    s.push_str("#SBATCH --ntasks=1\n");
    if !opts.cpu {
        s.push_str("#SBATCH --gres=gpu:1\n");
    }
    s.push_str(&format!(
        "#SBATCH --cpus-per-task={}\n",
        opts.cpus_per_element.max(1)
    ));
    if let Some(t) = opts.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if let Some(p) = opts.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    s.push_str(&format!(
        "#SBATCH --output={root}/.runvqgan/slurm-%A_%a.out\n"
    ));
    s.push_str("#SBATCH --signal=TERM@60\n");
    // The engine's CPU work (and all of it with --cpu) uses as many threads as the element
    // has cores, not every core of the node, which the other elements share.
    s.push_str("export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"\n");
    s.push_str(&format!(
        "exec {binary} run --root {root}{}\n",
        if opts.cpu {
            " --device cpu"
        } else {
            " --device cuda"
        }
    ));
    Ok(s)
}

/// `path` as it may stand in an `#SBATCH` line and a shell command unquoted: absolute, and
/// only letters, digits and `/ . _ - + @ ,`.
fn directive_safe(what: &str, path: &Path) -> Result<String, String> {
    let text = path.to_string_lossy();
    if !path.is_absolute()
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+@,".contains(c))
    {
        return Err(format!(
            "{what} {text:?} cannot be written into an sbatch script: #SBATCH lines cannot \
             quote, so the path must be absolute and hold only letters, digits and / . _ - + @ ,; \
             use a symbolic link with a plain name to it"
        ));
    }
    Ok(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_array_element_is_read_from_slurms_variables() {
        let vars = |k: &str| {
            Some(
                match k {
                    "SLURM_JOB_ID" => "1234",
                    "SLURM_ARRAY_JOB_ID" => "1230",
                    "SLURM_ARRAY_TASK_ID" => "4",
                    "SLURM_JOB_END_TIME" => "1800000000",
                    _ => return None,
                }
                .to_string(),
            )
        };
        let job = SlurmJob::from_vars(vars).unwrap();
        assert_eq!(job.array_task_id.as_deref(), Some("4"));
        assert_eq!(
            job.end(SystemTime::now()),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
        );
        assert_eq!(job.describe(), "Slurm array job 1230, element 4");
        assert!(SlurmJob::from_vars(|_| None).is_none());
    }

    #[test]
    fn slurm_time_left_is_parsed_in_each_of_its_forms() {
        assert_eq!(parse_time_left("5:07"), Some(Duration::from_secs(307)));
        assert_eq!(parse_time_left("1:00:00"), Some(Duration::from_secs(3600)));
        assert_eq!(
            parse_time_left("2-03:00:10"),
            Some(Duration::from_secs(2 * 86400 + 3 * 3600 + 10))
        );
        assert_eq!(
            parse_time_left("1-02"),
            Some(Duration::from_secs(86400 + 7200))
        );
        assert_eq!(parse_time_left("UNLIMITED"), None);
        assert_eq!(parse_time_left(""), None);
    }

    fn options(root: &Path) -> ScriptOptions<'_> {
        ScriptOptions {
            root,
            binary: Path::new("/opt/runvqgan/bin/runvqgan"),
            gpus: 4,
            elements: 4,
            cpu: false,
            cpus_per_element: 8,
            time: Some("10:00:00"),
            partition: None,
        }
    }

    #[test]
    fn the_script_runs_one_element_per_gpu_on_the_root() {
        let s = script(&options(Path::new("/lab/queue"))).unwrap();
        assert!(s.starts_with("#!/bin/bash\n"));
        assert!(s.contains("#SBATCH --array=0-3%4\n"), "{s}");
        assert!(s.contains("#SBATCH --gres=gpu:1\n"), "{s}");
        assert!(s.contains("#SBATCH --time=10:00:00\n"), "{s}");
        assert!(
            s.contains("exec /opt/runvqgan/bin/runvqgan run --root /lab/queue --device cuda\n"),
            "{s}"
        );
        let cpu = script(&ScriptOptions {
            cpu: true,
            elements: 6,
            gpus: 2,
            ..options(Path::new("/lab/queue"))
        })
        .unwrap();
        assert!(
            cpu.contains("--array=0-5%2") && !cpu.contains("--gres"),
            "{cpu}"
        );
    }

    #[test]
    fn paths_and_values_that_would_need_quoting_are_refused_with_the_fix() {
        let e = script(&options(Path::new("/lab/my queue"))).unwrap_err();
        assert!(e.contains("--root") && e.contains("symbolic link"), "{e}");
        assert!(script(&options(Path::new("/lab/$(reboot)"))).is_err());
        assert!(script(&options(Path::new("relative"))).is_err());
        let bad_time = ScriptOptions {
            time: Some("1:00\n#SBATCH --x"),
            ..options(Path::new("/lab/q"))
        };
        assert!(script(&bad_time).unwrap_err().contains("--time"));
        let too_few = ScriptOptions {
            elements: 2,
            ..options(Path::new("/lab/q"))
        };
        assert!(script(&too_few).is_err());
    }
}
