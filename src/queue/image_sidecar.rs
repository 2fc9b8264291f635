//! The sidecar of a planned image: the generate call with the image's settings and models,
//! and the provenance known before it is made (task, request, image k of N, model set).

use crate::call::sidecar::{GenerateCall, ImageIndex, ModelRef, Provenance, Sidecar};
use crate::config::Config;
use crate::queue::plan::PlannedImage;
use crate::shared_folder::root::Root;

impl PlannedImage {
    /// The sidecar to write once the image exists: the call with this image's settings and
    /// models, and the provenance runvqgan knows before generating. `run` fills in
    /// `call.job.seed` (when the engine picked it), `device`, `started`, `seconds` and
    /// `final_loss`.
    /// `request` is the value of its request line ([`ReadyTask::request_line`]).
    pub fn sidecar(
        &self,
        task: &str,
        sha256: &str,
        request: &str,
        config: &Config,
        root: &Root,
    ) -> Sidecar {
        let set = config.model_set();
        Sidecar {
            call: GenerateCall {
                job: self.job(),
                models: ModelRef {
                    clip_model: Some(set.clip_model.clone()),
                    vqgan_config: Some(set.vqgan_config.clone()),
                    vqgan_checkpoint: Some(set.vqgan_checkpoint.clone()),
                },
                cuda_device: None,
                deterministic: false,
            },
            provenance: Provenance {
                runvqgan: Some(env!("CARGO_PKG_VERSION").to_string()),
                task: Some(task.to_string()),
                task_sha256: Some(sha256.to_string()),
                image: Some(ImageIndex {
                    index: self.index,
                    total: self.total,
                }),
                model_set: Some(config.model.clone()),
                root: Some(root.path().display().to_string()),
                extra: vec![(
                    crate::outputs::naming::REQUEST_KEY.to_string(),
                    request.to_string(),
                )],
                ..Provenance::default()
            },
        }
    }
}
