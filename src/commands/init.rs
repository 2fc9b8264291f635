//! `runvqgan init DIR`: a new shared folder, ready for the first night: `tasks/` and
//! `output/`, a commented `runvqgan.toml`, a `README.txt` for the lab's members and a
//! `tasks/task_sample.txt` to copy. The folders are group-writable with the setgid bit, so
//! that everything members add belongs to the folder's group. It never touches a folder
//! that already holds something.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::exit_codes::ExitCode;
use crate::shared_folder::files::{CONFIG_FILE, OUTPUT_DIR, TASKS_DIR};
use crate::shared_folder::root::RootError;

/// Group-writable, setgid: members' files take the folder's group.
const SHARED_DIR_MODE: u32 = 0o2775;
/// Readable by members, writable by the owner only (a configuration others can write is
/// not trusted, and the sample is a template to copy, not to edit).
const OWNER_FILE_MODE: u32 = 0o644;

/// The configuration written by `init`: every setting, commented out at its built-in value
/// (or, for settings without one, an example), with what it does. A test uncomments it and
/// checks it against the built-in defaults.
pub const CONFIG_TEMPLATE: &str = r#"# runvqgan.toml: the settings of this shared folder for `runvqgan run`, `plan` and
# `status`. Every setting is optional: a line starting with `#` is not in force, and shows
# the built-in value. Remove the `#` to change it. Relative paths are relative to this
# folder. An unknown key or a bad value stops the run with exit code 2 and says which;
# `runvqgan plan --root <this folder>` shows what the settings do to the queue.
# This file must belong to the user who runs runvqgan and must not be writable by others.

# Caps for every task; a task asking for more is cut, with a warning in its log line.
#max_iterations = 6000
#max_each = 25
#max_resolution = [450, 300]      # [long side, short side] in pixels
#default_resolution = [450, 300]  # for tasks that give no "resolution"

# Order and pace.
#priority_folder = "tasks"        # its tasks run before everyone else's (default: none)
#delay_seconds = 0                # pause between tasks

# Time budget: start no image that cannot end within this many minutes of the start
# (default: none; `runvqgan run --until 06:30` does the same with a clock time).
#max_minutes = 480

# The engine.
#device = "cuda"                  # "cuda", "cuda:1" or "cpu" (default: cuda when present)
#deterministic = true             # the same seed gives the same image on the same device
#max_batch = 4                    # images of one task made together (default: 4 on a GPU, 1 on the CPU)
#engine_mode = "fast"             # or "reference": generate.py's own loop, slower
#python_env = "/opt/runvqgan/.venv"  # default: the .venv of the runvqgan folder

# Files.
#log_file = "runvqgan.log"        # one line per image and per task, and one at the end of each run
#clip_dir = "models"              # where CLIP files such as ViT-B-32.pt are found by name
#gallery = true                   # the web gallery of every image, rebuilt after each run, in gallery/;
#                                 # false: none; or a folder inside this one, such as "public/gallery"

# Several machines or a Slurm job array on this folder (see the README's cluster section).
#claims = "auto"                  # "flock" on a local disk, a lease too on NFS, Lustre, BeeGFS, GPFS;
#                                 # or "flock" (one machine only), "lease"
#lease_seconds = 60.0             # a claim whose holder stopped renewing it is taken over after this

# The morning after. Every run writes its summary to .runvqgan/runs/<run>.json
# (`runvqgan status --root <this folder>` shows the last one). Besides:
#metrics_file = "/var/lib/prometheus/node-exporter/runvqgan.prom"  # a Prometheus textfile (default: none)
#on_finish = ["/usr/local/bin/mail-summary", "owner@example.org"]  # run with the summary JSON on its
#                                 # standard input; a program and its arguments, never a shell (default: none)

# Models: `scripts/download-models.sh <this folder>/models` fetches the default set.
# `runvqgan models check --root <this folder>` loads a set and says what it is.
#model = "default"                # which [models.NAME] set runs
#[models.default]
#vqgan_config = "models/vqgan_imagenet_f16_16384.yaml"
#vqgan_checkpoint = "models/vqgan_imagenet_f16_16384.ckpt"
#clip_model = "ViT-B/32"
"#;

