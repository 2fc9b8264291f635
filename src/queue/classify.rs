//! What a `.txt` file in the shared folder is: a task, one of runvqgan's (or the R runner's)
//! own files, or a file where a task would be that is not run, and why.
//!
//! The name decides only what it can decide alone: hidden files, `.done` files, files that
//! are not `.txt`, and in a member's folder files not named `task_*.txt` are never tasks;
//! `sample.txt`, `task_sample.txt` and `README.txt` are templates. Everything else is decided
//! by the file's content, because a name can mislead both ways (DESIGN section 3):
//!
//! - a first line that is a `python generate.py` call: a sidecar (runvqgan's or the R runner's);
//! - the exact suffix `_ERROR.txt` (or `_WARNINGS.txt`) and a first line that runvqgan or the
//!   R runner writes there: an error (warnings) file, whatever else its name holds;
//! - a name holding a control character (a tab, an escape): not run, and reported with the
//!   fix; nothing is written beside it (a note named after it would hold the character too);
//! - a JSON object (the first character, after a byte-order mark and blanks, is `{`): a task,
//!   whatever its name (`trial_and_error.txt`) and whatever picture lies beside it;
//! - an `X_ERROR.txt` beside its task `X.txt` (or `X.txt.done`): an error file in a format
//!   runvqgan does not know, left alone;
//! - beside a picture of the same name, or named `_ERROR.txt` without a task beside it, and
//!   not a JSON object: not run, and reported (it is most likely notes or an old report);
//! - anything else: a task (any `.txt` in `tasks/` is a task; a broken one gets an error file).
//!
//! Only runvqgan's own files (sidecars, error and warnings files, `.done`) and hidden files are
//! passed over in silence; every other file not run is listed with its [`SkipReason`] by
//! `plan`, `check` and the night's log.

use crate::call::sidecar::looks_like_generate_call;
use crate::shared_folder::files::{ERROR_SUFFIX, TASKS_DIR, WARNINGS_SUFFIX};

/// First lines of the error files runvqgan writes (an invalid task, a failure while
/// generating), as prefixes.
pub const RUNVQGAN_ERROR_HEADERS: &[&str] = &["runvqgan could not "];

/// First lines of the error files the R runner wrote ("Error in parameter file. Not in JSON
/// format??", "Error in parameter file. Check format!", "Error: Target folder does not
/// exist!"), as prefixes.
pub const R_ERROR_HEADERS: &[&str] = &["Error in parameter file", "Error: Target folder"];

/// The first line of a warnings file, as a prefix.
pub const WARNINGS_HEADER: &str = "runvqgan accepts the task file";

/// What a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A task file: it is run (or gets an error file saying why it cannot be).
    Task,
    /// Where a task could be, but not run: reported with the reason unless
    /// [`SkipReason::is_silent`].
    Skip(SkipReason),
}

/// Why a file is not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// `sample.txt` / `task_sample.txt`.
    Sample,
    /// `README.txt`.
    Readme,
    /// An error file written by runvqgan or the R runner.
    ErrorFile,
    /// A warnings file written by runvqgan.
    WarningsFile,
    /// `*.done`.
    Done,
    /// A hidden file or folder.
    Hidden,
    /// A sidecar (its first line is a generate call).
    Sidecar,
    /// In a member folder, but not named `task_*.txt`.
    NotTaskName,
    /// Not a `.txt` file.
    NotTxt,
    /// Outside `tasks/` and the member folders.
    OutsideTaskFolders,
    /// Beside a picture of the same name and not a JSON object.
    BesidePicture {
        /// The picture's file name.
        picture: String,
    },
    /// Named `X_ERROR.txt`, no task `X.txt` beside it, and neither a task nor a known report.
    ErrorName,
    /// A link that leads outside the shared folder.
    LinkOutside,
    /// A file name that is not valid UTF-8.
    BadNameEncoding,
    /// A file name with a control character (a tab, a line break, an escape): the files
    /// runvqgan keeps beside a task are named after it, so it gets none (an error file
    /// named after it would itself hold the character, and be taken for a task in turn).
    BadName,
    /// Named almost like a member's task (`task lighthouse.txt`): not run.
    NearTaskName {
        /// The name that would run.
        rename: String,
    },
    /// A task (a JSON object) in a member's folder, not named `task_*.txt`.
    TaskNotNamed {
        /// The name that would run.
        rename: String,
    },
    /// A `.json` file named or written like a task.
    JsonName {
        /// The name that would run.
        rename: String,
    },
    /// A `task_*.txt` in the top of the shared folder (the R runner ran those).
    InRoot,
}

