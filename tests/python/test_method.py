"""The one optimisation loop (vqgan_clip.method) against pins recorded from the code it replaced.

Before the method was merged into one loop, generate.py's ``JobRun`` (reference mode) and
batch.py's ``BatchRun`` (fast mode) each held a copy of it. The final losses and the pixel
hashes below were first recorded from that code (commit c98ef93) on the tiny models,
deterministic CPU, in reference mode and for a fast batch of three, and the one loop gave
the same; they were recorded again when the method was aligned with upstream generate.py
(``METHOD`` upstream-2022-parity-1), which moves every image on purpose.

Pixels are compared exactly on a CPU like the one the pins were recorded on (the same
vector instruction set and thread count, so oneDNN picks the same kernels); elsewhere the
final losses must agree to 1e-4 (other kernels round differently).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from vqgan_clip.engine import Engine
from vqgan_clip.optimisers import OPTIMISERS, make_optimiser

RECORDED_ON = ("AVX2", 2)  # torch.backends.cpu.get_cpu_capability(), torch.get_num_threads()
SAME_CPU = (torch.backends.cpu.get_cpu_capability(), torch.get_num_threads()) == RECORDED_ON

# save_every 1: the saved image is the last one (generate.py saves its last checkin)
BASE = {"size": [64, 48], "iterations": 4, "cutn": 4, "save_every": 1}


def _jobs(init: str) -> dict[str, dict]:
    return {
        "latest_weighted": {"prompts": "a red apple:2|a storm:-0.5:0.1", "seed": 11},
        "original_pixels_adamw": {"prompts": "x", "seed": 12, "cut_method": "original",
                                  "cut_pow": 0.5, "init_noise": "pixels", "optimiser": "AdamW"},
        "nrupdated_init_image": {"prompts": "a cat", "seed": 13, "init_image": init,
                                 "init_weight": 0.5, "cut_method": "nrupdated",
                                 "augments": ["Ji", "Sh", "Pe", "Ro", "Af", "Er", "Re"]},
        "updatedpooling_image_prompt": {"prompts": None, "seed": 14,
                                        "image_prompts": [f"{init}:0.5"],
                                        "cut_method": "updatedpooling", "optimiser": "RMSprop"},
        "updated_noise_prompts_gradient": {"prompts": "a dog", "seed": 15,
                                           "cut_method": "updated", "init_noise": "gradient",
                                           "noise_prompt_seeds": [1, 2],
                                           "noise_prompt_weights": [0.5, -0.5],
                                           "step_size": 0.2},
    }


REFERENCE_PINS = {
    "latest_weighted": (
        1.9348869323730469, "c3d8058b974ecafdc5304ed2fcc5a7a6454cca6f1125b67047fcdd24b4b1dd4b"),
    "original_pixels_adamw": (
        1.4232863187789917, "5b484ef109c60dc943f4dc28c06a96cdad12e4fb2641efeff74337dabd2e3996"),
    "nrupdated_init_image": (
        0.9361974596977234, "df940d7679f410596a8a883f62615d1e18981aa15f4013de2b31838be913e825"),
    "updatedpooling_image_prompt": (
        0.017297718673944473, "ce1ccc74eaeb8baf0ba280c15988fc7d58ccb3174a7caae46803787761c6828a"),
    "updated_noise_prompts_gradient": (
        1.3244670629501343, "cc33b1bd88044695044ed9f8dbbe3fadea6e00ad34467e80814993db88b41c3b"),
}
BATCH = ["latest_weighted", "original_pixels_adamw", "updated_noise_prompts_gradient"]
FAST_BATCH_PINS = {
    "invariant": [
        (1.9348869323730469, "c3d8058b974ecafdc5304ed2fcc5a7a6454cca6f1125b67047fcdd24b4b1dd4b"),
        (1.3823952674865723, "97db804a8ef3f5c9f1c285f3f86c2399c72272261b97020c90e33c79e3ed9c75"),
        (1.3244670629501343, "cc33b1bd88044695044ed9f8dbbe3fadea6e00ad34467e80814993db88b41c3b"),
    ],
    "plain": [
        (1.9348864555358887, "c296270f65d48fc6c07e39d65a15c30595f148038459069ad7becc3bc10bcf89"),
        (1.3823952674865723, "59775e94ead956b22a3f4db31d504212a6905bad8c4dd59b93304ce88e6e6700"),
        (1.3244671821594238, "5498508c15b0de89f09f80eb6bd34ca709e26e08a8eebad71e84509fee6dd86e"),
    ],
}


@pytest.fixture(scope="module")
def init_image(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("init") / "init.png"
    pattern = (np.arange(50 * 80 * 3).reshape(50, 80, 3) * 7 % 251).astype(np.uint8)
    Image.fromarray(pattern, "RGB").save(path)
    return str(path)


def _pixel_hash(path) -> str:
    with Image.open(path) as img:
        return hashlib.sha256(np.asarray(img).tobytes()).hexdigest()


def _check(result: dict, path, pin: tuple[float, str]) -> None:
    loss, pixels = pin
    if SAME_CPU:
        assert (result["final_loss"], _pixel_hash(path)) == (loss, pixels)
    else:
        assert result["final_loss"] == pytest.approx(loss, rel=1e-4)


@pytest.mark.parametrize("name", list(REFERENCE_PINS))
def test_reference_mode_gives_the_pinned_result(tiny_engine, init_image, tmp_path, name):
    ref = Engine(tiny_engine.spec, device="cpu", deterministic=True, mode="reference")
    out = tmp_path / "ref.png"
    result = ref.generate({**BASE, **_jobs(init_image)[name], "output": str(out)})
    assert result["mode"] == "reference" and result["batch_size"] == 1
    _check(result, out, REFERENCE_PINS[name])


@pytest.mark.parametrize("variant", ["invariant", "plain"])
def test_a_fast_batch_gives_the_pinned_results(tiny_engine, init_image, tmp_path, variant):
    speed = {"batch_invariant": True} if variant == "invariant" else None
    fast = Engine(tiny_engine.spec, device="cpu", deterministic=True, speed=speed)
    jobs = [{**BASE, **_jobs(init_image)[name], "output": str(tmp_path / f"{name}.png")}
            for name in BATCH]
    jobs[1]["iterations"] = 2  # leaves the batch early
    results = fast.generate_batch(jobs)
    assert [r["batch_size"] for r in results] == [3, 3, 3]
    for name, result, pin in zip(BATCH, results, FAST_BATCH_PINS[variant], strict=True):
        _check(result, tmp_path / f"{name}.png", pin)


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_every_optimiser_of_generate_py_runs_a_job(tiny_engine, name):
    losses = []
    result = tiny_engine.generate({"prompts": "a red apple", "seed": 5, "size": [32, 32],
                                   "iterations": 2, "cutn": 2, "optimiser": name},
                                  progress=lambda i, total, loss: losses.append(loss))
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert result["final_loss"] == losses[-1]


def test_the_command_line_offers_exactly_the_optimisers_the_engine_runs():
    from vqgan_clip.generate import options_json

    (opt,) = [o for o in options_json()["options"] if o["short"] == "-opt"]
    assert opt["choices"] == list(OPTIMISERS)
    # generate.py's list, in its order
    assert opt["choices"] == ["Adam", "AdamW", "Adagrad", "Adamax", "DiffGrad", "AdamP",
                              "RAdam", "RMSprop"]


def test_diffgrad_and_adamp_are_torch_optimizers_own():
    import torch_optimizer

    z = torch.zeros(1, 2, requires_grad=True)
    assert type(make_optimiser("DiffGrad", [z], 0.1)) is torch_optimizer.DiffGrad
    assert type(make_optimiser("AdamP", [z], 0.1)) is torch_optimizer.AdamP
    assert make_optimiser("AdamP", [z], 0.1).defaults["lr"] == 0.1


def test_the_engine_has_one_loop_and_the_command_line_does_not_hold_it():
    import vqgan_clip.generate as cli
    import vqgan_clip.method as method

    assert hasattr(method, "Optimisation")
    for name in ("JobRun", "BatchRun", "Optimisation", "ImageRun"):
        assert not hasattr(cli, name)
    with pytest.raises(ModuleNotFoundError):
        __import__("vqgan_clip.batch")
