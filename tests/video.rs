//! Videos and story mode from task files (issue 28): the fields `video`, `video_seconds`,
//! `zoom_every`, `zoom_scale`, `zoom_shift`, `story_every` and the same `generate.py` flags in
//! `raw`; what `validate` and `plan` say about them; and, with the engine and the tiny
//! models, the MP4 beside the PNG and `reproduce` making the same video again.

mod common;

use common::{Shared, tiny_models_toml};

fn check(json: &str) -> (i32, String) {
    let s = Shared::new();
    s.write("tasks/t.txt", json);
    s.validate("tasks/t.txt")
}

fn fails_with(json: &str, needles: &[&str]) {
    let (code, out) = check(json);
    assert_eq!(code, 1, "expected exit code 1 for {json}; report:\n{out}");
    for n in needles {
        assert!(out.contains(n), "report lacks {n:?}:\n{out}");
    }
}

#[test]
fn validate_explains_a_zoom_video_and_its_cost() {
    let (code, out) = check(
        r#"{"text": "a seed ^ a tree", "out_file": "z", "iterations": 300, "video": "zoom",
            "zoom_every": 5, "zoom_scale": 1.02, "zoom_shift": [2, -1], "video_seconds": 4,
            "story_every": 100}"#,
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "tasks/t.txt: video: a zoom video (a frame every 5 iterations, zoom 1.02 and shift \
             2,-1 per frame): 60 frames x 450x300 pixels = 8.1 megapixels to encode, 4 s at \
             15 frames per second, as <out_file>_N.mp4 beside each image; story mode: the next \
             `^` phrase every 100 iterations."
        ),
        "{out}"
    );
}

#[test]
fn validate_explains_a_progress_video_asked_through_raw() {
    let (code, out) =
        check(r#"{"text": "dog", "out_file": "d", "iterations": 50, "raw": "-vid -vl 2"}"#);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("video: a progress video (a frame every iteration): 49 frames x 450x300 pixels = 6.62 megapixels to encode, 2 s at 24.5 frames per second"),
        "{out}"
    );
}

#[test]
fn a_video_field_with_a_wrong_value_names_the_choices() {
    fails_with(
        r#"{"text": "dog", "out_file": "d", "video": "movie"}"#,
        &[
            "tasks/t.txt: `video` is \"movie\", but it must be \"progress\"",
            "\"zoom\"",
        ],
    );
    fails_with(
        r#"{"text": "dog", "out_file": "d", "video": true}"#,
        &[
            "`video` must be a text, but it is the truth value true; write it like \"video\": \"zoom\"",
        ],
    );
    fails_with(
        r#"{"text": "dog", "out_file": "d", "video": "zoom", "zoom_shift": 3}"#,
        &["`zoom_shift` must be two whole numbers [right, down] in pixels"],
    );
    fails_with(
        r#"{"text": "dog", "out_file": "d", "video": "zoom", "zoom_every": 0}"#,
        &["`zoom_every` is 0, but it must be 1 or more"],
    );
}

#[test]
fn zoom_fields_without_a_zoom_video_are_refused() {
    fails_with(
        r#"{"text": "dog", "out_file": "d", "video": "progress", "zoom_scale": 1.1}"#,
        &["`zoom_scale` is given, but it only applies to a zoom video; add \"video\": \"zoom\""],
    );
    fails_with(
        r#"{"text": "dog", "out_file": "d", "video_seconds": 5}"#,
        &["`video_seconds` is given, but there is no video to time"],
    );
}

