//! The one table of `generate.py` options. Each option is named here once, with its flags,
//! the engine's job key (docs/interfaces.md section 1), how its values are read, whether a
//! task's `raw` may set it (or why not) and an example. Everything else is derived from
//! [`OPTIONS`]: the `raw` allow-list and its messages ([`crate::task::raw`]), sidecar
//! rendering and parsing ([`crate::call::sidecar`]) and the job sent to the engine
//! ([`crate::call::job::EngineOptions`]). `tests/options_agree.rs` checks the table against the
//! engine's own (`python -m vqgan_clip.generate --options-json`).

use serde::{Deserialize, Serialize};

/// How the values of an option are written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One word of text.
    Text,
    /// Paths joined by `|` in one word on the command line; a list in the job.
    Paths,
    /// A whole number of 1 or more.
    Count,
    /// A whole number from 0 to 2^64 - 1.
    Seed,
    /// Any whole number, negative too.
    Int,
    /// Any finite number.
    Number,
    /// A finite number above 0.
    PositiveNumber,
    /// Two whole numbers: width and height.
    Size,
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// One or more of a fixed list of words.
    Choices(&'static [&'static str]),
    /// One or more whole numbers.
    Ints,
    /// One or more numbers.
    Numbers,
    /// No value: present or not.
    Switch,
}

impl Kind {
    /// How many words follow the flag: `Some(n)` exactly n, `None` one or more.
    pub fn arity(self) -> Option<usize> {
        match self {
            Kind::Switch => Some(0),
            Kind::Size => Some(2),
            Kind::Choices(_) | Kind::Ints | Kind::Numbers => None,
            _ => Some(1),
        }
    }

    /// The values it accepts, for a kind with a fixed list.
    pub fn choices(self) -> Option<&'static [&'static str]> {
        match self {
            Kind::Choice(c) | Kind::Choices(c) => Some(c),
            _ => None,
        }
    }

    /// `(kind, nargs)` as the engine's `--options-json` describes an option: kind is
    /// `float`, `int`, `str` or `flag`; nargs `None` (one value), `"2"` or `"+"`.
    pub fn engine_form(self) -> (&'static str, Option<&'static str>) {
        match self {
            Kind::Text | Kind::Paths | Kind::Choice(_) => ("str", None),
            Kind::Count | Kind::Seed | Kind::Int => ("int", None),
            Kind::Number | Kind::PositiveNumber => ("float", None),
            Kind::Size => ("int", Some("2")),
            Kind::Choices(_) => ("str", Some("+")),
            Kind::Ints => ("int", Some("+")),
            Kind::Numbers => ("float", Some("+")),
            Kind::Switch => ("flag", None),
        }
    }

    /// Reads the words after the flag (already counted by [`Kind::arity`]) into a value,
    /// or says what was expected ("a number above 0").
    pub fn parse(self, words: &[String]) -> Result<Value, String> {
        let number = |v: &str| v.parse::<f64>().ok().filter(|f| f.is_finite());
        let first = words.first().map(String::as_str).unwrap_or_default();
        match self {
            Kind::Switch => Ok(Value::Switch),
            Kind::Text => Ok(Value::Text(first.to_string())),
            Kind::Paths => Ok(Value::Texts(first.split('|').map(str::to_string).collect())),
            Kind::Count => first
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .map(|n| Value::Int(n.into()))
                .ok_or_else(|| "a whole number of 1 or more".into()),
            Kind::Seed => first
                .parse::<u64>()
                .map(Value::Seed)
                .map_err(|_| "a whole number of 0 or more".into()),
            Kind::Int => first
                .parse::<i64>()
                .map(Value::Int)
                .map_err(|_| "a whole number".into()),
            Kind::Number => number(first)
                .map(Value::Number)
                .ok_or_else(|| "a number".into()),
            Kind::PositiveNumber => number(first)
                .filter(|f| *f > 0.0)
                .map(Value::Number)
                .ok_or_else(|| "a number above 0".into()),
            Kind::Size => {
                let side = |v: &String| v.parse::<u32>().ok().filter(|n| *n >= 1);
                match (words.first().and_then(side), words.get(1).and_then(side)) {
                    (Some(w), Some(h)) => Ok(Value::Size([w, h])),
                    _ => Err("two whole numbers, width and height".into()),
                }
            }
            Kind::Choice(choices) => {
                if choices.contains(&first) {
                    Ok(Value::Text(first.to_string()))
                } else {
                    Err(format!("one of {}", choices.join(", ")))
                }
            }
            Kind::Choices(choices) => {
                if words.iter().all(|w| choices.contains(&w.as_str())) {
                    Ok(Value::Texts(words.to_vec()))
                } else {
                    Err(format!("values from {}", choices.join(", ")))
                }
            }
            Kind::Ints => words
                .iter()
                .map(|w| w.parse::<i64>().ok())
                .collect::<Option<Vec<_>>>()
                .map(Value::Ints)
                .ok_or_else(|| "whole numbers".into()),
            Kind::Numbers => words
                .iter()
                .map(|w| number(w))
                .collect::<Option<Vec<_>>>()
                .map(Value::Numbers)
                .ok_or_else(|| "numbers".into()),
        }
    }
}

