//! The picture saved is the one after the task's last iteration (DESIGN section 6, issue 24
//! item 3): generate.py saves only at the multiples of `-se` (50 unless given), so without
//! care `"iterations": 20` would save the untouched start picture. Runs the real engine on
//! the tiny models.

mod common;

use common::{Shared, tiny_models_toml};

const SIZE: &str = r#""resolution": [48, 32]"#;

fn task(out_file: &str, iterations: u32, raw: &str) -> String {
    format!(
        r#"{{"text": "A lighthouse", "seed": 11, "iterations": {iterations}, "out_file": "{out_file}", {SIZE}{raw}}}"#
    )
}

#[test]
fn iterations_20_and_40_save_different_pictures_and_neither_is_the_start_picture() {
    let s = Shared::new();
    s.write("runvqgan.toml", tiny_models_toml());
    s.write("tasks/a.txt", task("i20", 20, ""));
    s.write("tasks/b.txt", task("i40", 40, ""));
    // The member's own `-se 50` with 20 iterations saves the start picture (iteration 0),
    // as upstream generate.py does; it runs, with a warning beside the task.
    s.write("tasks/c.txt", task("start", 20, r#", "raw": "-se 50""#));
    let (code, out) = s.validate("tasks/c.txt");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("`raw` sets `-se 50`, and pictures are saved only at multiples of 50, so the picture saved is the untouched start picture"),
        "{out}"
    );
    let (code, out) = s.check();
    assert_eq!(code, 0, "{out}");
    assert!(
        s.read("tasks/c_WARNINGS.txt")
            .contains("Remove `-se 50` from `raw`"),
        "{}",
        s.read("tasks/c_WARNINGS.txt")
    );
    s.run_night();
    let png = |n: &str| std::fs::read(s.root().join(format!("output/{n}_1.png"))).unwrap();
    let pixels = |n: &str| {
        image::load_from_memory(&png(n))
            .unwrap()
            .to_rgb8()
            .into_raw()
    };
    let (i20, i40, start) = (pixels("i20"), pixels("i40"), pixels("start"));
    assert_ne!(i20, i40, "20 and 40 iterations saved the same picture");
    assert_ne!(i20, start, "20 iterations saved the start picture");
    assert_ne!(i40, start, "40 iterations saved the start picture");
    // The sidecar's call carries the `-se` that makes upstream generate.py save the same
    // picture.
    let call = s.read("output/i20_1.txt");
    assert!(
        call.lines()
            .next()
            .unwrap()
            .contains(" -i 20 -s 48 32 -sd 11 "),
        "{call}"
    );
    assert!(call.contains(" -se 20 "), "{call}");
    assert!(s.read("output/start_1.txt").contains(" -se 50 "));
}
