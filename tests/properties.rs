//! Property tests: sidecars survive a write/parse round trip whatever the prompt holds, and
//! output numbers never collide with existing files.

use proptest::prelude::*;
use runvqgan::call::job::{EngineOptions, Job};
use runvqgan::call::sidecar::{GenerateCall, ImageIndex, ModelRef, Provenance, Sidecar};
use runvqgan::outputs::naming::{OutputIndex, output_names};
use runvqgan::task::raw;

/// Text with the characters that break naive quoting, mixed with anything else.
fn nasty_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "'",
        "\"",
        "$",
        "$HOME",
        "`ls`",
        "\\",
        "\\n",
        "\n",
        "\r\n",
        "\t",
        " ",
        "#",
        "!",
        "^",
        "|",
        ":",
        "-",
        "--",
        "=",
        "ä",
        "ö",
        "ü",
        "ß",
        "🐶",
        "🎨",
        "a painting",
        "*",
        "?",
        "~",
        "{a,b}",
        ";",
        "&",
        "(",
        ")",
        "<",
        ">",
    ]);
    prop_oneof![
        prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat()),
        any::<String>().prop_map(|s| s.replace('\0', "")),
    ]
}

fn sidecar(prompt: String, path: String, seed: Option<u64>, aug: Vec<String>) -> Sidecar {
    Sidecar {
        call: GenerateCall {
            job: Job {
                prompts: Some(prompt),
                image_prompts: vec![format!("in/{}", path.replace('|', "/"))],
                iterations: Some(200),
                size: Some([450, 300]),
                init_image: Some(path.clone()),
                seed,
                output: Some(format!("output/{path}_1.png")),
                options: raw::parse(&format!(
                    "-lr 0.05 -cuts 64 -cutm latest -nps 1 -2 -npw 0.5 -0.25 {}",
                    if aug.is_empty() {
                        String::new()
                    } else {
                        format!("-aug {}", aug.join(" "))
                    }
                ))
                .unwrap(),
            },
            models: ModelRef {
                clip_model: Some("ViT-B/32".into()),
                vqgan_config: Some("models/vqgan_imagenet_f16_16384.yaml".into()),
                vqgan_checkpoint: Some("models/vqgan_imagenet_f16_16384.ckpt".into()),
            },
            cuda_device: None,
            deterministic: false,
        },
        provenance: Provenance {
            runvqgan: Some("0.1.0".into()),
            task: Some("tasks/dog.txt".into()),
            task_sha256: Some("ab".repeat(32)),
            image: Some(ImageIndex { index: 3, total: 4 }),
            model_set: Some("default".into()),
            device: Some("cuda:0".into()),
            started: Some("2026-01-01T23:00:00Z".into()),
            seconds: Some(61.5),
            final_loss: Some(0.875),
            root: Some("/srv/vqgan".into()),
            extra: vec![],
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_prompt_survives_a_sidecar_round_trip(
        prompt in nasty_text(),
        path in nasty_text(),
        seed in proptest::option::of(0u64..u64::MAX),
        aug in prop::collection::vec(prop::sample::select(vec!["Ji", "Sh", "Af"]), 0..3),
    ) {
        let aug: Vec<String> = aug.into_iter().map(String::from).collect();
        let original = sidecar(prompt, path, seed, aug);
        let text = original.render().unwrap();
        let parsed = Sidecar::parse(&text).unwrap();
        prop_assert_eq!(&parsed, &original, "sidecar text:\n{}", text);
        // The job dict the engine would get is the same too.
        prop_assert_eq!(
            serde_json::to_value(&parsed.call.job).unwrap(),
            serde_json::to_value(&original.call.job).unwrap()
        );
    }

    #[test]
    fn the_call_line_splits_back_into_the_same_words(prompt in nasty_text()) {
        let call = GenerateCall {
            job: Job { prompts: Some(prompt), ..Job::default() },
            ..GenerateCall::default()
        };
        let line = call.render().unwrap();
        prop_assert_eq!(shlex::split(&line).unwrap(), call.words());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn new_numbers_never_reuse_an_existing_png_or_txt(
        existing in prop::collection::btree_map(1u32..60, 0u8..3, 0..12),
        first in 0u32..5,
        second in 1u32..5,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        // Output folders are listed through a handle on their root.
        let root = runvqgan::shared_folder::root::Root::open(tmp.path()).unwrap();
        let dir = root.path();
        for (n, kind) in &existing {
            let (png, txt) = output_names("dog", *n);
            match kind {
                0 => std::fs::write(dir.join(png), "").unwrap(),
                1 => std::fs::write(dir.join(txt), "").unwrap(),
                _ => {
                    std::fs::write(dir.join(png), "").unwrap();
                    std::fs::write(dir.join(txt), "").unwrap();
                }
            }
        }
        std::fs::write(dir.join("cat_99.png"), "").unwrap();
        let highest = existing.keys().max().copied().unwrap_or(0);
        let mut index = OutputIndex::new();
        let a = index.allocate(dir, "dog", first).unwrap();
        let b = index.allocate(dir, "dog", second).unwrap();
        let expected_a: Vec<u32> = (highest + 1..highest + 1 + first).collect();
        prop_assert_eq!(&a, &expected_a);
        prop_assert_eq!(b[0], highest + first + 1);
        for n in a.iter().chain(&b) {
            let (png, txt) = output_names("dog", *n);
            prop_assert!(!dir.join(png).exists());
            prop_assert!(!dir.join(txt).exists());
        }
    }

    #[test]
    fn a_prompt_without_style_comes_back_exactly(text in "[a-z :|^0-9.]{1,40}") {
        if let Ok(p) = runvqgan::task::prompt::parse(&text) {
            prop_assert_eq!(p.render(""), text);
        }
    }
}

#[test]
fn reads_an_r_runner_sidecar() {
    let s = Sidecar::parse(
        "python generate.py -p 'A painting of a dog' -i 200 -s 450 300 -o C:/x/output/dog_1.png\n\n",
    )
    .unwrap();
    assert_eq!(s.call.job.prompts.as_deref(), Some("A painting of a dog"));
    assert_eq!(s.call.job.iterations, Some(200));
    assert_eq!(s.call.job.size, Some([450, 300]));
    assert_eq!(s.call.job.seed, None, "R runner sidecars carry no seed");
    assert_eq!(s.call.job.output.as_deref(), Some("C:/x/output/dog_1.png"));
}

#[test]
fn sidecar_text_matches_the_documented_form() {
    let mut s = sidecar(
        "A painting of a dog in the style of Banksy".into(),
        "dog".into(),
        Some(1234),
        vec![],
    );
    s.call.job.image_prompts.clear();
    s.call.job.init_image = None;
    s.call.job.options = EngineOptions::default();
    let text = s.render().unwrap();
    insta::assert_snapshot!("sidecar_text", text);
}
