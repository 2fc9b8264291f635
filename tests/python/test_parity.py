"""Details of generate.py's behaviour that the engine reproduces (see vqgan_clip.method)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vqgan_clip.cutouts import lanczos_kernel, resample
from vqgan_clip.engine import Engine
from vqgan_clip.generate import build_parser, job_from_args
from vqgan_clip.method import ImageRun, noise_image
from vqgan_clip.png import to_pil


def test_8_bit_conversion_truncates_like_to_pil_image():
    image = torch.tensor([0.0, 0.5, 0.999, 1.0, 1 / 255, 0.9999 / 255]).view(1, 3, 2, 1)
    pixels = np.asarray(to_pil(image))
    assert pixels.transpose(2, 0, 1).flatten().tolist() == [0, 127, 254, 255, 1, 0]


def test_lanczos_taps_are_symmetric_and_sum_to_one():
    taps = lanczos_kernel(0.5)
    assert taps.shape == (7,)
    assert torch.allclose(taps, taps.flip(0))
    assert float(taps.sum()) == pytest.approx(1.0, abs=1e-6)
    assert int(taps.argmax()) == 3


def test_resample_keeps_a_flat_image_flat_and_aligns_corners():
    flat = torch.full((1, 3, 50, 70), 0.25)
    assert torch.allclose(resample(flat, 32), torch.full((1, 3, 32, 32), 0.25), atol=1e-6)
    ramp = torch.linspace(0, 1, 20).view(1, 1, 1, 20).expand(1, 1, 20, 20).contiguous()
    grown = resample(ramp, 39)  # enlarging: no prefilter, corners stay on the corner pixels
    assert float(grown[0, 0, 0, 0]) == pytest.approx(0.0, abs=1e-6)
    assert float(grown[0, 0, 0, -1]) == pytest.approx(1.0, abs=1e-6)


def test_noise_images_follow_generate_py_shapes_and_seed():
    pixels = noise_image("pixels", 40, 24, seed=3)
    assert pixels.size == (24, 40)  # generate.py's (w, h, 3) array: transposed
    assert np.array_equal(np.asarray(pixels), np.asarray(noise_image("pixels", 40, 24, 3)))
    gradient = np.asarray(noise_image("gradient", 40, 24, seed=3)).astype(int)
    assert gradient.shape == (24, 40, 3)
    assert (gradient[:, 0, 0] == 0).all() and (np.diff(gradient[0, :, 0]) >= 0).all()
    assert (gradient[0, :, 1] == 0).all() and (np.diff(gradient[:, 0, 1]) >= 0).all()


def test_only_the_first_aug_list_counts(tmp_path):
    args = build_parser().parse_args(["-p", "x", "-aug", "Ji", "Sh", "-aug", "Gn"])
    assert job_from_args(args)["augments"] == ["Ji", "Sh"]


def test_the_loop_starts_from_the_seed_whatever_the_set_up_drew(tiny_engine):
    job = {"prompts": "a", "size": [64, 48], "seed": 77, "iterations": 1, "cutn": 2,
           "augments": [], "cut_method": "latest", "cut_pow": 1.0, "init_image": None,
           "init_noise": None, "image_prompts": [], "noise_prompt_seeds": [],
           "noise_prompt_weights": [], "init_weight": 0.0, "save_every": 50,
           "optimiser": "Adam", "step_size": 0.1}
    run = ImageRun(job, tiny_engine.vqgan, tiny_engine.clip, tiny_engine.device)
    with run.rng.active():
        after_set_up = torch.rand(4)
    assert torch.equal(after_set_up, torch.rand(4, generator=torch.Generator().manual_seed(77)))


def _pixels(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def test_the_saved_image_is_the_last_checkin(tiny_engine, tmp_path):
    ref = Engine(tiny_engine.spec, device="cpu", deterministic=True, mode="reference")
    job = {"prompts": "a red apple", "size": [64, 48], "seed": 5, "cutn": 4}
    ref.generate({**job, "iterations": 5, "save_every": 3, "output": str(tmp_path / "a.png")})
    ref.generate({**job, "iterations": 3, "save_every": 3, "output": str(tmp_path / "b.png")})
    ref.generate({**job, "iterations": 5, "save_every": 5, "output": str(tmp_path / "c.png")})
    assert np.array_equal(_pixels(tmp_path / "a.png"), _pixels(tmp_path / "b.png"))
    assert not np.array_equal(_pixels(tmp_path / "a.png"), _pixels(tmp_path / "c.png"))