/// The fix for a file name that cannot be used, in the words of every message that gives it.
pub const RENAME_FIX: &str = "rename it to plain letters, digits, - and _";

impl SkipReason {
    /// Whether the member should do something about the file (it looks like a task that is
    /// not run): everything reported but the templates and README files, which are meant.
    pub fn asks_for_a_fix(&self) -> bool {
        !self.is_silent() && !matches!(self, SkipReason::Sample | SkipReason::Readme)
    }

    /// Whether the file is passed over without a word: runvqgan's own files (sidecars, error
    /// and warnings files, `.done`), hidden files, and files that are not where tasks are.
    pub fn is_silent(&self) -> bool {
        matches!(
            self,
            SkipReason::ErrorFile
                | SkipReason::WarningsFile
                | SkipReason::Done
                | SkipReason::Hidden
                | SkipReason::Sidecar
                | SkipReason::NotTaskName
                | SkipReason::NotTxt
                | SkipReason::OutsideTaskFolders
        )
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Sample => f.write_str(
                "sample files (sample.txt, task_sample.txt) are templates and never run; copy one to a new name to make a task",
            ),
            SkipReason::Readme => f.write_str("README.txt files are never run"),
            SkipReason::ErrorFile => {
                f.write_str("it is an error report (_ERROR.txt) about a task, not a task")
            }
            SkipReason::WarningsFile => {
                f.write_str("it is a warnings note (_WARNINGS.txt) about a task, not a task")
            }
            SkipReason::Done => f.write_str(
                "it is a finished task (.done); rename it to .txt to run it again",
            ),
            SkipReason::Hidden => {
                f.write_str("hidden files and folders (starting with a dot) are never run")
            }
            SkipReason::Sidecar => f.write_str(
                "it is the .txt of an image (its first line is a generate call), not a task",
            ),
            SkipReason::NotTaskName => {
                f.write_str("in a personal folder only files named task_*.txt are run")
            }
            SkipReason::NotTxt => f.write_str("only .txt files are task files"),
            SkipReason::OutsideTaskFolders => {
                f.write_str("task files live in tasks/ or in a member's folder")
            }
            SkipReason::BesidePicture { picture } => write!(
                f,
                "it lies beside the picture {picture} and holds no task (a task file holds one JSON object, starting with {{), so it is taken for that picture's notes; if it is a task, write it as JSON"
            ),
            SkipReason::ErrorName => f.write_str(
                "its name ends in _ERROR.txt like an error report, no task of that name lies beside it, and it holds no task (a task file holds one JSON object, starting with {); if it is a task, write it as JSON or rename it",
            ),
            SkipReason::LinkOutside => f.write_str(
                "it is a link that leads outside the shared folder; put the file itself here",
            ),
            SkipReason::BadNameEncoding => {
                write!(f, "its name is not valid text (UTF-8); {RENAME_FIX}")
            }
            SkipReason::NearTaskName { rename } => write!(
                f,
                "in a personal folder only names of the form task_*.txt (task, an underscore, then letters, digits, - and _) are run; rename it to {rename}"
            ),
            SkipReason::TaskNotNamed { rename } => write!(
                f,
                "it holds a task, but in a personal folder only files named task_*.txt are run; rename it to {rename}"
            ),
            SkipReason::JsonName { rename } => write!(
                f,
                "task files end in .txt, and this one ends in .json; rename it to {rename}"
            ),
            SkipReason::InRoot => write!(
                f,
                "task files in the top of the shared folder are not run (the old R runner ran them); move it into {TASKS_DIR}/ or into your own folder"
            ),
            SkipReason::BadName => write!(
                f,
                "its name holds a control character (a tab, a line break or an escape), which cannot be shown or used to name the notes written beside a task, so it is not run; {RENAME_FIX}"
            ),
        }
    }
}

