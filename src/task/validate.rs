//! Checks a [`RawTask`] the way `run` would and turns it into a [`TaskSpec`]: defaults,
//! caps (with warnings), orientation, the prompt syntax, `raw` options, and every path
//! confined to the root. All problems of a file are collected, not only the first.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::call::job::EngineOptions;
use crate::config::{Limits, MIN_SIDE};
use crate::shared_folder::root::Root;

pub use super::paths::FolderCache;
use super::paths::{input_file, out_folder};
use super::prompt::{self, Prompt};
use super::{RawTask, TaskError, TaskKind, raw, schema};

/// The most styles one task may list (each style is a series of up to `max_each` images).
pub const MAX_STYLES: usize = 100;

/// The longest task file name, in bytes: file names end at 255 bytes, and runvqgan's files
/// beside a task (`NAME_WARNINGS.txt`, the `.N.done` renames) need room after the name
/// (kept from when a claim file, 16 bytes longer than the name, also lay beside the task).
pub const MAX_TASK_NAME_BYTES: usize = 255 - 16;

/// The longest `out_file`, in bytes: the longest name made from it is the pending marker's
/// temporary `.OUT_N.pending.XXXXXXXX.tmp`, 23 bytes plus the number (up to 10 digits).
pub const MAX_OUT_FILE_BYTES: usize = 255 - 23 - 10;

/// Everything validation needs to know about where a task file is.
#[derive(Debug, Clone, Copy)]
pub struct TaskContext<'a> {
    /// The shared folder.
    pub root: &'a Root,
    /// The task file, an absolute path inside the root.
    pub task: &'a Path,
    /// Shared or personal.
    pub kind: &'a TaskKind,
    /// The caps and defaults.
    pub limits: &'a Limits,
    /// A cache of resolved output folders, shared by the tasks of one plan (or `None`).
    pub folders: Option<&'a FolderCache>,
}

/// A valid task, with defaults filled in and caps applied. Its serde form is what the
/// owner's check index keeps of it ([`crate::queue::known`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// `text` as written.
    pub text: String,
    /// `text` parsed.
    pub prompt: Prompt,
    /// The styles, in order (`""`: the plain prompt).
    pub styles: Vec<String>,
    /// Iterations per image, after the cap.
    pub iterations: u32,
    /// Images per style, after the cap.
    pub each: u32,
    /// `[width, height]` after caps and orientation.
    pub size: [u32; 2],
    /// The base name of the images.
    pub out_file: String,
    /// The output folder, canonical.
    pub out_folder: PathBuf,
    /// The output folder relative to the root.
    pub out_folder_rel: String,
    /// The image prompt, relative to the root.
    pub in_file: Option<String>,
    /// The initial image, relative to the root.
    pub template_file: Option<String>,
    /// The base seed.
    pub seed: Option<u64>,
    /// Options from `raw`.
    #[serde(with = "crate::call::job::stored_options")]
    pub options: EngineOptions,
}

impl TaskSpec {
    /// How many images the task makes in all: len(style) x each.
    pub fn total_images(&self) -> u32 {
        self.styles.len() as u32 * self.each
    }
}

/// A valid task and the warnings (caps applied) to show its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validated {
    /// The task.
    pub spec: TaskSpec,
    /// One sentence per cap applied.
    pub warnings: Vec<String>,
}

/// Parses and validates a task file's bytes.
pub fn check_bytes(bytes: &[u8], ctx: &TaskContext<'_>) -> Result<Validated, Vec<TaskError>> {
    let (raw, mut errors) = schema::parse(bytes)?;
    match validate(&raw, ctx) {
        Ok(v) if errors.is_empty() => Ok(v),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            Err(errors)
        }
    }
}

