//! Tests of the skip rules and the fair order.
use super::*;
use crate::task::TaskKind;
use std::sync::Arc;
use std::time::Duration;

fn t(rel: &str, secs: u64, priority: bool) -> TaskFile {
    TaskFile {
        path: PathBuf::from(rel),
        rel: rel.into(),
        kind: TaskKind::from_rel(rel),
        modified: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        priority,
        error_modified: None,
        has_warnings_file: false,
        bytes: Arc::from(&b""[..]),
        problem: None,
        stamp: None,
        reused: false,
        known_sha256: None,
    }
}

#[test]
fn priority_first_then_oldest_first() {
    let order: Vec<String> = waiting_order(vec![
        t("anna/task_a1.txt", 10, false),
        t("anna/task_a2.txt", 11, false),
        t("anna/task_a3.txt", 12, false),
        t("ben/task_b1.txt", 20, false),
        t("tasks/t1.txt", 5, false),
        t("tasks/urgent/u.txt", 99, true),
    ])
    .into_iter()
    .map(|t| t.rel)
    .collect();
    assert_eq!(
        order,
        [
            "tasks/urgent/u.txt",
            "tasks/t1.txt",
            "anna/task_a1.txt",
            "anna/task_a2.txt",
            "anna/task_a3.txt",
            "ben/task_b1.txt",
        ]
    );
}

#[test]
fn a_file_named_after_a_task_is_found_near_it_as_anywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let member = tmp.path().join("anna");
    std::fs::create_dir(&member).unwrap();
    let names = [
        "task_a.txt",
        "task_a_1.txt",
        "task_a_ERROR.txt",
        "task_a_WARNINGS.txt",
        "task_b.txt",
        "task_b.txt.done",
        "task_c.txt",
        "task_c_ERROR.txt",
        "task_d.txt",
        "task_da_ERROR.txt",
    ];
    for name in names {
        std::fs::write(member.join(name), "{}").unwrap();
    }
    let root = Root::open(tmp.path()).unwrap();
    let lister = Lister {
        root: &root,
        gallery: None,
    };
    let mut seen = 0;
    for item in lister.tree(&root.path().join("anna"), false) {
        let Item::Candidate(c) = item else { continue };
        let stem = c.name().trim_end_matches(".txt").to_string();
        for suffix in [
            "_ERROR.txt",
            "_WARNINGS.txt",
            "_1.txt",
            ".txt",
            ".txt.done",
            "",
        ] {
            let near = c.folder.has_near(c.at, &stem, suffix);
            assert_eq!(near, c.folder.has(&stem, suffix), "{stem}{suffix}");
            assert_eq!(near, names.contains(&format!("{stem}{suffix}").as_str()));
        }
        seen += 1;
    }
    assert!(seen >= 4);
}
