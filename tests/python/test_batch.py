"""Batches of jobs (fast mode) against the same jobs run alone, and the reference mode."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vqgan_clip.engine import Engine

# save_every 1: the saved image is the last one (generate.py saves its last checkin)
SMALL = {"size": [64, 64], "iterations": 4, "cutn": 4, "save_every": 1}
JOBS = [
    {"prompts": "a red apple", "seed": 1},
    {"prompts": "a blue sea:2|a storm:-0.5", "seed": 2},
    {"prompts": "a cat", "seed": 3, "cut_method": "original"},
    {"prompts": "a dog", "seed": 4, "init_weight": 0.5},
]


@pytest.fixture(scope="module")
def invariant_engine(tiny_engine):
    """A deterministic CPU engine whose batches decode image by image (bit-exact)."""
    return Engine(tiny_engine.spec, device="cpu", deterministic=True,
                  speed={"batch_invariant": True})


def _jobs(folder, stem: str, **extra):
    return [{**SMALL, **job, **extra, "output": str(folder / f"{stem}{i}.png")}
            for i, job in enumerate(JOBS)]


def _pixels(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img, dtype=np.int16)


def test_each_image_of_a_batch_of_four_is_as_when_run_alone(invariant_engine, tmp_path):
    batch = invariant_engine.generate_batch(_jobs(tmp_path, "batch"))
    alone = [invariant_engine.generate(job) for job in _jobs(tmp_path, "alone")]
    for i, (b, a) in enumerate(zip(batch, alone, strict=True)):
        assert b["seed"] == a["seed"] == JOBS[i]["seed"]
        assert b["batch_size"] == 4 and a["batch_size"] == 1
        assert b["final_loss"] == a["final_loss"]
        assert np.array_equal(_pixels(tmp_path / f"batch{i}.png"),
                              _pixels(tmp_path / f"alone{i}.png"))


def test_batched_decoding_is_within_tolerance_and_repeatable(tiny_engine, tmp_path):
    # Batched convolutions round differently from single ones (6th digit); over a few
    # iterations that moves an image by at most a few 8-bit levels (measured: 1).
    batch = tiny_engine.generate_batch(_jobs(tmp_path, "batch"))
    alone = [tiny_engine.generate(job) for job in _jobs(tmp_path, "alone")]
    for i, (b, a) in enumerate(zip(batch, alone, strict=True)):
        assert b["final_loss"] == pytest.approx(a["final_loss"], rel=1e-4)
        diff = np.abs(_pixels(tmp_path / f"batch{i}.png") - _pixels(tmp_path / f"alone{i}.png"))
        assert diff.max() <= 8 and diff.mean() < 0.5
    # the same batch again: byte-identical files (deterministic mode)
    tiny_engine.generate_batch(_jobs(tmp_path, "again"))
    for i in range(len(JOBS)):
        assert (tmp_path / f"again{i}.png").read_bytes() == \
            (tmp_path / f"batch{i}.png").read_bytes()


def test_fast_mode_alone_equals_the_reference_loop_on_cpu(tiny_engine, tmp_path):
    ref = Engine(tiny_engine.spec, device="cpu", deterministic=True, mode="reference")
    job = {**SMALL, **JOBS[1]}
    fast = tiny_engine.generate({**job, "output": str(tmp_path / "fast.png")})
    slow = ref.generate({**job, "output": str(tmp_path / "ref.png")})
    assert fast["mode"] == "fast" and slow["mode"] == "reference"
    assert fast["final_loss"] == slow["final_loss"]
    assert np.array_equal(_pixels(tmp_path / "fast.png"), _pixels(tmp_path / "ref.png"))


def test_jobs_with_fewer_iterations_leave_the_batch_early(invariant_engine, tmp_path):
    jobs = _jobs(tmp_path, "b")[:2]
    jobs[0]["iterations"] = 2
    calls = []
    results = invariant_engine.generate_batch(jobs, progress=lambda *a: calls.append(a))
    assert [(i, total) for i, total, _ in calls] == [(i, 4) for i in range(1, 5)]
    assert [r["iterations"] for r in results] == [2, 4]
    alone = invariant_engine.generate({**jobs[0], "output": str(tmp_path / "alone.png")})
    assert results[0]["final_loss"] == alone["final_loss"]
    assert np.array_equal(_pixels(tmp_path / "b0.png"), _pixels(tmp_path / "alone.png"))


def test_progress_gets_the_mean_loss_of_the_batch(tiny_engine):
    calls = []
    results = tiny_engine.generate_batch([{**SMALL, **job, "iterations": 2} for job in JOBS[:2]],
                                         progress=lambda *a: calls.append(a))
    assert [(i, total) for i, total, _ in calls] == [(1, 2), (2, 2)]
    mean = sum(r["final_loss"] for r in results) / 2
    assert calls[-1][2] == pytest.approx(mean, rel=1e-6)


@pytest.mark.parametrize("mode", ["fast", "reference"])
def test_progress_that_raises_in_a_batch_writes_nothing(tiny_engine, tmp_path, mode):
    engine = tiny_engine if mode == "fast" else Engine(tiny_engine.spec, device="cpu",
                                                       mode="reference")

    def stop_at_three(i, total, loss):
        if i == 2:
            raise KeyboardInterrupt("stop")

    with pytest.raises(KeyboardInterrupt):
        engine.generate_batch(_jobs(tmp_path, "x"), progress=stop_at_three)
    assert list(tmp_path.iterdir()) == []


def test_jobs_of_different_sizes_are_refused(tiny_engine, tmp_path):
    jobs = _jobs(tmp_path, "x")
    jobs[2]["size"] = [64, 48]
    with pytest.raises(ValueError, match="one size: job 0 is 64x64 but job 2 is 64x48"):
        tiny_engine.generate_batch(jobs)
    assert list(tmp_path.iterdir()) == []
    # sizes that round to the same multiple of the factor share a batch
    jobs[2]["size"] = [70, 79]
    assert [r["size"] for r in tiny_engine.generate_batch(
        [{**job, "iterations": 1, "output": None} for job in jobs])] == [[64, 64]] * 4


def test_reference_mode_runs_a_batch_one_job_after_the_other(tiny_engine, tmp_path):
    ref = Engine(tiny_engine.spec, device="cpu", deterministic=True, mode="reference")
    calls = []
    jobs = [{**SMALL, **job, "iterations": 2} for job in JOBS[:2]]
    results = ref.generate_batch(jobs, progress=lambda *a: calls.append(a))
    assert [(i, total) for i, total, _ in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [r["batch_size"] for r in results] == [1, 1]
    assert results[1]["final_loss"] == ref.generate(jobs[1])["final_loss"]


def test_modes_and_speed_options_are_checked(tiny_engine):
    with pytest.raises(ValueError, match="unknown engine mode 'turbo'"):
        Engine(tiny_engine.spec, device="cpu", mode="turbo")
    with pytest.raises(ValueError, match="unknown speed option"):
        tiny_engine.set_mode("fast", {"warp_drive": True})
    info = tiny_engine.info()
    assert info["mode"] == "fast"
    # on CPU every CUDA switch resolves to off
    assert not any(info["speed"].values())


def test_cli_takes_the_mode(tiny_models, tmp_path, capsys):
    from vqgan_clip.generate import main

    code = main(["-p", "x", "-i", "1", "-s", "32", "32", "-cd", "cpu", "-cuts", "2",
                 "--mode", "reference", "-o", str(tmp_path / "r.png"),
                 "-conf", str(tiny_models["vqgan_yaml"]), "-ckpt", str(tiny_models["vqgan_ckpt"]),
                 "-m", str(tiny_models["clip"])])
    assert code == 0
    assert "(reference mode)" in capsys.readouterr().out
    with Image.open(tmp_path / "r.png") as img:
        assert '"mode": "reference"' in img.text["settings"]
