//! Naming a valid task's images: the numbers of its `out_file` in its output folder, the
//! request it is for, the images already made and the pending markers it may take over.

use std::collections::BTreeMap;

use super::request::{changed, this_request};
use super::{Named, PlannedImage};
use crate::call::job::Job;
use crate::outputs::naming::{BaseIndex, output_names};
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
    let images = todo
        .into_iter()
        .map(|img| match reserved.get(&img.index) {
            Some(n) => (img, *n, true),
            None => (
                img,
                numbers.next().expect("one number per fresh image"),
                false,
            ),
        })
        .map(|(img, number, reserved)| {
            let (png, txt) = output_names(&spec.out_file, number);
            let output_rel = join_rel(&spec.out_folder_rel, &png);
            PlannedImage {
                index: img.index,
                total: img.total,
                number,
                style: img.style,
                output: folder.join(&png),
                sidecar_path: folder.join(&txt),
                job: Job {
                    prompts: Some(img.prompt),
                    image_prompts: spec.in_file.iter().cloned().collect(),
                    iterations: Some(spec.iterations),
                    size: Some(spec.size),
                    init_image: spec.template_file.clone(),
                    seed: img.seed,
                    output: Some(output_rel.clone()),
                    options: spec.options.clone(),
                },
                output_rel,
                reserved,
            }
        })
        .collect();
    let made = made
        .into_iter()
        .filter(|k| *k <= spec.total_images())
        .collect();
    (images, (request, made), stale)
}

fn join_rel(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_string()
    } else {
        format!("{folder}/{name}")
    }
}
