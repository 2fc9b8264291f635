//! The bridge to the Python engine: the only module that touches PyO3.
//!
//! It starts the embedded interpreter once, finds the Python environment that
//! holds torch and friends, puts the project's `python/` and `vendor/` first on
//! `sys.path`, and talks to the glue package `runvqgan_glue` with plain data:
//! a job goes in as a dict, a small [`Generated`] result comes back. Progress
//! comes back through a Python-callable object that also stops the engine when
//! an interrupt was seen.

pub mod failure;
pub mod models;
pub mod pyhome;
pub mod python;
pub use python::{PythonSetup, project_dir};
use python::{format_traceback, initialize, prepare, python_error};
pub mod workdir;

use crate::engine::failure::FailureKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::Serialize;

use crate::call::job::Job;
use crate::config::EngineMode;

/// What one model set turned out to be, as `models check` prints it.
#[derive(Debug, Clone, FromPyObject)]
pub struct ModelInfo {
    #[pyo3(item)]
    pub vqgan_kind: String,
    #[pyo3(item)]
    pub factor: u32,
    #[pyo3(item)]
    pub n_embed: u32,
    #[pyo3(item)]
    pub embed_dim: u32,
    #[pyo3(item)]
    pub clip_model: String,
    #[pyo3(item)]
    pub clip_resolution: u32,
    #[pyo3(item)]
    pub device: String,
    #[pyo3(item)]
    pub load_seconds: f64,
    /// False when the set came from the cache of this process.
    #[pyo3(item)]
    pub loaded: bool,
}

/// The files of one model set, as the engine takes them.
#[derive(Debug, Clone, Serialize)]
pub struct ModelFiles {
    pub vqgan_config: String,
    pub vqgan_checkpoint: String,
    pub clip_model: String,
    pub clip_dir: Option<String>,
}

/// What the engine reports for one finished image.
#[derive(Debug, Clone, FromPyObject)]
pub struct Generated {
    #[pyo3(item)]
    pub seed: u64,
    #[pyo3(item)]
    pub seconds: f64,
    #[pyo3(item)]
    pub final_loss: f64,
    #[pyo3(item)]
    pub device: String,
    #[pyo3(item)]
    pub size: Vec<u32>,
    #[pyo3(item)]
    pub iterations: u32,
    /// How many images were optimised together.
    #[pyo3(item)]
    pub batch_size: u32,
    /// Which behaviour of upstream generate.py the image follows (`vqgan_clip.method.METHOD`).
    #[pyo3(item)]
    pub method: String,
    /// Versions and switches that change the pixels (`torch`, `cuda`, `driver`,
    /// `determinism`), for the sidecar's provenance lines.
    #[pyo3(item, default)]
    pub environment: std::collections::BTreeMap<String, String>,
}

/// Why an image was not made.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Ctrl-C or SIGTERM was seen; the engine stopped and wrote nothing.
    #[error("interrupted")]
    Interrupted,
    /// The engine raised an exception.
    #[error("{message}")]
    Failed {
        /// The glue's classification of the exception.
        kind: FailureKind,
        /// One line, for the lab member's error file.
        message: String,
        /// The whole Python traceback, for the owner's log.
        traceback: String,
    },
}

/// Receives the engine's progress after every iteration.
pub trait ProgressSink: Send + Sync {
    fn step(&self, iteration: u32, total: u32, loss: f64);
}

/// The callable handed to Python: reports progress and raises
/// `KeyboardInterrupt` inside the engine once a stop was requested.
#[pyclass]
struct ProgressHook {
    sink: Arc<dyn ProgressSink>,
    stop: Arc<AtomicBool>,
}

#[pymethods]
impl ProgressHook {
    fn __call__(&self, iteration: u32, total: u32, loss: f64) -> PyResult<()> {
        self.sink.step(iteration, total, loss);
        if self.stop.load(Ordering::SeqCst) {
            return Err(PyKeyboardInterrupt::new_err("runvqgan: stop requested"));
        }
        Ok(())
    }
}

/// The started interpreter with the glue package imported.
pub struct Engine {
    glue: Py<PyModule>,
    stop: Arc<AtomicBool>,
}

