//! The task fields for videos and story mode: `video` (`"progress"` or `"zoom"`),
//! `video_seconds`, `zoom_every`, `zoom_scale`, `zoom_shift` and `story_every`. Each is a
//! plain name for one `generate.py` option of the table ([`crate::call::options`]: `-vid` /
//! `-zvid`, `-vl`, `-zse`, `-zsc`, `-zsx` and `-zsy`, `-cpe`), which `raw` may also give; the
//! fields are read here, set into the task's engine options, and the result (from either) is
//! checked against the workstation's cap on frames ([`Limits::max_video_frames`]).

use serde_json::{Map, Value};

use crate::call::job::EngineOptions;
use crate::call::options::{self, Value as OptValue};
use crate::call::video::{VideoMode, VideoPlan, story_every};
use crate::config::Limits;

use super::{TaskError, prompt::Prompt};

/// The video and story fields of a task file, typed but not yet checked. Their JSON Schema
/// comes with [`super::schema::RawTask`]'s, under their names in the task file.
#[derive(Debug, Clone, Default, PartialEq, schemars::JsonSchema)]
pub struct VideoFields {
    /// `video`.
    pub video: Option<String>,
    /// `video_seconds`.
    #[schemars(rename = "video_seconds")]
    pub seconds: Option<f64>,
    /// `zoom_every`.
    pub zoom_every: Option<i64>,
    /// `zoom_scale`.
    pub zoom_scale: Option<f64>,
    /// `zoom_shift`: `[x, y]` pixels.
    pub zoom_shift: Option<[i64; 2]>,
    /// `story_every`.
    pub story_every: Option<i64>,
}

fn found(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the text {s:?}"),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => format!("the truth value {b}"),
        Value::Array(a) => format!("a list of {} values", a.len()),
        other => other.to_string(),
    }
}

/// Reads the fields from a task's JSON object; wrong types are reported (and their field
/// named in `mistyped`).
pub fn read(map: &Map<String, Value>) -> (VideoFields, Vec<TaskError>, Vec<&'static str>) {
    let mut errors = Vec::new();
    let mut mistyped = Vec::new();
    // a scalar, or a one-element list (as every single-valued field); `zoom_shift` is a pair
    let single = |field: &str| match map.get(field) {
        Some(Value::Array(items)) if items.len() == 1 && field != "zoom_shift" => {
            Some(&items[0]).filter(|v| !v.is_null())
        }
        Some(Value::Null) | None => None,
        Some(v) => Some(v),
    };
    let mut wrong = |field: &'static str, expected, v: &Value, example| {
        mistyped.push(field);
        errors.push(TaskError::WrongType {
            field,
            expected,
            found: found(v),
            example,
        });
    };
    let mut fields = VideoFields::default();
    if let Some(v) = single("video") {
        match v.as_str() {
            Some(s) => fields.video = Some(s.to_string()),
            None => wrong("video", "a text", v, "\"video\": \"zoom\""),
        }
    }
    let numbers: [(&'static str, &mut Option<f64>, &'static str); 2] = [
        (
            "video_seconds",
            &mut fields.seconds,
            "\"video_seconds\": 10",
        ),
        ("zoom_scale", &mut fields.zoom_scale, "\"zoom_scale\": 1.02"),
    ];
    for (field, slot, example) in numbers {
        if let Some(v) = single(field) {
            match v.as_f64() {
                Some(f) => *slot = Some(f),
                None => wrong(field, "a number", v, example),
            }
        }
    }
    let whole: [(&'static str, &mut Option<i64>, &'static str); 2] = [
        ("zoom_every", &mut fields.zoom_every, "\"zoom_every\": 10"),
        (
            "story_every",
            &mut fields.story_every,
            "\"story_every\": 50",
        ),
    ];
    for (field, slot, example) in whole {
        if let Some(v) = single(field) {
            match v.as_i64() {
                Some(n) => *slot = Some(n),
                None => wrong(field, "a whole number", v, example),
            }
        }
    }
    if let Some(v) = single("zoom_shift") {
        let pair = v.as_array().and_then(|items| match items.as_slice() {
            [x, y] => Some([x.as_i64()?, y.as_i64()?]),
            _ => None,
        });
        match pair {
            Some(p) => fields.zoom_shift = Some(p),
            None => wrong(
                "zoom_shift",
                "two whole numbers [right, down] in pixels",
                v,
                "\"zoom_shift\": [2, 0]",
            ),
        }
    }
    (fields, errors, mistyped)
}

