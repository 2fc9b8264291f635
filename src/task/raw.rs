//! The `raw` field: extra `generate.py` options, accepted only from the allow-list of the
//! option table ([`crate::call::options`]) and type-checked into [`EngineOptions`]. The text is
//! split into words like a shell would (quotes group words) but no shell is ever run.

use crate::call::job::EngineOptions;
use crate::call::options::{self, GenOption, Raw};

fn allowed_list() -> String {
    options::raw_allowed()
        .map(|o| o.short)
        .collect::<Vec<_>>()
        .join(" ")
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
        let (name, inline) = options::split_inline(&words[i]);
        i += 1;
        if !options::is_flag(name) {
            problems.push(format!(
                "{name:?} is not an option (options start with `-`, e.g. \"-lr 0.05 -cuts 64\"); remove it or put the option name before it."
            ));
            continue;
        }
        let refusal = match options::find(name) {
            Some(o) if o.raw == Raw::Allowed => None,
            Some(GenOption {
                raw: Raw::Refused(why),
                ..
            }) => Some(format!("the option `{name}` is not allowed: {why}.")),
            _ if options::UNSUPPORTED.contains(&name) => Some(format!(
                "the option `{name}` is not allowed: {}.",
                options::UNSUPPORTED_REASON
            )),
            _ => Some(format!(
                "`{name}` is not an option runvqgan accepts in `raw`; the allowed options are {}.",
                allowed_list()
            )),
        };
        if let Some(problem) = refusal {
            problems.push(problem);
            // Skip its values so they do not raise a second complaint.
            while i < words.len() && !options::is_flag(&words[i]) {
                i += 1;
            }
            continue;
        }
        let option = options::find(name).expect("an allowed option");
        let values = match inline {
            Some(v) => vec![v.to_string()],
            None => options::take_values(option.kind, &words, &mut i),
        };
        match check_count(option, &values).and_then(|()| {
            option.kind.parse(&values).map_err(|what| {
                format!(
                    "the option `{}` needs {what}, but got {:?}; e.g. \"{}\".",
                    option.short,
                    values.join(" "),
                    option.example
                )
            })
        }) {
            Ok(value) => opts.set(option, value),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(opts)
    } else {
        Err(problems)
    }
}

/// The job key of `-se` (`--save_every`): generate.py saves the image at the multiples of it.
pub const SAVE_EVERY: &str = "save_every";

/// Makes the saved image the one after the last iteration. generate.py saves an image only at
/// the multiples of `-se` (50 unless given), so `-i 20` would save the untouched start image
/// and `-i 120` the image after 100. Without a `-se` in `raw` the task gets `-se` equal to its
/// iterations, which the sidecar's call then carries, so upstream generate.py gives the same
/// image; a `-se` the member chose that saves earlier is kept, with the warning returned.
pub fn save_at_last(options: &mut EngineOptions, iterations: u32) -> Option<String> {
    let option = options::by_key(SAVE_EVERY).expect("the option table has -se");
    match options.get(SAVE_EVERY) {
        None => {
            options.set(option, options::Value::Int(iterations.into()));
            None
        }
        Some(options::Value::Int(every)) if *every > 0 => {
            let saved = i64::from(iterations) - i64::from(iterations) % every;
            (saved < i64::from(iterations)).then(|| {
                let se = format!("{} {every}", option.short);
                let which = if saved == 0 {
                    "the untouched start picture, before any iteration".to_string()
                } else {
                    format!("the picture after {saved} of the {iterations} iterations")
                };
                format!(
                    "`raw` sets `{se}`, and pictures are saved only at multiples of {every}, so the picture saved is {which}. Remove `{se}` from `raw` to get the picture after the last iteration, or make `iterations` a multiple of {every}."
                )
            })
        }
        Some(_) => None,
    }
}