/// The sample task written to `tasks/task_sample.txt` (never run: a template to copy).
pub const TASK_SAMPLE: &str = r#"{
  "text": ["A painting of a lighthouse in a storm"],
  "style": ["", "Banksy"],
  "iterations": [300],
  "out_file": ["yourname_lighthouse"],
  "out_folder": ["output"],
  "portrait": [false],
  "each": [1]
}
"#;

/// The members' README, written to `README.txt` at the top of the folder.
pub const MEMBER_README: &str = r#"How to get images made by the lab's VQGAN-CLIP workstation
=============================================================

You describe a picture in a small task file and leave it in this folder. Every night
the workstation picks up all task files, paints the pictures with VQGAN-CLIP and puts
them where you asked. You never need to log in to the workstation.

WHERE TASK FILES GO
  * tasks/                     any name ending in .txt, e.g. tasks/john_robots.txt
  * your own folder            a name of the form task_<something>.txt
  Use plain names: letters, digits, "-" and "_". Files called sample.txt,
  task_sample.txt or README.txt are never run: they are templates, so copy
  tasks/task_sample.txt to a new name instead of editing it.

WHAT A TASK FILE LOOKS LIKE
  A task file holds one JSON object, for example:

  {
    "text": ["A painting of a lighthouse in a storm"],
    "style": ["", "Banksy"],
    "iterations": [300],
    "out_file": ["john_lighthouse"],
    "each": [2]
  }

  This makes 4 pictures (2 styles, 2 of each): john_lighthouse_1.png to _4.png.
  A value may be written with or without the square brackets; only "style" takes
  several values.

  text        (needed) what to paint. Quotation marks are fine. Several prompts are
              separated by |, and each may carry a weight: "dog:2|blurry:-0.5".
              A colon always starts a weight, so write "ratio 3 to 2", not "3:2".
  style       one series of pictures per style; "" is the plain text, "Banksy"
              adds " in the style of Banksy".
  iterations  how long to work on each picture: 80 or more; default 200; at most
              6000 (more is cut to 6000).
  out_file    (needed) the start of the picture names. Pick something unique, such
              as your name and a word. Numbers go on from the highest one already
              there: nothing is ever overwritten.
  out_folder  where the pictures go: "output" (everyone's) for tasks in tasks/,
              your own folder for tasks in your folder. The folder must exist.
  portrait    true for upright 300 x 450, false (default) for 450 x 300.
  each        how many pictures per style; default 1; at most 25.
  resolution  [width, height], at most 450 x 300; the painter rounds each side
              down to a multiple of 16 (450 x 300 becomes 448 x 288).
  seed        a whole number, to get the same picture again later.
  in_file     a picture to steer towards, next to your task file.
  template_file  a picture to start from, next to your task file.

WHAT HAPPENS
  * Each picture takes one to a few minutes (longer with more iterations).
  * Next to each picture there is a .txt with the exact settings that made it,
    seed included, so it can be made again.
  * When all pictures of a task exist, the task file is renamed to <name>.txt.done.
    It is still the same file: rename it back to run it again.
  * If something is wrong with a task file, nothing runs for it and a file
    <name>_ERROR.txt appears beside it, saying what is wrong and how to fix it.
    Fix the task file and save it: it is tried again the next night.
  * Hidden files (names starting with a dot) are the runner's bookkeeping: please
    leave them alone.

MORE
  The method is the VQGAN-CLIP of https://github.com/nerdyrodent/VQGAN-CLIP
  (there you find what the "raw" options do). Ask the workstation's owner for
  anything else.
"#;

/// Options of `init`.
#[derive(Debug, Clone)]
pub struct InitOptions<'a> {
    /// The new shared folder (made when missing; an existing one must be empty).
    pub dir: &'a Path,
}

