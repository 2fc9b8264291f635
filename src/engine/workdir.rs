//! The engine's private work folder. The engine (Python) opens files by path, and a path
//! into the shared folder can be turned into a link to anywhere between the moment runvqgan
//! checks it and the moment Python opens it. So the engine never touches the shared folder:
//!
//! - its input images (`-ip`, `-ii`) are read by runvqgan through the root's handle
//!   ([`crate::shared_folder::confined`]: inside the root only, regular files, no blocking, at most
//!   [`MAX_IMAGE`] bytes) and copied into this folder;
//! - it writes each PNG (and a video's MP4, encoded from frames that never leave the engine)
//!   into this folder, and runvqgan places it into the output folder through the root's
//!   handle, with a rename that never replaces an existing file.
//!
//! The folder is made by the running user in the system's temporary folder with mode 0700
//! (nobody else can enter it), whatever the umask (a service's `UMask=0002` would otherwise
//! make it 0775), and removed when the run ends.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use thiserror::Error;

use crate::call::job::Job;
use crate::shared_folder::confined::{self, MAX_IMAGE, Place};
use crate::shared_folder::root::check_relative;

/// The largest PNG the engine may hand back (a 450 x 300 image is well under 1 MiB).
const MAX_PNG: u64 = 512 * 1024 * 1024;
/// The largest MP4 the engine may hand back (1000 frames of 450 x 300 at generate.py's
/// quality are tens of MiB; the frames cap, `max_video_frames`, bounds it).
const MAX_VIDEO: u64 = 2 * 1024 * 1024 * 1024;

/// An input image that cannot be used.
#[derive(Debug, Error)]
#[error("the image {path:?} cannot be used: {problem}")]
pub struct InputError {
    /// The path as the job gives it (relative to the root).
    pub path: String,
    /// What is wrong, in words.
    pub problem: String,
}

/// The private work folder of one process.
#[derive(Debug)]
pub struct WorkDir {
    dir: tempfile::TempDir,
    inputs: AtomicU32,
}

