//! Raw task-file bytes to a typed [`RawTask`]: encoding, JSON syntax, field names and JSON
//! types. Every single-valued field may be a scalar or a one-element list. Nothing about the
//! values' meaning is checked here (see [`super::validate`]).

use crate::process::text::nearest;
use serde_json::{Map, Value};

use super::{FIELDS, MAX_NESTING, MAX_TASK_BYTES, SCHEMA_KEY, TaskError, syntax};

/// A task file's fields, typed but not yet checked. `None`: absent (or `null`). Its JSON
/// Schema is derived from it ([`super::json_schema`]).
#[derive(Debug, Clone, Default, PartialEq, schemars::JsonSchema)]
pub struct RawTask {
    /// `text`.
    pub text: Option<String>,
    /// `style` (a list, or one string).
    pub style: Option<Vec<String>>,
    /// `iterations`.
    pub iterations: Option<i64>,
    /// `out_file`.
    pub out_file: Option<String>,
    /// `out_folder`.
    pub out_folder: Option<String>,
    /// `portrait`.
    pub portrait: Option<bool>,
    /// `each`.
    pub each: Option<i64>,
    /// `resolution`: two numbers.
    pub resolution: Option<[i64; 2]>,
    /// `in_file`.
    pub in_file: Option<String>,
    /// `template_file`.
    pub template_file: Option<String>,
    /// `seed`.
    pub seed: Option<i64>,
    /// `raw`.
    pub raw: Option<String>,
    /// The video and story fields ([`super::video`]).
    #[schemars(flatten)]
    pub video: super::video::VideoFields,
    /// Fields present but of the wrong type (already reported; validation must not also
    /// call them missing).
    #[schemars(skip)]
    pub mistyped: Vec<&'static str>,
}

/// Parses a task file's bytes into its fields and the problems found on the way (unknown
/// fields, wrong types): every problem, not only the first. An encoding or JSON syntax error,
/// after which nothing can be read, is the `Err` case.
pub fn parse(bytes: &[u8]) -> Result<(RawTask, Vec<TaskError>), Vec<TaskError>> {
    if bytes.len() > MAX_TASK_BYTES {
        return Err(vec![TaskError::TooLarge]);
    }
    let text = decode(bytes).map_err(|e| vec![e])?;
    if let Some(e) = syntax::before_parsing(text) {
        return Err(vec![e]);
    }
    check_nesting(text).map_err(|e| vec![e])?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| vec![syntax::json_error(text, &e)])?;
    let map = match value {
        Value::Object(map) => map,
        other => {
            return Err(vec![TaskError::NotAnObject {
                found: describe(&other),
            }]);
        }
    };
    let (raw, mut errors) = from_map(&map);
    errors.extend(duplicate_keys(text));
    Ok((raw, errors))
}

/// Fields written twice in one object, with their lines. The JSON reader keeps the last value
/// silently (`"style": "Banksy", "style": "Monet"` would paint only Monet), so each is an
/// error. `text` is valid JSON (the reader accepted it).
fn duplicate_keys(text: &str) -> Vec<TaskError> {
    use std::collections::HashMap;
    // One entry per open object or list: an object's keys (with their lines) and whether
    // the next string is a key; `None` for a list.
    let mut stack: Vec<Option<(HashMap<String, usize>, bool)>> = Vec::new();
    let mut errors = Vec::new();
    let bytes = text.as_bytes();
    let (mut i, mut line) = (0, 1);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'{' => stack.push(Some((HashMap::new(), true))),
            b'[' => stack.push(None),
            b'}' | b']' => {
                stack.pop();
            }
            b',' | b':' => {
                if let Some(Some((_, expect_key))) = stack.last_mut() {
                    *expect_key = bytes[i] == b',';
                }
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if let Some(Some((keys, true))) = stack.last_mut()
                    && let Some(token) = text.get(start..=i)
                    && let Ok(key) = serde_json::from_str::<String>(token)
                {
                    match keys.get(&key) {
                        Some(&first) => errors.push(TaskError::DuplicateKey {
                            key,
                            first,
                            second: line,
                        }),
                        None => {
                            keys.insert(key, line);
                        }
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    errors
}

/// Refuses lists and objects nested deeper than [`MAX_NESTING`], before the JSON reader sees
/// them (it would also stop, at 128, with a less helpful message).
fn check_nesting(text: &str) -> Result<(), TaskError> {
    let (mut depth, mut line) = (0usize, 1usize);
    let (mut in_string, mut escaped) = (false, false);
    for b in text.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'\n' => line += 1,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(TaskError::TooDeep { line });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Strips a UTF-8 byte-order mark and checks the encoding.
fn decode(bytes: &[u8]) -> Result<&str, TaskError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| TaskError::NotUtf8 {
        offset: e.valid_up_to(),
    })
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the truth value {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text {s:?}"),
        Value::Array(a) => format!("a list of {} values", a.len()),
        Value::Object(_) => "an object {...}".into(),
    }
}

/// `v` written without quotes, when it is a number in quotes (`"200"`) or a list of them
/// (`["64", "48"]`).
fn unquoted_numbers(v: &Value) -> Option<String> {
    let number = |v: &Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| serde_json::from_str::<serde_json::Number>(s).is_ok())
            .map(str::to_string)
    };
    match v {
        Value::String(_) => number(v),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(number)
            .collect::<Option<Vec<_>>>()
            .map(|n| format!("[{}]", n.join(", "))),
        _ => None,
    }
}