/// Whether `name` is hidden (starts with a dot).
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// The rules that need the name alone. `in_tasks`: the file is under `tasks/` (any `.txt`
/// is a candidate), else under a member folder (`task_*.txt` only). `None`: the content
/// decides ([`by_content`]).
pub fn by_name(name: &str, in_tasks: bool) -> Option<SkipReason> {
    let lower = name.to_lowercase();
    if is_hidden(name) {
        return Some(SkipReason::Hidden);
    }
    if lower.ends_with(".done") {
        return Some(SkipReason::Done);
    }
    if !lower.ends_with(".txt") {
        return Some(SkipReason::NotTxt);
    }
    if !in_tasks && !lower.starts_with("task_") {
        return Some(SkipReason::NotTaskName);
    }
    if lower == "sample.txt" || lower == "task_sample.txt" {
        return Some(SkipReason::Sample);
    }
    if lower == "readme.txt" {
        return Some(SkipReason::Readme);
    }
    None
}

/// The first line of `bytes`, without a byte-order mark and leading blanks.
fn first_line(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let rest = &bytes[start..];
    rest.split(|b| *b == b'\n').next().unwrap_or(&[])
}

/// Whether `bytes` start like a JSON object: `{` after a byte-order mark and blanks.
pub fn holds_json_object(bytes: &[u8]) -> bool {
    first_line(bytes).first() == Some(&b'{')
}

/// Whether `head` (the start of a file) is an error report runvqgan or the R runner wrote.
pub fn is_error_report(head: &[u8]) -> bool {
    let line = first_line(head);
    RUNVQGAN_ERROR_HEADERS
        .iter()
        .chain(R_ERROR_HEADERS)
        .any(|h| line.starts_with(h.as_bytes()))
}

/// Whether `head` is a warnings note runvqgan wrote.
pub fn is_warnings_note(head: &[u8]) -> bool {
    first_line(head).starts_with(WARNINGS_HEADER.as_bytes())
}

/// Whether `name` can be a task's name: it holds no control character. runvqgan names the
/// files it keeps beside a task after it (`_ERROR.txt`, claims), and shows it to people.
pub fn is_usable_name(name: &str) -> bool {
    !name.chars().any(char::is_control)
}

