//! Files that look like task files but are not run (issue 24 item 5), so that none is passed
//! over in silence: `task lighthouse.txt` (a space instead of `_`), `task_x.json` or
//! `tasks/shared.json` (`.json` instead of `.txt`), `mytask.txt` holding a task in a member's
//! folder, and a `task_*.txt` lying in the top of the shared folder (the R runner ran those;
//! runvqgan lists them, DESIGN section 3 keeps tasks in `tasks/` and members' folders).
//!
//! [`refine`] looks again at a file the name rules ([`crate::queue::classify::by_name`]) pass
//! over in silence (not `.txt`, or not named `task_*.txt` in a member's folder) and gives it a
//! reason that is listed, with the new name to give it, when it looks like a task. Notes,
//! pictures' `.txt` (a picture of the same name lies beside them) and runvqgan's own files
//! stay quiet.

use crate::queue::classify::{SkipReason, holds_json_object};
use crate::shared_folder::files::{ERROR_SUFFIX, WARNINGS_SUFFIX};
use crate::task::FIELDS;

/// The start of a member's task file name.
const TASK_PREFIX: &str = "task_";

/// A louder reason for a file that [`crate::queue::classify::by_name`] skipped with `reason`,
/// when it looks like a task; `None` keeps the quiet reason. `in_tasks`: under `tasks/`.
/// `beside(other)`: whether `other` lies in the same folder. `head()`: the file's first
/// bytes, read only when the name leaves it open.
pub fn refine(
    reason: &SkipReason,
    name: &str,
    in_tasks: bool,
    beside: &dyn Fn(&str) -> bool,
    head: &dyn Fn() -> Option<Vec<u8>>,
) -> Option<SkipReason> {
    let lower = name.to_lowercase();
    match reason {
        SkipReason::NotTxt => {
            let stem = lower
                .strip_suffix(".json")
                .map(|_| &name[..name.len() - 5])?;
            let named_like_a_task = in_tasks || task_like(stem).is_some();
            if !named_like_a_task && !head().is_some_and(|h| holds_task(&h)) {
                return None;
            }
            let stem = if in_tasks {
                stem.to_string()
            } else {
                task_like(stem).unwrap_or_else(|| format!("{TASK_PREFIX}{stem}"))
            };
            Some(SkipReason::JsonName {
                rename: format!("{stem}.txt"),
            })
        }
        SkipReason::NotTaskName => {
            let stem = &name[..name.len() - 4];
            if let Some(renamed) = task_like(stem) {
                return Some(SkipReason::NearTaskName {
                    rename: format!("{renamed}.txt"),
                });
            }
            let own = name.ends_with(ERROR_SUFFIX) || name.ends_with(WARNINGS_SUFFIX);
            let picture = ["png", "PNG", "jpg", "jpeg"]
                .iter()
                .any(|ext| beside(&format!("{stem}.{ext}")));
            if own || picture || !head().is_some_and(|h| holds_task(&h)) {
                return None;
            }
            Some(SkipReason::TaskNotNamed {
                rename: format!("{TASK_PREFIX}{}.txt", plain(stem)),
            })
        }
        _ => None,
    }
}

/// Whether `head` (a file's bytes) is written like a task: a JSON object with a task's field
/// (`text`, `out_file`, ...), or, when it is not valid JSON, one that mentions `"text"`. Other
/// JSON (the gallery's data, a tool's settings) is not a task.
fn holds_task(head: &[u8]) -> bool {
    let bytes = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(map)) => map.keys().any(|k| FIELDS.contains(&k.as_str())),
        Ok(_) => false,
        Err(_) => holds_json_object(bytes) && bytes.windows(6).any(|w| w == b"\"text\""),
    }
}

/// The reason for a file in the top of the shared folder, if it is named like a member's
/// task (`task_*.txt`, in any case; templates stay quiet).
pub fn in_root(name: &str) -> Option<SkipReason> {
    let lower = name.to_lowercase();
    let task = lower.ends_with(".txt") && task_like(&name[..name.len() - 4]).is_some();
    (task && lower != "task_sample.txt").then_some(SkipReason::InRoot)
}

