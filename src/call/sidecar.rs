//! Sidecars: the `.txt` written beside every image. The first line is a `generate.py` call,
//! quoted for a POSIX shell, with every setting that affects the image (the seed included);
//! `# key: value` provenance lines follow (docs/interfaces.md section 3).
//!
//! A prompt containing a line break makes the quoted call span several physical lines: the
//! call ends at the first *unquoted* line break, as in a POSIX shell. Parsing reads the call
//! back into the same [`Job`], so `reproduce` can regenerate the image; it also reads the
//! sidecars of the old R runner (no seed, absolute output path, no provenance).

use std::path::Path;

use thiserror::Error;

use crate::call::job::Job;
use crate::call::options::{self, GenOption, Kind, OPTIONS, Slot, Value};

mod provenance;
pub use provenance::{Origin, provenance_lines};

/// A sidecar that cannot be written or read.
#[derive(Debug, Error)]
pub enum SidecarError {
    /// Nothing in the file.
    #[error("the sidecar is empty; its first line should be a `python generate.py ...` call")]
    Empty,
    /// The first line is not a generate call.
    #[error("the first line is not a `python generate.py ...` call: {line:?}")]
    NotAGenerateCall {
        /// The first line.
        line: String,
    },
    /// A quote is never closed.
    #[error("the generate call has a quote that is never closed")]
    Unterminated,
    /// An option without its value.
    #[error("the option `{option}` in the generate call has no value")]
    MissingValue {
        /// The option.
        option: String,
    },
    /// An option with a bad value.
    #[error("the option `{option}` in the generate call has the bad value {value:?}")]
    BadValue {
        /// The option.
        option: String,
        /// The value.
        value: String,
    },
    /// An option runvqgan does not know.
    #[error("the generate call has the option `{option}`, which runvqgan cannot reproduce")]
    UnknownOption {
        /// The option.
        option: String,
    },
    /// A value with a NUL byte cannot be quoted.
    #[error("a setting contains a NUL character, which a shell line cannot hold")]
    Nul,
    /// Writing failed.
    #[error("cannot write the sidecar {path}: {source}")]
    Write {
        /// The sidecar.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The models named in a generate call (`-m`, `-conf`, `-ckpt`), as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelRef {
    /// `-m`.
    pub clip_model: Option<String>,
    /// `-conf`.
    pub vqgan_config: Option<String>,
    /// `-ckpt`.
    pub vqgan_checkpoint: Option<String>,
}

/// The first line of a sidecar: the job, its models and (rarely) a CUDA device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerateCall {
    /// Everything that goes into the engine's job dict.
    pub job: Job,
    /// The models.
    pub models: ModelRef,
    /// `-cd`, only found in hand-written calls; runvqgan does not write it.
    pub cuda_device: Option<String>,
    /// `-d` (deterministic), only found in hand-written calls.
    pub deterministic: bool,
}

/// `image: k of N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageIndex {
    /// 1-based index in the task's expansion.
    pub index: u32,
    /// The task's total number of images.
    pub total: u32,
}

/// The `# loss-curve:` line (in [`Provenance::extra`]): the loss at up to
/// [`LOSS_CURVE_POINTS`] evenly spaced iterations, separated by spaces (the gallery draws it).
pub const LOSS_CURVE: &str = "loss-curve";
/// The most points of a [`LOSS_CURVE`].
pub const LOSS_CURVE_POINTS: usize = 32;

/// The `# key: value` lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    /// `runvqgan`: the version that wrote it.
    pub runvqgan: Option<String>,
    /// `task`: the task file, relative to the root.
    pub task: Option<String>,
    /// `task-sha256`: hex SHA-256 of the task file's bytes.
    pub task_sha256: Option<String>,
    /// `image`: `k of N`.
    pub image: Option<ImageIndex>,
    /// `model-set`.
    pub model_set: Option<String>,
    /// `device`.
    pub device: Option<String>,
    /// `started` (RFC 3339).
    pub started: Option<String>,
    /// `seconds`.
    pub seconds: Option<f64>,
    /// `final-loss`.
    pub final_loss: Option<f64>,
    /// `root`: the root the paths are relative to.
    pub root: Option<String>,
    /// Any other `# key: value` lines, in order.
    pub extra: Vec<(String, String)>,
}

