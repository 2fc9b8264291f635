//! The gallery's pages, rendered with minijinja from the templates in
//! `src/gallery/templates/` (compiled into the binary, so a gallery never depends on files
//! beside the program).
//!
//! Layout of the gallery folder, every page at its top so that every link is relative and
//! one level deep:
//!
//! ```text
//! index.html            all images, newest night first, grouped by task
//! folder-NAME.html      one per member folder and `output/`
//! errors.html           the error files, per folder, with their first lines
//! data.js               every card's facts (a script, not JSON: `fetch` is refused on file://)
//! assets/gallery.js     search, filters, paging, the image view
//! assets/gallery.css
//! thumbs/               see super::thumbs
//! ```
//!
//! The cards are drawn in the page from `data.js` (a `<template>` in the page is filled with
//! `textContent`, never with HTML), a page of them at a time, so 10,000 images stay
//! responsive; thumbnails load lazily.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::SystemTime;

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::disk::{GalleryError, write_if_changed};
use super::scan::{Found, FoundImage};
use super::thumbs::{THUMB_DIR, Thumb};
use super::when::local_time;
use crate::task::prompt::style_of;

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("images.html", include_str!("templates/images.html")),
    ("errors.html", include_str!("templates/errors.html")),
];
const ASSETS: &[(&str, &str)] = &[
    ("gallery.js", include_str!("templates/gallery.js")),
    ("gallery.css", include_str!("templates/gallery.css")),
];
/// The folder of the script and style sheet inside the gallery.
pub const ASSET_DIR: &str = "assets";
/// The global that `data.js` sets.
const DATA_GLOBAL: &str = "RUNVQGAN_GALLERY";

/// One image as the page's script sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    /// The PNG relative to the root: the image's identity (also in `#image=` links).
    pub id: String,
    /// Its top-level folder.
    pub folder: String,
    /// Link to the PNG, relative to the gallery.
    pub image: String,
    /// Link to the sidecar, relative to the gallery.
    pub sidecar: String,
    /// Link to the thumbnail, relative to the gallery; empty when there is none.
    pub thumb: String,
    /// The whole prompt string, as the engine got it (style included).
    pub prompt: String,
    /// The style, if the prompt carries one.
    pub style: String,
    /// The seed, empty for an old sidecar without one.
    pub seed: String,
    /// Iterations.
    pub iterations: String,
    /// `WxH` in pixels.
    pub size: String,
    /// The model set (or, for old sidecars, the CLIP model).
    pub model: String,
    /// When it was made, `YYYY-MM-DD HH:MM` local time.
    pub date: String,
    /// The night it belongs to, `YYYY-MM-DD` (see [`super::when::LocalTime`]).
    pub night: String,
    /// The task file, relative to the root.
    pub task: String,
    /// `k of N` within its task.
    pub image_of: String,
    /// The sidecar's first line: the generate call.
    pub call: String,
    /// The command that makes it again, run in the shared folder.
    pub reproduce: String,
}

/// A link in the navigation.
#[derive(Debug, Clone, Serialize)]
struct NavLink {
    href: String,
    label: String,
    count: usize,
}

/// One folder's error files.
#[derive(Debug, Clone, Serialize)]
struct ErrorGroup {
    folder: String,
    files: Vec<ErrorEntry>,
}

#[derive(Debug, Clone, Serialize)]
struct ErrorEntry {
    rel: String,
    href: String,
    date: String,
    head: String,
}

/// The whole site, ready to write.
pub struct Site {
    cards: Vec<Card>,
    folders: Vec<(String, usize)>,
    errors: Vec<ErrorGroup>,
    error_count: usize,
}

