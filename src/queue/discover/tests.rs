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
