//! The pictures a task names (`in_file`, `template_file`): where they may be, and that they
//! are pictures.
//!
//! A member may name a picture anywhere inside the shared folder: relative to the task
//! file's folder, with `..` to reach another folder (`"../output/lighthouse_1.png"`), or by
//! its full path as the workstation mounts the shared folder (the only form that worked
//! under the R runner). `..` is resolved by the path's text before the disk is touched, so a
//! path that climbs above the shared folder is refused without looking outside; the rest is
//! resolved inside the root like every other path ([`Root::resolve_inside`]: links that lead
//! out are refused). Anything outside gets one message, whatever form it had.
//!
//! The picture is then opened and decoded (PNG and JPEG; other formats the engine reads are
//! recognised by their first bytes), so a text file named `sketch.png` is reported when the
//! task is checked, in the member's words, rather than failing at night.

use std::path::{Component, Path, PathBuf};

use crate::shared_folder::confined::MAX_IMAGE;
use crate::shared_folder::root::{PathProblem, Root, check_written};

/// The longest side accepted, in pixels (the engine scales a picture to the image size, at
/// most a few hundred pixels; a bigger one only costs memory).
pub const MAX_PICTURE_SIDE: u32 = 12_000;

/// How to write the path of a picture, for every message about one.
pub fn path_fix(root: &Root) -> String {
    format!(
        "give the path of a picture inside the shared folder, relative to the folder of this task file (\"ref.png\" beside it, \"../output/dog_1.png\" in another folder) or in full, starting with {}/",
        root.mounted().display()
    )
}

/// Resolves `user` (the value of `in_file` or `template_file`) written in a task file in
/// `task_dir` (a folder inside the root, canonical). Returns the canonical path of a file
/// inside the root.
pub fn resolve(root: &Root, task_dir: &Path, user: &str) -> Result<PathBuf, PathProblem> {
    check_written(user)?;
    let user_path = Path::new(user);
    // The path relative to the root, as components, `..` applied.
    let (base, rest): (&Path, &Path) = if user_path.is_absolute() {
        let inside = [root.mounted(), root.path()]
            .into_iter()
            .find_map(|r| user_path.strip_prefix(r).ok())
            .ok_or(PathProblem::Outside)?;
        (Path::new(""), inside)
    } else {
        let dir = task_dir
            .strip_prefix(root.path())
            .map_err(|_| PathProblem::Outside)?;
        (dir, user_path)
    };
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in base.components().chain(rest.components()) {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(PathProblem::Outside);
                }
            }
            Component::RootDir | Component::Prefix(_) => return Err(PathProblem::Outside),
        }
    }
    if parts.is_empty() {
        return Err(PathProblem::NotAFile);
    }
    let rel: PathBuf = parts.iter().collect();
    let canonical = root.resolve_inside(root.path(), &rel.to_string_lossy())?;
    if !canonical.is_file() {
        return Err(PathProblem::NotAFile);
    }
    Ok(canonical)
}

/// Checks that the file at `path` is a picture the engine can use: it can be read, it is a
/// PNG or JPEG that decodes (or another picture format, recognised by its first bytes), and
/// its size is sane. Returns why not, as the end of a sentence.
pub fn check(path: &Path) -> Result<(), String> {
    // Untrusted: not through a link, without blocking, a regular file, capped.
    let read = crate::shared_folder::confined::read_nofollow(path, MAX_IMAGE + 1).map_err(|e| {
        format!(
            "it cannot be read ({})",
            crate::shared_folder::confined::describe(&e)
        )
    })?;
    if read.bytes.len() as u64 > MAX_IMAGE {
        return Err(format!(
            "it is larger than {} MiB, more than a picture may have; save a smaller copy (a few hundred pixels wide is plenty)",
            MAX_IMAGE / (1024 * 1024)
        ));
    }
    decode(&read.bytes)
}

/// [`check`] on a picture's bytes.
pub fn decode(bytes: &[u8]) -> Result<(), String> {
    use image::ImageFormat;
    let not_a_picture = "it is not a picture: its content is not PNG or JPEG (a file renamed to .png does not become a picture); save or export the picture as PNG or JPEG";
    let format = image::guess_format(bytes).map_err(|_| not_a_picture.to_string())?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg) {
        // Another picture format (WebP, GIF, BMP, TIFF, ...): the engine reads it; it is not
        // decoded here.
        return Ok(());
    }
    let name = if format == ImageFormat::Png {
        "PNG"
    } else {
        "JPEG"
    };
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PICTURE_SIDE);
    limits.max_image_height = Some(MAX_PICTURE_SIDE);
    reader.limits(limits);
    match reader.decode() {
        Ok(img) if img.width() == 0 || img.height() == 0 => Err(format!(
            "the {name} picture is empty (0 pixels wide or high)"
        )),
        Ok(_) => Ok(()),
        Err(image::ImageError::Limits(_)) => Err(format!(
            "the {name} picture is larger than {MAX_PICTURE_SIDE} pixels on a side; save a smaller copy (a few hundred pixels wide is plenty)"
        )),
        Err(e) => Err(format!(
            "it starts like a {name} picture but cannot be read as one ({e}); the file may be damaged or cut short: save or export it again"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::RgbImage::new(w, h)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn a_real_picture_passes_and_text_does_not() {
        assert_eq!(decode(&png(8, 4)), Ok(()));
        let e = decode(b"just some text").unwrap_err();
        assert!(e.starts_with("it is not a picture"), "{e}");
        let mut cut = png(64, 64);
        cut.truncate(cut.len() / 2);
        let e = decode(&cut).unwrap_err();
        assert!(e.contains("cannot be read as one"), "{e}");
    }

    #[test]
    fn paths_stay_inside_the_root_whatever_their_form() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("tasks/sub")).unwrap();
        std::fs::create_dir_all(r.join("output")).unwrap();
        std::fs::write(r.join("output/a_1.png"), png(2, 2)).unwrap();
        let tasks = r.join("tasks/sub");
        let want = r.join("output/a_1.png");
        assert_eq!(
            resolve(&root, &tasks, "../../output/a_1.png"),
            Ok(want.clone())
        );
        assert_eq!(
            resolve(&root, &tasks, &want.display().to_string()),
            Ok(want.clone())
        );
        assert_eq!(
            resolve(&root, &tasks, "../../../etc/passwd"),
            Err(PathProblem::Outside)
        );
        assert_eq!(
            resolve(&root, &tasks, "/etc/passwd"),
            Err(PathProblem::Outside)
        );
        assert_eq!(
            resolve(&root, &tasks, "C:/Users/x/a.png"),
            Err(PathProblem::Drive)
        );
        assert_eq!(
            resolve(&root, &tasks, "../../output"),
            Err(PathProblem::NotAFile)
        );
    }
}