/// Decides by content what the candidate file `name` (one that [`by_name`] left open) is.
/// `head`: its first bytes (a few hundred suffice), or `None` when it could not be read (it is
/// then a task whose error file says why). `beside(other)`: whether a file named `other`
/// lies in the same folder.
///
/// runvqgan's own files are recognised first, whatever their names hold; then a name that
/// cannot be used ([`is_usable_name`]) is reported, never run and never written beside, so
/// that no error file is ever named after an error file.
pub fn by_content(name: &str, head: Option<&[u8]>, beside: &dyn Fn(&str) -> bool) -> Role {
    let error_stem = name.strip_suffix(ERROR_SUFFIX);
    if let Some(head) = head {
        if looks_like_generate_call(head) {
            return Role::Skip(SkipReason::Sidecar);
        }
        if error_stem.is_some() && is_error_report(head) {
            return Role::Skip(SkipReason::ErrorFile);
        }
        if name.ends_with(WARNINGS_SUFFIX) && is_warnings_note(head) {
            return Role::Skip(SkipReason::WarningsFile);
        }
    }
    if !is_usable_name(name) {
        return Role::Skip(SkipReason::BadName);
    }
    let Some(head) = head else {
        return Role::Task;
    };
    if holds_json_object(head) {
        return Role::Task;
    }
    if let Some(stem) = error_stem {
        let task = format!("{stem}.txt");
        if beside(&task) || beside(&format!("{task}.done")) {
            return Role::Skip(SkipReason::ErrorFile);
        }
    }
    let stem = &name[..name.len() - 4];
    for ext in ["png", "PNG"] {
        let picture = format!("{stem}.{ext}");
        if beside(&picture) {
            return Role::Skip(SkipReason::BesidePicture { picture });
        }
    }
    if error_stem.is_some() {
        return Role::Skip(SkipReason::ErrorName);
    }
    Role::Task
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, content: &str, beside: &[&str]) -> Role {
        let beside = |n: &str| beside.contains(&n);
        by_content(name, Some(content.as_bytes()), &beside)
    }

    #[test]
    fn a_json_object_is_a_task_whatever_its_name_or_neighbours() {
        let task = r#"{"text": "dog", "out_file": "dog"}"#;
        assert_eq!(role("a22_trial_and_error.txt", task, &[]), Role::Task);
        assert_eq!(role("a21_ref.txt", task, &["a21_ref.png"]), Role::Task);
        assert_eq!(role("x_ERROR.txt", task, &["x.txt"]), Role::Task);
        assert_eq!(role("y.txt", "\u{feff}\n  {broken", &["y.png"]), Role::Task);
    }

    #[test]
    fn own_files_are_recognised_by_their_first_line() {
        let call = "python generate.py -p 'dog' -o output/dog_1.png\n";
        assert_eq!(
            role("task_dog_1.txt", call, &[]),
            Role::Skip(SkipReason::Sidecar)
        );
        for header in [
            "runvqgan could not run the task file tasks/x.txt.",
            "Error in parameter file. Not in JSON format??",
            "Error: Target folder does not exist!",
        ] {
            assert_eq!(
                role("x_ERROR.txt", header, &[]),
                Role::Skip(SkipReason::ErrorFile),
                "{header}"
            );
        }
        assert_eq!(
            role(
                "x_WARNINGS.txt",
                "runvqgan accepts the task file x.txt",
                &[]
            ),
            Role::Skip(SkipReason::WarningsFile)
        );
    }

    #[test]
    fn an_error_file_needs_the_exact_suffix() {
        let report = "runvqgan could not run the task file tasks/x.txt.";
        // Not an error file by name: read as a task (invalid, and told so).
        assert_eq!(role("x_error.txt", report, &["x.txt"]), Role::Task);
        // The exact suffix beside its task, in an unknown format: left alone.
        assert_eq!(
            role("x_ERROR.txt", "something", &["x.txt.done"]),
            Role::Skip(SkipReason::ErrorFile)
        );
        // The exact suffix, no task beside, no known header: reported.
        assert_eq!(
            role("x_ERROR.txt", "something", &[]),
            Role::Skip(SkipReason::ErrorName)
        );
    }

    #[test]
    fn a_name_with_a_control_character_is_reported_and_own_files_stay_silent() {
        let task = r#"{"text": "dog", "out_file": "dog"}"#;
        let report = "runvqgan could not run the task file tasks/a\tb.txt.";
        for name in ["a\tb.txt", "c\u{1b}[31m.txt", "d\n_ERROR.txt"] {
            assert_eq!(
                role(name, task, &[]),
                Role::Skip(SkipReason::BadName),
                "{name:?}"
            );
            assert!(SkipReason::BadName.asks_for_a_fix());
        }
        assert_eq!(
            role("a\tb_ERROR.txt", report, &["a\tb.txt"]),
            Role::Skip(SkipReason::ErrorFile)
        );
        assert_eq!(
            role("a\tb_ERROR_ERROR.txt", report, &[]),
            Role::Skip(SkipReason::ErrorFile)
        );
        let beside = |_: &str| false;
        assert_eq!(
            by_content("e\u{7}.txt", None, &beside),
            Role::Skip(SkipReason::BadName)
        );
    }

    #[test]
    fn notes_beside_a_picture_are_reported_not_run() {
        assert_eq!(
            role("task_robot_1.txt", "my notes", &["task_robot_1.png"]),
            Role::Skip(SkipReason::BesidePicture {
                picture: "task_robot_1.png".into()
            })
        );
        assert_eq!(role("notes.txt", "my notes", &[]), Role::Task);
    }

    #[test]
    fn names_decide_templates_and_non_candidates() {
        assert_eq!(by_name("Sample.TXT", true), Some(SkipReason::Sample));
        assert_eq!(by_name("task_sample.txt", false), Some(SkipReason::Sample));
        assert_eq!(by_name("ReadMe.txt", true), Some(SkipReason::Readme));
        assert_eq!(by_name("notes.txt", false), Some(SkipReason::NotTaskName));
        assert_eq!(by_name("x.txt.done", true), Some(SkipReason::Done));
        assert_eq!(by_name("x_error.txt", true), None);
        assert_eq!(by_name("task_x_ERROR.txt", false), None);
        assert!(SkipReason::Sidecar.is_silent());
        assert!(!SkipReason::Sample.is_silent());
    }
}