impl Site {
    /// Turns what was found into cards, ordered newest night first, then by task (the task
    /// with the newest image first), then by the image's place in its task. `depth`: how
    /// many folders the gallery lies below the root.
    pub fn new(found: &Found, thumbs: &[Thumb], depth: usize) -> Site {
        let up = "../".repeat(depth);
        let cards: Vec<(Card, SystemTime, u32)> = found
            .images
            .iter()
            .zip(thumbs)
            .map(|(image, thumb)| card(image, thumb, &up))
            .collect();
        // Each (night, task) group sorts by its newest image.
        let mut newest: HashMap<(&str, &str), SystemTime> = HashMap::new();
        for (c, t, _) in &cards {
            let e = newest.entry((&c.night, &c.task)).or_insert(*t);
            *e = (*e).max(*t);
        }
        let group_time: Vec<SystemTime> = cards
            .iter()
            .map(|(c, _, _)| newest[&(c.night.as_str(), c.task.as_str())])
            .collect();
        let mut order: Vec<usize> = (0..cards.len()).collect();
        order.sort_by(|&x, &y| {
            let ((a, ta, ia), (b, tb, ib)) = (&cards[x], &cards[y]);
            b.night
                .cmp(&a.night)
                .then(group_time[y].cmp(&group_time[x]))
                .then(a.task.cmp(&b.task))
                .then(ia.cmp(ib))
                .then(ta.cmp(tb))
                .then(a.id.cmp(&b.id))
        });
        let mut slots: Vec<Option<Card>> = cards.into_iter().map(|(c, _, _)| Some(c)).collect();
        let cards: Vec<Card> = order
            .into_iter()
            .map(|i| slots[i].take().expect("each card once"))
            .collect();
        let mut folder_counts: BTreeMap<String, usize> = BTreeMap::new();
        for c in &cards {
            *folder_counts.entry(c.folder.clone()).or_default() += 1;
        }

        let mut by_folder: BTreeMap<String, Vec<(SystemTime, ErrorEntry)>> = BTreeMap::new();
        for e in &found.errors {
            by_folder.entry(e.folder.clone()).or_default().push((
                e.modified,
                ErrorEntry {
                    rel: e.rel.clone(),
                    href: format!("{up}{}", url_path(&e.rel)),
                    date: local_time(e.modified).minute,
                    head: e.head.clone(),
                },
            ));
        }
        let errors = by_folder
            .into_iter()
            .map(|(folder, mut files)| {
                files.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.rel.cmp(&b.1.rel)));
                ErrorGroup {
                    folder,
                    files: files.into_iter().map(|(_, f)| f).collect(),
                }
            })
            .collect();
        Site {
            cards,
            folders: folder_counts.into_iter().collect(),
            errors,
            error_count: found.errors.len(),
        }
    }

    /// The number of folder pages.
    pub fn folder_count(&self) -> usize {
        self.folders.len()
    }

    /// The cards, in page order.
    pub fn cards(&self) -> &[Card] {
        &self.cards
    }

    /// Writes every page, asset and the data file into `dir`, skipping files whose content
    /// is unchanged, and removes folder pages of folders that have no images any more.
    /// Returns how many files were written.
    pub fn write(&self, dir: &Path) -> Result<usize, GalleryError> {
        let io = |source| GalleryError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| template_error(name, e))?;
        }
        let mut written = 0;
        let mut put = |rel: &str, bytes: &[u8]| -> Result<(), GalleryError> {
            let path = dir.join(rel);
            if write_if_changed(&path, bytes).map_err(io)? {
                written += 1;
            }
            Ok(())
        };

        for (name, source) in ASSETS {
            put(&format!("{ASSET_DIR}/{name}"), source.as_bytes())?;
        }
        let data = serde_json::to_string(&serde_json::json!({ "images": self.cards }))
            .expect("cards always serialise");
        put(
            "data.js",
            format!("window.{DATA_GLOBAL} = {data};\n").as_bytes(),
        )?;

        let mut nav = vec![NavLink {
            href: "index.html".into(),
            label: "All images".into(),
            count: self.cards.len(),
        }];
        nav.extend(self.folders.iter().map(|(f, n)| NavLink {
            href: folder_page(f),
            label: f.clone(),
            count: *n,
        }));
        nav.push(NavLink {
            href: "errors.html".into(),
            label: "Error files".into(),
            count: self.error_count,
        });
        let set = |f: fn(&Card) -> &String| -> Vec<String> {
            self.cards
                .iter()
                .map(|c| f(c).clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        let models = set(|c| &c.model);
        let mut nights = set(|c| &c.night);
        nights.reverse();
        let folders: Vec<String> = self.folders.iter().map(|(f, _)| f.clone()).collect();

        let render = |name: &str, ctx: Value| -> Result<String, GalleryError> {
            env.get_template(name)
                .and_then(|t| t.render(ctx))
                .map_err(|e| template_error(name, e))
        };
        let mut pages = vec![(
            "index.html".to_string(),
            render(
                "images.html",
                context! { title => "All images", current => "index.html", nav => Serde(nav.clone()),
                folder => "", folders => Serde(folders.clone()), models => Serde(models.clone()),
                nights => Serde(nights.clone()), total => self.cards.len() },
            )?,
        )];
        for (folder, count) in &self.folders {
            let page = folder_page(folder);
            let html = render(
                "images.html",
                context! { title => folder, current => &page, nav => Serde(nav.clone()),
                folder => folder, folders => Serde(folders.clone()), models => Serde(models.clone()),
                nights => Serde(nights.clone()), total => count },
            )?;
            pages.push((page, html));
        }
        pages.push((
            "errors.html".to_string(),
            render(
                "errors.html",
                context! { title => "Error files", current => "errors.html", nav => Serde(nav.clone()),
                           groups => Serde(self.errors.clone()), total => self.error_count },
            )?,
        ));
        let names: BTreeSet<String> = pages.iter().map(|(n, _)| n.clone()).collect();
        for (name, html) in &pages {
            put(name, html.as_bytes())?;
        }
        for entry in std::fs::read_dir(dir).map_err(io)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("folder-") && name.ends_with(".html") && !names.contains(&name) {
                std::fs::remove_file(entry.path()).map_err(io)?;
            }
        }
        Ok(written)
    }
}

