//! Records where the Python that runvqgan is built against lives, so that the binary
//! starts the same Python however it is started (cron, systemd, another `PATH`):
//!
//! - the folder of its libpython goes into the binary's run path, so `runvqgan` starts
//!   without `LD_LIBRARY_PATH` even when Python lives in a non-system prefix (pyenv,
//!   conda, a custom build);
//! - its home (`sys.base_prefix`, and `sys.base_exec_prefix` when different) and its
//!   version become `RUNVQGAN_PYTHON_HOME` and `RUNVQGAN_PYTHON_VERSION` at compile time
//!   (see `src/pyhome.rs`). Left to itself, an embedded CPython looks for `python3` on
//!   `PATH` to find its standard library, and under cron that is often another Python.

use std::process::Command;

fn main() {
    let config = pyo3_build_config::get();
    if let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    let version = config.version();
    println!(
        "cargo:rustc-env=RUNVQGAN_PYTHON_VERSION={}.{}",
        version.major, version.minor
    );
    match config.executable().map(python_home) {
        Some(Ok(home)) => println!("cargo:rustc-env=RUNVQGAN_PYTHON_HOME={home}"),
        Some(Err(why)) => println!(
            "cargo:warning=cannot ask the build's Python for its home ({why}); runvqgan will \
             take it from the environment's pyvenv.cfg at run time"
        ),
        None => println!(
            "cargo:warning=PyO3 names no Python executable; runvqgan will take Python's home \
             from the environment's pyvenv.cfg at run time"
        ),
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=PYO3_CONFIG_FILE");
}

/// `prefix` or `prefix:exec_prefix` of the interpreter `python`, as `PYTHONHOME` takes it.
fn python_home(python: &str) -> Result<String, String> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys; print(sys.base_prefix); print(sys.base_exec_prefix)",
        ])
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{python} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8(out.stdout).map_err(|e| format!("{python}: {e}"))?;
    let mut lines = text.lines();
    let (Some(prefix), Some(exec_prefix)) = (lines.next(), lines.next()) else {
        return Err(format!("{python} printed no prefix"));
    };
    if prefix.contains(':') || exec_prefix.contains(':') {
        return Err(format!("the prefix {prefix} holds a ':'"));
    }
    Ok(if prefix == exec_prefix {
        prefix.to_string()
    } else {
        format!("{prefix}:{exec_prefix}")
    })
}
