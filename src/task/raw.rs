//! The `raw` field: extra `generate.py` options, accepted only from an allow-list and
//! type-checked, mapped onto [`EngineOptions`]. The text is split into words like a shell
//! would (quotes group words) but no shell is ever run.

use crate::job::EngineOptions;

/// How the values of an allowed option are read.
#[derive(Clone, Copy)]
enum Kind {
    Float,
    PositiveFloat,
    PositiveInt,
    Choice(&'static [&'static str]),
    Choices(&'static [&'static str]),
    Ints,
    Floats,
}

struct Allowed {
    short: &'static str,
    long: &'static str,
    kind: Kind,
}

/// Cut methods of `generate.py`.
pub const CUT_METHODS: &[&str] = &[
    "original",
    "updated",
    "nrupdated",
    "updatedpooling",
    "latest",
];
/// Optimisers of `generate.py`.
pub const OPTIMISERS: &[&str] = &[
    "Adam", "AdamW", "Adagrad", "Adamax", "DiffGrad", "AdamP", "RAdam", "RMSprop",
];
/// Augmentations of `generate.py`.
pub const AUGMENTS: &[&str] = &[
    "Ji", "Sh", "Gn", "Pe", "Ro", "Af", "Et", "Ts", "Cr", "Er", "Re",
];
/// Values of `-in`.
pub const INIT_NOISE: &[&str] = &["pixels", "gradient"];

const ALLOWED: &[Allowed] = &[
    Allowed {
        short: "-lr",
        long: "--learning_rate",
        kind: Kind::PositiveFloat,
    },
    Allowed {
        short: "-cuts",
        long: "--num_cuts",
        kind: Kind::PositiveInt,
    },
    Allowed {
        short: "-cutm",
        long: "--cut_method",
        kind: Kind::Choice(CUT_METHODS),
    },
    Allowed {
        short: "-cutp",
        long: "--cut_power",
        kind: Kind::PositiveFloat,
    },
    Allowed {
        short: "-opt",
        long: "--optimiser",
        kind: Kind::Choice(OPTIMISERS),
    },
    Allowed {
        short: "-aug",
        long: "--augments",
        kind: Kind::Choices(AUGMENTS),
    },
    Allowed {
        short: "-iw",
        long: "--init_weight",
        kind: Kind::Float,
    },
    Allowed {
        short: "-in",
        long: "--init_noise",
        kind: Kind::Choice(INIT_NOISE),
    },
    Allowed {
        short: "-se",
        long: "--save_every",
        kind: Kind::PositiveInt,
    },
    Allowed {
        short: "-nps",
        long: "--noise_prompt_seeds",
        kind: Kind::Ints,
    },
    Allowed {
        short: "-npw",
        long: "--noise_prompt_weights",
        kind: Kind::Floats,
    },
];

/// Options of `generate.py` that a task may not set, with the reason and the fix.
const REFUSED: &[(&[&str], &str)] = &[
    (&["-p", "--prompts"], "the prompt comes from `text`"),
    (
        &["-ip", "--image_prompts"],
        "use the field `in_file` for an image prompt",
    ),
    (
        &["-ii", "--init_image"],
        "use the field `template_file` for an initial image",
    ),
    (&["-i", "--iterations"], "use the field `iterations`"),
    (
        &["-s", "--size"],
        "use the fields `resolution` and `portrait`",
    ),
    (&["-sd", "--seed"], "use the field `seed`"),
    (
        &["-o", "--output"],
        "runvqgan names the output files itself; use `out_file` and `out_folder`",
    ),
    (
        &[
            "-m",
            "--clip_model",
            "-conf",
            "--vqgan_config",
            "-ckpt",
            "--vqgan_checkpoint",
        ],
        "the models are chosen by the workstation owner in runvqgan.toml; ask them to add a model set",
    ),
    (
        &["-cd", "--cuda_device", "-d", "--deterministic"],
        "the device and determinism are set by the workstation owner",
    ),
    (
        &[
            "-vid",
            "--video",
            "-zvid",
            "--zoom_video",
            "-zs",
            "--zoom_start",
            "-zse",
            "--zoom_save_every",
            "-zsc",
            "--zoom_scale",
            "-zsx",
            "--zoom_shift_x",
            "-zsy",
            "--zoom_shift_y",
            "-cpe",
            "--change_prompt_every",
            "-vl",
            "--video_length",
            "-ofps",
            "--output_video_fps",
            "-ifps",
            "--input_video_fps",
            "-vsd",
            "--video_style_dir",
        ],
        "videos are not supported; runvqgan makes still images",
    ),
];