/// The value of one option. Its serde form names the variant (what the owner's indexes
/// keep); the engine's job dict holds it as [`JobValue`] writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// A [`Kind::Switch`] that is present (`true` in the job).
    Switch,
    /// One word.
    Text(String),
    /// Several words (or `|`-separated paths).
    Texts(Vec<String>),
    /// A whole number.
    Int(i64),
    /// A seed.
    Seed(u64),
    /// A number.
    Number(f64),
    /// Whole numbers.
    Ints(Vec<i64>),
    /// Numbers.
    Numbers(Vec<f64>),
    /// Width and height.
    Size([u32; 2]),
}

impl Value {
    /// The words that follow the flag on a command line (nothing for a switch; `|`-joined
    /// paths as one word).
    pub fn words(&self, kind: Kind) -> Vec<String> {
        match self {
            Value::Switch => vec![],
            Value::Text(t) => vec![t.clone()],
            Value::Texts(t) if kind == Kind::Paths => vec![t.join("|")],
            Value::Texts(t) => t.clone(),
            Value::Int(n) => vec![n.to_string()],
            Value::Seed(n) => vec![n.to_string()],
            Value::Number(f) => vec![f.to_string()],
            Value::Ints(v) => v.iter().map(i64::to_string).collect(),
            Value::Numbers(v) => v.iter().map(f64::to_string).collect(),
            Value::Size([w, h]) => vec![w.to_string(), h.to_string()],
        }
    }

    /// A value given again: lists add up (as `generate.py`'s `-aug` does), anything else is
    /// replaced by the later value.
    pub fn combine(self, later: Value) -> Value {
        match (self, later) {
            (Value::Texts(mut a), Value::Texts(b)) => {
                a.extend(b);
                Value::Texts(a)
            }
            (Value::Ints(mut a), Value::Ints(b)) => {
                a.extend(b);
                Value::Ints(a)
            }
            (Value::Numbers(mut a), Value::Numbers(b)) => {
                a.extend(b);
                Value::Numbers(a)
            }
            (_, later) => later,
        }
    }
}

/// A [`Value`] as the engine's job dict holds it: a switch as `true`, anything else as its
/// text, number or list, without the variant's name.
pub struct JobValue<'a>(pub &'a Value);

impl Serialize for JobValue<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Switch => s.serialize_bool(true),
            Value::Text(t) => t.serialize(s),
            Value::Texts(t) => t.serialize(s),
            Value::Int(n) => n.serialize(s),
            Value::Seed(n) => n.serialize(s),
            Value::Number(f) => f.serialize(s),
            Value::Ints(v) => v.serialize(s),
            Value::Numbers(v) => v.serialize(s),
            Value::Size(v) => v.serialize(s),
        }
    }
}

/// Where an option's value lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A field of [`crate::call::job::Job`] that runvqgan fills from the task (prompt, size, ...).
    Job,
    /// An extra engine setting, kept in [`crate::call::job::EngineOptions`] under its key.
    Extra,
    /// Not part of the job: the models, device and determinism of the call, which the
    /// owner's configuration decides. Sidecars record them.
    Call,
}

/// Whether a task's `raw` may set an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raw {
    /// Allowed.
    Allowed,
    /// Refused, with the reason and the fix, shown to the member.
    Refused(&'static str),
}

/// One `generate.py` option.
#[derive(Debug, Clone, Copy)]
pub struct GenOption {
    /// The short flag, `-lr`: the name runvqgan writes and reports.
    pub short: &'static str,
    /// The long flag, `--learning_rate`.
    pub long: &'static str,
    /// The engine's job key (argparse `dest`), `step_size`.
    pub key: &'static str,
    /// How its values are read.
    pub kind: Kind,
    /// Where its value lives.
    pub slot: Slot,
    /// Whether `raw` may set it.
    pub raw: Raw,
    /// An example as a member would write it in `raw`.
    pub example: &'static str,
}

