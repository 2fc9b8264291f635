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

pub use super::card::Card;
use super::card::{OUT_PLACEHOLDER, card};
use super::disk::{GalleryError, write_if_changed};
use super::facts::Facts;
use super::links::url_path;
use super::scan::Found;
use super::thumbs::Thumb;
use super::when::local_time;
use crate::shared_folder::confined::Dir;
use crate::shared_folder::files::CONFIG_FILE;
use crate::task::json_schema::{NOT_IN_SCHEMA, SCHEMA_FILE, task_schema, task_schema_text};

pub(super) const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("images.html", include_str!("templates/images.html")),
    ("errors.html", include_str!("templates/errors.html")),
];
pub(super) const ASSETS: &[(&str, &str)] = &[
    ("gallery.js", include_str!("templates/gallery.js")),
    ("grid.js", include_str!("templates/grid.js")),
    ("viewer.js", include_str!("templates/viewer.js")),
    ("compare.js", include_str!("templates/compare.js")),
    ("form.js", include_str!("templates/form.js")),
    ("gallery.css", include_str!("templates/gallery.css")),
    // ajv 8.17.1 (MIT, ajv-dist's ajv2020.min.js): the form checks fields against the schema.
    (
        "ajv2020.min.js",
        include_str!("templates/vendor/ajv2020.min.js"),
    ),
];
/// The page of tonight's queue (issue 26 item 6, written by `check` and `run`).
pub const QUEUE_PAGE: &str = "queue.html";
/// The folder of the script and style sheet inside the gallery.
pub const ASSET_DIR: &str = "assets";
/// The global that `data.js` sets.
const DATA_GLOBAL: &str = "RUNVQGAN_GALLERY";
/// The global that `assets/task-schema.js` sets.
const SCHEMA_GLOBAL: &str = "RUNVQGAN_TASK_SCHEMA";

/// A link in the navigation.
#[derive(Debug, Clone, Serialize)]
struct NavLink {
    href: String,
    label: String,
    count: Option<usize>,
}

/// One folder's error files.
#[derive(Debug, Clone, Serialize)]
struct ErrorGroup {
    folder: String,
    files: Vec<ErrorEntry>,
}

#[derive(Debug, Clone, Serialize)]
struct ErrorEntry {
    warning: bool,
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
    warning_count: usize,
}