/// Makes the shared folder `opts.dir` and says what to do next.
pub fn run(opts: &InitOptions<'_>, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let dir = opts.dir;
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(RootError::NotEmpty {
                    path: dir.to_path_buf(),
                }
                .into());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|source| RootError::Open {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
        Err(source) => {
            return Err(RootError::Open {
                path: dir.to_path_buf(),
                source,
            }
            .into());
        }
    }
    make_shared_dir(dir, false)?;
    make_shared_dir(&dir.join(TASKS_DIR), true)?;
    make_shared_dir(&dir.join(OUTPUT_DIR), true)?;
    write_new(&dir.join(CONFIG_FILE), CONFIG_TEMPLATE)?;
    write_new(&dir.join("README.txt"), MEMBER_README)?;
    write_new(&dir.join(TASKS_DIR).join("task_sample.txt"), TASK_SAMPLE)?;

    let shown = dir.display();
    writeln!(out, "made the shared folder {shown}:")?;
    writeln!(
        out,
        "  {TASKS_DIR}/      task files of everyone (task_sample.txt to copy)"
    )?;
    writeln!(out, "  {OUTPUT_DIR}/     the common output folder")?;
    writeln!(
        out,
        "  {CONFIG_FILE}  the settings, all commented out at their defaults"
    )?;
    writeln!(
        out,
        "  README.txt    for the lab's members: how to write a task file"
    )?;
    writeln!(out)?;
    writeln!(out, "next:")?;
    writeln!(
        out,
        "  chgrp -R <the lab's group> {shown}   so that members can write in it"
    )?;
    writeln!(
        out,
        "  mkdir {shown}/<name>                  a personal folder for a member (optional)"
    )?;
    writeln!(
        out,
        "  scripts/download-models.sh {shown}/models, then runvqgan models check --root {shown}"
    )?;
    writeln!(
        out,
        "  install the nightly job: README, \"Installing as a service\" (or the cron line)"
    )?;
    Ok(ExitCode::Success)
}

/// Makes (or, for the top folder, takes) a folder and gives it the shared folder's mode,
/// whatever the umask.
fn make_shared_dir(path: &Path, create: bool) -> anyhow::Result<()> {
    let cannot = |e: std::io::Error| anyhow::anyhow!("cannot make {}: {e}", path.display());
    if create {
        std::fs::DirBuilder::new()
            .mode(SHARED_DIR_MODE)
            .create(path)
            .map_err(cannot)?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SHARED_DIR_MODE)).map_err(cannot)
}

/// Writes a new file (never replacing one) with the owner's file mode.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    let cannot = |e: std::io::Error| anyhow::anyhow!("cannot write {}: {e}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(OWNER_FILE_MODE)
        .open(path)
        .map_err(cannot)?;
    file.write_all(text.as_bytes()).map_err(cannot)?;
    file.set_permissions(std::fs::Permissions::from_mode(OWNER_FILE_MODE))
        .map_err(cannot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// The template with every commented setting put in force.
    fn uncommented() -> String {
        CONFIG_TEMPLATE
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_config_template_is_in_force_nowhere() {
        assert_eq!(
            Config::from_toml(CONFIG_TEMPLATE).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn the_config_template_names_every_key_with_its_built_in_value() {
        let shown = Config::from_toml(&uncommented()).unwrap();
        let table = |c: &Config| match toml::Value::try_from(c).unwrap() {
            toml::Value::Table(t) => t,
            other => panic!("{other:?}"),
        };
        let (shown, default) = (table(&shown), table(&Config::default()));
        // Keys without a built-in value (not in the default's table) show an example.
        for key in shown.keys() {
            assert!(
                CONFIG_TEMPLATE.contains(&format!("#{key} ="))
                    || CONFIG_TEMPLATE.contains(&format!("#[{key}.")),
                "`{key}` is not in the template"
            );
            if let Some(value) = default.get(key) {
                assert_eq!(
                    &shown[key], value,
                    "`{key}` does not show its built-in value"
                );
            }
        }
        let examples: Vec<&String> = shown.keys().filter(|k| !default.contains_key(*k)).collect();
        assert_eq!(
            examples,
            [
                "device",
                "max_batch",
                "max_minutes",
                "metrics_file",
                "on_finish",
                "priority_folder",
                "python_env"
            ]
        );
    }
}
