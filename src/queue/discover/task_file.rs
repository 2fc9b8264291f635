//! A task file as found: its path, kind and bytes (read once, without following links and
//! with a size cap), and what kept a file where a task would be from being read.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::shared_folder::index::{FileStamp, stamp_of};
use crate::task::{MAX_TASK_BYTES, TaskError, TaskKind};

/// A task file found in the root.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFile {
    /// The path (under the canonical root; may pass through a link that stays inside).
    pub path: PathBuf,
    /// The path relative to the root, `/`-separated.
    pub rel: String,
    /// Shared (`tasks/`) or a member's.
    pub kind: TaskKind,
    /// Modification time.
    pub modified: SystemTime,
    /// Whether it lies in the priority folder.
    pub priority: bool,
    /// The modification time of its `_ERROR.txt`, if it has one.
    pub error_modified: Option<SystemTime>,
    /// Whether a `_WARNINGS.txt` lies beside it.
    pub has_warnings_file: bool,
    /// The file's bytes as read during discovery (a task is validated, hashed and run from
    /// exactly these bytes; [`TaskFile::reread`] refreshes them). At most
    /// [`MAX_TASK_BYTES`] + 1 bytes are read.
    pub bytes: Arc<[u8]>,
    /// Why the file cannot be a task although it is where a task would be (a folder, a fifo,
    /// unreadable, a link out of the root, a bad name); it gets an `_ERROR.txt` saying so.
    pub problem: Option<Box<TaskError>>,
    /// The stamp of the version read (of the opened file), or of the version known unread
    /// (`reused`); `None` when it was not read.
    pub stamp: Option<FileStamp>,
    /// Not read in this pass: the owner's check index knows this version of it (`stamp`,
    /// see [`crate::queue::known`]), so `bytes` is empty. Only the owner's `check` and
    /// `plan` discover so.
    pub reused: bool,
    /// The hash of the version known unread, when the index gave it ([`TaskFile::sha256`]).
    pub known_sha256: Option<String>,
}

impl TaskFile {
    /// Hex SHA-256 of the task's bytes ([`crate::outputs::lifecycle::task_sha256`]), or of
    /// the version known unread, as the owner's index gave it.
    pub fn sha256(&self) -> String {
        match &self.known_sha256 {
            Some(sha) => sha.clone(),
            None => crate::outputs::lifecycle::task_sha256(&self.bytes),
        }
    }

    /// A task file known by its place only, not read yet (nothing beside it, no bytes):
    /// [`TaskFile::reread`] fills it in.
    pub fn unread(path: PathBuf, rel: String) -> TaskFile {
        TaskFile {
            kind: TaskKind::from_rel(&rel),
            path,
            rel,
            modified: SystemTime::UNIX_EPOCH,
            priority: false,
            error_modified: None,
            has_warnings_file: false,
            bytes: Arc::from(&b""[..]),
            problem: None,
            stamp: None,
            reused: false,
            known_sha256: None,
        }
    }

    /// `Ok` when the file still holds the bytes it was read with (the bytes a task was planned
    /// from); else why not, in words for the member's error file.
    pub fn unchanged(&self) -> Result<(), String> {
        let mut now = self.clone();
        match now.reread() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err("the task file was removed or renamed while it ran".into())
            }
            Err(e) => Err(format!("the task file cannot be read again: {e}")),
            Ok(()) if now.problem.is_some() || *now.bytes != *self.bytes => {
                Err("the task file was changed while it ran".into())
            }
            Ok(()) => Ok(()),
        }
    }

    /// Reads the file again (contents, modification time, error file), e.g. just before
    /// running a task planned hours earlier.
    /// A file that no longer exists is an `Err` (`NotFound`); one that cannot be read is an
    /// `Ok` with [`TaskFile::problem`] set.
    pub fn reread(&mut self) -> std::io::Result<()> {
        self.reused = false;
        self.known_sha256 = None;
        match read_task_stamped(&self.path) {
            Ok(read) => {
                self.bytes = read.bytes.into();
                self.modified = read.modified;
                self.stamp = Some(read.stamp);
                self.problem = None;
            }
            Err(ReadProblem::Gone(e)) => return Err(e),
            Err(ReadProblem::Task(p)) => {
                self.bytes = Arc::from(&b""[..]);
                self.stamp = None;
                self.problem = Some(Box::new(p));
            }
        }
        self.error_modified = crate::shared_folder::confined::modified(
            &crate::shared_folder::files::error_file_path(&self.path),
        );
        self.has_warnings_file = crate::shared_folder::confined::modified(
            &crate::shared_folder::files::warnings_file_path(&self.path),
        )
        .is_some();
        Ok(())
    }
}

