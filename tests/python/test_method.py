"""The one optimisation loop (vqgan_clip.method) against pins recorded from the code it replaced.

Before the method was merged into one loop, generate.py's ``JobRun`` (reference mode) and
batch.py's ``BatchRun`` (fast mode) each held a copy of it. The final losses and the pixel
hashes below were recorded from that code (commit c98ef93) on the tiny models, deterministic
CPU, in reference mode and for a fast batch of three; the one loop must give the same.

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

BASE = {"size": [64, 48], "iterations": 4, "cutn": 4}


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
    "latest_weighted": (1.8637686967849731,
                        "312a9738afe9d40224ec8a1c3233f71bbd5fe141020878095250deda135bc138"),
    "original_pixels_adamw": (1.4249051809310913,
                              "d93fa9db3be39db80a0f8ff6d0883afc29b8f7a0428899f179ed6f7b5dc7db60"),
    "nrupdated_init_image": (0.9386261105537415,
                             "accf6f042f3106c384a59d0545da6382aee13fa73fe89311db3d2ffc3551624c"),
    "updatedpooling_image_prompt": (
        0.011140337213873863, "a75de93876409bc2ac90c309cc8fdfa5d7ec5f8f6c1fa968939aff30e05b174b"),
    "updated_noise_prompts_gradient": (
        1.2979053258895874, "5d43705fcc573635db3f0c80fe77e2a4a201584d3b52100c6ac355c42014029f"),
}
BATCH = ["latest_weighted", "original_pixels_adamw", "updated_noise_prompts_gradient"]
FAST_BATCH_PINS = {
    "invariant": [
        (1.8637686967849731, "312a9738afe9d40224ec8a1c3233f71bbd5fe141020878095250deda135bc138"),
        (1.4561936855316162, "f04c13e2649f2ff7aa9e5a70b2f8b224c3bd50588379041dfc30355928fea9b5"),
        (1.2979053258895874, "5d43705fcc573635db3f0c80fe77e2a4a201584d3b52100c6ac355c42014029f"),
    ],
    "plain": [
        (1.8637688159942627, "3d4f43373329abf5ca0ac5460cf7d63a676cb95d9d19a21662344cb798e07a3a"),
        (1.456193447113037, "83c29ee995528a12010206043cab1dafb62021e581c2d704bfd72066d0047ad1"),
        (1.2979053258895874, "5d43705fcc573635db3f0c80fe77e2a4a201584d3b52100c6ac355c42014029f"),
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
