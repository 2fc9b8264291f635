"""``python -m vqgan_clip.generate``: flags, errors, and end to end in separate processes."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vqgan_clip.cutouts import AUGMENT_CODES, CUT_METHODS
from vqgan_clip.generate import build_parser, job_from_args, main
from vqgan_clip.job import JOB_DEFAULTS, LOCAL_KEYS, normalise_job

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


@pytest.mark.parametrize(("flag", "name"), [(["-ofps", "30"], "--output_video_fps"),
                                            (["-ifps", "15"], "--input_video_fps"),
                                            (["-vsd", "frames"], "--video_style_dir")])
def test_cli_rejects_interpolation_and_style_dir_flags(tiny_models, capsys, flag, name):
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


def test_options_json_lists_every_flag_once_in_the_agreed_shape(tmp_path):
    proc = run_cli("--options-json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    options = json.loads(proc.stdout)["options"]
    keys = {"short", "long", "key", "kind", "nargs", "choices", "default", "cli_only"}
    assert all(set(o) == keys for o in options)
    assert all(o["kind"] in ("float", "int", "str", "flag") for o in options)
    assert all(o["nargs"] in (None, 2, "+") for o in options)
    by_short = {o["short"]: o for o in options}
    assert by_short["-lr"] == {"short": "-lr", "long": "--learning_rate", "key": "step_size",
                               "kind": "float", "nargs": None, "choices": None,
                               "default": 0.1, "cli_only": False}
    assert by_short["-s"]["nargs"] == 2 and by_short["-s"]["kind"] == "int"
    assert by_short["-aug"]["nargs"] == "+" and by_short["-aug"]["choices"] == list(AUGMENT_CODES)
    assert by_short["-cutm"]["choices"] == list(CUT_METHODS)
    assert by_short["-d"]["kind"] == "flag" and by_short["-d"]["cli_only"] is True
    assert by_short["-cd"]["cli_only"] is True and by_short["-o"]["cli_only"] is False
    longs = {o["long"]: o for o in options}
    assert longs["--mode"]["cli_only"] and longs["--options-json"]["cli_only"]
    # every visible flag of the parser, and nothing else; every job key exactly once
    parser = build_parser()
    visible = [a for a in parser._actions
               if a.option_strings and a.help != argparse.SUPPRESS and a.dest != "help"]
    assert [o["key"] for o in options] == [a.dest for a in visible]
    job_keys = [o["key"] for o in options if not o["cli_only"]]
    assert sorted(job_keys) == sorted(k for k in JOB_DEFAULTS if k not in LOCAL_KEYS)
    assert longs["--frames-dir"]["cli_only"]
    assert by_short["-vid"]["kind"] == "flag" and not by_short["-vid"]["cli_only"]
    assert "-ofps" not in by_short  # refused flags are not offered


def _value(option: dict, choice) -> list[str]:
    if option["kind"] == "flag":
        return []
    sample = {"int": "3", "float": "0.5", "str": "a"}[option["kind"]]
    value = str(choice) if choice is not None else sample
    return [value] * (2 if option["nargs"] == 2 else 1)


def test_every_job_option_and_each_of_its_choices_is_accepted_by_the_engine():
    from vqgan_clip.generate import options_json

    parser = build_parser()
    for option in options_json(parser)["options"]:
        if option["cli_only"] or option["key"] in ("image_prompts", "init_image"):
            continue  # (paths: checked when the job runs)
        for choice in option["choices"] or [None]:
            argv = ["-p", "x", option["short"], *_value(option, choice)]
            if option["key"] == "size":
                argv[-2:] = ["64", "48"]
            job = job_from_args(parser.parse_args(argv))
            normalise_job(job, torch.device("cpu"))  # raises if the engine refuses it