/// The cut methods the engine accepts.
pub const CUT_METHODS: &[&str] = &[
    "original",
    "updated",
    "nrupdated",
    "updatedpooling",
    "latest",
];
/// The optimisers the engine accepts: all of `generate.py`'s.
pub const OPTIMISERS: &[&str] = &[
    "Adam", "AdamW", "Adagrad", "Adamax", "DiffGrad", "AdamP", "RAdam", "RMSprop",
];
/// The augmentation codes the engine accepts.
pub const AUGMENTS: &[&str] = &[
    "Ji", "Sh", "Gn", "Pe", "Ro", "Af", "Et", "Ts", "Cr", "Er", "Re",
];
/// The values of `-in`.
pub const INIT_NOISE: &[&str] = &["pixels", "gradient"];

const MODELS_REFUSED: Raw = Raw::Refused(
    "the models are chosen by the workstation owner in runvqgan.toml; ask them to add a model set",
);
const DEVICE_REFUSED: Raw =
    Raw::Refused("the device and determinism are set by the workstation owner");

const fn opt(
    short: &'static str,
    long: &'static str,
    key: &'static str,
    kind: Kind,
    slot: Slot,
    raw: Raw,
    example: &'static str,
) -> GenOption {
    GenOption {
        short,
        long,
        key,
        kind,
        slot,
        raw,
        example,
    }
}

/// Every option runvqgan knows, in the order a sidecar's call lists them.
#[rustfmt::skip]
pub const OPTIONS: &[GenOption] = &[
    opt("-p", "--prompts", "prompts", Kind::Text, Slot::Job,
        Raw::Refused("the prompt comes from `text`"), "-p 'a dog:1|a cat:0.5'"),
    opt("-ip", "--image_prompts", "image_prompts", Kind::Paths, Slot::Job,
        Raw::Refused("use the field `in_file` for an image prompt"), "-ip photo.png"),
    opt("-ii", "--init_image", "init_image", Kind::Text, Slot::Job,
        Raw::Refused("use the field `template_file` for an initial image"), "-ii start.png"),
    opt("-i", "--iterations", "iterations", Kind::Count, Slot::Job,
        Raw::Refused("use the field `iterations`"), "-i 200"),
    opt("-s", "--size", "size", Kind::Size, Slot::Job,
        Raw::Refused("use the fields `resolution` and `portrait`"), "-s 450 300"),
    opt("-sd", "--seed", "seed", Kind::Seed, Slot::Job,
        Raw::Refused("use the field `seed`"), "-sd 1234"),
    opt("-m", "--clip_model", "clip_model", Kind::Text, Slot::Call, MODELS_REFUSED,
        "-m ViT-B/32"),
    opt("-conf", "--vqgan_config", "vqgan_config", Kind::Text, Slot::Call, MODELS_REFUSED,
        "-conf models/vqgan.yaml"),
    opt("-ckpt", "--vqgan_checkpoint", "vqgan_checkpoint", Kind::Text, Slot::Call,
        MODELS_REFUSED, "-ckpt models/vqgan.ckpt"),
    opt("-lr", "--learning_rate", "step_size", Kind::PositiveNumber, Slot::Extra,
        Raw::Allowed, "-lr 0.05"),
    opt("-cuts", "--num_cuts", "cutn", Kind::Count, Slot::Extra, Raw::Allowed, "-cuts 64"),
    opt("-cutm", "--cut_method", "cut_method", Kind::Choice(CUT_METHODS), Slot::Extra,
        Raw::Allowed, "-cutm latest"),
    opt("-cutp", "--cut_power", "cut_pow", Kind::PositiveNumber, Slot::Extra, Raw::Allowed,
        "-cutp 1.0"),
    opt("-opt", "--optimiser", "optimiser", Kind::Choice(OPTIMISERS), Slot::Extra,
        Raw::Allowed, "-opt AdamW"),
    opt("-aug", "--augments", "augments", Kind::Choices(AUGMENTS), Slot::Extra, Raw::Allowed,
        "-aug Ji Sh Af"),
    opt("-iw", "--init_weight", "init_weight", Kind::Number, Slot::Extra, Raw::Allowed,
        "-iw 0.5"),
    opt("-in", "--init_noise", "init_noise", Kind::Choice(INIT_NOISE), Slot::Extra,
        Raw::Allowed, "-in pixels"),
    opt("-se", "--save_every", "save_every", Kind::Count, Slot::Extra, Raw::Allowed,
        "-se 50"),
    opt("-nps", "--noise_prompt_seeds", "noise_prompt_seeds", Kind::Ints, Slot::Extra,
        Raw::Allowed, "-nps 1 2"),
    opt("-npw", "--noise_prompt_weights", "noise_prompt_weights", Kind::Numbers, Slot::Extra,
        Raw::Allowed, "-npw 0.5 0.5"),
    // generate.py's videos and story mode (vendor/vqgan_clip/video.py); a task asks for them
    // with the fields of crate::task::video or through `raw`
    opt("-vid", "--video", "make_video", Kind::Switch, Slot::Extra, Raw::Allowed, "-vid"),
    opt("-zvid", "--zoom_video", "make_zoom_video", Kind::Switch, Slot::Extra, Raw::Allowed,
        "-zvid"),
    opt("-zs", "--zoom_start", "zoom_start", Kind::Int, Slot::Extra, Raw::Allowed, "-zs 20"),
    opt("-zse", "--zoom_save_every", "zoom_frequency", Kind::Count, Slot::Extra, Raw::Allowed,
        "-zse 10"),
    opt("-zsc", "--zoom_scale", "zoom_scale", Kind::PositiveNumber, Slot::Extra, Raw::Allowed,
        "-zsc 1.02"),
    opt("-zsx", "--zoom_shift_x", "zoom_shift_x", Kind::Int, Slot::Extra, Raw::Allowed,
        "-zsx -2"),
    opt("-zsy", "--zoom_shift_y", "zoom_shift_y", Kind::Int, Slot::Extra, Raw::Allowed,
        "-zsy 1"),
    opt("-cpe", "--change_prompt_every", "prompt_frequency", Kind::Count, Slot::Extra,
        Raw::Allowed, "-cpe 50"),
    opt("-vl", "--video_length", "video_length", Kind::PositiveNumber, Slot::Extra,
        Raw::Allowed, "-vl 10"),
    opt("-cd", "--cuda_device", "device", Kind::Text, Slot::Call, DEVICE_REFUSED, "-cd cuda:1"),
    opt("-d", "--deterministic", "deterministic", Kind::Switch, Slot::Call, DEVICE_REFUSED,
        "-d"),
    opt("-o", "--output", "output", Kind::Text, Slot::Job,
        Raw::Refused("runvqgan names the output files itself; use `out_file` and `out_folder`"),
        "-o output/dog_1.png"),
];

