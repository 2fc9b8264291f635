"""``python -m vqgan_clip.generate``: flags, errors, and end to end in separate processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vqgan_clip.generate import build_parser, job_from_args, main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "vendor")}
    return subprocess.run([sys.executable, "-m", "vqgan_clip.generate", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def model_args(tiny_models) -> list[str]:
    return ["-m", str(tiny_models["clip"]), "-conf", str(tiny_models["vqgan_yaml"]),
            "-ckpt", str(tiny_models["vqgan_ckpt"])]


def test_cli_runs_end_to_end_and_is_deterministic_across_processes(tiny_models, tmp_path):
    outputs = []
    for name in ("one.png", "two.png"):
        proc = run_cli("-p", "a dog:2|a cat:-0.5", "-i", "4", "-s", "70", "50", "-sd", "42",
                       "-d", "-cd", "cpu", "-cuts", "8", "-aug", "Af", "Pe",
                       "-o", name, *model_args(tiny_models), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "Using seed: 42" in proc.stdout
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]


def test_flags_have_generate_py_defaults():
    args = build_parser().parse_args([])
    job = job_from_args(args)
    assert job["iterations"] == 500 and job["save_every"] == 50
    assert job["step_size"] == 0.1 and job["optimiser"] == "Adam"
    assert job["cut_method"] == "latest" and job["cutn"] == 32 and job["cut_pow"] == 1.0
    assert job["init_weight"] == 0.0 and job["seed"] is None and job["output"] == "output.png"
    assert job["prompts"] == "A cute, smiling, Nerdy Rodent"
    assert args.clip_model == "ViT-B/32"
    assert args.vqgan_config == "checkpoints/vqgan_imagenet_f16_16384.yaml"
    assert args.vqgan_checkpoint == "checkpoints/vqgan_imagenet_f16_16384.ckpt"
    long = build_parser().parse_args(
        ["--prompts", "a", "--image_prompts", "x.png|y.png:0.5", "--iterations", "7",
         "--size", "450", "300", "--learning_rate", "0.2", "--num_cuts", "16",
         "--cut_power", "2", "--optimiser", "AdamW", "--seed", "3", "-aug", "Ji", "Er",
         "--noise_prompt_seeds", "1", "2", "--noise_prompt_weights", "0.5", "0.5"])
    job = job_from_args(long)
    assert job["image_prompts"] == ["x.png", "y.png:0.5"]
    assert job["size"] == [450, 300] and job["iterations"] == 7 and job["step_size"] == 0.2
    assert job["cutn"] == 16 and job["cut_pow"] == 2.0 and job["augments"] == ["Ji", "Er"]
    assert job["noise_prompt_seeds"] == [1, 2] and job["noise_prompt_weights"] == [0.5, 0.5]


def test_cli_prints_the_seed_it_chose(tiny_models, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["-p", "x", "-i", "1", "-s", "32", "32", "-cd", "cpu",
                 *model_args(tiny_models)]) == 0
    assert "Using seed: " in capsys.readouterr().out
    assert (tmp_path / "output.png").exists()  # generate.py's default output name


@pytest.mark.parametrize(("flag", "name"), [(["-vid"], "--video"), (["-zvid"], "--zoom_video"),
                                            (["-zsc", "0.9"], "--zoom_scale"),
                                            (["-cpe", "10"], "--change_prompt_every"),
                                            (["-vsd", "frames"], "--video_style_dir")])
def test_cli_rejects_video_and_zoom_flags(tiny_models, capsys, flag, name):
    with pytest.raises(SystemExit) as exit_info:
        main(["-p", "x", *flag, *model_args(tiny_models)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert name in err and "not supported" in err


def test_cli_reports_a_missing_checkpoint(tiny_models, tmp_path, capsys):
    code = main(["-p", "x", "-cd", "cpu", "-conf", str(tiny_models["vqgan_yaml"]),
                 "-ckpt", str(tmp_path / "missing.ckpt")])
    assert code == 1
    assert "VQGAN checkpoint not found" in capsys.readouterr().err