fn allowed_list() -> String {
    ALLOWED
        .iter()
        .map(|a| a.short)
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_option(word: &str) -> bool {
    word.starts_with('-') && word.parse::<f64>().is_err()
}

/// Parses `raw` into engine options; returns one sentence per problem.
pub fn parse(raw: &str) -> Result<EngineOptions, Vec<String>> {
    let Some(words) = shlex::split(raw) else {
        return Err(vec![format!(
            "{raw:?} has a quote that is never closed; close it or remove it."
        )]);
    };
    let mut opts = EngineOptions::default();
    let mut problems = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (word.as_str(), None),
        };
        if !is_option(name) {
            problems.push(format!(
                "{name:?} is not an option (options start with `-`, e.g. \"-lr 0.05 -cuts 64\"); remove it or put the option name before it."
            ));
            continue;
        }
        let Some(spec) = ALLOWED.iter().find(|a| a.short == name || a.long == name) else {
            let reason = REFUSED
                .iter()
                .find(|(names, _)| names.contains(&name))
                .map(|(_, why)| why.to_string());
            problems.push(match reason {
                Some(why) => format!("the option `{name}` is not allowed: {why}."),
                None => format!(
                    "`{name}` is not an option runvqgan accepts in `raw`; the allowed options are {}.",
                    allowed_list()
                ),
            });
            // Skip its values so they do not raise a second complaint.
            while i < words.len() && !is_option(&words[i]) {
                i += 1;
            }
            continue;
        };
        let mut values: Vec<String> = Vec::new();
        if let Some(v) = inline {
            values.push(v);
        } else {
            let multi = matches!(spec.kind, Kind::Choices(_) | Kind::Ints | Kind::Floats);
            while i < words.len() && !is_option(&words[i]) {
                values.push(words[i].clone());
                i += 1;
                if !multi {
                    break;
                }
            }
        }
        if let Err(p) = apply(&mut opts, spec, &values) {
            problems.push(p);
        }
    }
    if problems.is_empty() {
        Ok(opts)
    } else {
        Err(problems)
    }
}

