//! The option table of runvqgan (`src/options.rs`) and the engine's own definitions
//! (`python -m vqgan_clip.generate --options-json`) name the same options with the same
//! flags, job keys, kinds, value counts and choices; and `validate` accepts an optimiser
//! exactly when the engine does; and the README lists exactly the `raw` options of the
//! table. The engine tests run the project's `.venv` Python (CI always has it): without it
//! they fail, they do not skip.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::Shared;
use runvqgan::call::options::{GenOption, Kind, OPTIONS, Raw, Slot};
use serde_json::{Value, json};

/// The `-opt` choices of upstream `generate.py` (nerdyrodent/VQGAN-CLIP).
const UPSTREAM_OPTIMISERS: &[&str] = &[
    "Adam", "AdamW", "Adagrad", "Adamax", "DiffGrad", "AdamP", "RAdam", "RMSprop",
];

/// One option as the engine describes it.
#[derive(Debug, Clone)]
struct EngineOption {
    short: Option<String>,
    long: Option<String>,
    key: String,
    kind: String,
    /// `None` (one value), `"2"` or `"+"`.
    nargs: Option<String>,
    choices: Option<BTreeSet<String>>,
    cli_only: bool,
}

impl EngineOption {
    fn name(&self) -> &str {
        self.short
            .as_deref()
            .or(self.long.as_deref())
            .unwrap_or(&self.key)
    }
}

fn parse_engine_json(doc: &Value) -> Vec<EngineOption> {
    let text = |v: &Value| v.as_str().map(str::to_string);
    doc["options"]
        .as_array()
        .unwrap_or_else(|| panic!("no \"options\" list in {doc}"))
        .iter()
        .map(|o| EngineOption {
            short: text(&o["short"]),
            long: text(&o["long"]),
            key: text(&o["key"]).unwrap_or_else(|| panic!("an option without a key: {o}")),
            kind: text(&o["kind"]).unwrap_or_else(|| panic!("an option without a kind: {o}")),
            nargs: match &o["nargs"] {
                Value::Null => None,
                Value::Number(n) => Some(n.to_string()),
                Value::String(s) => Some(s.clone()),
                other => panic!("nargs {other} in {o}"),
            },
            choices: o["choices"].as_array().map(|c| {
                c.iter()
                    .map(|v| text(v).unwrap_or_else(|| v.to_string()))
                    .collect()
            }),
            cli_only: o["cli_only"]
                .as_bool()
                .unwrap_or_else(|| panic!("cli_only missing in {o}")),
        })
        .collect()
}

/// Every way the two tables disagree, one sentence each; empty when they agree.
fn disagreements(ours: &[GenOption], engine: &[EngineOption]) -> Vec<String> {
    let mut found = Vec::new();
    for o in ours {
        let Some(e) = engine.iter().find(|e| e.short.as_deref() == Some(o.short)) else {
            found.push(format!(
                "`{}` ({}) is in runvqgan's table but not in the engine's",
                o.short, o.key
            ));
            continue;
        };
        let (kind, nargs) = o.kind.engine_form();
        let choices = o
            .kind
            .choices()
            .map(|c| c.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());
        let mut differ = |what: &str, ours: String, theirs: String| {
            if ours != theirs {
                found.push(format!(
                    "`{}`: {what} is {ours} in runvqgan's table but {theirs} in the engine's",
                    o.short
                ));
            }
        };
        differ(
            "the long flag",
            o.long.to_string(),
            e.long.as_deref().unwrap_or("none").to_string(),
        );
        differ("the job key", o.key.to_string(), e.key.clone());
        differ("the kind", kind.to_string(), e.kind.clone());
        differ(
            "nargs",
            format!("{nargs:?}"),
            format!("{:?}", e.nargs.as_deref()),
        );
        differ(
            "the choices",
            format!("{choices:?}"),
            format!("{:?}", e.choices),
        );
        differ(
            "being a job key",
            (o.slot != Slot::Call).to_string(),
            (!e.cli_only).to_string(),
        );
    }
    for e in engine.iter().filter(|e| !e.cli_only) {
        if !ours.iter().any(|o| e.short.as_deref() == Some(o.short)) {
            found.push(format!(
                "the engine's `{}` (job key {}) is missing from runvqgan's table",
                e.name(),
                e.key
            ));
        }
    }
    found
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `python -m vqgan_clip.generate --options-json`, run once with the project's `.venv`.
fn engine_table() -> &'static Vec<EngineOption> {
    static TABLE: OnceLock<Vec<EngineOption>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let python = repo().join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/setup.sh --env-only (this test needs the engine)",
            python.display()
        );
        let out = Command::new(&python)
            .args(["-m", "vqgan_clip.generate", "--options-json"])
            .current_dir(repo().join("vendor"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .expect("the project's Python runs");
        assert!(
            out.status.success(),
            "`python -m vqgan_clip.generate --options-json` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "--options-json printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        parse_engine_json(&doc)
    })
}

#[test]
fn the_engine_and_runvqgan_name_the_same_options() {
    let found = disagreements(OPTIONS, engine_table());
    assert!(
        found.is_empty(),
        "the option tables disagree:\n{}",
        found.join("\n")
    );
}

