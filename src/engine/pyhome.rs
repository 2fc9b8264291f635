//! Which Python standard library the embedded interpreter uses, decided without `PATH`.
//!
//! Left to itself, an embedded CPython finds its standard library by looking for `python3`
//! on `PATH`. Under cron (`PATH=/usr/bin:/bin`) that is the system's Python, whose standard
//! library does not fit the libpython runvqgan is linked to, and the night dies with
//! `No module named '_struct'` (or, with no usable library at all, a fatal error that never
//! reaches the log). So the home is the one of the Python runvqgan was built against,
//! recorded by `build.rs`; only a binary built without that record reads it from the
//! environment's `pyvenv.cfg` (`home = <folder of the base python>`). Everything here is
//! checked before Python starts, so a broken environment is a plain error message, and one
//! that another account cannot read (a Python under `/root`, mode 0700) names the folder that
//! stops this account rather than a missing `os.py`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::process::access::{first_denied, may_enter, this_account};

/// The `major.minor` of the Python runvqgan is built against.
pub const BUILT_VERSION: &str = env!("RUNVQGAN_PYTHON_VERSION");

/// The home recorded at build time: `prefix` or `prefix:exec_prefix`.
const BUILT_HOME: Option<&str> = option_env!("RUNVQGAN_PYTHON_HOME");

/// The Python environment or its base installation cannot be used; the message says why
/// and what to do. A setup problem of the owner's, so the run exits with code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PythonEnvError(pub String);

/// Where the embedded interpreter's standard library comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonHome {
    /// `sys.prefix`: holds `lib/pythonX.Y/os.py`.
    pub prefix: PathBuf,
    /// `sys.exec_prefix`: holds `lib/pythonX.Y/lib-dynload`.
    pub exec_prefix: PathBuf,
    /// How it was found, for messages.
    pub source: &'static str,
}

impl PythonHome {
    /// The value for `PyConfig.home` (the same syntax as `PYTHONHOME`).
    pub fn config_value(&self) -> OsString {
        let mut value = self.prefix.clone().into_os_string();
        if self.exec_prefix != self.prefix {
            value.push(":");
            value.push(&self.exec_prefix);
        }
        value
    }

    /// Parses `prefix` or `prefix:exec_prefix`.
    fn parse(home: &str, source: &'static str) -> PythonHome {
        let (prefix, exec_prefix) = home.split_once(':').unwrap_or((home, home));
        PythonHome {
            prefix: prefix.into(),
            exec_prefix: exec_prefix.into(),
            source,
        }
    }

    /// `Ok` when the standard library of `version` is there and this account may read it.
    /// `enter` says whether this account may enter a folder ([`may_enter`]).
    fn check(
        &self,
        version: &str,
        enter: &dyn Fn(&Path) -> std::io::Result<()>,
    ) -> Result<(), Unusable> {
        let stdlib = self.prefix.join(format!("lib/python{version}"));
        let dynload = self
            .exec_prefix
            .join(format!("lib/python{version}/lib-dynload"));
        // A folder this account cannot enter hides what is under it: name it, not a
        // missing os.py.
        for dir in [&stdlib, &dynload] {
            if let Some(closed) = first_denied(dir, enter) {
                return Err(Unusable::Denied(closed));
            }
        }
        if !stdlib.join("os.py").is_file() {
            return Err(Unusable::Missing(format!(
                "{} has no os.py",
                stdlib.display()
            )));
        }
        if !dynload.is_dir() {
            return Err(Unusable::Missing(format!(
                "{} is missing",
                dynload.display()
            )));
        }
        Ok(())
    }
}

/// Why a Python home cannot be used.
#[derive(Debug)]
enum Unusable {
    /// Part of its standard library is missing (what, in words).
    Missing(String),
    /// This account may not enter this folder on the way to it.
    Denied(PathBuf),
}

