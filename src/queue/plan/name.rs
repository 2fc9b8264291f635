//! Naming a valid task's images: the numbers of its `out_file` in its output folder, the
//! request it is for, the images already made and the pending markers it may take over.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::image::TaskImages;
use super::request::{changed, this_request};
use super::{Named, PlannedImage};
use crate::outputs::naming::{BaseIndex, push_output_name};
use crate::shared_folder::root::Root;
use crate::task::{TaskSpec, by_style};

/// Names the images `spec` (the task file `task_rel` with hash `sha`) still needs, with the
/// numbers of its `out_file` in its output folder (`index`).
pub(super) fn name_images(
    root: &Root,
    index: &mut BaseIndex,
    spec: &TaskSpec,
    task_rel: &str,
    sha: &str,
) -> Named {
    let folder = &spec.out_folder;
    let base = &spec.out_file;
    let total = spec.total_images();
    let by_request = index.made_images(folder, base, task_rel, sha);
    let (request, made) = this_request(by_request, total, || changed(&root.path().join(task_rel)));
    // Numbers reserved for this task's images by a run that did not finish them.
    let mut reserved: BTreeMap<u32, u32> = BTreeMap::new();
    let mut stale = Vec::new();
    index.read_pending(folder, base);
    for (n, marker) in index.pending() {
        let n = *n;
        let Some(marker) = marker else { continue };
        if marker.task != task_rel {
            if !root.path().join(&marker.task).exists() {
                stale.push(n);
            }
            continue;
        }
        let k = marker.image;
        if marker.task_sha256 != sha
            || index.has_sidecar(n)
            || made.contains(&k)
            || k == 0
            || k > total
            || reserved.contains_key(&k)
        {
            stale.push(n);
        } else {
            reserved.insert(k, n);
        }
    }
    let to_make = |k: &u32| !made.contains(k);
    let (mut todo, mut fresh) = (0, 0);
    for k in (1..=total).filter(to_make) {
        todo += 1;
        fresh += u32::from(!reserved.contains_key(&k));
    }
    let mut numbers = index.allocate(fresh);
    // the style slot of each style that has images to make (the prompt rendered for those)
    let mut task = TaskImages::new(spec);
    let slots: Vec<u32> = by_style(spec)
        .map(|(style, mut indices)| match indices.any(|k| to_make(&k)) {
            true => task.style_of(style, spec.prompt.render(style)),
            false => u32::MAX,
        })
        .collect();
    let task = Arc::new(task);
    let mut images = Vec::with_capacity(todo);
    for ((_, indices), style) in by_style(spec).zip(slots) {
        for k in indices.filter(to_make) {
            let (number, reserved) = match reserved.get(&k) {
                Some(n) => (*n, true),
                None => (numbers.next().expect("one number per fresh image"), false),
            };
            let output_rel = output_rel(&spec.out_folder_rel, base, number);
            let image = PlannedImage::new(&task, (k, total, number), style, output_rel, reserved);
            images.push(image);
        }
    }
    let made = made.into_iter().filter(|k| *k <= total).collect();
    (images, (request, made), stale)
}

/// The PNG of image `n` of `base` in the output folder `folder` (relative to the root).
fn output_rel(folder: &str, base: &str, n: u32) -> String {
    // the exact length: folder, `/`, base, `_`, the digits of n, `.png`
    let digits = n.checked_ilog10().unwrap_or(0) as usize + 1;
    let mut rel = String::with_capacity(folder.len() + base.len() + digits + 6);
    if !folder.is_empty() {
        rel.push_str(folder);
        rel.push('/');
    }
    push_output_name(&mut rel, base, n, "png");
    rel
}
