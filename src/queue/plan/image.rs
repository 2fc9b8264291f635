//! One image a plan will make ([`PlannedImage`]). A plan of many tasks holds hundreds of
//! thousands of them, so an image keeps only what is its own (its numbers and name);
//! what all images of a task share (the output folder, the prompts of its styles, the
//! engine settings) is held once per task ([`TaskImages`]), and the engine job, the
//! absolute paths and the sidecar are made from both where they are used.

use std::path::PathBuf;
use std::sync::Arc;

use crate::call::job::{EngineOptions, Job};
use crate::outputs::naming::output_names;
use crate::task::{TaskSpec, seed_of};

/// What every image of one task shares.
#[derive(Debug, PartialEq)]
pub(super) struct TaskImages {
    /// The output folder, absolute.
    folder: PathBuf,
    /// `out_file`.
    base: String,
    /// Each distinct (style, final prompt) of the expansion, in order; an image names its own.
    styles: Vec<(String, String)>,
    /// The engine settings of every image: no prompt, seed or output.
    job: Job,
    /// The task's base seed, if it gives one (an image's is [`seed_of`] it).
    seed: Option<u64>,
}

impl TaskImages {
    /// The shared part of the images of `spec`, with its styles and their prompts as
    /// [`TaskImages::style_of`] adds them.
    pub(super) fn new(spec: &TaskSpec) -> TaskImages {
        TaskImages {
            folder: spec.out_folder.clone(),
            base: spec.out_file.clone(),
            styles: Vec::with_capacity(spec.styles.len()),
            job: Job {
                image_prompts: spec.in_file.iter().cloned().collect(),
                iterations: Some(spec.iterations),
                size: Some(spec.size),
                init_image: spec.template_file.clone(),
                options: spec.options.clone(),
                ..Job::default()
            },
            seed: spec.seed,
        }
    }

    /// The slot of (`style`, `prompt`) among the task's styles: the last one when it is the
    /// same (images of one style follow each other in an expansion), else a new one.
    pub(super) fn style_of(&mut self, style: &str, prompt: String) -> u32 {
        if self
            .styles
            .last()
            .is_none_or(|(s, p)| *s != style || *p != prompt)
        {
            self.styles.push((style.to_string(), prompt));
        }
        self.styles.len() as u32 - 1
    }
}

/// One image the run will make.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedImage {
    /// `k`: the 1-based index in the task's expansion.
    pub index: u32,
    /// `N`: the task's total number of images.
    pub total: u32,
    /// `n` in `<out_file>_<n>.png`.
    pub number: u32,
    /// The PNG, relative to the root.
    pub output_rel: String,
    /// Whether a pending marker left by an earlier, interrupted run already reserves this
    /// number for this image (see [`crate::outputs::naming`]).
    pub reserved: bool,
    /// Its (style, prompt) among `task.styles`.
    style: u32,
    task: Arc<TaskImages>,
}

impl PlannedImage {
    /// Image `index` of `total`, number `number` (`output_rel` its PNG relative to the
    /// root), of the task `task`, in its style slot `style` ([`TaskImages::style_of`]).
    pub(super) fn new(
        task: &Arc<TaskImages>,
        (index, total, number): (u32, u32, u32),
        style: u32,
        output_rel: String,
        reserved: bool,
    ) -> PlannedImage {
        PlannedImage {
            index,
            total,
            number,
            output_rel,
            reserved,
            style,
            task: Arc::clone(task),
        }
    }

    /// The style of this image (`""`: plain).
    pub fn style(&self) -> &str {
        &self.task.styles[self.style as usize].0
    }

    /// The final prompt string.
    pub fn prompt(&self) -> &str {
        &self.task.styles[self.style as usize].1
    }

    /// The seed the job asks for: `seed + k - 1` when the task gives a seed, else `None`
    /// (the engine picks one).
    pub fn seed(&self) -> Option<u64> {
        seed_of(self.task.seed, self.index)
    }

    /// Iterations.
    pub fn iterations(&self) -> u32 {
        self.task
            .job
            .iterations
            .expect("a planned job always has its iterations")
    }

    /// `[width, height]`.
    pub fn size(&self) -> [u32; 2] {
        self.task
            .job
            .size
            .expect("a planned job always has its size")
    }

    /// The task's extra engine settings.
    pub fn options(&self) -> &EngineOptions {
        &self.task.job.options
    }

    /// The engine job (paths relative to the root; see [`Job::resolved`]).
    pub fn job(&self) -> Job {
        Job {
            prompts: Some(self.prompt().to_string()),
            seed: self.seed(),
            output: Some(self.output_rel.clone()),
            ..self.task.job.clone()
        }
    }

    /// The PNG, absolute.
    pub fn output(&self) -> PathBuf {
        self.task
            .folder
            .join(output_names(&self.task.base, self.number).0)
    }

    /// The sidecar `.txt`, absolute.
    pub fn sidecar_path(&self) -> PathBuf {
        self.task
            .folder
            .join(output_names(&self.task.base, self.number).1)
    }
}
