//! Task files: what a lab member writes, from raw JSON ([`schema`]) through checks and caps
//! ([`validate`], with the prompt syntax in [`prompt`]) to the list of images it asks for
//! ([`expand`]). Nothing here writes to disk.

pub mod expand;
pub mod json_schema;
mod paths;
pub mod picture;
pub mod prompt;
pub mod raw;
pub mod schema;
mod syntax;
pub mod validate;
pub mod video;

use thiserror::Error;

use crate::shared_folder::files::TASKS_DIR;
use crate::shared_folder::root::PathProblem;

pub use expand::{ImageSpec, by_style, expand, seed_of};
pub use paths::out_folder_value;
pub use schema::RawTask;
pub use validate::{TaskContext, TaskSpec, Validated, validate};

/// The largest task file read (64 KiB): a task needs a few hundred bytes.
pub const MAX_TASK_BYTES: usize = 64 * 1024;

/// The deepest nesting of lists and objects accepted (a task needs 3: `{"resolution": [[450,
/// 300]]}`).
pub const MAX_NESTING: usize = 16;

/// Every field a task file may hold, in the order the members' guide (docs/members.md) lists them.
pub const FIELDS: &[&str] = &[
    "text",
    "style",
    "iterations",
    "out_file",
    "out_folder",
    "portrait",
    "each",
    "resolution",
    "in_file",
    "template_file",
    "seed",
    "raw",
    // videos and story mode (read by `video`)
    "video",
    "video_seconds",
    "zoom_every",
    "zoom_scale",
    "zoom_shift",
    "story_every",
];

/// The key with which a task file may name its JSON Schema (`"$schema":
/// ".../task.schema.json"`, see [`json_schema`]): editors read it, runvqgan ignores it.
pub const SCHEMA_KEY: &str = "$schema";

