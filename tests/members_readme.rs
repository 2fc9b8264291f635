//! The members' guide has one source: `docs/members.md` in the repository is exactly the
//! `README.txt` that `runvqgan init` writes into a new shared folder.

#[test]
fn init_writes_docs_members_md_as_the_members_readme() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = tmp.path().join("lab");
    let out = assert_cmd::Command::cargo_bin("runvqgan")
        .unwrap()
        .env_remove("RUNVQGAN_ROOT")
        .env_remove("RUNVQGAN_CONFIG")
        .arg("init")
        .arg(&lab)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let written = std::fs::read(lab.join("README.txt")).unwrap();
    let guide =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/members.md"))
            .unwrap();
    assert!(
        written == guide,
        "README.txt written by init differs from docs/members.md:\n{}",
        String::from_utf8_lossy(&written)
    );
}