/// Why a task file could not be read.
#[derive(Debug)]
pub enum ReadProblem {
    /// It does not exist (any more).
    Gone(std::io::Error),
    /// It exists but cannot be a task file: the problem to report.
    Task(TaskError),
}

/// A task file as read.
#[derive(Debug)]
pub struct ReadTask {
    /// Its bytes (at most [`MAX_TASK_BYTES`] + 1).
    pub bytes: Vec<u8>,
    /// Its modification time.
    pub modified: SystemTime,
    /// The stamp of the opened file (the version read).
    pub stamp: FileStamp,
}

/// [`read_task_stamped`]'s bytes and modification time.
pub fn read_task_file(path: &Path) -> Result<(Vec<u8>, SystemTime), ReadProblem> {
    read_task_stamped(path).map(|r| (r.bytes, r.modified))
}

/// Reads a task file, untrusted, and its status with one open: beneath the
/// root's handle (a link is followed only while it stays inside the root), never blocking on
/// a fifo or device (opened with `O_NONBLOCK`, and only a regular file is read), and at most
/// [`MAX_TASK_BYTES`] + 1 bytes (the parser reports a file above the limit).
pub fn read_task_stamped(path: &Path) -> Result<ReadTask, ReadProblem> {
    let read_err = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadProblem::Gone(e)
        } else if crate::shared_folder::confined::is_escape(&e) {
            ReadProblem::Task(TaskError::BadLink {
                problem: crate::shared_folder::root::PathProblem::Escapes,
            })
        } else if e.raw_os_error() == Some(libc::ELOOP) {
            ReadProblem::Task(TaskError::BadLink {
                problem: crate::shared_folder::root::PathProblem::LinkLoop,
            })
        } else {
            ReadProblem::Task(TaskError::Read {
                message: io_message(&e),
            })
        }
    };
    let f = crate::shared_folder::confined::open_read(path, true).map_err(read_err)?;
    let stat = rustix::fs::fstat(&f).map_err(|e| read_err(e.into()))?;
    let kind = rustix::fs::FileType::from_raw_mode(stat.st_mode);
    if kind != rustix::fs::FileType::RegularFile {
        return Err(ReadProblem::Task(TaskError::NotAFile {
            what: crate::shared_folder::confined::kind_name(kind),
        }));
    }
    let modified = crate::shared_folder::confined::mtime_of(&stat);
    let stamp = stamp_of(&stat);
    let len = u64::try_from(stat.st_size).unwrap_or_default();
    // The size the file had is read at once, with room for one more byte: a regular file
    // gives less than asked only at its end, so most files take one read; a file that grew
    // meanwhile is read on, up to the cap.
    let cap = MAX_TASK_BYTES + 1;
    let mut bytes = vec![0u8; (len as usize).saturating_add(1).min(cap)];
    let mut filled = 0;
    let mut f = f;
    while filled < bytes.len() {
        match f.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                let asked = bytes.len() - filled;
                filled += n;
                if n < asked {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err(e)),
        }
        if filled == bytes.len() && bytes.len() < cap {
            bytes.resize((bytes.len() * 2).min(cap), 0);
        }
    }
    bytes.truncate(filled);
    Ok(ReadTask {
        bytes,
        modified,
        stamp,
    })
}

/// An I/O error as a lab member reads it ("permission denied", not "Permission denied (os
/// error 13)").
fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "permission denied; make the file readable for the workstation's runvqgan user"
                .to_string()
        }
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}