/// A whole sidecar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sidecar {
    /// The first line.
    pub call: GenerateCall,
    /// The lines after it.
    pub provenance: Provenance,
}

/// Whether the start of a file (its first bytes suffice) is a generate call, i.e. the file is
/// a sidecar rather than a task: its first line starts with `python` and names `generate`.
pub fn looks_like_generate_call(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let head = &head[start..];
    let line = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
    line.starts_with(b"python") && line.windows(8).any(|w| w == b"generate")
}

impl GenerateCall {
    /// The value of an option in this call, if set.
    pub fn value(&self, option: &GenOption) -> Option<Value> {
        let text = |v: &Option<String>| v.clone().map(Value::Text);
        match (option.slot, option.key) {
            (Slot::Call, "clip_model") => text(&self.models.clip_model),
            (Slot::Call, "vqgan_config") => text(&self.models.vqgan_config),
            (Slot::Call, "vqgan_checkpoint") => text(&self.models.vqgan_checkpoint),
            (Slot::Call, "device") => text(&self.cuda_device),
            (Slot::Call, "deterministic") => self.deterministic.then_some(Value::Switch),
            (Slot::Call, key) => unreachable!("the call has no option {key}"),
            _ => self.job.value(option),
        }
    }

    fn set(&mut self, option: &GenOption, value: Value) {
        if option.slot != Slot::Call {
            let set = self.job.set(option, value);
            debug_assert!(set, "{} is not part of the job", option.key);
            return;
        }
        let field = match option.key {
            "clip_model" => &mut self.models.clip_model,
            "vqgan_config" => &mut self.models.vqgan_config,
            "vqgan_checkpoint" => &mut self.models.vqgan_checkpoint,
            "device" => &mut self.cuda_device,
            "deterministic" => {
                self.deterministic = value == Value::Switch;
                return;
            }
            key => unreachable!("the call has no option {key}"),
        };
        if let Value::Text(t) = value {
            *field = Some(t);
        }
    }

    /// The call as words, unquoted: every option set, in the table's order.
    pub fn words(&self) -> Vec<String> {
        let mut w = vec!["python".to_string(), "generate.py".to_string()];
        for option in OPTIONS {
            let Some(value) = self.value(option) else {
                continue;
            };
            let values = value.words(option.kind);
            let textual = matches!(option.kind, Kind::Text | Kind::Paths | Kind::Choice(_));
            match values.as_slice() {
                // argparse would read a word starting with `-` as an option: `--long=value`.
                [one] if textual && one.starts_with('-') => {
                    w.push(format!("{}={one}", option.long));
                }
                _ => {
                    w.push(option.short.to_string());
                    w.extend(values);
                }
            }
        }
        w
    }

    /// The call as one POSIX shell command (it spans lines only when a value holds a line break).
    pub fn render(&self) -> Result<String, SidecarError> {
        let words = self.words();
        shlex::try_join(words.iter().map(String::as_str)).map_err(|_| SidecarError::Nul)
    }

    /// Parses a generate call as written in a sidecar (its first part, see [`parts`]).
    pub fn parse(call: &str) -> Result<GenerateCall, SidecarError> {
        let words = shlex::split(call).ok_or(SidecarError::Unterminated)?;
        GenerateCall::from_words(&words)
    }

    /// Parses a generate call from its words (after shell splitting).
    pub fn from_words(words: &[String]) -> Result<GenerateCall, SidecarError> {
        let not_call = || SidecarError::NotAGenerateCall {
            line: words.join(" "),
        };
        let first = words.first().ok_or(SidecarError::Empty)?;
        if !first.starts_with("python") {
            return Err(not_call());
        }
        let mut i = match words.get(1).map(String::as_str) {
            Some(s) if s.ends_with("generate.py") => 2,
            Some("-m") if words.get(2).is_some_and(|m| m.ends_with("generate")) => 3,
            _ => return Err(not_call()),
        };
        let mut call = GenerateCall::default();
        while i < words.len() {
            let (name, inline) = options::split_inline(&words[i]);
            i += 1;
            let option = options::find(name).ok_or_else(|| SidecarError::UnknownOption {
                option: name.to_string(),
            })?;
            let values = match inline {
                Some(v) => vec![v.to_string()],
                None => options::take_values(option.kind, words, &mut i),
            };
            let missing = match option.kind.arity() {
                Some(n) => values.len() < n,
                None => values.is_empty(),
            };
            if missing {
                return Err(SidecarError::MissingValue {
                    option: name.to_string(),
                });
            }
            let value = option
                .kind
                .parse(&values)
                .map_err(|_| SidecarError::BadValue {
                    option: option.short.to_string(),
                    value: values.join(" "),
                })?;
            call.set(option, value);
        }
        Ok(call)
    }
}