/// An option without its value(s), or with too many (`--long=a` gives one).
fn check_count(option: &GenOption, values: &[String]) -> Result<(), String> {
    let name = option.short;
    let e = option.example;
    match (option.kind.arity(), values.len()) {
        (Some(n), got) if n == got => Ok(()),
        (None, got) if got > 0 => Ok(()),
        (Some(1), 0) => Err(format!("the option `{name}` needs a value, e.g. \"{e}\".")),
        (_, 0) => Err(format!(
            "the option `{name}` needs at least one value, e.g. \"{e}\"."
        )),
        (_, got) => Err(format!(
            "the option `{name}` takes a different number of values than {got}, e.g. \"{e}\"."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_allowed_options_onto_job_keys() {
        use crate::call::options::Value;
        let o = parse("-lr 0.05 -cuts 64 -cutm updated -aug Ji Sh -opt AdamW -in gradient -iw 0.5 -nps 1 2 -npw 0.5 -0.5 -se 10 -cutp 2").unwrap();
        let text = |s: &str| Some(Value::Text(s.into()));
        assert_eq!(o.get("step_size"), Some(&Value::Number(0.05)));
        assert_eq!(o.get("cutn"), Some(&Value::Int(64)));
        assert_eq!(o.get("cut_method").cloned(), text("updated"));
        assert_eq!(
            o.get("augments"),
            Some(&Value::Texts(vec!["Ji".into(), "Sh".into()]))
        );
        assert_eq!(o.get("optimiser").cloned(), text("AdamW"));
        assert_eq!(o.get("init_noise").cloned(), text("gradient"));
        assert_eq!(o.get("noise_prompt_seeds"), Some(&Value::Ints(vec![1, 2])));
        assert_eq!(
            o.get("noise_prompt_weights"),
            Some(&Value::Numbers(vec![0.5, -0.5]))
        );
        assert_eq!(o.get("save_every"), Some(&Value::Int(10)));
        assert_eq!(o.get("cut_pow"), Some(&Value::Number(2.0)));
        assert_eq!(o.get("init_weight"), Some(&Value::Number(0.5)));
    }

    #[test]
    fn the_saved_picture_is_the_last_iteration_unless_raw_says_otherwise() {
        use crate::call::options::Value;
        let mut o = parse("-lr 0.05").unwrap();
        assert_eq!(save_at_last(&mut o, 20), None);
        assert_eq!(o.get("save_every"), Some(&Value::Int(20)));
        let mut o = parse("-se 10").unwrap();
        assert_eq!(save_at_last(&mut o, 40), None);
        assert_eq!(o.get("save_every"), Some(&Value::Int(10)));
        let w = save_at_last(&mut parse("-se 50").unwrap(), 120).unwrap();
        assert!(
            w.contains("the picture after 100 of the 120 iterations"),
            "{w}"
        );
        let w = save_at_last(&mut parse("-se 50").unwrap(), 20).unwrap();
        assert!(w.contains("the untouched start picture"), "{w}");
    }

    #[test]
    fn every_optimiser_of_generate_py_is_accepted() {
        for name in crate::call::options::OPTIMISERS {
            assert!(parse(&format!("-opt {name}")).is_ok(), "{name}");
        }
        assert!(parse("-opt SGD").unwrap_err()[0].contains("one of Adam, AdamW"));
    }

    #[test]
    fn long_names_inline_values_and_missing_values() {
        use crate::call::options::Value;
        let o = parse("--learning_rate=0.2 --augments Ji").unwrap();
        assert_eq!(
            o.get("step_size"),
            Some(&crate::call::options::Value::Number(0.2))
        );
        assert!(parse("-lr").unwrap_err()[0].contains("needs a value, e.g. \"-lr 0.05\""));
        assert!(parse("-aug").unwrap_err()[0].contains("at least one value"));
        assert!(parse("-ofps 30").unwrap_err()[0].contains("interpolated videos"));
        let video = parse("-zvid -zsx -2 -zsc 1.05").unwrap();
        assert_eq!(video.get("make_zoom_video"), Some(&Value::Switch));
        assert_eq!(video.get("zoom_shift_x"), Some(&Value::Int(-2)));
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
