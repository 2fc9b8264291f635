//! Lets the binary find the libpython it was linked against at run time, so
//! `runvqgan` starts without LD_LIBRARY_PATH even when Python lives in a
//! non-system prefix (pyenv, conda, a custom build).

fn main() {
    let config = pyo3_build_config::get();
    if let Some(lib_dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
