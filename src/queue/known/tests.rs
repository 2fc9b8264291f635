use std::path::PathBuf;

use super::view::KnownView;
use super::{KnownTask, KnownVerdict};

fn read_in_place(task: &KnownTask) -> KnownTask {
    let bytes = postcard::to_stdvec(task).unwrap();
    let (view, rest) = postcard::take_from_bytes::<KnownView>(&bytes).unwrap();
    assert!(rest.is_empty());
    KnownTask::from(&view)
}

#[test]
fn an_entry_read_in_place_is_the_entry_that_was_kept() {
    let valid = KnownTask {
        sha256: "ab".repeat(32),
        out_folder: Some(("member1/out".to_string(), [7; 16])),
        verdict: KnownVerdict::Valid {
            warnings: vec!["capped".to_string(), "again".to_string()],
            out_folder: PathBuf::from("/lab/member1/out"),
            spec: vec![1, 2, 3],
        },
    };
    let invalid = KnownTask {
        sha256: "cd".repeat(32),
        out_folder: None,
        verdict: KnownVerdict::Invalid {
            report: "task_x.txt: no text".to_string(),
        },
    };
    assert_eq!(read_in_place(&valid), valid);
    assert_eq!(read_in_place(&invalid), invalid);
}

#[test]
fn only_a_valid_entry_whose_spec_decodes_is_validated() {
    let bytes = postcard::to_stdvec(&KnownTask {
        sha256: String::new(),
        out_folder: None,
        verdict: KnownVerdict::Valid {
            warnings: Vec::new(),
            out_folder: PathBuf::from("/lab/out"),
            spec: vec![0xff],
        },
    })
    .unwrap();
    let view: KnownView = postcard::from_bytes(&bytes).unwrap();
    assert!(view.validated().is_none());
}