struct Reader<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<TaskError>,
    mistyped: Vec<&'static str>,
}

impl<'a> Reader<'a> {
    /// The field's single value: a scalar, or the element of a one-element list.
    fn single(&mut self, field: &'static str) -> Option<&'a Value> {
        match self.map.get(field)? {
            Value::Null => None,
            Value::Array(items) if items.len() == 1 => match &items[0] {
                Value::Null => None,
                v => Some(v),
            },
            Value::Array(items) if items.is_empty() => None,
            Value::Array(items) if field == "raw" && items.iter().all(Value::is_string) => {
                let words: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                self.mistyped.push(field);
                self.errors.push(TaskError::BadRaw {
                    problem: format!(
                        "it is a list of {} texts, but `raw` is one text holding all the options, separated by spaces; write \"raw\": {:?}.",
                        items.len(),
                        words.join(" ")
                    ),
                });
                None
            }
            Value::Array(items) => {
                self.mistyped.push(field);
                self.errors.push(TaskError::NotSingle {
                    field,
                    len: items.len(),
                });
                None
            }
            v => Some(v),
        }
    }

    fn wrong(&mut self, field: &'static str, expected: &'static str, v: &Value, ex: &'static str) {
        self.mistyped.push(field);
        if let Some(unquoted) = unquoted_numbers(v).filter(|_| expected.contains("number")) {
            self.errors.push(TaskError::QuotedNumbers {
                field,
                written: v.to_string(),
                fix: format!("\"{field}\": {unquoted}"),
            });
            return;
        }
        self.errors.push(TaskError::WrongType {
            field,
            expected,
            found: describe(v),
            example: ex,
        });
    }

    fn string(&mut self, field: &'static str, example: &'static str) -> Option<String> {
        match self.single(field)? {
            Value::String(s) => Some(s.clone()),
            v => {
                self.wrong(field, "a text in double quotes", v, example);
                None
            }
        }
    }

    fn int(&mut self, field: &'static str, example: &'static str) -> Option<i64> {
        let v = self.single(field)?;
        if let Some(i) = v.as_i64() {
            return Some(i);
        }
        if v.is_u64() {
            self.mistyped.push(field);
            self.errors.push(TaskError::OutOfRange {
                field,
                value: v.to_string(),
                rule: "that number is too large".into(),
            });
            return None;
        }
        self.wrong(field, "a whole number", v, example);
        None
    }

    fn bool(&mut self, field: &'static str, example: &'static str) -> Option<bool> {
        match self.single(field)? {
            Value::Bool(b) => Some(*b),
            v => {
                self.wrong(field, "true or false (without quotes)", v, example);
                None
            }
        }
    }

    fn style(&mut self) -> Option<Vec<String>> {
        const EX: &str = "\"style\": [\"\", \"Banksy\"]";
        match self.map.get("style")? {
            Value::Null => None,
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        v => {
                            self.wrong("style", "a list of texts", v, EX);
                            return None;
                        }
                    }
                }
                Some(out)
            }
            v => {
                self.wrong("style", "a list of texts", v, EX);
                None
            }
        }
    }

    fn resolution(&mut self) -> Option<[i64; 2]> {
        const EX: &str = "\"resolution\": [450, 300]";
        let v = self.map.get("resolution")?;
        let items = match v {
            Value::Null => return None,
            // `[[450, 300]]`, the list form of a single value, is accepted too.
            Value::Array(outer) if outer.len() == 1 && outer[0].is_array() => {
                outer[0].as_array().expect("checked")
            }
            Value::Array(items) => items,
            v => {
                self.wrong("resolution", "two whole numbers [width, height]", v, EX);
                return None;
            }
        };
        let nums: Vec<Option<i64>> = items.iter().map(Value::as_i64).collect();
        match nums.as_slice() {
            [Some(a), Some(b)] => Some([*a, *b]),
            _ => {
                self.wrong("resolution", "two whole numbers [width, height]", v, EX);
                None
            }
        }
    }
}