/// What to do when the Python that runvqgan was built against is private to another account.
const READABLE_PYTHON_FIX: &str = "rebuild runvqgan with a Python every account can read: \
     scripts/setup.sh uses Debian's python3.11 (sudo apt-get install python3.11 \
     python3.11-venv python3.11-dev, then scripts/setup.sh in the runvqgan folder)";

/// Chooses and checks the home of the embedded interpreter for the environment `env_dir`
/// (a virtual environment or a prefix; `env_source` says who chose it), and checks that
/// the environment has the site-packages of the Python runvqgan is built against.
pub fn locate(env_dir: &Path, env_source: &str) -> Result<PythonHome, PythonEnvError> {
    let test_home = crate::process::testhook::python_home();
    let built_home = test_home.as_deref().or(BUILT_HOME);
    locate_with(built_home, BUILT_VERSION, env_dir, env_source, &may_enter)
}

/// [`locate`] with the recorded home, the built version and the check of folders
/// (`enter`, [`may_enter`] outside tests) given.
fn locate_with(
    built_home: Option<&str>,
    version: &str,
    env_dir: &Path,
    env_source: &str,
    enter: &dyn Fn(&Path) -> std::io::Result<()>,
) -> Result<PythonHome, PythonEnvError> {
    let setup_hint = "run scripts/setup.sh in the runvqgan folder to make it, or name another \
                      with --python-env (runvqgan.toml: python_env)";
    if let Some(closed) = first_denied(env_dir, enter) {
        return Err(PythonEnvError(format!(
            "the Python environment {} (chosen by {env_source}) cannot be read: permission \
             denied on {}, which this account, {}, cannot enter; make the environment where \
             every account that runs runvqgan can read it (scripts/setup.sh makes .venv in \
             the runvqgan folder), or name another with --python-env (runvqgan.toml: \
             python_env)",
            env_dir.display(),
            closed.display(),
            this_account()
        )));
    }
    let cfg = read_pyvenv_cfg(env_dir);
    if !env_dir.is_dir() {
        return Err(PythonEnvError(format!(
            "the Python environment {} (chosen by {env_source}) does not exist; {setup_hint}",
            env_dir.display()
        )));
    }
    if let Some(made_with) = cfg.as_ref().and_then(|c| c.version.as_deref())
        && !same_minor(made_with, version)
    {
        return Err(PythonEnvError(format!(
            "the Python environment {} (chosen by {env_source}) was made with Python \
             {made_with}, but runvqgan is built against Python {version}; make the environment \
             again with Python {version} (delete it and run scripts/setup.sh), or rebuild \
             runvqgan with the environment's Python",
            env_dir.display()
        )));
    }
    let site_packages = env_dir.join(format!("lib/python{version}/site-packages"));
    if !site_packages.is_dir() {
        return Err(PythonEnvError(format!(
            "the Python environment {} (chosen by {env_source}) has no {}: it is not a \
             Python {version} environment; {setup_hint}",
            env_dir.display(),
            site_packages.display()
        )));
    }
    let home = match built_home {
        Some(home) => PythonHome::parse(home, "recorded when runvqgan was built"),
        None => {
            let Some(bin) = cfg.and_then(|c| c.home) else {
                return Err(PythonEnvError(format!(
                    "runvqgan was built without a record of its Python's home, and the \
                     environment {} has no pyvenv.cfg naming one; rebuild runvqgan \
                     (cargo build --release) with the Python {version} that made the environment",
                    env_dir.display()
                )));
            };
            // `home` is the folder of the base interpreter, `<prefix>/bin`.
            let prefix = bin.parent().unwrap_or(&bin).to_path_buf();
            PythonHome {
                exec_prefix: prefix.clone(),
                prefix,
                source: "the environment's pyvenv.cfg",
            }
        }
    };
    home.check(version, enter).map_err(|why| match why {
        Unusable::Denied(closed) => PythonEnvError(format!(
            "the standard library of Python {version} at {} ({}) cannot be read: permission \
             denied on {}, which this account, {}, cannot enter (the Python runvqgan was \
             built with is private to another account); {READABLE_PYTHON_FIX}",
            home.prefix.display(),
            home.source,
            closed.display(),
            this_account()
        )),
        Unusable::Missing(missing) => PythonEnvError(format!(
            "the standard library of Python {version} at {} ({}) cannot be used: {missing}; \
             rebuild runvqgan (cargo build --release, or scripts/setup.sh) with the Python \
             that made the environment {}",
            home.prefix.display(),
            home.source,
            env_dir.display()
        )),
    })?;
    Ok(home)
}

