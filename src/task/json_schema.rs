//! The JSON Schema of a task file, generated from [`RawTask`] (the `schemars` derive gives
//! each field's JSON type from its Rust type) and then given the task file's rules that a
//! schema can carry, from the same constants the validator ([`super::validate`]) uses:
//! ranges, lengths, forbidden characters, required fields, no unknown fields, and the list
//! form of every single value (`"seed": [7]`, as [`super::schema::parse`] accepts it).
//!
//! It is shipped in the gallery (the "Make a task like this" form checks each field with it)
//! and written to `docs/task.schema.json`, so an editor (VS Code, JetBrains) checks a task file
//! that names it in `$schema`. What a schema cannot say is listed in [`NOT_IN_SCHEMA`]: those
//! rules are checked when the night runs (or by `runvqgan validate` and `check`).

use schemars::{Schema, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use super::prompt::{MAX_STYLE_CHARS, MAX_TEXT_CHARS};
use super::validate::MAX_STYLES;
use super::{RawTask, SCHEMA_KEY};
use crate::config::MIN_SIDE;

/// Where the schema is published, for `$id` (the file in the repository's `docs/`).
pub const SCHEMA_FILE: &str = "task.schema.json";

/// The rules of `validate` that the schema does not (or cannot) express, each with why: the
/// form shows them as "checked when the night runs".
pub const NOT_IN_SCHEMA: &[(&str, &str)] = &[
    (
        "the file itself",
        "its encoding (UTF-8, or UTF-16 with a mark), its size (64 KiB), nesting depth and a field written twice are properties of the bytes, not of the JSON value a schema sees",
    ),
    (
        "text",
        "the prompt's syntax (`text:weight:stop` parts between `|`) and code points that are not characters outside the first plane need the prompt parser",
    ),
    (
        "out_file",
        "its length in bytes (file names end at 255 bytes; letters outside English take 2 to 4) - a schema counts characters",
    ),
    (
        "out_folder",
        "which folders exist and which one a member may write depend on the shared folder",
    ),
    (
        "in_file",
        "that the picture exists inside the shared folder, is a PNG or JPEG and can be read",
    ),
    (
        "template_file",
        "that the picture exists inside the shared folder, is a PNG or JPEG and can be read",
    ),
    (
        "seed",
        "seed plus the number of images must stay below 2^63, which depends on `style` and `each`",
    ),
    (
        "raw",
        "the engine options it may hold (and their values) need the option table of the engine",
    ),
    (
        "video",
        "which fields go together (zoom fields and `video_seconds` need a video, a zoom video for the zoom fields) and the frames the video would have against the owner's cap (`max_video_frames`, iterations and `zoom_every` together) read several fields and the configuration",
    ),
    (
        "numbers",
        "a whole number written as 1e3 or 2.0 is refused by runvqgan; JSON Schema counts it as an integer",
    ),
];

/// Control characters (Unicode `Cc`), as Rust's `char::is_control`.
const CONTROL: &str = "\\u0000-\\u001f\\u007f-\\u009f";
/// Invisible formatting characters ([`crate::shared_folder::root::is_invisible_format`]).
const INVISIBLE: &str = "\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2069\\ufeff";
/// Noncharacters of the first plane.
const NONCHAR: &str = "\\ufdd0-\\ufdef\\ufffe\\uffff";

/// The schema of a task file, as a JSON value.
pub fn task_schema() -> Value {
    let settings = SchemaSettings::draft2020_12();
    let generator = settings.into_generator();
    let mut schema: Schema = generator.into_root_schema_for::<RawTask>();
    task_rules(&mut schema);
    schema.to_value()
}

/// The schema as the text of `docs/task.schema.json` (pretty, with a final newline).
pub fn task_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&task_schema()).expect("a schema serialises");
    text.push('\n');
    text
}

/// Turns the derived schema of [`RawTask`] into the task file's schema.
fn task_rules(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    object.insert(
        "$id".into(),
        json!(format!("https://runvqgan.invalid/{SCHEMA_FILE}")),
    );
    object.insert("title".into(), json!("runvqgan task file"));
    object.insert(
        "description".into(),
        json!("One night's request for images: a JSON object in a member's folder. See docs/members.md."),
    );
    object.insert("additionalProperties".into(), json!(false));
    object.insert("required".into(), json!(["text", "out_file"]));
    let Some(Value::Object(props)) = object.get_mut("properties") else {
        return;
    };
    // `$schema` itself may name the schema (editors read it); runvqgan's parser would call it
    // an unknown field, so it is not a property here either.
    for (name, prop) in props.iter_mut() {
        let base = base_of(prop);
        *prop = rule(name, base);
    }
    props.insert(
        SCHEMA_KEY.into(),
        json!({"type": "string", "description": "This schema, for editors; runvqgan ignores it."}),
    );
}

/// The derived schema of a field without its `null` (every field is an `Option`).
fn base_of(prop: &Value) -> Map<String, Value> {
    let mut base = prop.as_object().cloned().unwrap_or_default();
    if let Some(Value::Array(types)) = base.get("type").cloned() {
        let kept: Vec<Value> = types.into_iter().filter(|t| t != "null").collect();
        let kept = match kept.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(kept),
        };
        base.insert("type".into(), kept);
    }
    base.remove("format");
    base
}