#[test]
fn validate_accepts_an_optimiser_exactly_when_the_engine_does() {
    let engine_choices = engine_table()
        .iter()
        .find(|e| e.short.as_deref() == Some("-opt"))
        .and_then(|e| e.choices.clone())
        .expect("the engine lists -opt with its choices");
    let s = Shared::new();
    for name in UPSTREAM_OPTIMISERS {
        let rel = format!("tasks/opt_{name}.txt");
        s.write(
            &rel,
            json!({"text": "a dog", "out_file": format!("opt_{name}"), "raw": format!("-opt {name}")})
                .to_string(),
        );
        let (code, out) = s.validate(&rel);
        let engine_accepts = engine_choices.contains(*name);
        assert_eq!(
            code == 0,
            engine_accepts,
            "-opt {name}: validate exit code {code}, engine accepts it: {engine_accepts}\n{out}"
        );
        if !engine_accepts {
            assert!(out.contains("`-opt`"), "{out}");
        }
    }
}

#[test]
fn the_readme_lists_exactly_the_raw_options() {
    let readme = include_str!("../README.md");
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `raw` |"))
        .expect("the README's table of task fields has a `raw` row");
    let listed: Vec<&str> = row
        .split('`')
        .skip(3)
        .step_by(2)
        .filter(|w| w.starts_with('-'))
        .collect();
    let table: Vec<&str> = runvqgan::call::options::raw_allowed()
        .map(|o| o.short)
        .collect();
    assert_eq!(listed, table, "README row: {row}");
}

// The comparison itself, on hand-written engine JSON.

const LR: GenOption = GenOption {
    short: "-lr",
    long: "--learning_rate",
    key: "step_size",
    kind: Kind::PositiveNumber,
    slot: Slot::Extra,
    raw: Raw::Allowed,
    example: "-lr 0.05",
};
const OPT: GenOption = GenOption {
    short: "-opt",
    long: "--optimiser",
    key: "optimiser",
    kind: Kind::Choice(&["Adam", "AdamW"]),
    slot: Slot::Extra,
    raw: Raw::Allowed,
    example: "-opt Adam",
};
const MODEL: GenOption = GenOption {
    short: "-m",
    long: "--clip_model",
    key: "clip_model",
    kind: Kind::Text,
    slot: Slot::Call,
    raw: Raw::Refused("models"),
    example: "-m ViT-B/32",
};

fn hand_written() -> Value {
    json!({"options": [
        {"short": "-lr", "long": "--learning_rate", "key": "step_size", "kind": "float",
         "nargs": null, "choices": null, "default": 0.1, "cli_only": false},
        {"short": "-opt", "long": "--optimiser", "key": "optimiser", "kind": "str",
         "nargs": null, "choices": ["AdamW", "Adam"], "default": "Adam", "cli_only": false},
        {"short": "-m", "long": "--clip_model", "key": "clip_model", "kind": "str",
         "nargs": null, "choices": null, "default": "ViT-B/32", "cli_only": true},
        {"short": null, "long": "--mode", "key": "mode", "kind": "str",
         "nargs": null, "choices": ["fast", "reference"], "default": "fast", "cli_only": true}
    ]})
}

fn edited(edit: impl FnOnce(&mut Vec<Value>)) -> Vec<EngineOption> {
    let mut doc = hand_written();
    edit(doc["options"].as_array_mut().unwrap());
    parse_engine_json(&doc)
}

#[test]
fn tables_that_agree_have_no_disagreement() {
    let found = disagreements(&[LR, OPT, MODEL], &parse_engine_json(&hand_written()));
    assert_eq!(found, Vec::<String>::new());
}

#[test]
fn an_option_on_one_side_only_is_a_disagreement() {
    let found = disagreements(&[LR, OPT], &parse_engine_json(&hand_written()));
    assert!(
        found.is_empty(),
        "cli_only options may be ours alone: {found:?}"
    );
    let found = disagreements(&[LR, MODEL], &parse_engine_json(&hand_written()));
    assert_eq!(
        found,
        ["the engine's `-opt` (job key optimiser) is missing from runvqgan's table"]
    );
    let found = disagreements(
        &[LR, OPT, MODEL],
        &edited(|o| {
            o.remove(0);
        }),
    );
    assert_eq!(
        found,
        ["`-lr` (step_size) is in runvqgan's table but not in the engine's"]
    );
}

#[test]
fn a_different_choice_kind_count_or_key_is_a_disagreement() {
    let ours = [LR, OPT, MODEL];
    let one = |edit: fn(&mut Vec<Value>)| disagreements(&ours, &edited(edit));
    let found = one(|o| o[1]["choices"] = json!(["Adam", "AdamW", "DiffGrad"]));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("`-opt`: the choices"), "{found:?}");
    let found = one(|o| o[0]["kind"] = json!("int"));
    assert!(
        found[0].starts_with("`-lr`: the kind is float"),
        "{found:?}"
    );
    let found = one(|o| o[0]["nargs"] = json!("+"));
    assert!(found[0].starts_with("`-lr`: nargs"), "{found:?}");
    let found = one(|o| o[0]["key"] = json!("learning_rate"));
    assert!(found[0].starts_with("`-lr`: the job key"), "{found:?}");
    let found = one(|o| o[0]["long"] = json!("--lr"));
    assert!(found[0].starts_with("`-lr`: the long flag"), "{found:?}");
    let found = one(|o| o[2]["cli_only"] = json!(false));
    assert!(found[0].starts_with("`-m`: being a job key"), "{found:?}");
}

#[test]
fn the_engine_json_is_read_by_the_contract() {
    let doc = json!({"options": [
        {"short": "-s", "long": "--size", "key": "size", "kind": "int", "nargs": 2,
         "choices": null, "default": null, "cli_only": false}
    ]});
    let e = &parse_engine_json(&doc)[0];
    assert_eq!(e.nargs.as_deref(), Some("2"));
    assert_eq!(Kind::Size.engine_form(), ("int", Some("2")));
}
