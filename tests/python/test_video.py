"""The progress video, the zoom video and story mode (vqgan_clip.video) on the tiny models.

Each video is decoded back with PyAV: its frame count, size and frame rate are those the
plan says, and its frames are the frames the engine saved, in order. H.264 in yuv420p is
lossy, and the random tiny models paint noise (whose colour yuv420p halves) that changes
less from one iteration to the next than the encoding changes it: so "the same" is that
the decoded video is, frame for frame, exactly the decoding of saved frames 1 .. last
encoded anew (the encoder is deterministic), with first and last near their saved frames;
a smooth picture shows how close the encoding itself is. Fidelity to generate.py itself is
tests/python/test_upstream_parity.py's.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from vqgan_clip import method
from vqgan_clip.video import VideoPlan, plan_of, video_path


def _job(tmp_path: Path, **extra) -> dict:
    return {"prompts": "a red apple", "size": [48, 32], "iterations": 6, "seed": 3,
            "cutn": 4, "output": str(tmp_path / "clip_1.png"),
            "frames_dir": str(tmp_path / "steps"), **extra}


def _decode(path: str) -> tuple[list[np.ndarray], float, str, str]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate)
        codec, pix = stream.codec_context.name, stream.codec_context.pix_fmt
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return frames, rate, codec, pix


def _saved(tmp_path: Path, n: int) -> np.ndarray:
    return np.asarray(Image.open(tmp_path / "steps" / f"{n}.png").convert("RGB"), dtype=float)


def _encoded(frames: list[np.ndarray], folder: Path, fps: float) -> list[np.ndarray]:
    """``frames`` encoded and decoded again, frame for frame, with the engine's settings."""
    from vqgan_clip.video import VideoWriter

    # a plan whose video takes exactly these frames: saved frames 1 .. n of 0 .. n
    plan = VideoPlan("zoom", len(frames), 1, len(frames) / fps)
    writer = VideoWriter(plan, str(folder / "again.png"), None, "")
    for frame in [frames[0], *frames]:
        writer.add(frame)
    return _decode(writer.close())[0]


def _check_video(tmp_path: Path, result: dict, plan: VideoPlan) -> None:
    video = result["video"]
    assert video["path"] == video_path(result["output"]) == str(tmp_path / "clip_1.mp4")
    frames, rate, codec, pix = _decode(video["path"])
    assert (codec, pix) == ("h264", "yuv420p")  # what browsers play
    assert len(frames) == video["frames"] == plan.frames
    assert rate == pytest.approx(plan.fps)
    assert all(f.shape == (32, 48, 3) for f in frames)
    saved = sorted(int(p.stem) for p in (tmp_path / "steps").glob("*.png"))
    assert saved == list(range(plan.saved_frames))
    # the video holds saved frames 1 .. plan.last, in order (generate.py leaves out frame 0,
    # and for the progress video the last saved frame too)
    stills = [_saved(tmp_path, n).astype(np.uint8) for n in range(1, plan.last + 1)]
    again = _encoded(stills, tmp_path / "steps", plan.fps)
    assert len(again) == len(frames)
    assert all((a == b).all() for a, b in zip(again, frames, strict=True))
    for decoded, still in ((frames[0], stills[0]), (frames[-1], stills[-1])):
        assert np.abs(decoded.astype(float) - still).mean() < 20  # noise through yuv420p
    assert not list(tmp_path.glob("*.part"))


def test_progress_video_has_a_frame_per_iteration(tiny_engine, tmp_path):
    job = _job(tmp_path, make_video=True)
    result = tiny_engine.generate(job)
    plan = VideoPlan("progress", 6, 1, 10.0)
    assert plan.frames == 5 and plan.saved_frames == 7
    _check_video(tmp_path, result, plan)
    # the last saved frame is the image after the last iteration: the PNG (saved at 6)
    png = np.asarray(Image.open(tmp_path / "clip_1.png").convert("RGB"), dtype=float)
    assert (png == _saved(tmp_path, 6)).all()


def test_zoom_video_zooms_every_few_iterations(tiny_engine, tmp_path):
    job = _job(tmp_path, make_zoom_video=True, zoom_frequency=2, zoom_scale=1.2,
               zoom_shift_x=4, video_length=0.2)
    result = tiny_engine.generate(job)
    plan = VideoPlan("zoom", 6, 2, 0.2)
    assert plan.frames == 3 and plan.fps == 15.0
    _check_video(tmp_path, result, plan)


