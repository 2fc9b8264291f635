//! `<root>/runvqgan.toml` (DESIGN section 8).

mod common;
use common::{Shared, task};

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