impl Engine {
    /// Starts Python and imports the glue. `stop` is the flag that the
    /// signal handlers set; while it is set every generation stops.
    pub fn start(setup: &PythonSetup, stop: Arc<AtomicBool>) -> Result<Engine> {
        let home = crate::engine::pyhome::locate(&setup.env_dir, &setup.env_source)?;
        initialize(&home)?;
        let glue = Python::attach(|py| prepare(py, setup)).with_context(|| {
            format!(
                "cannot start the Python engine with the environment {} (chosen by {}); \
                 run scripts/setup.sh in {} to create it, or name another with --python-env",
                setup.env_dir.display(),
                setup.env_source,
                setup.project_dir.display()
            )
        })?;
        Ok(Engine { glue, stop })
    }

    /// Loads a model set, or takes it from this process's cache.
    ///
    /// `mode` is fast or reference (see docs/interfaces.md); in deterministic mode
    /// the glue decodes the images of a batch one by one, so that an image is
    /// bit-identical however it was batched.
    pub fn load_models(
        &self,
        name: &str,
        files: &ModelFiles,
        device: Option<&str>,
        deterministic: bool,
        mode: EngineMode,
    ) -> Result<ModelInfo> {
        Python::attach(|py| {
            let spec = pythonize::pythonize(py, files)?;
            let info = self
                .glue
                .bind(py)
                .call_method1(
                    "load_models",
                    (name, spec, device, deterministic, mode.as_str()),
                )
                .map_err(|e| python_error(py, e))?;
            Ok(info.extract()?)
        })
    }

    /// Generates one image. `job` becomes the engine's plain job dict
    /// (docs/interfaces.md); the PNG is written by the engine to `job.output`, so its paths
    /// must be absolute ([`Job::resolved`]).
    pub fn generate(
        &self,
        model: &str,
        job: &Job,
        sink: Arc<dyn ProgressSink>,
    ) -> Result<Generated, GenerateError> {
        let mut done = self.generate_batch(model, std::slice::from_ref(job), sink)?;
        Ok(done.remove(0))
    }

    /// Generates several images of one size together (one result each, in order). The
    /// engine writes every PNG at the end, so a stop or a failure writes none of them.
    pub fn generate_batch(
        &self,
        model: &str,
        jobs: &[Job],
        sink: Arc<dyn ProgressSink>,
    ) -> Result<Vec<Generated>, GenerateError> {
        Python::attach(|py| {
            let run = || -> PyResult<Vec<Generated>> {
                let jobs = pythonize::pythonize(py, jobs)
                    .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
                let hook = Bound::new(
                    py,
                    ProgressHook {
                        sink,
                        stop: self.stop.clone(),
                    },
                )?;
                self.glue
                    .bind(py)
                    .call_method1("generate_batch", (model, jobs, hook))?
                    .extract()
            };
            match run() {
                Ok(done) => Ok(done),
                Err(err) => {
                    if self.stop.load(Ordering::SeqCst)
                        || err.is_instance_of::<PyKeyboardInterrupt>(py)
                    {
                        return Err(GenerateError::Interrupted);
                    }
                    Err(self.describe(py, err))
                }
            }
        })
    }

    /// How many model sets this process actually loaded (not cache hits).
    pub fn load_count(&self) -> Result<u32> {
        Python::attach(|py| Ok(self.glue.bind(py).call_method0("load_count")?.extract()?))
    }

    fn describe(&self, py: Python<'_>, err: PyErr) -> GenerateError {
        let described = self
            .glue
            .bind(py)
            .call_method1("describe_error", (err.value(py),))
            .and_then(|d| {
                let d = d.cast_into::<PyDict>()?;
                let get = |k: &str| -> PyResult<String> {
                    Ok(d.get_item(k)?.map(|v| v.to_string()).unwrap_or_default())
                };
                Ok((get("kind")?, get("message")?, get("traceback")?))
            });
        match described {
            // The seam: from here on the kind is an enum.
            Ok((kind, message, traceback)) => match FailureKind::from_glue(&kind) {
                FailureKind::Interrupted => GenerateError::Interrupted,
                kind => GenerateError::Failed {
                    kind,
                    message,
                    traceback,
                },
            },
            Err(_) => GenerateError::Failed {
                kind: FailureKind::Engine,
                message: err.to_string(),
                traceback: format_traceback(py, &err),
            },
        }
    }
}