/// `stem` (a file name without its extension) as a member's task name, when it starts like
/// one: `task_x` as it is, `task x`, `Task-x`, `task.x` or `TASK x y` as `task_x`,
/// `task_x`, `task_x`, `task_x_y`. `None` for a name that does not start with `task` and a
/// separator.
fn task_like(stem: &str) -> Option<String> {
    let head = stem.get(..4)?;
    if !head.eq_ignore_ascii_case("task") {
        return None;
    }
    let rest = &stem[4..];
    let trimmed = rest.trim_start_matches([' ', '-', '.', '_']);
    if trimmed.len() == rest.len() || trimmed.is_empty() {
        return None;
    }
    Some(format!("{TASK_PREFIX}{}", plain(trimmed)))
}

/// A name with its spaces written as `_`.
fn plain(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join("_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refined(reason: SkipReason, name: &str, in_tasks: bool, content: &str) -> Option<String> {
        let head = || Some(content.as_bytes().to_vec());
        refine(&reason, name, in_tasks, &|_| false, &head).map(|r| r.to_string())
    }

    #[test]
    fn names_close_to_task_underscore_are_given_the_right_name() {
        for (name, want) in [
            ("task lighthouse.txt", "task_lighthouse.txt"),
            ("Task-lighthouse.txt", "task_lighthouse.txt"),
            ("task.big dog.txt", "task_big_dog.txt"),
        ] {
            let r = refined(SkipReason::NotTaskName, name, false, "notes").unwrap();
            assert!(r.ends_with(&format!("rename it to {want}")), "{name}: {r}");
        }
        assert_eq!(
            refined(SkipReason::NotTaskName, "tasks.txt", false, "notes"),
            None
        );
        assert_eq!(
            refined(SkipReason::NotTaskName, "notes.txt", false, "notes"),
            None
        );
    }

    #[test]
    fn a_task_without_the_task_name_is_listed_but_notes_and_picture_texts_are_not() {
        let json = r#"{"text": "a dog", "out_file": "dog"}"#;
        let r = refined(SkipReason::NotTaskName, "mytask.txt", false, json).unwrap();
        assert!(r.ends_with("rename it to task_mytask.txt"), "{r}");
        let beside_png = |n: &str| n == "dog_1.png";
        let head = || Some(json.as_bytes().to_vec());
        assert_eq!(
            refine(
                &SkipReason::NotTaskName,
                "dog_1.txt",
                false,
                &beside_png,
                &head
            ),
            None
        );
    }

    #[test]
    fn json_files_are_told_to_end_in_txt() {
        let r = refined(SkipReason::NotTxt, "shared.json", true, "").unwrap();
        assert!(r.ends_with("rename it to shared.txt"), "{r}");
        let r = refined(SkipReason::NotTxt, "task_x.json", false, "").unwrap();
        assert!(r.ends_with("rename it to task_x.txt"), "{r}");
        let r = refined(SkipReason::NotTxt, "dog.json", false, "{\"text\": \"a\"}").unwrap();
        assert!(r.ends_with("rename it to task_dog.txt"), "{r}");
        assert_eq!(
            refined(SkipReason::NotTxt, "data.json", false, "[1, 2]"),
            None
        );
        assert_eq!(refined(SkipReason::NotTxt, "dog.png", true, ""), None);
    }

    #[test]
    fn only_task_named_files_in_the_root_are_listed() {
        assert_eq!(in_root("task_dog.txt"), Some(SkipReason::InRoot));
        assert_eq!(in_root("Task dog.txt"), Some(SkipReason::InRoot));
        assert_eq!(in_root("task_sample.txt"), None);
        assert_eq!(in_root("notes.txt"), None);
        assert_eq!(in_root("runvqgan.toml"), None);
    }
}