/// One problem with a task file. Its message is a full sentence that names the field and
/// says how to fix it; it becomes a line of the task's `_ERROR.txt`. The file itself is named
/// by whoever prints the message ([`crate::task::Problems`]).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TaskError {
    /// The file cannot be read.
    #[error("the file cannot be read: {message}.")]
    Read {
        /// The I/O error.
        message: String,
    },
    /// Larger than [`MAX_TASK_BYTES`].
    #[error(
        "the file is larger than {} KiB, far more than a task file needs; a task file holds a few lines of JSON (is this the right file?).",
        MAX_TASK_BYTES / 1024
    )]
    TooLarge,
    /// Lists or objects nested too deeply.
    #[error(
        "line {line}: lists or objects are nested more than {MAX_NESTING} deep; a task file holds one object whose values are texts, numbers or short lists."
    )]
    TooDeep {
        /// 1-based line where the limit was passed.
        line: usize,
    },
    /// Where a task file should be, something that is not a file.
    #[error(
        "this is {what}, not a task file; a task file is a plain text file. Remove or rename it."
    )]
    NotAFile {
        /// What it is, in words.
        what: &'static str,
    },
    /// A task file that is a link which cannot be followed.
    #[error("the task file is a link, and {problem}; put the task file itself here.")]
    BadLink {
        /// What is wrong with the link.
        problem: PathProblem,
    },
    /// Not UTF-8.
    #[error(
        "the file is not UTF-8 text (the first bad byte is at position {offset}); save it with the encoding UTF-8 (in Notepad: File > Save as > Encoding: UTF-8)."
    )]
    NotUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// JSON syntax error.
    #[error("line {line}, column {column}: the file is not valid JSON: {detail}. {hint}")]
    JsonSyntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON reader found.
        detail: String,
        /// How to fix the usual causes.
        hint: String,
        /// The line, indented, and under it a caret under the place (two lines, not part
        /// of the message: see [`TaskError::excerpt`]).
        excerpt: String,
    },
    /// An empty file.
    #[error(
        "the file is empty; a task file holds one JSON object, like {{\"text\": \"A painting of a dog\", \"out_file\": \"dog\"}}. Write the task into it and save it (if you did, the save did not reach the shared folder: save it again)."
    )]
    Empty,
    /// A rich-text document (Mac TextEdit saves one unless told otherwise).
    #[error(
        "the file is a formatted document (RTF, which Mac TextEdit saves unless told otherwise), not plain text, so the task in it cannot be read. In TextEdit choose Format > Make Plain Text, turn off Edit > Substitutions > Smart Quotes, and save it again as a .txt file."
    )]
    Rtf,
    /// Valid JSON, but not an object.
    #[error(
        "the file holds {found}, but a task file holds one JSON object: the fields between curly braces, like {{\"text\": \"A painting of a dog\", \"out_file\": \"dog\"}}."
    )]
    NotAnObject {
        /// What it holds instead.
        found: String,
    },
    /// A field that does not exist.
    #[error("`{field}` is not a field of a task file; {}", unknown_fix(.suggestion))]
    UnknownField {
        /// The field as written.
        field: String,
        /// The nearest known field, if one is close.
        suggestion: Option<String>,
    },
    /// A required field is missing.
    #[error("the required field `{field}` is missing; add it, for example {example}.")]
    Missing {
        /// The field.
        field: &'static str,
        /// An example line.
        example: &'static str,
    },
    /// A value of the wrong JSON type.
    #[error("`{field}` must be {expected}, but it is {found}; write it like {example}.")]
    WrongType {
        /// The field.
        field: &'static str,
        /// The expected type, in words.
        expected: &'static str,
        /// What was found, in words.
        found: String,
        /// An example line.
        example: &'static str,
    },
    /// Numbers written in quotes, which makes them texts.
    #[error(
        "`{field}` is {written}: a number in quotes is a text, not a number; write it without quotes: {fix}."
    )]
    QuotedNumbers {
        /// The field.
        field: &'static str,
        /// The value as written (JSON).
        written: String,
        /// The field written right.
        fix: String,
    },
    /// A list with more than one value where one is expected.
    #[error(
        "`{field}` takes one value, but the list holds {len}; write a single value (only `style` takes several; use several task files for several settings)."
    )]
    NotSingle {
        /// The field.
        field: &'static str,
        /// The list's length.
        len: usize,
    },
    /// A number out of range.
    #[error("`{field}` is {value}, but {rule}.")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value as written.
        value: String,
        /// The rule and its fix.
        rule: String,
    },
    /// A bad `out_file`.
    #[error(
        "`out_file` {value:?} is not a plain file name: {reason}; write a short name such as \"john_robot\" (images become john_robot_1.png, john_robot_2.png, ...) and choose the folder with `out_folder`."
    )]
    BadOutFile {
        /// The value as written.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A path that cannot be used.
    #[error("`{field}` {value:?} cannot be used: {problem}; {fix}.")]
    BadPath {
        /// The field.
        field: &'static str,
        /// The value as written.
        value: String,
        /// What is wrong.
        problem: PathProblem,
        /// How to fix it.
        fix: String,
    },
    /// `in_file` or `template_file` names a file that is not a usable picture.
    #[error("`{field}` {value:?} cannot be used: {reason}.")]
    NotAPicture {
        /// The field.
        field: &'static str,
        /// The value as written.
        value: String,
        /// What is wrong and the fix.
        reason: String,
    },
    /// A malformed prompt.
    #[error("`text`: {problem}")]
    BadPrompt {
        /// The problem and its fix, as a sentence.
        problem: String,
    },
    /// A bad style.
    #[error("`style` {value:?} cannot be used: {reason}.")]
    BadStyle {
        /// The style as written.
        value: String,
        /// What is wrong and the fix.
        reason: String,
    },
    /// A bad `raw` option.
    #[error("`raw`: {problem}")]
    BadRaw {
        /// The problem and its fix, as a sentence.
        problem: String,
    },
    /// A field written twice in one object (JSON readers keep only one of the values).
    #[error(
        "the field `{key}` is written twice (lines {first} and {second}); only one value could count, so remove one of them (several styles go in one list: \"style\": [\"Banksy\", \"Monet\"])."
    )]
    DuplicateKey {
        /// The field as written.
        key: String,
        /// The line of its first occurrence.
        first: usize,
        /// The line of its second occurrence.
        second: usize,
    },
    /// A task file name too long for the files runvqgan keeps beside it.
    #[error(
        "the file name is {bytes} bytes long, but runvqgan keeps files named after it beside it (such as NAME_WARNINGS.txt and NAME.txt.done) and file names end at 255 bytes, so a task file name may be at most {max} bytes; rename it to something shorter, e.g. task_dog.txt."
    )]
    FileNameTooLong {
        /// The name's length in bytes (UTF-8).
        bytes: usize,
        /// The most allowed.
        max: usize,
    },
}

