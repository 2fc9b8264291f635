//! Expansion into images and output naming (DESIGN sections 4 and 5), and resuming a task
//! that an earlier run left half done.

mod common;
use common::{Shared, task};
use runvqgan::call::sidecar::{GenerateCall, ImageIndex, Provenance, Sidecar};
use runvqgan::outputs::lifecycle::task_sha256;

#[test]
fn expands_style_times_each_in_style_order() {
    let s = Shared::new();
    s.write(
        "tasks/dog.txt",
        r#"{"text": ["A painting of a dog:2|surreal:0.25^a dog asleep"], "style": ["", "Banksy", "Picasso"], "each": [2], "out_file": ["dog"], "seed": 100, "iterations": 250}"#,
    );
    let plan = serde_json::to_string_pretty(&s.planned("tasks/dog.txt")).unwrap();
    insta::assert_snapshot!("style_times_each", plan);
}

#[test]
fn without_a_seed_the_engine_picks_one() {
    let s = Shared::new();
    s.write(
        "tasks/dog.txt",
        r#"{"text": "dog", "out_file": "dog", "each": 2}"#,
    );
    let t = s.planned("tasks/dog.txt");
    assert!(t["images"][0]["seed"].is_null());
    assert!(t["images"][1]["seed"].is_null());
}

#[test]
fn numbers_on_after_existing_png_and_txt_files() {
    let s = Shared::new();
    s.write("output/dog_1.png", "png");
    s.write("output/dog_1.txt", "sidecar");
    s.write("output/dog_4.png", "png only: blocks 4");
    s.write("output/cat_9.png", "other name");
    s.write(
        "tasks/dog.txt",
        r#"{"text": "dog", "out_file": "dog", "each": 2}"#,
    );
    assert_eq!(
        s.outputs("tasks/dog.txt"),
        ["output/dog_5.png", "output/dog_6.png"]
    );
}

#[test]
fn a_txt_without_png_blocks_its_number() {
    let s = Shared::new();
    s.write("output/dog_7.txt", "txt only: blocks 7");
    s.write("tasks/dog.txt", task("dog"));
    assert_eq!(s.outputs("tasks/dog.txt"), ["output/dog_8.png"]);
}

#[test]
fn two_tasks_with_the_same_out_file_never_share_a_number() {
    let s = Shared::new();
    s.write(
        "tasks/a.txt",
        r#"{"text": "dog", "out_file": "dog", "each": 2}"#,
    );
    s.write(
        "tasks/b.txt",
        r#"{"text": "cat", "out_file": "dog", "each": 2}"#,
    );
    s.set_mtime("tasks/a.txt", 1);
    s.set_mtime("tasks/b.txt", 2);
    assert_eq!(
        s.outputs("tasks/a.txt"),
        ["output/dog_1.png", "output/dog_2.png"]
    );
    assert_eq!(
        s.outputs("tasks/b.txt"),
        ["output/dog_3.png", "output/dog_4.png"]
    );
}

#[test]
fn tasks_of_several_out_files_are_numbered_in_their_order_each() {
    // The out_files are named side by side, each in the tasks' order.
    let s = Shared::new();
    s.mkdir("anna");
    for (i, (name, out_file, folder)) in [
        ("a", "dog", "output"),
        ("b", "cat", "output"),
        ("c", "dog", "output"),
        ("d", "dog", "anna"),
        ("e", "cat", "output"),
        ("f", "dog", "output"),
    ]
    .into_iter()
    .enumerate()
    {
        let rel = format!("tasks/{name}.txt");
        s.write(
            &rel,
            format!(r#"{{"text": "x", "out_file": "{out_file}", "out_folder": "{folder}"}}"#),
        );
        s.set_mtime(&rel, i as u64);
    }
    let outputs: Vec<String> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .flat_map(|t| s.outputs(&format!("tasks/{t}.txt")))
        .collect();
    assert_eq!(
        outputs,
        [
            "output/dog_1.png",
            "output/cat_1.png",
            "output/dog_2.png",
            "anna/dog_1.png",
            "output/cat_2.png",
            "output/dog_3.png"
        ]
    );
}

/// Writes the image `k of total` of `task_rel` as an earlier run would have.
fn made_earlier(s: &Shared, task_rel: &str, n: u32, k: u32, total: u32) {
    let bytes = std::fs::read(s.root().join(task_rel)).unwrap();
    // Files under a root are written through a handle on it.
    runvqgan::shared_folder::root::Root::open(&s.root()).unwrap();
    let sidecar = Sidecar {
        call: GenerateCall::default(),
        provenance: Provenance {
            task: Some(task_rel.to_string()),
            task_sha256: Some(task_sha256(&bytes)),
            image: Some(ImageIndex { index: k, total }),
            ..Provenance::default()
        },
    };
    let mut call = sidecar.clone();
    call.call.job.prompts = Some("dog".into());
    call.call.job.output = Some(format!("output/dog_{n}.png"));
    s.write(&format!("output/dog_{n}.png"), "png");
    call.write_new(&s.root().join(format!("output/dog_{n}.txt")))
        .unwrap();
}

#[test]
fn resumes_an_interrupted_task_with_only_the_missing_images() {
    let s = Shared::new();
    s.write(
        "tasks/dog.txt",
        r#"{"text": "dog", "out_file": "dog", "each": 4, "seed": 10}"#,
    );
    made_earlier(&s, "tasks/dog.txt", 1, 1, 4);
    made_earlier(&s, "tasks/dog.txt", 2, 2, 4);
    let t = s.planned("tasks/dog.txt");
    let images = t["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["output"], "output/dog_3.png");
    assert_eq!(
        images[0]["seed"], 12,
        "image 3 keeps the seed it would have had"
    );
    assert_eq!(images[1]["seed"], 13);
}

#[test]
fn images_of_an_edited_task_do_not_count_as_made() {
    let s = Shared::new();
    s.write(
        "tasks/dog.txt",
        r#"{"text": "dog", "out_file": "dog", "each": 2}"#,
    );
    made_earlier(&s, "tasks/dog.txt", 1, 1, 2);
    s.write(
        "tasks/dog.txt",
        r#"{"text": "a dog", "out_file": "dog", "each": 2}"#,
    );
    assert_eq!(
        s.outputs("tasks/dog.txt"),
        ["output/dog_2.png", "output/dog_3.png"]
    );
}

#[test]
fn a_sidecar_without_its_png_does_not_count_as_made() {
    let s = Shared::new();
    s.write(
        "tasks/dog.txt",
        r#"{"text": "dog", "out_file": "dog", "each": 2}"#,
    );
    made_earlier(&s, "tasks/dog.txt", 1, 1, 2);
    std::fs::remove_file(s.root().join("output/dog_1.png")).unwrap();
    assert_eq!(
        s.outputs("tasks/dog.txt"),
        ["output/dog_2.png", "output/dog_3.png"]
    );
}