/// The keys of a virtual environment's `pyvenv.cfg` that matter here.
#[derive(Debug, Default)]
struct PyvenvCfg {
    /// `home`: the folder of the base interpreter.
    home: Option<PathBuf>,
    /// `version` (or `version_info`): the base interpreter's version, e.g. `3.11.7`.
    version: Option<String>,
}

fn read_pyvenv_cfg(env_dir: &Path) -> Option<PyvenvCfg> {
    let text = std::fs::read_to_string(env_dir.join("pyvenv.cfg")).ok()?;
    let mut cfg = PyvenvCfg::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "home" => cfg.home = Some(PathBuf::from(value)),
            "version" | "version_info" => cfg.version = Some(value.to_string()),
            _ => {}
        }
    }
    Some(cfg)
}

/// Whether `full` (e.g. `3.11.7`) is a release of `minor` (e.g. `3.11`).
fn same_minor(full: &str, minor: &str) -> bool {
    full == minor || full.strip_prefix(minor).is_some_and(|r| r.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake Python installation: `prefix/lib/python3.11/{os.py,lib-dynload}`.
    fn fake_prefix(dir: &Path) -> PathBuf {
        let prefix = dir.join("py");
        std::fs::create_dir_all(prefix.join("lib/python3.11/lib-dynload")).unwrap();
        std::fs::write(prefix.join("lib/python3.11/os.py"), "").unwrap();
        prefix
    }

    /// A virtual environment made by the Python in `prefix`.
    fn fake_venv(dir: &Path, prefix: &Path, version: &str) -> PathBuf {
        let env = dir.join("venv");
        std::fs::create_dir_all(env.join("lib/python3.11/site-packages")).unwrap();
        std::fs::write(
            env.join("pyvenv.cfg"),
            format!(
                "home = {}\ninclude-system-site-packages = false\nversion = {version}\n",
                prefix.join("bin").display()
            ),
        )
        .unwrap();
        env
    }

    #[test]
    fn the_home_recorded_at_build_time_wins_over_pyvenv_cfg() {
        let dir = tempfile::tempdir().unwrap();
        let built = fake_prefix(&dir.path().join("built"));
        let other = fake_prefix(&dir.path().join("other"));
        let env = fake_venv(dir.path(), &other, "3.11.2");
        let home = locate_with(built.to_str(), "3.11", &env, "test", &may_enter).unwrap();
        assert_eq!(home.prefix, built);
        assert_eq!(home.config_value(), built.into_os_string());
    }

    #[test]
    fn without_a_build_record_the_home_comes_from_pyvenv_cfg() {
        let dir = tempfile::tempdir().unwrap();
        let base = fake_prefix(dir.path());
        let env = fake_venv(dir.path(), &base, "3.11.7");
        let home = locate_with(None, "3.11", &env, "test", &may_enter).unwrap();
        assert_eq!(home.prefix, base);
        assert_eq!(home.exec_prefix, base);
        assert_eq!(home.source, "the environment's pyvenv.cfg");
    }

    #[test]
    fn a_separate_exec_prefix_is_kept() {
        let home = PythonHome::parse("/opt/py:/opt/py-arch", "test");
        assert_eq!(home.prefix, Path::new("/opt/py"));
        assert_eq!(home.exec_prefix, Path::new("/opt/py-arch"));
        assert_eq!(home.config_value(), OsString::from("/opt/py:/opt/py-arch"));
    }

    #[test]
    fn a_missing_standard_library_is_named_before_python_starts() {
        let dir = tempfile::tempdir().unwrap();
        let base = fake_prefix(dir.path());
        let env = fake_venv(dir.path(), &base, "3.11.7");
        let gone = dir.path().join("gone");
        let err = locate_with(gone.to_str(), "3.11", &env, "test", &may_enter)
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no os.py"), "{err}");
        assert!(err.contains("rebuild runvqgan"), "{err}");
    }

    #[test]
    fn an_environment_of_another_python_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = fake_prefix(dir.path());
        let env = fake_venv(dir.path(), &base, "3.12.1");
        let err = locate_with(base.to_str(), "3.11", &env, "test", &may_enter)
            .unwrap_err()
            .to_string();
        assert!(err.contains("made with Python 3.12.1"), "{err}");
        assert!(err.contains("built against Python 3.11"), "{err}");
    }

    #[test]
    fn a_missing_environment_says_how_to_make_it() {
        let dir = tempfile::tempdir().unwrap();
        let base = fake_prefix(dir.path());
        let err = locate_with(
            base.to_str(),
            "3.11",
            &dir.path().join("nope"),
            "VIRTUAL_ENV",
            &may_enter,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("does not exist"), "{err}");
        assert!(err.contains("chosen by VIRTUAL_ENV"), "{err}");
        assert!(err.contains("scripts/setup.sh"), "{err}");
    }

    /// What `may_enter` says for an account that neither owns a folder nor is in its group,
    /// from the mode bits alone (root, which runs the tests in CI, may enter every folder).
    fn others_may_enter(dir: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(dir)?.permissions().mode() & 0o001 == 0 {
            return Err(std::io::ErrorKind::PermissionDenied.into());
        }
        Ok(())
    }

    /// A temporary folder other accounts may enter, with `locked/` (mode 0700) in it.
    fn with_locked_folder() -> (tempfile::TempDir, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        (dir, locked)
    }

    fn lock(folder: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    }

    #[test]
    fn a_python_home_another_account_cannot_enter_is_named_with_the_fix() {
        let (dir, locked) = with_locked_folder();
        let built = fake_prefix(&locked);
        let env = fake_venv(dir.path(), &built, "3.11.7");
        lock(&locked);
        let err = locate_with(built.to_str(), "3.11", &env, "test", &others_may_enter)
            .unwrap_err()
            .to_string();
        let denied = format!("permission denied on {},", locked.display());
        assert!(err.contains(&denied), "{err}");
        assert!(!err.contains("os.py"), "{err}");
        assert!(err.contains("a Python every account can read"), "{err}");
        assert!(
            err.contains("scripts/setup.sh uses Debian's python3.11"),
            "{err}"
        );
        assert!(err.contains(&this_account()), "{err}");
        // The account that built it (here: one that may enter every folder) is not stopped.
        assert!(locate_with(built.to_str(), "3.11", &env, "test", &|_| Ok(())).is_ok());
    }

    #[test]
    fn an_environment_another_account_cannot_enter_is_named() {
        let (dir, locked) = with_locked_folder();
        let base = fake_prefix(dir.path());
        let env = fake_venv(&locked, &base, "3.11.7");
        lock(&locked);
        let err = locate_with(base.to_str(), "3.11", &env, "test", &others_may_enter)
            .unwrap_err()
            .to_string();
        let denied = format!("permission denied on {},", locked.display());
        assert!(err.contains(&denied), "{err}");
        assert!(!err.contains("does not exist"), "{err}");
    }

    #[test]
    fn versions_match_on_major_and_minor_only() {
        assert!(same_minor("3.11.7", "3.11"));
        assert!(same_minor("3.11", "3.11"));
        assert!(!same_minor("3.1.7", "3.11"));
        assert!(!same_minor("3.110", "3.11"));
        assert!(!same_minor("3.12.0", "3.11"));
    }
}