/// Validates a parsed task file.
pub fn validate(raw: &RawTask, ctx: &TaskContext<'_>) -> Result<Validated, Vec<TaskError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let limits = ctx.limits;

    let prompt = match &raw.text {
        None if raw.mistyped.contains(&"text") => None,
        None => {
            errors.push(TaskError::Missing {
                field: "text",
                example: "\"text\": \"A painting of a dog\"",
            });
            None
        }
        Some(text) => match prompt::parse(text) {
            Ok(p) => {
                warnings.extend(prompt::warnings(&p));
                Some(p)
            }
            Err(problems) => {
                errors.extend(
                    problems
                        .into_iter()
                        .map(|problem| TaskError::BadPrompt { problem }),
                );
                None
            }
        },
    };

    let styles = raw.style.clone().unwrap_or_else(|| vec![String::new()]);
    if styles.is_empty() {
        errors.push(TaskError::BadStyle {
            value: "[]".into(),
            reason: "the list is empty; write [\"\"] for the plain prompt, or leave `style` out"
                .into(),
        });
    }
    if styles.len() > MAX_STYLES {
        errors.push(TaskError::BadStyle {
            value: format!("a list of {}", styles.len()),
            reason: format!(
                "a task may have at most {MAX_STYLES} styles; split the list over several task files"
            ),
        });
    }
    for s in styles.iter().take(MAX_STYLES) {
        if let Err(reason) = prompt::check_style(s) {
            errors.push(TaskError::BadStyle {
                value: s.clone(),
                reason,
            });
        } else if let Some(w) = prompt::style_warning(s) {
            warnings.push(w);
        }
    }

    let iterations = capped(
        "iterations",
        raw.iterations.unwrap_or(200),
        limits.max_iterations,
        &mut errors,
        &mut warnings,
    );
    let each = capped(
        "each",
        raw.each.unwrap_or(1),
        limits.max_each,
        &mut errors,
        &mut warnings,
    );

    let size = size(raw, limits, &mut errors, &mut warnings);

    let out_file = match &raw.out_file {
        None if raw.mistyped.contains(&"out_file") => None,
        None => {
            errors.push(TaskError::Missing {
                field: "out_file",
                example: "\"out_file\": \"john_dog\"",
            });
            None
        }
        Some(name) => match check_out_file(name) {
            Ok(()) if name.len() > MAX_OUT_FILE_BYTES => {
                errors.push(TaskError::BadOutFile {
                    value: name.clone(),
                    reason: "it is too long in bytes (letters outside English take 2 to 4 bytes each); file names end at 255 bytes and runvqgan adds the number and its own hidden files",
                });
                None
            }
            Ok(()) if picture_stem(name).is_some() => {
                let stem = picture_stem(name).expect("checked");
                warnings.push(format!(
                    "`out_file` {name:?} ends like a picture's name, but runvqgan adds the number and .png itself, so {stem:?} is used: the pictures are {stem}_1.png, {stem}_2.png, ... Write \"out_file\": {stem:?}."
                ));
                Some(stem.to_string())
            }
            Ok(()) => Some(name.clone()),
            Err(reason) => {
                errors.push(TaskError::BadOutFile {
                    value: name.clone(),
                    reason,
                });
                None
            }
        },
    };

    let name_bytes = ctx.task.file_name().map_or(0, |n| n.len());
    if name_bytes > MAX_TASK_NAME_BYTES {
        errors.push(TaskError::FileNameTooLong {
            bytes: name_bytes,
            max: MAX_TASK_NAME_BYTES,
        });
    }
    let out_folder = out_folder(raw, ctx.root, ctx.kind, ctx.folders, &mut errors);
    let task_dir = ctx.task.parent().unwrap_or(ctx.root.path());
    let in_file = input_file(
        "in_file",
        raw.in_file.as_deref(),
        task_dir,
        ctx.root,
        &mut errors,
    );
    let template_file = input_file(
        "template_file",
        raw.template_file.as_deref(),
        task_dir,
        ctx.root,
        &mut errors,
    );

    let total = styles.len() as u64 * u64::from(each.unwrap_or(1));
    let seed = match raw.seed {
        None => None,
        Some(s) if s < 0 => {
            errors.push(TaskError::OutOfRange {
                field: "seed",
                value: s.to_string(),
                rule: "a seed must be 0 or more; write a whole number such as 1234".into(),
            });
            None
        }
        Some(s)
            if (s as u64)
                .checked_add(total)
                .is_none_or(|e| e > i64::MAX as u64) =>
        {
            errors.push(TaskError::OutOfRange {
                field: "seed",
                value: s.to_string(),
                rule: "that number is too large for a seed; write a smaller one such as 1234"
                    .into(),
            });
            None
        }
        Some(s) => Some(s as u64),
    };

    let mut options = match raw.raw.as_deref().map(raw::parse) {
        None => EngineOptions::default(),
        Some(Ok(o)) => o,
        Some(Err(problems)) => {
            errors.extend(
                problems
                    .into_iter()
                    .map(|problem| TaskError::BadRaw { problem }),
            );
            EngineOptions::default()
        }
    };

    let (fields, prompt_ref) = (&raw.video, prompt.as_ref());
    let w = &mut warnings;
    super::video::apply(
        fields,
        prompt_ref,
        iterations,
        limits,
        &mut options,
        &mut errors,
        w,
    );
    if let Some(n) = iterations {
        warnings.extend(raw::save_at_last(&mut options, n));
    }

    // Mistyped fields were reported by the schema; their values are missing here.
    if !errors.is_empty() || !raw.mistyped.is_empty() {
        return Err(errors);
    }
    let (out_folder, out_folder_rel) = out_folder.expect("no errors");
    Ok(Validated {
        spec: TaskSpec {
            text: raw.text.clone().expect("no errors"),
            prompt: prompt.expect("no errors"),
            styles,
            iterations: iterations.expect("no errors"),
            each: each.expect("no errors"),
            size: size.expect("no errors"),
            out_file: out_file.expect("no errors"),
            out_folder,
            out_folder_rel,
            in_file,
            template_file,
            seed,
            options,
        },
        warnings,
    })
}