impl WorkDir {
    /// Makes a new private work folder (mode 0700) in the temporary folder.
    pub fn new() -> std::io::Result<WorkDir> {
        use rustix::fs::{Mode, OFlags};
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("runvqgan-work-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?;
        // The umask only takes bits away from 0700, but the mode is set once more on the
        // folder just made (by its handle, never through a link): the folder is private
        // whatever the process was started with.
        let fd = rustix::fs::open(
            dir.path(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o700))?;
        Ok(WorkDir {
            dir,
            inputs: AtomicU32::new(0),
        })
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The job to hand the engine for `job` (whose paths are relative to the root at
    /// `root`): its input images copied into the work folder through the root's handle, its
    /// output a file in the work folder with the output's file name.
    pub fn engine_job(&self, job: &Job, root: &Path) -> Result<Job, InputError> {
        let mut image_prompts = Vec::new();
        for prompt in &job.image_prompts {
            let (path, weights) = split_weights(prompt);
            image_prompts.push(format!("{}{weights}", self.copy_in(path, root)?.display()));
        }
        let init_image = match &job.init_image {
            Some(p) => Some(self.copy_in(p, root)?.to_string_lossy().into_owned()),
            None => None,
        };
        Ok(Job {
            image_prompts,
            init_image,
            output: job.output.as_deref().map(|o| self.output_of(o)),
            ..job.clone()
        })
    }

    /// Where the engine writes the PNG of the output `output` (a root-relative path).
    fn output_of(&self, output: &str) -> String {
        let name = Path::new(output)
            .file_name()
            .unwrap_or(OsStr::new("image.png"));
        self.path().join(name).to_string_lossy().into_owned()
    }

    /// Reads the input image `rel` (relative to the root) through the root's handle and
    /// copies it into the work folder; returns the copy's path.
    fn copy_in(&self, rel: &str, root: &Path) -> Result<PathBuf, InputError> {
        let bad = |problem: String| InputError {
            path: rel.to_string(),
            problem,
        };
        check_relative(rel).map_err(|p| bad(p.to_string()))?;
        let file = confined::read_beneath(&root.join(rel), MAX_IMAGE)
            .map_err(|e| bad(confined::describe(&e)))?;
        if file.bytes.len() as u64 > MAX_IMAGE {
            return Err(bad(format!(
                "it is larger than {} MiB",
                MAX_IMAGE / 1024 / 1024
            )));
        }
        let n = self.inputs.fetch_add(1, Ordering::Relaxed);
        let name = Path::new(rel)
            .file_name()
            .map(|s| s.to_string_lossy().replace(':', "_"))
            .unwrap_or_default();
        let copy = self.path().join(format!("input-{n}-{name}"));
        std::fs::write(&copy, &file.bytes).map_err(|e| bad(e.to_string()))?;
        Ok(copy)
    }

    /// Places the PNG the engine wrote for `output` (the job's root-relative output) at
    /// `dest` (inside the root) with permission bits `mode`: through the folder's handle,
    /// written to a hidden temporary and renamed into place as `place` says. The work file
    /// is removed.
    pub fn place(&self, output: &str, dest: &Path, mode: u32, place: Place) -> std::io::Result<()> {
        place_file(
            &PathBuf::from(self.output_of(output)),
            MAX_PNG,
            dest,
            mode,
            place,
        )
    }

    /// Places the MP4 the engine wrote beside the PNG of `output` (`x_3.png` -> `x_3.mp4`)
    /// at `dest`, as [`WorkDir::place`] places the PNG.
    pub fn place_video(
        &self,
        output: &str,
        dest: &Path,
        mode: u32,
        place: Place,
    ) -> std::io::Result<()> {
        let made = PathBuf::from(self.output_of(output))
            .with_extension(crate::shared_folder::files::VIDEO_EXTENSION);
        place_file(&made, MAX_VIDEO, dest, mode, place)
    }
}

/// Copies the work file `made` (at most `max` bytes) to `dest` through its folder's handle,
/// by a hidden temporary renamed into place as `place` says, and removes the work file.
fn place_file(made: &Path, max: u64, dest: &Path, mode: u32, place: Place) -> std::io::Result<()> {
    {
        use std::io::Read;
        let mut bytes = Vec::new();
        let mut file = std::fs::File::open(made)?;
        if file.metadata()?.len() > max {
            return Err(std::io::Error::other(format!(
                "the engine's file is larger than {} MiB",
                max / 1024 / 1024
            )));
        }
        file.read_to_end(&mut bytes)?;
        let (dir, name) = confined::parent(dest)?;
        let prefix = format!(".{}.", name.to_string_lossy());
        let placed = dir.write_atomic(&name, &prefix, &bytes, mode, place);
        let _ = std::fs::remove_file(made);
        placed
    }
}

/// Splits `path[:weight[:stop]]` as the engine does: the last one or two `:` fields are
/// weights when they are numbers.
fn split_weights(prompt: &str) -> (&str, &str) {
    let number = |s: &str| s.trim().parse::<f64>().is_ok();
    let parts: Vec<&str> = prompt.rsplitn(3, ':').collect();
    if parts.len() == 3 && number(parts[0]) && number(parts[1]) {
        let cut = parts[2].len();
        return (&prompt[..cut], &prompt[cut..]);
    }
    if parts.len() >= 2 && number(parts[0]) {
        let cut = prompt.len() - parts[0].len() - 1;
        return (&prompt[..cut], &prompt[cut..]);
    }
    (prompt, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_stay_with_the_copy() {
        assert_eq!(split_weights("a/b.png"), ("a/b.png", ""));
        assert_eq!(split_weights("a/b.png:0.5"), ("a/b.png", ":0.5"));
        assert_eq!(split_weights("a/b.png:2:-1"), ("a/b.png", ":2:-1"));
        assert_eq!(split_weights("a:b.png"), ("a:b.png", ""));
    }

    #[test]
    fn the_work_folder_is_private_whatever_the_umask() {
        // The umask belongs to the whole process, and tests run side by side: the check runs
        // in a child (this test binary, running only the test below) started under umask 0002.
        let out = std::process::Command::new("sh")
            .args(["-c", "umask 0002 && exec \"$0\" \"$@\""])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "engine::workdir::tests::private_under_umask_0002",
                "--ignored",
                "--test-threads=1",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Run by the test above, in a child started under umask 0002.
    #[test]
    #[ignore = "run by the_work_folder_is_private_whatever_the_umask, under umask 0002"]
    fn private_under_umask_0002() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        // SAFETY: umask has no preconditions; this process runs this one test only.
        let umask = unsafe { libc::umask(0o002) };
        assert_eq!(umask, 0o002, "started under umask 0002");
        let plain = tempfile::tempdir().unwrap();
        std::fs::create_dir(plain.path().join("d")).unwrap();
        assert_eq!(
            mode(&plain.path().join("d")),
            0o775,
            "the umask is in effect"
        );
        let work = WorkDir::new().unwrap();
        assert_eq!(mode(work.path()), 0o700);
    }

    #[test]
    fn inputs_outside_the_root_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = crate::shared_folder::root::Root::open(tmp.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.png"), "secret").unwrap();
        std::fs::write(root.path().join("ok.png"), "fine").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        let work = WorkDir::new().unwrap();
        let job = |p: &str| Job {
            init_image: Some(p.to_string()),
            ..Job::default()
        };
        let staged = work.engine_job(&job("ok.png"), root.path()).unwrap();
        let copy = staged.init_image.unwrap();
        assert!(copy.starts_with(&*work.path().to_string_lossy()));
        assert_eq!(std::fs::read(copy).unwrap(), b"fine");
        for bad in ["out/secret.png", "/etc/passwd", "../x.png"] {
            assert!(work.engine_job(&job(bad), root.path()).is_err(), "{bad}");
        }
    }
}
