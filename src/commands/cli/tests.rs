//! Tests of `cli`.

use super::*;
use crate::config::{Config, ConfigOverrides, EngineMode};
use clap::CommandFactory;

fn overrides(args: &[&str]) -> ConfigOverrides {
    let cli = Cli::try_parse_from(args).unwrap();
    match &cli.command {
        Command::Run(a) => ConfigOverrides::from_flags(a),
        Command::Plan(a) => ConfigOverrides::from_flags(a),
        Command::Check(a) => ConfigOverrides::from_flags(a),
        Command::Validate(a) => ConfigOverrides::from_flags(a),
        Command::Reproduce(a) => ConfigOverrides::from_flags(a),
        Command::Models(ModelsCommand::Check(a)) => ConfigOverrides::from_flags(a),
        // No flag of these overrides a key.
        Command::Gallery(_) | Command::Status(_) | Command::Init(_) | Command::SlurmScript(_) => {
            ConfigOverrides::default()
        }
    }
}

#[test]
fn the_command_line_is_well_formed() {
    Cli::command().debug_assert();
}

#[test]
fn every_override_flag_lands_on_its_config_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("runvqgan.toml"),
        "device = \"cuda\"\ndefault_resolution = [400, 200]\n[models.big]\nclip_model = \"ViT-L/14\"\n",
    )
    .unwrap();
    let o = overrides(&[
        "runvqgan",
        "run",
        "--root",
        "x",
        "--until",
        "06:30",
        "--max-iterations",
        "100",
        "--max-each",
        "3",
        "--max-resolution",
        "400",
        "200",
        "--priority-folder",
        "tasks/urgent",
        "--delay-seconds",
        "2.5",
        "--max-minutes",
        "90",
        "--log-file",
        "logs/night.log",
        "--max-batch",
        "2",
        "--engine-mode",
        "reference",
        "--model",
        "big",
        "--device",
        "cpu",
        "--python-env",
        "/opt/venv",
        "--no-deterministic",
    ]);
    let c = Config::load(dir.path(), &o).unwrap();
    let expected = Config {
        max_iterations: 100,
        max_each: 3,
        max_resolution: [400, 200],
        default_resolution: [400, 200],
        priority_folder: Some("tasks/urgent".into()),
        delay_seconds: 2.5,
        max_minutes: Some(90.0),
        device: Some("cpu".into()),
        deterministic: false,
        max_batch: Some(2),
        engine_mode: EngineMode::Reference,
        python_env: Some("/opt/venv".into()),
        log_file: "logs/night.log".into(),
        model: "big".into(),
        ..Config::from_toml("[models.big]\nclip_model = \"ViT-L/14\"").unwrap()
    };
    assert_eq!(c, expected);
    let wrong_type = o.with("max_each", "many");
    assert!(Config::load(dir.path(), &wrong_type).is_err());
}

#[test]
fn flags_not_given_override_nothing() {
    for args in [
        &["runvqgan", "run", "--root", "x"][..],
        &["runvqgan", "plan", "--root", "x", "--json"],
        &["runvqgan", "validate", "a.txt"],
        &["runvqgan", "reproduce", "a.txt", "-o", "b.png"],
        &["runvqgan", "models", "check", "--root", "x"],
    ] {
        assert!(overrides(args).is_empty(), "{args:?}");
    }
}
