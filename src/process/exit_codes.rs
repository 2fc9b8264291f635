//! The exit codes of `runvqgan`, in one place, because cron jobs and scripts rely on them.

/// How a `runvqgan` command ended. The numbers are part of the interface: they are listed in
/// `--help` and in the README, and scripts test for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// 0: everything went well (all task files valid, all tasks done).
    Success,
    /// 1: the command failed (an invalid task file, an I/O problem, a failed run).
    Failure,
    /// 2: a usage, configuration or setup error (bad flag, bad `runvqgan.toml`, no root found,
    /// a missing model file, a Python environment that cannot start the engine).
    Usage,
    /// 3: some tasks failed while others were done.
    Partial,
    /// 130: interrupted (Ctrl-C, SIGTERM or SIGHUP).
    Interrupted,
}

impl ExitCode {
    /// Every exit code.
    pub const ALL: [ExitCode; 5] = [
        ExitCode::Success,
        ExitCode::Failure,
        ExitCode::Usage,
        ExitCode::Partial,
        ExitCode::Interrupted,
    ];

    /// The numeric process exit status.
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Failure => 1,
            ExitCode::Usage => 2,
            ExitCode::Partial => 3,
            ExitCode::Interrupted => 130,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

/// The text of the exit-code table, shown at the end of `runvqgan --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    all good (all task files valid, all tasks done)
  1    failure (an invalid task file, an I/O error, a failed run)
  2    usage or setup error (bad flag, bad runvqgan.toml, no root found, a missing
       model file, a Python environment that cannot start the engine)
  3    some tasks failed, others were done
  130  interrupted (Ctrl-C, SIGTERM or SIGHUP)";
