//! Finding the Python side and starting it: the project's `python/` and `vendor/` folders,
//! the environment with the packages, the embedded interpreter's start, and `sys.path`.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use pyo3::prelude::*;
use pyo3::types::PyList;

/// Where the Python side lives: the project's `python/` and `vendor/` folders
/// and the environment (a virtual environment or prefix) with the packages.
#[derive(Debug, Clone)]
pub struct PythonSetup {
    /// The project folder holding `python/` and `vendor/`.
    pub project_dir: PathBuf,
    /// The environment whose site-packages are added (e.g. `.venv`).
    pub env_dir: PathBuf,
    /// How the environment was chosen, for messages ("--python-env", "VIRTUAL_ENV", ...).
    pub env_source: String,
}

impl PythonSetup {
    /// Chooses the environment: `--python-env` or `python_env` in runvqgan.toml (the
    /// configuration, with the flag already applied), then `VIRTUAL_ENV`, then the
    /// project's own `.venv`.
    pub fn locate(configured: Option<&Path>) -> Result<PythonSetup> {
        let project_dir = project_dir()?;
        let (env_dir, env_source) = if let Some(p) = configured {
            (
                p.to_path_buf(),
                "--python-env or python_env in runvqgan.toml".to_string(),
            )
        } else if let Some(p) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
            (PathBuf::from(p), "the VIRTUAL_ENV variable".to_string())
        } else {
            (
                project_dir.join(".venv"),
                "the project's .venv (default)".to_string(),
            )
        };
        Ok(PythonSetup {
            project_dir,
            env_dir,
            env_source,
        })
    }
}

/// Finds the folder that holds `python/runvqgan_glue` and `vendor/vqgan_clip`:
/// `RUNVQGAN_HOME`, then the folders above the executable, then the source
/// folder this binary was built from.
pub fn project_dir() -> Result<PathBuf> {
    let is_project =
        |d: &Path| d.join("python/runvqgan_glue").is_dir() && d.join("vendor").is_dir();
    if let Some(home) = std::env::var_os("RUNVQGAN_HOME") {
        let home = PathBuf::from(home);
        if is_project(&home) {
            return Ok(home);
        }
        bail!(
            "RUNVQGAN_HOME is {}, but that folder has no python/runvqgan_glue and vendor/; \
             point it at the runvqgan project folder",
            home.display()
        );
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            if is_project(dir) {
                return Ok(dir.to_path_buf());
            }
        }
    }
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if is_project(&built) {
        return Ok(built);
    }
    bail!(
        "cannot find the runvqgan project folder (with python/ and vendor/); \
         set RUNVQGAN_HOME to it"
    )
}

/// Starts the interpreter with its home set to `home` (see [`crate::engine::pyhome`]), so that its
/// standard library is never looked up through `PATH`. Like PyO3's own start, it leaves
/// signal handling to runvqgan and releases the interpreter lock afterwards. Later calls do
/// nothing.
pub(super) fn initialize(home: &crate::engine::pyhome::PythonHome) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    static STARTED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: plain C calls on a config struct that lives on this stack frame, made at
    // most once per process (the mutex above) and before any other use of Python.
    unsafe {
        if *started || pyo3::ffi::Py_IsInitialized() != 0 {
            *started = true;
            return Ok(());
        }
        let home_value = std::ffi::CString::new(home.config_value().as_bytes())
            .map_err(|_| anyhow!("the Python home {} holds a NUL byte", home.prefix.display()))?;
        let mut config = std::mem::MaybeUninit::<pyo3::ffi::PyConfig>::uninit();
        pyo3::ffi::PyConfig_InitPythonConfig(config.as_mut_ptr());
        let config = config.assume_init_mut();
        config.install_signal_handlers = 0;
        config.parse_argv = 0;
        let status =
            pyo3::ffi::PyConfig_SetBytesString(config, &mut config.home, home_value.as_ptr());
        let status = if pyo3::ffi::PyStatus_Exception(status) == 0 {
            pyo3::ffi::Py_InitializeFromConfig(config)
        } else {
            status
        };
        pyo3::ffi::PyConfig_Clear(config);
        if pyo3::ffi::PyStatus_Exception(status) != 0 {
            let why = if status.err_msg.is_null() {
                "unknown error".into()
            } else {
                std::ffi::CStr::from_ptr(status.err_msg).to_string_lossy()
            };
            bail!(
                "Python could not start with its home {} ({}): {why}",
                home.prefix.display(),
                home.source
            );
        }
        pyo3::ffi::PyEval_SaveThread();
        *started = true;
    }
    // Lets PyO3 see the interpreter as started; it does nothing more once one is running.
    Python::initialize();
    Ok(())
}

/// Sets up `sys.path` and imports the glue.
pub(super) fn prepare(py: Python<'_>, setup: &PythonSetup) -> Result<Py<PyModule>> {
    let sys = py.import("sys")?;
    let version: (u32, u32) = sys
        .getattr("version_info")?
        .extract::<(u32, u32, u32, String, u32)>()
        .map(|v| (v.0, v.1))?;
    let site_packages = setup
        .env_dir
        .join("lib")
        .join(format!("python{}.{}", version.0, version.1))
        .join("site-packages");
    if !site_packages.is_dir() {
        bail!(
            "{} does not exist: the environment is missing or was made with another Python \
             than the {}.{} that runvqgan was built against",
            site_packages.display(),
            version.0,
            version.1
        );
    }
    py.import("site")?
        .call_method1("addsitedir", (site_packages.to_string_lossy().as_ref(),))?;
    let path = sys
        .getattr("path")?
        .cast_into::<PyList>()
        .map_err(|e| anyhow!("sys.path is not a list: {e}"))?;
    for dir in ["vendor", "python"] {
        path.insert(0, setup.project_dir.join(dir).to_string_lossy().as_ref())?;
    }
    let python = setup.env_dir.join("bin/python");
    if python.exists() {
        sys.setattr("executable", python.to_string_lossy().as_ref())?;
    }
    sys.setattr("argv", vec!["runvqgan"])?;
    tracing::debug!(
        "python: executable {}, path {}",
        sys.getattr("executable")?,
        sys.getattr("path")?
    );
    let glue = py
        .import("runvqgan_glue")
        .map_err(|e| python_error(py, e))?;
    Ok(glue.unbind())
}

/// Turns a Python exception into an error that keeps its traceback.
pub(super) fn python_error(py: Python<'_>, err: PyErr) -> anyhow::Error {
    let tb = format_traceback(py, &err);
    if tb.is_empty() {
        anyhow!("{err}")
    } else {
        anyhow!("{err}\n{tb}")
    }
}

pub(super) fn format_traceback(py: Python<'_>, err: &PyErr) -> String {
    err.traceback(py)
        .and_then(|t| t.format().ok())
        .map(|t| format!("{t}{err}"))
        .unwrap_or_default()
}