fn bad(field: &'static str, value: impl ToString, rule: impl Into<String>) -> TaskError {
    TaskError::OutOfRange {
        field,
        value: value.to_string(),
        rule: rule.into(),
    }
}

/// Sets the fields into the task's engine options (after `raw`'s: a field wins over the same
/// option in `raw`), then checks the video the options ask for: its frames against the cap,
/// zoom fields without a zoom video, story mode without `^`. Problems go to `errors`, notes
/// that do not stop the task to `warnings`.
pub fn apply(
    fields: &VideoFields,
    prompt: Option<&Prompt>,
    iterations: Option<u32>,
    limits: &Limits,
    options: &mut EngineOptions,
    errors: &mut Vec<TaskError>,
    warnings: &mut Vec<String>,
) {
    let before = errors.len();
    let mut set = |flag: &str, value: OptValue| {
        let option = options::find(flag).expect("a flag of the option table");
        options.set(option, value);
    };
    match fields.video.as_deref() {
        None => {}
        Some("progress") => set("-vid", OptValue::Switch),
        Some("zoom") => set("-zvid", OptValue::Switch),
        Some(other) => errors.push(bad(
            "video",
            format!("{other:?}"),
            "it must be \"progress\" (a frame every iteration: the image forming) or \"zoom\" (a frame every `zoom_every` iterations, zooming in as it goes); remove the field for a still image only",
        )),
    }
    if let Some(s) = fields.seconds {
        if s.is_finite() && s > 0.0 {
            set("-vl", OptValue::Number(s));
        } else {
            errors.push(bad(
                "video_seconds",
                s,
                "it must be a number of seconds above 0, such as 10",
            ));
        }
    }
    if let Some(n) = fields.zoom_every {
        if n >= 1 {
            set("-zse", OptValue::Int(n));
        } else {
            errors.push(bad("zoom_every", n, "it must be 1 or more: the iterations between two frames of the zoom video, such as 10"));
        }
    }
    if let Some(f) = fields.zoom_scale {
        if f.is_finite() && f > 0.0 {
            set("-zsc", OptValue::Number(f));
        } else {
            errors.push(bad("zoom_scale", f, "it must be a number above 0: above 1 zooms in (1.02), below 1 out (0.98), 1 not at all"));
        }
    }
    if let Some([x, y]) = fields.zoom_shift {
        set("-zsx", OptValue::Int(x));
        set("-zsy", OptValue::Int(y));
    }
    if let Some(n) = fields.story_every {
        if n >= 1 {
            set("-cpe", OptValue::Int(n));
        } else {
            errors.push(bad(
                "story_every",
                n,
                "it must be 1 or more: the iterations between two phrases of the story, such as 50",
            ));
        }
    }
    // the checks below read the fields together: only once each is right on its own
    let (true, Some(iterations)) = (errors.len() == before, iterations) else {
        return;
    };
    let plan = VideoPlan::of(options, iterations);
    let zoom_fields = [
        ("zoom_every", fields.zoom_every.is_some()),
        ("zoom_scale", fields.zoom_scale.is_some()),
        ("zoom_shift", fields.zoom_shift.is_some()),
    ];
    if plan.map(|p| p.mode) != Some(VideoMode::Zoom) {
        for (field, given) in zoom_fields {
            if given {
                errors.push(bad(
                    field,
                    "given",
                    "it only applies to a zoom video; add \"video\": \"zoom\" or remove the field",
                ));
            }
        }
    }
    if plan.is_none() && fields.seconds.is_some() {
        errors.push(bad("video_seconds", "given", "there is no video to time; add \"video\": \"progress\" or \"zoom\", or remove the field"));
    }
    if let Some(plan) = plan {
        check_frames(&plan, iterations, limits, errors);
    }
    if let (Some(every), Some(prompt)) = (story_every(options), prompt) {
        if prompt.phrases.len() < 2 {
            warnings.push(format!("story mode (a new phrase every {every} iterations) needs phrases separated by `^` in `text`, such as \"a seed ^ a sprout ^ a tree\"; with one phrase the prompt stays the same (and an image prompt from `in_file` is dropped at iteration {every}, as generate.py does)."));
        } else if every >= iterations {
            warnings.push(format!("story mode changes the phrase every {every} iterations, but the image has only {iterations}: only the first phrase is used; write a smaller `story_every`."));
        }
    }
}