#[test]
fn a_video_over_the_frame_cap_is_refused_with_the_fix() {
    fails_with(
        r#"{"text": "dog", "out_file": "d", "iterations": 5000, "video": "progress"}"#,
        &[
            "`video` is 4999 frames long, but the workstation allows at most 1000 frames per video; use at most 1001 iterations, or a zoom video.",
        ],
    );
    fails_with(
        r#"{"text": "dog", "out_file": "d", "iterations": 5000, "raw": "-zvid -zse 2"}"#,
        &[
            "`video` is 2500 frames long",
            "use a `zoom_every` of at least 5 or fewer iterations",
        ],
    );
    fails_with(
        r#"{"text": "dog", "out_file": "d", "iterations": 1, "video": "progress"}"#,
        &["the video would have no frames with 1 iterations; it needs at least 2 iterations"],
    );
    let s = Shared::new();
    s.write("runvqgan.toml", "max_video_frames = 0\n");
    s.write(
        "tasks/t.txt",
        r#"{"text": "dog", "out_file": "d", "video": "zoom"}"#,
    );
    let (code, out) = s.validate("tasks/t.txt");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("this workstation makes no videos (max_video_frames = 0"),
        "{out}"
    );
}

#[test]
fn story_mode_without_phrases_is_a_warning() {
    let (code, out) = check(r#"{"text": "dog", "out_file": "d", "story_every": 50}"#);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "warning: story mode (a new phrase every 50 iterations) needs phrases separated by `^`"
        ),
        "{out}"
    );
}

#[test]
fn interpolated_videos_stay_refused_in_raw() {
    fails_with(
        r#"{"text": "dog", "out_file": "d", "raw": "-vid -ofps 30"}"#,
        &[
            "the option `-ofps` is not allowed: interpolated videos and styling a folder of frames are not supported",
        ],
    );
}

#[test]
fn plan_shows_the_video() {
    let s = Shared::new();
    s.write(
        "tasks/t.txt",
        r#"{"text": "a ^ b", "out_file": "z", "iterations": 40, "video": "zoom", "zoom_every": 4, "story_every": 10}"#,
    );
    let out = s
        .cmd()
        .args(["plan", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("video: a zoom video (a frame every 4 iterations, zoom 0.99 and shift 0,0 per frame): 10 frames"),
        "{text}"
    );
}

fn mp4(path: &std::path::Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[4..8], b"ftyp", "{} is not an MP4", path.display());
    bytes
}

/// One night with a zoom video and a progress video, then `reproduce` of the zoom one: the
/// MP4s are beside their PNGs, and the reproduced video is the same file (the same frames
/// through the same deterministic encoder).
#[test]
fn a_night_makes_the_videos_and_reproduce_makes_the_same_video_again() {
    let s = Shared::new();
    s.write(
        "runvqgan.toml",
        format!(
            "device = \"cpu\"\ndeterministic = true\nengine_mode = \"reference\"\n{}",
            tiny_models_toml()
        ),
    );
    s.write(
        "tasks/zoom.txt",
        r#"{"text": "an apple ^ the sea", "out_file": "zoom", "iterations": 4, "resolution": [32, 32],
            "seed": 5, "video": "zoom", "zoom_every": 2, "zoom_scale": 1.2, "zoom_shift": [2, -1],
            "story_every": 2, "raw": "-cuts 4"}"#,
    );
    s.write(
        "tasks/prog.txt",
        r#"{"text": "a tree", "out_file": "prog", "iterations": 4, "resolution": [32, 32],
            "seed": 6, "video": "progress", "raw": "-cuts 4"}"#,
    );
    s.run_night();
    let root = s.root();
    let first = mp4(&root.join("output/zoom_1.mp4"));
    mp4(&root.join("output/prog_1.mp4"));
    let sidecar = s.read("output/zoom_1.txt");
    assert!(
        sidecar.contains("-zvid -zse 2 -zsc 1.2 -zsx 2 -zsy -1 -cpe 2"),
        "{sidecar}"
    );
    let names: Vec<String> = std::fs::read_dir(root.join("output"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with('.')), "{names:?}");

    let again = s
        .cmd()
        .args(["reproduce", "output/zoom_1.txt"])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        mp4(&root.join("output/zoom_2.mp4")),
        first,
        "the reproduced video differs"
    );
    assert_eq!(
        std::fs::read(root.join("output/zoom_2.png")).unwrap(),
        std::fs::read(root.join("output/zoom_1.png")).unwrap()
    );
}