impl Site {
    /// Turns what was found into cards, ordered newest night first, then by task (the task
    /// with the newest image first), then by the image's place in its task. `depth`: how
    /// many folders the gallery lies below the root `root`. `facts`: each image's
    /// ([`Found::facts`]), in order, like `thumbs`.
    pub fn new(
        found: &Found,
        facts: &[Facts],
        thumbs: &[Thumb],
        depth: usize,
        root: &Path,
    ) -> Site {
        let up = "../".repeat(depth);
        let config = owner_config(root);
        let cards: Vec<(Card, SystemTime, u32)> = found
            .images
            .iter()
            .zip(facts)
            .zip(thumbs)
            .map(|((image, facts), thumb)| card(image, facts, thumb, &up, root, config.as_deref()))
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
                    warning: e.warning,
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
            error_count: found.errors.iter().filter(|e| !e.warning).count(),
            warning_count: found.errors.iter().filter(|e| e.warning).count(),
        }
    }

    /// The cards, in page order.
    pub fn cards(&self) -> &[Card] {
        &self.cards
    }

    /// Writes every page and the data file into the gallery's folder `top` and the assets
    /// into its folder `assets` (handles, opened beneath the root; `path` names the
    /// gallery in errors), skipping files whose content is unchanged, and removes folder
    /// pages of folders that have no images any more. Returns how many files were written,
    /// and the names of all (written or found unchanged), relative to the gallery.
    pub fn write(
        &self,
        top: &Dir,
        assets: &Dir,
        path: &Path,
    ) -> Result<(usize, Vec<String>), GalleryError> {
        let io = |source| GalleryError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| template_error(name, e))?;
        }
        let mut written = 0;
        let mut files = Vec::new();
        let mut put = |dir: &Dir, name: &str, bytes: &[u8]| -> Result<(), GalleryError> {
            if write_if_changed(dir, name, bytes).map_err(io)? {
                written += 1;
            }
            let in_assets = std::ptr::eq(dir, assets);
            files.push(if in_assets {
                format!("{ASSET_DIR}/{name}")
            } else {
                name.to_string()
            });
            Ok(())
        };

        for (name, source) in ASSETS {
            put(assets, name, source.as_bytes())?;
        }
        let data = serde_json::to_string(&serde_json::json!({ "images": self.cards }))
            .expect("cards always serialise");
        put(
            top,
            "data.js",
            format!("window.{DATA_GLOBAL} = {data};\n").as_bytes(),
        )?;
        // The task file's schema, for the form (a script: `fetch` is refused on file://) and
        // as JSON for editors, with the rules it leaves to the night.
        let schema = task_schema();
        let night_only: Vec<_> = NOT_IN_SCHEMA
            .iter()
            .map(|(field, why)| serde_json::json!({ "field": field, "why": why }))
            .collect();
        let form = serde_json::json!({ "schema": schema, "night_only": night_only });
        put(
            assets,
            "task-schema.js",
            format!("window.{SCHEMA_GLOBAL} = {form};\n").as_bytes(),
        )?;
        put(assets, SCHEMA_FILE, task_schema_text().as_bytes())?;

        let mut nav = vec![NavLink {
            href: "index.html".into(),
            label: "All images".into(),
            count: Some(self.cards.len()),
        }];
        nav.extend(self.folders.iter().map(|(f, n)| NavLink {
            href: folder_page(f),
            label: f.clone(),
            count: Some(*n),
        }));
        nav.push(NavLink {
            href: "errors.html".into(),
            label: "Errors and warnings".into(),
            count: Some(self.error_count + self.warning_count),
        });
        nav.push(NavLink {
            href: QUEUE_PAGE.into(),
            label: "Tonight's queue".into(),
            count: None,
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
                nights => Serde(nights.clone()), total => self.cards.len(), out_placeholder => OUT_PLACEHOLDER },
            )?,
        )];
        for (folder, count) in &self.folders {
            let page = folder_page(folder);
            let html = render(
                "images.html",
                context! { title => folder, current => &page, nav => Serde(nav.clone()),
                folder => folder, folders => Serde(folders.clone()), models => Serde(models.clone()),
                nights => Serde(nights.clone()), total => count, out_placeholder => OUT_PLACEHOLDER },
            )?;
            pages.push((page, html));
        }
        pages.push((
            "errors.html".to_string(),
            render(
                "errors.html",
                context! { title => "Errors and warnings", current => "errors.html", nav => Serde(nav.clone()),
                           groups => Serde(self.errors.clone()), errors => self.error_count,
                           warnings => self.warning_count },
            )?,
        ));
        let names: BTreeSet<String> = pages.iter().map(|(n, _)| n.clone()).collect();
        for (name, html) in &pages {
            put(top, name, html.as_bytes())?;
        }
        for (entry, _) in top.entries().map_err(io)? {
            let name = entry.to_string_lossy();
            if name.starts_with("folder-") && name.ends_with(".html") && !names.contains(&*name) {
                top.remove(&entry).map_err(io)?;
            }
        }
        Ok((written, files))
    }
}

/// The owner's configuration, named in the reproduce command when there is one: a member's
/// reproduce (which starts Python) trusts a configuration given by flag.
pub fn owner_config(root: &Path) -> Option<std::path::PathBuf> {
    std::fs::symlink_metadata(root.join(CONFIG_FILE))
        .is_ok_and(|m| m.is_file())
        .then(|| root.join(CONFIG_FILE))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_pages_have_safe_names() {
        assert_eq!(folder_page("alice"), "folder-alice.html");
        assert!(folder_page("../x y").starts_with("folder-x"));
        assert_ne!(folder_page("a b"), folder_page("a c"));
    }
}
