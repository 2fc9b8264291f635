//! How long tonight's queue takes, from the speeds measured on earlier nights: `status` and
//! `plan` show it.

use std::path::Path;

use crate::call::video::work_iterations;
use crate::config::Config;
use crate::queue::plan::PlannedTask;
use crate::records::speeds::{Estimate, Speeds, expected_device};

/// How long `run` would take for `tasks` now, from the measured speeds of `root`.
pub fn estimate(root: &Path, config: &Config, tasks: &[PlannedTask]) -> Option<Estimate> {
    let speeds = Speeds::load(root);
    let device = expected_device(config.device.as_deref(), &speeds, &config.model)?;
    let images: Vec<([u32; 2], u32)> = tasks
        .iter()
        .flat_map(|t| t.images())
        // a video's frames cost extra work, counted in iterations (call::video)
        .map(|i| (i.size(), work_iterations(i.options(), i.iterations())))
        .collect();
    speeds.estimate(&config.model, &device, &images)
}