/// `name` without a picture's extension (`.png`, `.jpg`, `.jpeg`, any case), when it has one
/// and something is left before it.
fn picture_stem(name: &str) -> Option<&str> {
    let (stem, ext) = name.rsplit_once('.')?;
    let picture = ["png", "jpg", "jpeg"].contains(&ext.to_ascii_lowercase().as_str());
    (picture && !stem.is_empty()).then_some(stem)
}

fn capped(
    field: &'static str,
    value: i64,
    max: u32,
    errors: &mut Vec<TaskError>,
    warnings: &mut Vec<String>,
) -> Option<u32> {
    if value < 1 {
        errors.push(TaskError::OutOfRange {
            field,
            value: value.to_string(),
            rule: format!(
                "it must be at least 1; write 1 or more (the workstation allows up to {max})"
            ),
        });
        return None;
    }
    if value > i64::from(max) {
        warnings.push(format!(
            "`{field}` {value} is above the workstation's limit of {max}; {max} is used instead."
        ));
        return Some(max);
    }
    Some(value as u32)
}

fn size(
    raw: &RawTask,
    limits: &Limits,
    errors: &mut Vec<TaskError>,
    warnings: &mut Vec<String>,
) -> Option<[u32; 2]> {
    let [dl, ds] = limits.default_resolution;
    let [a, b] = raw.resolution.unwrap_or([i64::from(dl), i64::from(ds)]);
    if a.min(b) < i64::from(MIN_SIDE) {
        errors.push(TaskError::OutOfRange {
            field: "resolution",
            value: format!("[{a}, {b}]"),
            rule: format!(
                "each side must be at least {MIN_SIDE} pixels; write for example [450, 300]"
            ),
        });
        return None;
    }
    let (mut long, mut short) = (a.max(b) as u64, a.min(b) as u64);
    let [ml, ms] = limits.max_resolution.map(u64::from);
    if long > ml {
        warnings.push(format!(
            "`resolution`: the long side {long} is above the workstation's limit of {ml} pixels; {ml} is used instead."
        ));
        long = ml;
    }
    if short > ms {
        warnings.push(format!(
            "`resolution`: the short side {short} is above the workstation's limit of {ms} pixels; {ms} is used instead."
        ));
        short = ms;
    }
    let (long, short) = (long as u32, short as u32);
    Some(if raw.portrait.unwrap_or(false) {
        [short, long]
    } else {
        [long, short]
    })
}

/// Why `name` is not usable as `out_file`, if it is not.
pub fn check_out_file(name: &str) -> Result<(), &'static str> {
    if name.trim().is_empty() {
        return Err("it is empty");
    }
    if name.contains('/') || name.contains('\\') {
        return Err("it contains a folder separator (`/` or `\\`)");
    }
    if name.contains("..") {
        return Err("it contains `..`");
    }
    if name.chars().any(char::is_control) {
        return Err("it contains a control character such as a line break");
    }
    if name.starts_with('.') {
        return Err("it starts with a dot, which would hide the images");
    }
    if name
        .chars()
        .any(crate::shared_folder::root::is_invisible_format)
    {
        return Err(
            "it contains an invisible formatting character (such as a right-to-left mark), which would disguise the file name",
        );
    }
    if name
        .chars()
        .any(|c| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*'))
    {
        return Err("it contains one of < > : \" | ? *, which Windows cannot use in file names");
    }
    if name.ends_with(' ') || name.starts_with(' ') {
        return Err("it starts or ends with a space");
    }
    if name.chars().count() > 100 {
        return Err("it is longer than 100 characters");
    }
    Ok(())
}