fn from_map(map: &Map<String, Value>) -> (RawTask, Vec<TaskError>) {
    let mut r = Reader {
        map,
        errors: Vec::new(),
        mistyped: Vec::new(),
    };
    for key in map.keys() {
        // `$schema` names the task file's JSON Schema for editors; it asks for nothing.
        if !FIELDS.contains(&key.as_str()) && key != SCHEMA_KEY {
            r.errors.push(TaskError::UnknownField {
                field: key.clone(),
                suggestion: nearest(key, FIELDS).map(str::to_string),
            });
        }
    }
    let mut raw = RawTask {
        text: r.string("text", "\"text\": \"A painting of a dog\""),
        style: r.style(),
        iterations: r.int("iterations", "\"iterations\": 200"),
        out_file: r.string("out_file", "\"out_file\": \"john_dog\""),
        out_folder: r.string("out_folder", "\"out_folder\": \"output\""),
        portrait: r.bool("portrait", "\"portrait\": false"),
        each: r.int("each", "\"each\": 1"),
        resolution: r.resolution(),
        in_file: r.string("in_file", "\"in_file\": \"my_photo.png\""),
        template_file: r.string("template_file", "\"template_file\": \"my_start.png\""),
        seed: r.int("seed", "\"seed\": 1234"),
        raw: r.string("raw", "\"raw\": \"-lr 0.05 -cuts 64\""),
        video: Default::default(),
        mistyped: Vec::new(),
    };
    let (video, video_errors, video_mistyped) = super::video::read(map);
    (raw.video, raw.mistyped) = (video, [r.mistyped, video_mistyped].concat());
    r.errors.extend(video_errors);
    (raw, r.errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_and_one_element_list_mean_the_same() {
        let a = parse(br#"{"text": "dog", "each": 3, "out_file": "d"}"#).unwrap();
        let b = parse(br#"{"text": ["dog"], "each": [3], "out_file": ["d"]}"#).unwrap();
        assert_eq!(a, b);
        assert!(a.1.is_empty());
    }

    #[test]
    fn accepts_bom_and_crlf() {
        let t =
            parse(b"\xEF\xBB\xBF{\r\n\"text\": \"dog\",\r\n\"out_file\": \"d\"\r\n}\r\n").unwrap();
        assert_eq!(t.0.text.as_deref(), Some("dog"));
    }

    #[test]
    fn trailing_comma_names_line_and_column() {
        let e = parse(b"{\n\"text\": \"dog\",\n}").unwrap_err();
        let msg = e[0].to_string();
        assert!(msg.starts_with("line 3, column 1:"), "{msg}");
        assert!(msg.contains("trailing comma"), "{msg}");
    }

    #[test]
    fn collects_all_problems() {
        let (raw, e) = parse(br#"{"iteration": 3, "each": "x", "portrait": 1}"#).unwrap();
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(raw.mistyped, ["portrait", "each"]);
    }

    #[test]
    fn duplicate_keys_name_the_key_and_both_lines() {
        let text =
            "{\n  \"style\": \"Banksy\",\n  \"text\": \"a\",\n  \"st\\u0079le\": \"Monet\"\n}";
        let errors = duplicate_keys(text);
        assert_eq!(
            errors,
            [TaskError::DuplicateKey {
                key: "style".into(),
                first: 2,
                second: 4
            }]
        );
        assert!(duplicate_keys(r#"{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}"#).is_empty());
    }
}