fn template_error(name: &str, e: minijinja::Error) -> GalleryError {
    GalleryError::Template {
        name: name.to_string(),
        message: format!("{e:#}"),
    }
}

/// The page of a top-level folder: `folder-NAME.html` for a plain name, else a name made
/// from a hash (a member's folder name may hold anything).
pub fn folder_page(folder: &str) -> String {
    let plain = !folder.is_empty()
        && folder
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        format!("folder-{folder}.html")
    } else {
        let digest = Sha256::digest(folder.as_bytes());
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("folder-x{hex}.html")
    }
}

/// A root-relative `/`-separated path as a URL path: each component percent-encoded.
fn url_path(rel: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    rel.split('/')
        .map(|part| percent_encoding::utf8_percent_encode(part, SET).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The card of one image, with its time (for ordering) and its index in its task.
fn card(image: &FoundImage, thumb: &Thumb, up: &str) -> (Card, SystemTime, u32) {
    let s = &image.sidecar;
    let job = &s.call.job;
    let p = &s.provenance;
    let made = p
        .started
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
        .unwrap_or(image.modified);
    let when = local_time(made);
    let size = if thumb.width > 0 {
        format!("{}x{}", thumb.width, thumb.height)
    } else {
        job.size
            .map(|[w, h]| format!("{w}x{h}"))
            .unwrap_or_default()
    };
    let prompt = job.prompts.clone().unwrap_or_default();
    let task = p.task.clone().unwrap_or_else(|| series_of(&image.rel));
    let reproduce = format!(
        "runvqgan reproduce {}",
        shlex::try_quote(&image.sidecar_rel).unwrap_or_else(|_| image.sidecar_rel.clone().into())
    );
    let card = Card {
        id: image.rel.clone(),
        folder: image.folder.clone(),
        image: format!("{up}{}", url_path(&image.rel)),
        sidecar: format!("{up}{}", url_path(&image.sidecar_rel)),
        thumb: thumb
            .file
            .as_ref()
            .map(|f| format!("{THUMB_DIR}/{f}"))
            .unwrap_or_default(),
        style: style_of(&prompt).unwrap_or_default(),
        prompt,
        seed: job.seed.map(|s| s.to_string()).unwrap_or_default(),
        iterations: job.iterations.map(|i| i.to_string()).unwrap_or_default(),
        size,
        model: p
            .model_set
            .clone()
            .or_else(|| s.call.models.clip_model.clone())
            .unwrap_or_else(|| "unknown".into()),
        date: when.minute,
        night: when.night,
        task,
        image_of: p
            .image
            .map(|i| format!("{} of {}", i.index, i.total))
            .unwrap_or_default(),
        call: image.call.clone(),
        reproduce,
    };
    (card, made, p.image.map_or(0, |i| i.index))
}

/// For a sidecar without a `task` line (the old R runner's): the series the image belongs
/// to, its path without the `_N.png` number.
fn series_of(rel: &str) -> String {
    let stem = rel.strip_suffix(".png").unwrap_or(rel);
    match stem.rsplit_once('_') {
        Some((base, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
            format!("{base}_N")
        }
        _ => stem.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_pages_have_safe_names() {
        assert_eq!(folder_page("alice"), "folder-alice.html");
        assert!(folder_page("../x y").starts_with("folder-x"));
        assert_ne!(folder_page("a b"), folder_page("a c"));
    }

    #[test]
    fn url_paths_encode_each_component() {
        assert_eq!(url_path("alice/a b#1.png"), "alice/a%20b%231.png");
        assert_eq!(url_path("bob/Ünï.png"), "bob/%C3%9Cn%C3%AF.png");
    }

    #[test]
    fn old_sidecars_group_by_series() {
        assert_eq!(series_of("output/dog_12.png"), "output/dog_N");
        assert_eq!(series_of("output/dog.png"), "output/dog");
    }
}