/// A field's schema: its derived type with the validator's rules, in the forms the parser
/// accepts.
fn rule(name: &str, mut base: Map<String, Value>) -> Value {
    let mut set = |key: &str, value: Value| {
        base.insert(key.into(), value);
    };
    let not_control = format!("^[^{CONTROL}]*$");
    let path = format!("^(?![A-Za-z]:)(?!/)[^\\\\{CONTROL}{INVISIBLE}]+$");
    match name {
        "text" => {
            set("minLength", json!(1));
            set("maxLength", json!(MAX_TEXT_CHARS));
            // Something besides spaces and `|`; tabs and line breaks are allowed.
            set(
                "pattern",
                json!(format!(
                    "^(?=[\\s\\S]*[^\\s|])[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f{NONCHAR}]*$"
                )),
            );
            set("description", json!("The prompt: what the picture shows."));
        }
        "style" => {
            let item = json!({
                "type": "string",
                "maxLength": MAX_STYLE_CHARS,
                "pattern": format!("^[^|^:{CONTROL}{NONCHAR}]*$"),
            });
            return json!({
                "description": "Styles, one image series each; \"\" is the plain prompt.",
                "anyOf": [
                    {"type": "null"},
                    item.clone(),
                    {"type": "array", "minItems": 1, "maxItems": MAX_STYLES, "items": item},
                ],
            });
        }
        "iterations" | "each" => {
            set("minimum", json!(1));
            set("maximum", json!(i64::MAX));
        }
        "seed" => {
            set("minimum", json!(0));
            set("maximum", json!(i64::MAX));
        }
        "out_file" => {
            set("minLength", json!(1));
            set("maxLength", json!(100));
            set(
                "pattern",
                json!(format!(
                    "^(?![. ])(?![\\s\\S]*\\.\\.)(?![\\s\\S]* $)[^/\\\\<>:\"|?*{CONTROL}{INVISIBLE}]+$"
                )),
            );
            set(
                "description",
                json!("The images' name: out_file_1.png, out_file_2.png, ..."),
            );
        }
        "out_folder" => {
            set(
                "pattern",
                json!(format!(
                    "^(?![A-Za-z]:)(?!/)(?!([\\s\\S]*/)?\\.\\.(/|$))[^\\\\{CONTROL}{INVISIBLE}]+$"
                )),
            );
        }
        "in_file" | "template_file" => set("pattern", json!(path)),
        "video" => {
            set("enum", json!(["progress", "zoom"]));
            set(
                "description",
                json!("A video beside the picture: \"progress\" (the image forming) or \"zoom\"."),
            );
        }
        "video_seconds" | "zoom_scale" => set("exclusiveMinimum", json!(0)),
        "zoom_every" | "story_every" => {
            set("minimum", json!(1));
            set("maximum", json!(i64::MAX));
        }
        "zoom_shift" => {
            // [x, y] pixels, never in a list of its own (`[[x, y]]` is refused).
            if let Some(Value::Object(items)) = base.get_mut("items") {
                items.remove("format");
            }
            let pair = Value::Object(base);
            return json!({
                "description": "[x, y]: pixels the zoom video moves by at each frame.",
                "anyOf": [{"type": "null"}, pair],
            });
        }
        "raw" => set("pattern", json!(not_control)),
        "resolution" => {
            // [width, height], each at least MIN_SIDE; also [[width, height]].
            if let Some(Value::Object(items)) = base.get_mut("items") {
                items.remove("format");
                items.insert("minimum".into(), json!(MIN_SIDE));
                items.insert("maximum".into(), json!(i64::MAX));
            }
            let pair = Value::Object(base);
            return json!({
                "description": "[width, height] in pixels.",
                "anyOf": [
                    {"type": "null"},
                    pair.clone(),
                    {"type": "array", "minItems": 1, "maxItems": 1, "items": pair},
                ],
            });
        }
        _ => {}
    }
    let single = Value::Object(base);
    if matches!(name, "text" | "out_file") {
        json!({"anyOf": [single.clone(), {"type": "array", "minItems": 1, "maxItems": 1, "items": single}]})
    } else {
        json!({"anyOf": [
            {"type": "null"},
            single.clone(),
            {"type": "array", "maxItems": 1, "items": {"anyOf": [{"type": "null"}, single]}},
        ]})
    }
}

/// The fields the schema describes (for tests: they must be [`FIELDS`]).
pub fn schema_fields() -> Vec<String> {
    task_schema()["properties"]
        .as_object()
        .map(|p| p.keys().filter(|k| *k != SCHEMA_KEY).cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::FIELDS;
    use super::*;

    #[test]
    fn the_schema_describes_every_field_and_no_other() {
        let mut fields = schema_fields();
        fields.sort();
        let mut expected: Vec<String> = FIELDS.iter().map(|f| f.to_string()).collect();
        expected.sort();
        assert_eq!(fields, expected);
    }

    #[test]
    fn the_committed_schema_is_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(SCHEMA_FILE);
        if std::env::var_os("RUNVQGAN_WRITE_SCHEMA").is_some() {
            std::fs::write(&path, task_schema_text()).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == task_schema_text(),
            "{} differs from the schema generated from src/task/schema.rs; \
             write it again with `RUNVQGAN_WRITE_SCHEMA=1 cargo test --lib task::json_schema`",
            path.display()
        );
    }

    #[test]
    fn the_schema_is_generated_from_the_types() {
        // Types come from the derive: a bool field is boolean, an i64 an integer.
        let s = task_schema();
        let any = |f: &str, i: usize| s["properties"][f]["anyOf"][i]["type"].clone();
        assert_eq!(any("portrait", 1), json!("boolean"));
        assert_eq!(any("seed", 1), json!("integer"));
        assert_eq!(any("text", 0), json!("string"));
    }
}
