//! Naming a valid task's images: the numbers of its `out_file` in its output folder, the
//! request it is for, the images already made and the pending markers it may take over.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::image::TaskImages;
use super::request::{changed, this_request};
use super::{Named, PlannedImage};
use crate::outputs::naming::{BaseIndex, push_output_name};
use crate::shared_folder::root::Root;
use crate::task::{TaskSpec, expand};

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
    let by_request = index.made_images(folder, base, task_rel, sha);
    let (request, made) = this_request(by_request, spec.total_images(), || {
        changed(&root.path().join(task_rel))
    });
    // Numbers reserved for this task's images by a run that did not finish them.
    let mut reserved: BTreeMap<u32, u32> = BTreeMap::new();
    let mut stale = Vec::new();
    for (n, marker) in index.pending(folder, base) {
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
            || k > spec.total_images()
            || reserved.contains_key(&k)
        {
            stale.push(n);
        } else {
            reserved.insert(k, n);
        }
    }
    let todo: Vec<_> = expand(spec)
        .into_iter()
        .filter(|img| !made.contains(&img.index))
        .collect();
    let fresh = todo
        .iter()
        .filter(|img| !reserved.contains_key(&img.index))
        .count();
    let mut numbers = index.allocate(fresh as u32).into_iter();
    let mut task = TaskImages::new(spec);
    let todo: Vec<_> = todo
        .into_iter()
        .map(|img| {
            let (number, reserved) = match reserved.get(&img.index) {
                Some(n) => (*n, true),
                None => (numbers.next().expect("one number per fresh image"), false),
            };
            let style = task.style_of(img.style, img.prompt);
            (img.index, img.total, number, reserved, style, img.seed)
        })
        .collect();
    let task = Arc::new(task);
    let images = todo
        .into_iter()
        .map(|(k, total, number, reserved, style, seed)| {
            let output_rel = output_rel(&spec.out_folder_rel, &spec.out_file, number);
            PlannedImage::new(&task, (k, total, number), style, seed, output_rel, reserved)
        })
        .collect();
    let made = made
        .into_iter()
        .filter(|k| *k <= spec.total_images())
        .collect();
    (images, (request, made), stale)
}

/// The PNG of image `n` of `base` in the output folder `folder` (relative to the root).
fn output_rel(folder: &str, base: &str, n: u32) -> String {
    let mut rel = String::with_capacity(folder.len() + base.len() + 16);
    if !folder.is_empty() {
        rel.push_str(folder);
        rel.push('/');
    }
    push_output_name(&mut rel, base, n, "png");
    rel
}