fn apply(opts: &mut EngineOptions, spec: &Allowed, values: &[String]) -> Result<(), String> {
    let name = spec.short;
    let one = || -> Result<&str, String> {
        match values {
            [v] => Ok(v.as_str()),
            [] => Err(format!(
                "the option `{name}` needs a value, e.g. {}.",
                example(spec)
            )),
            _ => Err(format!(
                "the option `{name}` takes one value, not {}.",
                values.len()
            )),
        }
    };
    let bad = |v: &str, what: &str| {
        format!(
            "the option `{name}` needs {what}, but got {v:?}; e.g. {}.",
            example(spec)
        )
    };
    let float = |v: &str| v.parse::<f64>().ok().filter(|f| f.is_finite());
    match spec.kind {
        Kind::Float | Kind::PositiveFloat => {
            let v = one()?;
            let positive = matches!(spec.kind, Kind::PositiveFloat);
            let f = float(v).filter(|f| !positive || *f > 0.0).ok_or_else(|| {
                bad(
                    v,
                    if positive {
                        "a number above 0"
                    } else {
                        "a number"
                    },
                )
            })?;
            match name {
                "-lr" => opts.step_size = Some(f),
                "-cutp" => opts.cut_pow = Some(f),
                "-iw" => opts.init_weight = Some(f),
                _ => unreachable!("float option {name}"),
            }
        }
        Kind::PositiveInt => {
            let v = one()?;
            let n = v
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad(v, "a whole number of 1 or more"))?;
            match name {
                "-cuts" => opts.cutn = Some(n),
                "-se" => opts.save_every = Some(n),
                _ => unreachable!("int option {name}"),
            }
        }
        Kind::Choice(choices) => {
            let v = one()?;
            if !choices.contains(&v) {
                return Err(bad(v, &format!("one of {}", choices.join(", "))));
            }
            match name {
                "-cutm" => opts.cut_method = Some(v.to_string()),
                "-opt" => opts.optimiser = Some(v.to_string()),
                "-in" => opts.init_noise = Some(v.to_string()),
                _ => unreachable!("choice option {name}"),
            }
        }
        Kind::Choices(choices) => {
            if values.is_empty() {
                return Err(format!(
                    "the option `{name}` needs at least one value, e.g. {}.",
                    example(spec)
                ));
            }
            for v in values {
                if !choices.contains(&v.as_str()) {
                    return Err(bad(v, &format!("values from {}", choices.join(", "))));
                }
                opts.augments.push(v.clone());
            }
        }
        Kind::Ints => {
            for v in values {
                opts.noise_prompt_seeds
                    .push(v.parse::<i64>().map_err(|_| bad(v, "whole numbers"))?);
            }
        }
        Kind::Floats => {
            for v in values {
                opts.noise_prompt_weights
                    .push(float(v).ok_or_else(|| bad(v, "numbers"))?);
            }
        }
    }
    Ok(())
}

fn example(spec: &Allowed) -> &'static str {
    match spec.short {
        "-lr" => "\"-lr 0.05\"",
        "-cuts" => "\"-cuts 64\"",
        "-cutm" => "\"-cutm latest\"",
        "-cutp" => "\"-cutp 1.0\"",
        "-opt" => "\"-opt AdamW\"",
        "-aug" => "\"-aug Ji Sh Af\"",
        "-iw" => "\"-iw 0.5\"",
        "-in" => "\"-in pixels\"",
        "-se" => "\"-se 50\"",
        "-nps" => "\"-nps 1 2\"",
        _ => "\"-npw 0.5 0.5\"",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_allowed_options_onto_job_keys() {
        let o = parse("-lr 0.05 -cuts 64 -cutm updated -aug Ji Sh -opt AdamW -in gradient -iw 0.5 -nps 1 2 -npw 0.5 -0.5 -se 10 -cutp 2").unwrap();
        assert_eq!(o.step_size, Some(0.05));
        assert_eq!(o.cutn, Some(64));
        assert_eq!(o.cut_method.as_deref(), Some("updated"));
        assert_eq!(o.augments, vec!["Ji", "Sh"]);
        assert_eq!(o.optimiser.as_deref(), Some("AdamW"));
        assert_eq!(o.init_noise.as_deref(), Some("gradient"));
        assert_eq!(o.noise_prompt_seeds, vec![1, 2]);
        assert_eq!(o.noise_prompt_weights, vec![0.5, -0.5]);
        assert_eq!(o.save_every, Some(10));
        assert_eq!(o.cut_pow, Some(2.0));
    }

    #[test]
    fn refuses_output_model_and_device_options_with_reason() {
        let e = parse("-o x.png -m ViT-L/14 -cd 1 -s 10 10").unwrap_err();
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(
            e[0].contains("`-o` is not allowed") && e[0].contains("out_file"),
            "{e:?}"
        );
        assert!(e[1].contains("runvqgan.toml"), "{e:?}");
        assert!(parse("-xyz 1").unwrap_err()[0].contains("allowed options are"));
        assert!(parse("-lr abc").unwrap_err()[0].contains("\"abc\""));
        assert!(parse("-cuts 0").is_err());
    }
}
