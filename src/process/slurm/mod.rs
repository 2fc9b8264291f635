//! The night as a Slurm job array: one element per GPU, each running `runvqgan run` on the
//! same shared folder, which the elements share through claims ([`crate::shared_folder::locks::lease`]).
//!
//! - [`SlurmJob::from_env`] reads what Slurm tells an element (job id, array index, the
//!   job's end time), so the run's log and record name the element and its time budget ends
//!   with the job.
//! - [`script`] writes the sbatch script that `runvqgan slurm-script` prints.

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

pub mod script;
pub use script::{ScriptOptions, script};

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
}
