//! The sbatch script that `runvqgan slurm-script` prints: the night as a Slurm job array,
//! one element per GPU. What each directive protects against is in docs/cluster.md; in
//! short:
//!
//! - `--signal=B:TERM@60`: the script `exec`s runvqgan, which is then the batch shell; with
//!   `B:` Slurm signals the batch shell (without it only job steps, which this job has
//!   none of), so the run stops between iterations a minute before the time limit.
//! - `--requeue` and `--open-mode=append`: a preempted or requeued element starts again and
//!   continues the queue (tasks not `.done` resume with their missing images); its output
//!   file keeps what the earlier start wrote.
//! - `--mem-per-gpu` (`--mem` on CPU slots): a memory request measured for the full models.
//! - the preflight (`runvqgan models check` on the node) ends an element whose binary,
//!   Python environment or model files are not there with one plain line, before it claims
//!   anything.
//! - `run --failed-tasks-ok`: a night with failed or invalid tasks exits 0 (not 3), so that
//!   Slurm does not mark the element FAILED (mail on failure, `afterok` chains); which tasks
//!   failed stays in the run's summary and log.

use std::path::Path;

/// Memory per GPU element when none is asked for: the peak resident memory measured for a
/// night of the full-size models (docs/cluster.md, "Memory"), with room to spare.
pub const DEFAULT_MEM_PER_GPU: &str = "16G";

/// Memory of a CPU element when none is asked for (the same measurement; on the CPU the
/// models and activations live in main memory).
pub const DEFAULT_MEM_CPU: &str = "16G";

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
    /// `--account`, if any.
    pub account: Option<&'a str>,
    /// `--qos`, if any.
    pub qos: Option<&'a str>,
    /// The GPU type in `--gres=gpu:TYPE:1` (`a100`), if any.
    pub gpu_type: Option<&'a str>,
    /// `--mem-per-gpu` (`--mem` with `cpu`); `None`: the measured default.
    pub mem: Option<&'a str>,
    /// `--mail-user`, if any.
    pub mail_user: Option<&'a str>,
    /// `--mail-type` (with `mail_user`; default `FAIL`).
    pub mail_type: Option<&'a str>,
    /// `--begin` (Slurm's time format: `23:00`, `now+1hour`, `2026-12-24T23:00`), if any.
    pub begin: Option<&'a str>,
    /// The night window the elements keep (`run --window`); `None`: runvqgan.toml's.
    pub window: Option<&'a str>,
}

impl Default for ScriptOptions<'_> {
    /// Root and binary `/` (the caller sets them), one GPU, 4 cores, nothing else asked.
    fn default() -> Self {
        ScriptOptions {
            root: Path::new("/"),
            binary: Path::new("/"),
            gpus: 1,
            elements: 1,
            cpu: false,
            cpus_per_element: 4,
            time: None,
            partition: None,
            account: None,
            qos: None,
            gpu_type: None,
            mem: None,
            mail_user: None,
            mail_type: None,
            begin: None,
            window: None,
        }
    }
}

