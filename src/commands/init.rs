//! `runvqgan init DIR`: a new shared folder, ready for the first night: `tasks/` and
//! `output/`, a commented `runvqgan.toml`, a `README.txt` for the lab's members and a
//! `tasks/task_sample.txt` to copy, set up for a lab of Unix accounts (docs/permissions.md):
//! the root, `tasks/` and `output/` belong to the owner and the lab's group, group-writable,
//! setgid (what members add belongs to the group) and sticky (a member can remove or rename
//! only their own entries, never the owner's `.runvqgan/`, `gallery/` or configuration), with
//! a default ACL that keeps every folder a member makes writable by the owner and the group,
//! whatever the member's umask; `.runvqgan/` and `gallery/` are made the owner's alone. It
//! never touches a folder that already holds something.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::process::exit_codes::ExitCode;
use crate::shared_folder::acl::{AclOutcome, set_shared_default};
use crate::shared_folder::files::{CONFIG_FILE, GALLERY_DIR, OUTPUT_DIR, TASKS_DIR};
use crate::shared_folder::root::RootError;

/// Group-writable, setgid (members' files take the folder's group) and sticky (members
/// remove or rename only their own entries).
const SHARED_DIR_MODE: u32 = 0o3775;
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
#max_video_frames = 1000          # a task asking for a longer video is refused; 0: no videos

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

# Several machines or a Slurm job array on this folder (see docs/cluster.md).
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
pub const MEMBER_README: &str = include_str!("../../docs/members.md");

/// Options of `init`.
#[derive(Debug, Clone)]
pub struct InitOptions<'a> {
    /// The new shared folder (made when missing; an existing one must be empty).
    pub dir: &'a Path,
    /// The lab's group (`None`: the group of the folder above `dir`).
    pub group: Option<&'a str>,
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
    let gid = match opts.group {
        Some(name) => Some(group_id(name)?),
        None => None,
    };
    let shared = [dir.to_path_buf(), dir.join(TASKS_DIR), dir.join(OUTPUT_DIR)];
    for (i, folder) in shared.iter().enumerate() {
        make_shared_dir(folder, i > 0, gid)?;
    }
    write_new(&dir.join(CONFIG_FILE), CONFIG_TEMPLATE)?;
    write_new(&dir.join("README.txt"), MEMBER_README)?;
    write_new(&dir.join(TASKS_DIR).join("task_sample.txt"), TASK_SAMPLE)?;
    // The owner's own folders, made before the default ACLs so that nothing is inherited.
    let canonical = dir.canonicalize()?;
    crate::shared_folder::state::StateDir::open(&canonical)?;
    crate::shared_folder::state::make_owner_folder(
        &std::fs::File::open(&canonical)?,
        std::ffi::OsStr::new(GALLERY_DIR),
    )
    .map_err(|e| anyhow::anyhow!("cannot make {}: {e}", dir.join(GALLERY_DIR).display()))?;
    let owner = crate::process::euid();
    let mut acls = AclOutcome::Set;
    for folder in &shared {
        let fd = std::fs::File::open(folder)?;
        if set_shared_default(&fd, owner)? == AclOutcome::Unsupported {
            acls = AclOutcome::Unsupported;
        }
    }

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
    writeln!(
        out,
        "  .runvqgan/ gallery/   the owner's state and the gallery: yours alone"
    )?;
    writeln!(out)?;
    let group = std::fs::metadata(dir).map(|m| crate::process::group_name(m.gid()))?;
    writeln!(
        out,
        "permissions: {shown}, {TASKS_DIR}/ and {OUTPUT_DIR}/ belong to you and the group {group} \
         (rwxrwxr-x, setgid, sticky)"
    )?;
    match acls {
        AclOutcome::Set => writeln!(
            out,
            "  with a default ACL: a folder a member makes here stays writable by you and {group}, \
             whatever their umask"
        )?,
        AclOutcome::Unsupported => writeln!(
            out,
            "  this file system keeps no ACLs: a folder a member makes with mkdir under umask 022 \
             is not writable by you; members make theirs with `mkdir -m 2775 {shown}/<name>`, and \
             `runvqgan status` names any folder you cannot write, with its fix"
        )?,
    }
    writeln!(out)?;
    writeln!(out, "next:")?;
    if opts.group.is_none() {
        writeln!(
            out,
            "  the group is {group}: if that is not the lab's, run `runvqgan init --group <the lab's group>` \
             on a new folder, or `chgrp -R <group> {shown}`"
        )?;
    }
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
        "  install the nightly job: docs/owner.md, \"Installing as a service\" (or the cron line)"
    )?;
    Ok(ExitCode::Success)
}

/// Makes (or, for the top folder, takes) a folder, gives it the lab's group (when given) and
/// the shared folder's mode, whatever the umask.
fn make_shared_dir(path: &Path, create: bool, gid: Option<u32>) -> anyhow::Result<()> {
    let cannot = |e: std::io::Error| anyhow::anyhow!("cannot make {}: {e}", path.display());
    if create {
        std::fs::DirBuilder::new()
            .mode(SHARED_DIR_MODE)
            .create(path)
            .map_err(cannot)?;
    }
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(|e| {
            anyhow::anyhow!(
                "cannot give {} to the group: {e}; you must be a member of the group \
                 (`id` lists yours)",
                path.display()
            )
        })?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SHARED_DIR_MODE)).map_err(cannot)
}

/// The id of the group `name` (from the system's group database).
fn group_id(name: &str) -> anyhow::Result<u32> {
    let c = std::ffi::CString::new(name)?;
    // SAFETY: getgrnam with a valid C string; the id is copied out at once.
    let gid = unsafe {
        let gr = libc::getgrnam(c.as_ptr());
        (!gr.is_null()).then(|| (*gr).gr_gid)
    };
    gid.ok_or_else(|| {
        anyhow::anyhow!("there is no group {name:?} on this machine (`getent group` lists them)")
    })
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
