//! Tests of confined access.
use super::resolve::walk;
use super::*;

fn root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let canonical = dir.path().canonicalize().unwrap();
    register(&canonical).unwrap();
    (dir, canonical)
}

#[test]
fn links_inside_the_root_are_followed_and_links_out_are_refused() {
    let (_dir, r) = root();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "s").unwrap();
    std::fs::create_dir(r.join("real")).unwrap();
    std::fs::write(r.join("real/a.txt"), "a").unwrap();
    std::os::unix::fs::symlink("real", r.join("rel")).unwrap();
    std::os::unix::fs::symlink(r.join("real"), r.join("abs")).unwrap();
    std::os::unix::fs::symlink(outside.path(), r.join("out")).unwrap();
    std::os::unix::fs::symlink("../../../../../../..", r.join("up")).unwrap();
    assert_eq!(read_beneath(&r.join("rel/a.txt"), 10).unwrap().bytes, b"a");
    assert_eq!(read_beneath(&r.join("abs/a.txt"), 10).unwrap().bytes, b"a");
    assert!(is_escape(
        &read_beneath(&r.join("out/secret"), 10).unwrap_err()
    ));
    assert!(is_escape(&open_dir(&r.join("up")).unwrap_err()));
    assert!(is_escape(&open_dir(&r.join("real/../..")).unwrap_err()));
    // The walk alone (as without openat2) gives the same answers.
    let (anchor, _) = anchor_of(&r).unwrap();
    let flags = read_flags() | OFlags::CLOEXEC;
    assert!(walk(&anchor, Path::new("abs/a.txt"), flags, Mode::empty(), true).is_ok());
    let e = walk(&anchor, Path::new("out/secret"), flags, Mode::empty(), true).unwrap_err();
    assert!(is_escape(&e));
    assert!(
        anchor_of(outside.path()).is_err(),
        "unregistered paths are refused"
    );
}

#[test]
fn untrusted_reads_refuse_links_fifos_and_stop_at_the_cap() {
    let (_dir, r) = root();
    std::fs::write(r.join("big"), vec![b'x'; 1000]).unwrap();
    std::os::unix::fs::symlink("/dev/zero", r.join("zero")).unwrap();
    let fifo = std::ffi::CString::new(r.join("fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    assert_eq!(read_nofollow(&r.join("big"), 10).unwrap().bytes.len(), 11);
    assert!(read_nofollow(&r.join("zero"), 10).is_err());
    assert!(read_beneath(&r.join("zero"), 10).is_err());
    let e = read_nofollow(&r.join("fifo"), 10).unwrap_err();
    assert!(e.to_string().contains("fifo"), "{e}");
}

#[test]
fn placing_never_replaces_unless_asked() {
    let (_dir, r) = root();
    let dir = open_dir(&r).unwrap();
    dir.write_atomic(OsStr::new("a"), ".a.", b"one", 0o644, Place::NoReplace)
        .unwrap();
    let e = dir
        .write_atomic(OsStr::new("a"), ".a.", b"two", 0o644, Place::NoReplace)
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(r.join("a")).unwrap(), b"one");
    dir.write_atomic(OsStr::new("a"), ".a.", b"three", 0o644, Place::Replace)
        .unwrap();
    assert_eq!(std::fs::read(r.join("a")).unwrap(), b"three");
    let names: Vec<_> = dir.entries().unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, [OsString::from("a")], "no temporary is left");
}