/// A sidecar's text in its two parts, neither read yet: the generate call as written (a
/// byte order mark and leading blank space skipped, up to the first unquoted line break)
/// and the provenance lines after it. [`Sidecar::parse`] reads both; a reader that needs
/// only the provenance reads the second ([`Origin`]) and the first when it must know that
/// the call is one ([`GenerateCall::parse`]).
pub fn parts(text: &str) -> Result<(&str, &str), SidecarError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.trim_start();
    if text.is_empty() {
        return Err(SidecarError::Empty);
    }
    let (call, rest) = split_call(text)?;
    Ok((call.strip_suffix('\r').unwrap_or(call), rest))
}

/// Splits a sidecar's text into the generate call (up to the first unquoted line break) and
/// the rest.
pub fn split_call(text: &str) -> Result<(&str, &str), SidecarError> {
    #[derive(PartialEq)]
    enum State {
        Plain,
        Single,
        Double,
    }
    let mut state = State::Plain;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match (&state, c) {
            (State::Plain, '\n') => return Ok((&text[..i], &text[i + 1..])),
            (State::Plain, '\\') | (State::Double, '\\') => {
                chars.next();
            }
            (State::Plain, '\'') => state = State::Single,
            (State::Plain, '"') => state = State::Double,
            (State::Single, '\'') | (State::Double, '"') => state = State::Plain,
            _ => {}
        }
    }
    if state == State::Plain {
        Ok((text, ""))
    } else {
        Err(SidecarError::Unterminated)
    }
}

fn one_line(v: &str) -> String {
    v.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Sidecar {
    /// The sidecar's text: the call, then one `# key: value` line per provenance entry.
    pub fn render(&self) -> Result<String, SidecarError> {
        let mut text = self.call.render()?;
        text.push('\n');
        for (k, v) in self.provenance.lines() {
            text.push_str(&format!("# {k}: {}\n", one_line(&v)));
        }
        Ok(text)
    }

    /// Parses a sidecar's text (a runvqgan one, or an R runner one without provenance).
    pub fn parse(text: &str) -> Result<Sidecar, SidecarError> {
        let (call, rest) = parts(text)?;
        Ok(Sidecar {
            call: GenerateCall::parse(call)?,
            provenance: Provenance::parse(rest),
        })
    }

    /// Reads and parses a sidecar file; I/O errors come back as [`SidecarError::Write`]'s
    /// sibling, an `std::io::Error`.
    pub fn read(path: &Path) -> std::io::Result<Result<Sidecar, SidecarError>> {
        let text = std::fs::read_to_string(path)?;
        Ok(Sidecar::parse(&text))
    }

    /// Writes the sidecar atomically (a hidden temporary file in the same folder, then a
    /// rename). Refuses to replace an existing file: output names are never reused.
    pub fn write_new(&self, path: &Path) -> Result<(), SidecarError> {
        self.write_new_with_mode(path, 0o644)
    }

    /// [`Sidecar::write_new`] with the file's permission bits. The temporary file is
    /// `.<name>.<random>.tmp`, so that a run which died while writing it can tell it is a
    /// leftover of this output ([`crate::outputs::naming::remove_stale_temporaries`]).
    pub fn write_new_with_mode(&self, path: &Path, mode: u32) -> Result<(), SidecarError> {
        let text = self.render()?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        crate::shared_folder::atomic::write(
            path,
            &format!(".{name}."),
            text.as_bytes(),
            mode,
            crate::shared_folder::atomic::Existing::Keep,
        )
        .map_err(|source| SidecarError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests;
