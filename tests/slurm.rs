//! `runvqgan slurm-script`: the sbatch script of a night as a Slurm job array. The script
//! itself is unit-tested in `src/slurm.rs`; a real Slurm runs it in `scripts/slurm-test.sh`.

mod common;

use common::Shared;

#[test]
fn slurm_script_prints_an_array_over_the_root_and_makes_the_output_folder() {
    let s = Shared::new();
    s.mkdir("tasks");
    let out = s
        .cmd()
        .args(["slurm-script", "--gpus", "2", "--elements", "5", "--root"])
        .arg(s.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let root = s.root().canonicalize().unwrap();
    assert!(text.contains("#SBATCH --array=0-4%2\n"), "{text}");
    assert!(text.contains("#SBATCH --gres=gpu:1\n"), "{text}");
    assert!(
        text.contains(&format!(
            "#SBATCH --output={}/.runvqgan/slurm-%A_%a.out\n",
            root.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(" run --root {} --device cuda\n", root.display())),
        "{text}"
    );
    assert!(root.join(".runvqgan").is_dir());
}

#[test]
fn slurm_script_refuses_a_root_it_cannot_write_into_a_directive() {
    let s = Shared::new();
    let spaced = s.mkdir("my queue");
    let out = s
        .cmd()
        .args(["slurm-script", "--root"])
        .arg(&spaced)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("symbolic link"), "{err}");
    assert!(out.stdout.is_empty());
}
