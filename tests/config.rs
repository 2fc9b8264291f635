//! `<root>/runvqgan.toml` (DESIGN section 8).

mod common;
use common::{Shared, task};
use runvqgan::config::{Config, ConfigOverrides, DEFAULT_VQGAN_CONFIG, ModelSet};
use runvqgan::shared_folder::files::CONFIG_FILE;

#[test]
fn unknown_config_key_is_a_usage_error_with_exit_code_2() {
    let s = Shared::new();
    s.write("runvqgan.toml", "max_iteration = 100\n");
    s.write("tasks/dog.txt", task("dog"));
    s.cmd()
        .args(["plan", "--root", "."])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("runvqgan.toml is not valid"))
        .stderr(predicates::str::contains("unknown field `max_iteration`"))
        .stderr(predicates::str::contains("did you mean `max_iterations`?"));
}

#[test]
fn bad_config_value_is_a_usage_error() {
    let s = Shared::new();
    s.write("runvqgan.toml", "max_each = \"lots\"\n");
    s.cmd()
        .args(["plan", "--root", "."])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("max_each"));
    s.write("runvqgan.toml", "device = \"gpu\"\n");
    s.cmd()
        .args(["plan", "--root", "."])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "`device` \"gpu\" is not a device; use \"cuda\", \"cuda:1\"",
        ));
}

#[test]
fn a_full_config_is_accepted() {
    let s = Shared::new();
    s.write(
        "runvqgan.toml",
        r#"
max_iterations = 3000
max_each = 10
max_resolution = [400, 250]
default_resolution = [400, 250]
priority_folder = "tasks/urgent"
delay_seconds = 5
device = "cuda:1"
deterministic = false
python_env = "/opt/venv"
log_file = "logs/runvqgan.log"
model = "wikiart"
clip_dir = "models/clip"

[models.wikiart]
vqgan_config = "models/wikiart_16384.yaml"
vqgan_checkpoint = "models/wikiart_16384.ckpt"
clip_model = "ViT-B/16"
"#,
    );
    s.write("tasks/dog.txt", task("dog"));
    let t = s.planned("tasks/dog.txt");
    assert_eq!(t["images"][0]["size"], serde_json::json!([400, 250]));
}

#[test]
fn help_documents_the_exit_codes() {
    let s = Shared::new();
    s.cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicates::str::contains("Exit codes:"))
        .stdout(predicates::str::contains("130  interrupted"));
}

#[test]
fn a_bad_flag_value_is_a_usage_error_that_names_the_command_line() {
    let s = Shared::new();
    s.write("runvqgan.toml", "max_each = 10\n");
    s.cmd()
        .args(["plan", "--root", ".", "--max-each", "0"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "the command line: `max_each` must be at least 1",
        ));
}

#[test]
fn every_key_is_optional() {
    assert_eq!(Config::from_toml("").unwrap(), Config::default());
}

#[test]
fn flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(CONFIG_FILE),
        "max_iterations = 100\ndevice = \"cpu\"\nmax_batch = 2",
    )
    .unwrap();
    let overrides = ConfigOverrides::default()
        .with("max_iterations", 50)
        .with("max_resolution", toml::Value::try_from([500, 300]).unwrap());
    let c = Config::load(dir.path(), &overrides).unwrap();
    assert_eq!(c.limits().max_iterations, 50);
    assert_eq!(c.max_resolution, [500, 300]);
    assert_eq!(c.device.as_deref(), Some("cpu"));
    assert_eq!(c.max_batch, Some(2));
    let e = Config::load(dir.path(), &ConfigOverrides::default().with("max_batch", 0))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("the command line: `max_batch` must be"),
        "{e}"
    );
}

#[test]
fn unknown_key_is_an_error_with_suggestion_also_in_a_model_set() {
    let e = Config::from_toml("max_iteration = 3")
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean `max_iterations`"), "{e}");
    let e = Config::from_toml("[models.big]\nclip_modle = \"x\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean `clip_model`"), "{e}");
}

#[test]
fn model_sets_fall_back_to_the_default_paths_and_default_always_exists() {
    let c = Config::from_toml("model = \"big\"\n[models.big]\nclip_model = \"ViT-L/14\"").unwrap();
    let set = c.model_set();
    assert_eq!(set.clip_model, "ViT-L/14");
    assert_eq!(set.vqgan_config, DEFAULT_VQGAN_CONFIG);
    assert_eq!(c.models["default"], ModelSet::default());
    let c = Config::from_toml("[models.default]\nclip_model = \"ViT-B/16\"").unwrap();
    assert_eq!(c.model_set().clip_model, "ViT-B/16");
}

#[test]
fn unknown_model_set_is_an_error() {
    let e = Config::from_toml("model = \"nope\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("[models.nope]"), "{e}");
}