/// The sbatch script of a night of `opts.elements` elements, `opts.gpus` at a time.
/// `Err`: a path or a value cannot be written into it safely, with the fix.
pub fn script(opts: &ScriptOptions<'_>) -> Result<String, String> {
    let root = directive_safe("--root", opts.root)?;
    let binary = directive_safe("the runvqgan binary", opts.binary)?;
    for (what, value, extra) in [
        ("--time", opts.time, ""),
        ("--partition", opts.partition, ""),
        ("--account", opts.account, ""),
        ("--qos", opts.qos, ""),
        ("--gpu-type", opts.gpu_type, ""),
        ("--mem", opts.mem, ""),
        ("--mail-user", opts.mail_user, "@+"),
        ("--mail-type", opts.mail_type, ""),
        ("--begin", opts.begin, "+"),
        ("--window", opts.window, ""),
    ] {
        if let Some(v) = value
            && (v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_:.,".contains(c) || extra.contains(c)))
        {
            return Err(format!(
                "{what} {v:?} is not a Slurm value (letters, digits, - _ : . , {}only)",
                extra.chars().map(|c| format!("{c} ")).collect::<String>()
            ));
        }
    }
    if opts.gpus < 1 || opts.elements < opts.gpus {
        return Err(format!(
            "--elements ({}) must be at least --gpus ({}), which must be at least 1",
            opts.elements, opts.gpus
        ));
    }
    if opts.mail_type.is_some() && opts.mail_user.is_none() {
        return Err("--mail-type needs --mail-user (the address Slurm mails)".into());
    }
    if opts.cpu && opts.gpu_type.is_some() {
        return Err("--gpu-type asks for a GPU, which --cpu does not use; drop one".into());
    }
    let mut d = Directives(String::new());
    d.line("#!/bin/bash");
    d.line("# Written by `runvqgan slurm-script`: the night of a shared folder as a Slurm job");
    d.line("# array. Each element runs `runvqgan run` on its own GPU; the elements share the");
    d.line("# folder's tasks through claims, so any number of them (and later submissions,");
    d.line("# requeued elements) make every image exactly once. Submit with: sbatch THIS_FILE");
    d.line("# What each line protects against: docs/cluster.md.");
    d.sbatch("job-name", "runvqgan");
    d.sbatch("array", &format!("0-{}%{}", opts.elements - 1, opts.gpus));
    d.sbatch("ntasks", "1");
    if !opts.cpu {
        match opts.gpu_type {
            Some(t) => d.sbatch("gres", &format!("gpu:{t}:1")),
            None => d.sbatch("gres", "gpu:1"),
        }
    }
    d.sbatch("cpus-per-task", &opts.cpus_per_element.max(1).to_string());
    if opts.cpu {
        d.sbatch("mem", opts.mem.unwrap_or(DEFAULT_MEM_CPU));
    } else {
        d.sbatch("mem-per-gpu", opts.mem.unwrap_or(DEFAULT_MEM_PER_GPU));
    }
    for (name, value) in [
        ("time", opts.time),
        ("partition", opts.partition),
        ("account", opts.account),
        ("qos", opts.qos),
        ("begin", opts.begin),
        ("mail-user", opts.mail_user),
    ] {
        if let Some(v) = value {
            d.sbatch(name, v);
        }
    }
    if opts.mail_user.is_some() {
        d.sbatch("mail-type", opts.mail_type.unwrap_or("FAIL"));
    }
    d.sbatch("output", &format!("{root}/.runvqgan/slurm-%A_%a.out"));
    d.sbatch("open-mode", "append");
    d.sbatch("requeue", "");
    d.sbatch("signal", "B:TERM@60");
    // The engine's CPU work (and all of it with --cpu) uses as many threads as the element
    // has cores, not every core of the node, which the other elements share.
    d.line("export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"");
    let device = if opts.cpu { "cpu" } else { "cuda" };
    d.line("# Preflight: the binary, the Python environment and the model files on this node.");
    d.line(&format!(
        "if ! {binary} models check --root {root} --device {device} >/dev/null; then"
    ));
    d.line(
        "    echo \"runvqgan: the preflight (runvqgan models check) failed on $(hostname); this \
         element ends without touching any task: see the lines above\" >&2",
    );
    d.line("    exit 2");
    d.line("fi");
    d.line(&format!(
        "exec {binary} run --root {root} --device {device} --failed-tasks-ok{}",
        opts.window
            .map(|w| format!(" --window {w}"))
            .unwrap_or_default()
    ));
    Ok(d.0)
}

/// The script being written.
struct Directives(String);

impl Directives {
    fn line(&mut self, text: &str) {
        self.0.push_str(text);
        self.0.push('\n');
    }

    /// `#SBATCH --name=value` (`--name` alone when `value` is empty).
    fn sbatch(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            self.line(&format!("#SBATCH --{name}"));
        } else {
            self.line(&format!("#SBATCH --{name}={value}"));
        }
    }
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

    fn options(root: &Path) -> ScriptOptions<'_> {
        ScriptOptions {
            root,
            binary: Path::new("/opt/runvqgan/bin/runvqgan"),
            gpus: 4,
            elements: 4,
            cpus_per_element: 8,
            time: Some("10:00:00"),
            ..ScriptOptions::default()
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
            s.contains(
                "exec /opt/runvqgan/bin/runvqgan run --root /lab/queue --device cuda \
                 --failed-tasks-ok\n"
            ),
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
        assert!(
            cpu.contains(&format!("#SBATCH --mem={DEFAULT_MEM_CPU}\n")),
            "{cpu}"
        );
    }

    /// The directives that make an element behave under preemption and time limits: the
    /// signal reaches the batch shell (runvqgan, exec'd), a requeued element appends to its
    /// output file, memory is asked for, and a night with failed tasks is not a failed job.
    #[test]
    fn the_script_signals_the_batch_shell_requeues_appends_and_asks_for_memory() {
        let s = script(&options(Path::new("/lab/queue"))).unwrap();
        for line in [
            "#SBATCH --signal=B:TERM@60\n",
            "#SBATCH --requeue\n",
            "#SBATCH --open-mode=append\n",
            &format!("#SBATCH --mem-per-gpu={DEFAULT_MEM_PER_GPU}\n"),
        ] {
            assert!(s.contains(line), "{line} missing:\n{s}");
        }
        assert!(!s.contains("--signal=TERM"), "{s}");
        // The preflight comes before the run, and ends the element with a plain line.
        let check = s
            .find(" models check --root /lab/queue --device cuda")
            .unwrap();
        let run = s.find("exec /opt/runvqgan/bin/runvqgan run").unwrap();
        assert!(check < run, "{s}");
        assert!(s.contains("the preflight (runvqgan models check) failed on $(hostname)"));
        assert!(s.contains("    exit 2\n"), "{s}");
    }

    #[test]
    fn account_qos_gpu_type_mail_begin_memory_and_window_pass_through() {
        let s = script(&ScriptOptions {
            account: Some("lab-vision"),
            qos: Some("low"),
            gpu_type: Some("a100"),
            mem: Some("40G"),
            mail_user: Some("owner@lab.example.org"),
            begin: Some("23:00"),
            window: Some("23:00-06:30"),
            ..options(Path::new("/lab/queue"))
        })
        .unwrap();
        for line in [
            "#SBATCH --account=lab-vision\n",
            "#SBATCH --qos=low\n",
            "#SBATCH --gres=gpu:a100:1\n",
            "#SBATCH --mem-per-gpu=40G\n",
            "#SBATCH --mail-user=owner@lab.example.org\n",
            "#SBATCH --mail-type=FAIL\n",
            "#SBATCH --begin=23:00\n",
            " --failed-tasks-ok --window 23:00-06:30\n",
        ] {
            assert!(s.contains(line), "{line} missing:\n{s}");
        }
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
        let bad_mail = ScriptOptions {
            mail_user: Some("a@b;reboot"),
            ..options(Path::new("/lab/q"))
        };
        assert!(script(&bad_mail).unwrap_err().contains("--mail-user"));
        let type_without_user = ScriptOptions {
            mail_type: Some("ALL"),
            ..options(Path::new("/lab/q"))
        };
        assert!(
            script(&type_without_user)
                .unwrap_err()
                .contains("--mail-user")
        );
        let too_few = ScriptOptions {
            elements: 2,
            ..options(Path::new("/lab/q"))
        };
        assert!(script(&too_few).is_err());
    }
}
