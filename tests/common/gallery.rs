//! Gallery helpers: images with sidecars written by hand (no engine), a build, and what
//! the built gallery holds.

use runvqgan::gallery::{self, GalleryOptions};
use runvqgan::shared_folder::root::Root;

use super::Shared;

/// Writes a 48x32 PNG of one colour at `rel`, and its sidecar.
pub fn image(shared: &Shared, rel: &str, prompt: &str, task: &str, index: u32, started: &str) {
    let png = shared.root().join(rel);
    std::fs::create_dir_all(png.parent().unwrap()).unwrap();
    let shade = (index * 40 % 255) as u8;
    image::RgbImage::from_pixel(48, 32, image::Rgb([shade, 90, 200]))
        .save(&png)
        .unwrap();
    let quoted = shlex::try_quote(prompt).unwrap();
    let out = shlex::try_quote(rel).unwrap();
    let sidecar = format!(
        "python generate.py -p {quoted} -i 20 -s 48 32 -sd {index} -m ViT-B/32 -conf models/v.yaml -ckpt models/v.ckpt -o {out}\n\
         # runvqgan: 0.1.0\n# task: {task}\n# image: {index} of 2\n# model-set: default\n\
         # device: cpu\n# started: {started}\n# seconds: 1.0\n# final-loss: 0.5\n"
    );
    shared.write(&rel.replace(".png", ".txt"), sidecar);
}

pub fn build(s: &Shared) -> gallery::BuildReport {
    gallery::build(&Root::open(&s.root()).unwrap(), &GalleryOptions::default()).unwrap()
}

/// A gallery file's text, with the `/` that the HTML escaping writes as `&#x2f;` read back.
pub fn read(s: &Shared, rel: &str) -> String {
    std::fs::read_to_string(s.root().join(rel))
        .unwrap()
        .replace("&#x2f;", "/")
}

/// The cards of `gallery/data.js`, parsed.
pub fn cards(s: &Shared) -> Vec<serde_json::Value> {
    let js = read(s, "gallery/data.js");
    let json = js
        .strip_prefix("window.RUNVQGAN_GALLERY = ")
        .and_then(|j| j.trim_end().strip_suffix(';'))
        .expect("data.js sets one global");
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["images"].as_array().unwrap().clone()
}

pub fn thumbs(s: &Shared) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(s.root().join("gallery/thumbs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jpg"))
        .collect();
    names.sort();
    names
}