fn check_frames(plan: &VideoPlan, iterations: u32, limits: &Limits, errors: &mut Vec<TaskError>) {
    let max = limits.max_video_frames;
    let field = "video";
    if max == 0 {
        errors.push(bad(field, "asked for", "this workstation makes no videos (max_video_frames = 0 in runvqgan.toml); remove the video, or ask the workstation owner"));
    } else if plan.frames == 0 {
        let need = match plan.mode {
            VideoMode::Progress => "at least 2 iterations".to_string(),
            VideoMode::Zoom => format!("at least `zoom_every` ({}) iterations", plan.every),
        };
        errors.push(bad(
            field,
            "asked for",
            format!("the video would have no frames with {iterations} iterations; it needs {need}"),
        ));
    } else if plan.frames > max {
        let fix = match plan.mode {
            VideoMode::Progress => format!("use at most {} iterations, or a zoom video", max + 1),
            VideoMode::Zoom => format!(
                "use a `zoom_every` of at least {} or fewer iterations",
                iterations.div_ceil(max)
            ),
        };
        let value = format!("{} frames long", plan.frames);
        errors.push(bad(
            field,
            value,
            format!("the workstation allows at most {max} frames per video; {fix}"),
        ));
    }
}

/// One line for `validate` and `plan`: the video's choices and cost, or `None` (no video
/// and no story).
pub fn describe(options: &EngineOptions, iterations: u32, size: [u32; 2]) -> Option<String> {
    let plan = VideoPlan::of(options, iterations);
    let story = story_every(options)
        .map(|n| format!("story mode: the next `^` phrase every {n} iterations"));
    let Some(plan) = plan else { return story };
    let [w, h] = size;
    let what = match plan.mode {
        VideoMode::Progress => "a progress video (a frame every iteration)".to_string(),
        VideoMode::Zoom => {
            let get = |key| {
                options
                    .get(key)
                    .and_then(|v| v.words(options::by_key(key)?.kind).first().cloned())
            };
            format!(
                "a zoom video (a frame every {} iterations, zoom {} and shift {},{} per frame)",
                plan.every,
                get("zoom_scale").unwrap_or_else(|| "0.99".into()),
                get("zoom_shift_x").unwrap_or_else(|| "0".into()),
                get("zoom_shift_y").unwrap_or_else(|| "0".into()),
            )
        }
    };
    let megapixels = f64::from(plan.frames) * f64::from(w) * f64::from(h) / 1e6;
    let mut line = format!(
        "{what}: {} frames x {w}x{h} pixels = {} megapixels to encode, {} s at {} frames per second, as <out_file>_N.mp4 beside each image",
        plan.frames,
        short(megapixels),
        short(plan.duration()),
        short(plan.fps)
    );
    if let Some(story) = story {
        line.push_str("; ");
        line.push_str(&story);
    }
    Some(line)
}

/// A number with at most two decimals, without trailing zeros: 10, 12.5, 0.33.
fn short(f: f64) -> String {
    let s = format!("{f:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(short(10.0), "10");
        assert_eq!(short(12.5), "12.5");
        assert_eq!(short(1.0 / 3.0), "0.33");
    }
}