/// `generate.py`'s flags for interpolated videos and for styling a folder of video frames:
/// neither the engine nor runvqgan supports them.
#[rustfmt::skip]
pub const UNSUPPORTED: &[&str] = &[
    "-ofps", "--output_video_fps", "-ifps", "--input_video_fps", "-vsd", "--video_style_dir",
];

/// Why `raw` may not use one of [`UNSUPPORTED`].
pub const UNSUPPORTED_REASON: &str = "interpolated videos and styling a folder of frames are not supported; runvqgan makes progress videos (-vid) and zoom videos (-zvid)";

/// The option with this short or long flag.
pub fn find(flag: &str) -> Option<&'static GenOption> {
    OPTIONS.iter().find(|o| o.short == flag || o.long == flag)
}

/// The option with this job key.
pub fn by_key(key: &str) -> Option<&'static GenOption> {
    OPTIONS.iter().find(|o| o.key == key)
}

/// The options a task's `raw` may set, in table order.
pub fn raw_allowed() -> impl Iterator<Item = &'static GenOption> {
    OPTIONS.iter().filter(|o| o.raw == Raw::Allowed)
}

/// Whether a word on a command line is a flag (negative numbers are values).
pub fn is_flag(word: &str) -> bool {
    word.starts_with('-') && word.parse::<f64>().is_err()
}

/// Splits `--long=value` into the flag and its inline value.
pub fn split_inline(word: &str) -> (&str, Option<&str>) {
    match word.split_once('=') {
        Some((name, value)) if name.starts_with("--") => (name, Some(value)),
        _ => (word, None),
    }
}

/// Takes the words that belong to an option from `words[*i..]`, advancing `*i`: exactly its
/// arity, or for a list every word up to the next flag.
pub fn take_values(kind: Kind, words: &[String], i: &mut usize) -> Vec<String> {
    let mut values = Vec::new();
    while *i < words.len() {
        let more = match kind.arity() {
            Some(n) => values.len() < n && !is_flag(&words[*i]),
            None => !is_flag(&words[*i]),
        };
        if !more {
            break;
        }
        values.push(words[*i].clone());
        *i += 1;
    }
    values
}

#[cfg(test)]
mod tests;