def test_zoom_feeds_the_zoomed_image_back(tiny_engine, tmp_path):
    """With zoom from iteration 0, frame 1 differs from a run without zoom."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = tiny_engine.generate(_job(tmp_path / "a", make_zoom_video=True, zoom_frequency=2,
                                      zoom_scale=1, zoom_start=99, iterations=2))
    zoomed = tiny_engine.generate(_job(tmp_path / "b", make_zoom_video=True, zoom_frequency=2,
                                       zoom_scale=1.5, iterations=2))
    assert plain["final_loss"] != zoomed["final_loss"]
    first = [_saved(tmp_path / d, 0) for d in ("a", "b")]
    assert (first[0] == first[1]).all()  # frame 0 is taken before the first zoom
    second = [_saved(tmp_path / d, 1) for d in ("a", "b")]
    assert not (second[0] == second[1]).all()


def test_story_mode_changes_the_prompt_at_multiples_of_cpe(tiny_engine, tmp_path, monkeypatch):
    used: list[tuple[int, str]] = []
    plain_text_losses = method.ImageRun._text_losses

    def recording(self, prompts):
        used.append((getattr(self, "iteration", None), prompts))
        return plain_text_losses(self, prompts)

    monkeypatch.setattr(method.ImageRun, "_text_losses", recording)
    losses: dict[str, list[float]] = {}
    for name, prompts, every in (("story", "an apple ^ the sea|a boat:0.5 ^ a tree", 3),
                                 ("apple", "an apple", 0)):
        used.clear()
        job = _job(tmp_path, prompts=prompts, prompt_frequency=every, iterations=10,
                   frames_dir=None, output=str(tmp_path / f"{name}.png"))
        got: list[float] = []
        tiny_engine.generate(job, progress=lambda i, total, loss, got=got: got.append(loss))
        losses[name] = got
        if name == "story":
            # the set-up (the first phrase), then at 3, 6 and 9, round the phrases
            assert used == [(None, "an apple ^ the sea|a boat:0.5 ^ a tree"),
                            (3, "the sea|a boat:0.5"),
                            (6, "a tree"), (9, "an apple")]
    # the same as the first phrase alone until the change, different after it
    assert losses["story"][:3] == losses["apple"][:3]
    assert losses["story"][3] != losses["apple"][3]


def test_a_story_without_cpe_uses_the_first_phrase_only(tiny_engine, tmp_path):
    a = tiny_engine.generate(_job(tmp_path, prompts="an apple ^ the sea", frames_dir=None))
    b = tiny_engine.generate(_job(tmp_path, prompts="an apple", frames_dir=None))
    assert a["final_loss"] == b["final_loss"] and a["video"] is None


def test_the_plan_follows_the_job():
    job = {"make_video": True, "make_zoom_video": True, "iterations": 8, "zoom_frequency": 3,
           "video_length": 10.0}
    assert plan_of(job) == VideoPlan("zoom", 8, 3, 10.0)  # the zoom video wins, as upstream
    assert plan_of({**job, "make_zoom_video": False}).frames == 7
    assert plan_of({"make_video": False, "make_zoom_video": False}) is None


def test_a_stopped_run_leaves_no_video(tiny_engine, tmp_path):
    def stop(i, total, loss):
        if i == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tiny_engine.generate(_job(tmp_path, make_video=True), progress=stop)
    assert not list(tmp_path.glob("*.mp4*")) and not (tmp_path / "clip_1.png").exists()


def test_the_encoding_keeps_a_smooth_picture_within_two_levels(tmp_path):
    from vqgan_clip.video import VideoWriter

    across, down = np.linspace(0, 255, 64)[None, :], np.linspace(30, 220, 48)[:, None]
    frames = [np.stack(np.broadcast_arrays(across, down, np.full((48, 64), 40.0 * k)),
                       axis=2).astype(np.uint8) for k in range(5)]
    writer = VideoWriter(VideoPlan("progress", 4, 1, 1.0), str(tmp_path / "v.png"), None, "x")
    for frame in frames:
        writer.add(frame)
    path = writer.close()
    decoded, rate, _, _ = _decode(path)
    assert len(decoded) == 3 and rate == 10.0  # frames 1 to 3 of 0..4, at the 10 fps minimum
    for got, want in zip(decoded, frames[1:4], strict=True):
        assert np.abs(got.astype(float) - want).mean() < 3.0


def test_a_video_job_runs_alone_and_results_keep_the_jobs_order(tiny_engine, tmp_path):
    jobs = [_job(tmp_path, output=str(tmp_path / f"b_{k}.png"), seed=k, iterations=2,
                 frames_dir=None, make_video=(k == 1)) for k in range(3)]
    results = tiny_engine.generate_batch(jobs)
    assert [r["output"] for r in results] == [j["output"] for j in jobs]
    assert [r["seed"] for r in results] == [0, 1, 2]
    assert [r["batch_size"] for r in results] == [2, 1, 2]
    assert [r["video"] is not None for r in results] == [False, True, False]
    assert results[1]["video"]["path"] == str(tmp_path / "b_1.mp4")


def test_settings_record_only_the_video_keys_that_are_set(tiny_engine, tmp_path):
    from vqgan_clip.job import VIDEO_KEYS, normalise_job

    plain = tiny_engine.settings(normalise_job(_job(tmp_path), tiny_engine.device))
    assert not set(VIDEO_KEYS) & set(plain)  # a still's settings are as before videos
    zoom = tiny_engine.settings(normalise_job(
        _job(tmp_path, make_zoom_video=True, zoom_scale=1.1, prompt_frequency=5),
        tiny_engine.device))
    assert {k: zoom[k] for k in VIDEO_KEYS if k in zoom} == {
        "make_zoom_video": True, "zoom_scale": 1.1, "prompt_frequency": 5}
    assert "frames_dir" not in zoom