fn unknown_fix(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("did you mean `{s}`? Correct the name or remove the field."),
        None => format!(
            "the fields are {}. Correct the name or remove the field.",
            FIELDS.join(", ")
        ),
    }
}

impl TaskError {
    /// The place of a JSON mistake: the line as written, indented, and a caret under the
    /// place. Shown under the message in `_ERROR.txt` and by `validate`; one-line reports
    /// (the log, `plan`) leave it out.
    pub fn excerpt(&self) -> Option<&str> {
        match self {
            TaskError::JsonSyntax { excerpt, .. } if !excerpt.is_empty() => Some(excerpt),
            _ => None,
        }
    }

    /// The field the problem is about, if it is about one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            TaskError::UnknownField { field, .. } => Some(field),
            TaskError::Missing { field, .. }
            | TaskError::WrongType { field, .. }
            | TaskError::QuotedNumbers { field, .. }
            | TaskError::NotSingle { field, .. }
            | TaskError::OutOfRange { field, .. }
            | TaskError::BadPath { field, .. }
            | TaskError::NotAPicture { field, .. } => Some(field),
            TaskError::BadOutFile { .. } => Some("out_file"),
            TaskError::BadPrompt { .. } => Some("text"),
            TaskError::BadStyle { .. } => Some("style"),
            TaskError::BadRaw { .. } => Some("raw"),
            TaskError::DuplicateKey { key, .. } => Some(key),
            TaskError::Read { .. }
            | TaskError::TooLarge
            | TaskError::TooDeep { .. }
            | TaskError::NotAFile { .. }
            | TaskError::BadLink { .. }
            | TaskError::NotUtf8 { .. }
            | TaskError::JsonSyntax { .. }
            | TaskError::Empty
            | TaskError::Rtf
            | TaskError::NotAnObject { .. }
            | TaskError::FileNameTooLong { .. } => None,
        }
    }
}

/// All problems found in one task file, with the file's path relative to the root.
#[derive(Debug, Clone, PartialEq)]
pub struct Problems {
    /// The task file, relative to the root.
    pub task: String,
    /// Every problem found (at least one).
    pub errors: Vec<TaskError>,
}

impl Problems {
    /// One line per problem, each naming the file: `tasks/dog.txt: <message>`.
    pub fn lines(&self) -> Vec<String> {
        self.errors
            .iter()
            .map(|e| format!("{}: {e}", self.task))
            .collect()
    }
}

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

/// Where a task file lives, which decides its default output folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskKind {
    /// A file under `<root>/tasks/`: output goes to `output/` by default.
    Shared,
    /// A `task_*.txt` under `<root>/<member>/`: output goes to the member's folder by default.
    Personal {
        /// The member's top-level folder name.
        member: String,
    },
}

impl TaskKind {
    /// The kind of a task file from its path relative to the root (`/`-separated).
    pub fn from_rel(rel: &str) -> TaskKind {
        match rel.split_once('/') {
            Some((first, _)) if first != TASKS_DIR => TaskKind::Personal {
                member: first.to_string(),
            },
            _ => TaskKind::Shared,
        }
    }

    /// The name used for fair ordering: `tasks` for shared tasks, else the member.
    pub fn member(&self) -> &str {
        match self {
            TaskKind::Shared => TASKS_DIR,
            TaskKind::Personal { member } => member,
        }
    }
}
