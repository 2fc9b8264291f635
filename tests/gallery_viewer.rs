//! What the gallery's viewer, compare view and task form are given (issue 26): each card's
//! size, time, final loss and loss curve, the pictures that steered it, its video, the task
//! fields that make an image like it and the commands for a member and the owner; the task
//! file's schema shipped beside the pages; warnings notes on the error page; the link to
//! tonight's queue.

mod common;

use common::Shared;
use runvqgan::gallery::{self, GalleryOptions};
use runvqgan::shared_folder::root::Root;
use runvqgan::task::json_schema::task_schema_text;

fn png(s: &Shared, rel: &str, w: u32, h: u32) {
    let path = s.root().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(w, h, image::Rgb([90, 120, 200]))
        .save(&path)
        .unwrap();
}

fn build(s: &Shared) -> gallery::BuildReport {
    gallery::build(&Root::open(&s.root()).unwrap(), &GalleryOptions::default()).unwrap()
}

fn read(s: &Shared, rel: &str) -> String {
    std::fs::read_to_string(s.root().join(rel))
        .unwrap()
        .replace("&#x2f;", "/")
}

fn cards(s: &Shared) -> Vec<serde_json::Value> {
    let js = read(s, "gallery/data.js");
    let json = js
        .strip_prefix("window.RUNVQGAN_GALLERY = ")
        .and_then(|j| j.trim_end().strip_suffix(';'))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["images"].as_array().unwrap().clone()
}

/// alice's café in Banksy's style, steered by two of her pictures, with a loss curve and a
/// video; bob's plain image with neither; an error file and a warnings note.
fn folder() -> Shared {
    let s = Shared::new();
    s.write("runvqgan.toml", "");
    png(&s, "alice/cafe_3.png", 64, 32);
    png(&s, "alice/photo.png", 16, 16);
    png(&s, "alice/start.png", 16, 16);
    s.write("alice/cafe_3.mp4", b"not really a video");
    s.write(
        "alice/cafe_3.txt",
        "python generate.py -p 'A café in the style of Banksy' -ip alice/photo.png \
         -ii alice/start.png -i 20 -se 20 -s 64 32 -sd 9 -cuts 16 -o alice/cafe_3.png\n\
         # runvqgan: 0.1.0\n# task: alice/task_cafe.txt\n# image: 3 of 4\n\
         # started: 2026-11-28T23:05:00Z\n# final-loss: 0.6125\n\
         # loss-curve: 0.9 0.8 0.7 0.6125\n",
    );
    png(&s, "bob/dog_1.png", 32, 48);
    s.write(
        "bob/dog_1.txt",
        "python generate.py -p 'A dog' -i 5 -se 2 -s 32 48 -o bob/dog_1.png\n# task: bob/task_dog.txt\n",
    );
    s.write(
        "bob/task_x_ERROR.txt",
        "bob/task_x.txt: `text` is missing.\n",
    );
    s.write(
        "alice/task_big_WARNINGS.txt",
        "alice/task_big.txt: `each` 50 is above the workstation's limit of 10; 10 is used instead.\n",
    );
    s
}

#[test]
fn cards_carry_what_the_viewer_compare_and_form_need() {
    let s = folder();
    build(&s);
    let cards = cards(&s);
    let cafe = cards
        .iter()
        .find(|c| c["id"] == "alice/cafe_3.png")
        .unwrap();
    assert_eq!(
        (cafe["w"].as_u64(), cafe["h"].as_u64()),
        (Some(64), Some(32))
    );
    assert_eq!(cafe["loss"].as_f64(), Some(0.6125));
    assert_eq!(cafe["curve"], serde_json::json!([0.9, 0.8, 0.7, 0.6125]));
    assert_eq!(cafe["video"], "../alice/cafe_3.mp4");
    assert!(cafe["time"].as_i64().unwrap() > 1_700_000_000);
    let inputs: Vec<(String, String)> = cafe["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["field"].as_str().unwrap().into(),
                i["href"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        inputs,
        [
            ("in_file".to_string(), "../alice/photo.png".to_string()),
            (
                "template_file".to_string(),
                "../alice/start.png".to_string()
            )
        ]
    );
    // The task fields that ask for an image like it: the prompt without its style, the
    // name without its number, pictures relative to the task's folder, options as raw.
    let f = &cafe["fields"];
    assert_eq!(f["text"], "A café");
    assert_eq!(f["style"], "Banksy");
    assert_eq!(f["out_file"], "cafe");
    assert_eq!(f["seed"], 9);
    assert_eq!(f["iterations"], 20);
    assert_eq!(f["resolution"], serde_json::json!([64, 32]));
    assert_eq!(f["in_file"], "photo.png");
    assert_eq!(f["template_file"], "start.png");
    // `-se` at the iterations is what validate sets anyway: left out, so that more
    // iterations in a task made from it still save the last one. Another `-se` stays.
    assert_eq!(f["raw"], "-cuts 16");
    // The member's command on alice's page writes into alice/; the owner's has no -o and
    // no --config.
    let root = s.root().display().to_string();
    assert!(
        cafe["reproduce_here"]
            .as_str()
            .unwrap()
            .contains(&format!("-o {root}/alice/NAME_1.png"))
    );
    let owner = cafe["reproduce_owner"].as_str().unwrap();
    assert!(
        !owner.contains("--config") && !owner.contains(" -o "),
        "{owner}"
    );
    let dog = cards.iter().find(|c| c["id"] == "bob/dog_1.png").unwrap();
    assert_eq!(dog["loss"], serde_json::Value::Null);
    assert_eq!(dog["curve"], serde_json::json!([]));
    assert_eq!(dog["video"], "");
    assert_eq!(dog["inputs"], serde_json::json!([]));
    assert_eq!(dog["fields"]["raw"], "-se 2");
}

#[test]
fn the_schema_ships_with_the_gallery_and_the_queue_is_linked() {
    let s = folder();
    build(&s);
    assert_eq!(
        read(&s, "gallery/assets/task.schema.json"),
        task_schema_text()
    );
    let form = read(&s, "gallery/assets/task-schema.js");
    assert!(form.starts_with("window.RUNVQGAN_TASK_SCHEMA = {"));
    assert!(form.contains("night_only"));
    for page in [
        "gallery/index.html",
        "gallery/folder-alice.html",
        "gallery/errors.html",
    ] {
        assert!(
            read(&s, page).contains("<a href=\"queue.html\">Tonight&#x27;s queue</a>"),
            "{page}"
        );
    }
}

#[test]
fn the_error_page_lists_warnings_notes_with_the_daytime_checks_wording() {
    let s = folder();
    let report = build(&s);
    assert_eq!((report.error_files, report.warnings_notes), (1, 1));
    let page = read(&s, "gallery/errors.html");
    assert!(page.contains("alice/task_big_WARNINGS.txt"));
    assert!(page.contains("above the workstation&#x27;s limit"));
    assert!(page.contains("bob/task_x_ERROR.txt"));
    assert!(page.contains("1 error file and 1 warnings note"));
    assert!(page.contains("within minutes"));
    assert!(!page.contains("at the next run"));
}

#[test]
fn a_rebuild_with_nothing_new_still_writes_nothing() {
    let s = folder();
    build(&s);
    let again = build(&s);
    assert_eq!(again.files_written, 0);
    assert_eq!(again.thumbs.made, 0);
}
