#!/usr/bin/env python3
"""docs/video-frames.png: a strip of real frames of each video mode, from the tiny models.

    .venv/bin/python scripts/make_video_frames.py [--models DIR] [--out FILE.png]

Runs the engine (reference mode, CPU) three times on the tiny random-weight models with
the flags a member's task gives it - a progress video (``-vid``), a zoom video (``-zvid
-zse 3 -zsc 1.15 -zsx 4``) and story mode with a zoom video (``-cpe 6``, two phrases) -
saving every frame (``--frames-dir``), and lays the frames that go into each MP4 out in
one row per mode, enlarged, with the frame's number. The tiny models paint noise, not
pictures: the strip shows which frames each mode takes and how the zoom moves them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "vendor")]

#: row label -> job keys besides prompts, size, seed and iterations
MODES = {
    "progress video (-vid): a frame every iteration": {"make_video": True},
    "zoom video (-zvid -zse 3 -zsc 1.15 -zsx 4)": {
        "make_zoom_video": True, "zoom_frequency": 3, "zoom_scale": 1.15, "zoom_shift_x": 4},
    "story + zoom (-cpe 6, 'an apple ^ the sea')": {
        "make_zoom_video": True, "zoom_frequency": 3, "zoom_scale": 1.15,
        "prompts": "an apple ^ the sea", "prompt_frequency": 6},
}
ITERATIONS = 18
COLUMNS = 6
SCALE = 2


def frames_of(engine, job: dict, work: Path) -> tuple[list[Path], dict]:
    job = {"prompts": "an apple", "size": [96, 64], "seed": 7, "iterations": ITERATIONS,
           "cutn": 8, "output": str(work / "out.png"), "frames_dir": str(work / "steps"), **job}
    result = engine.generate(job)
    video = result["video"]
    last = video["frames"]  # the MP4 holds saved frames 1 .. frames
    return [work / "steps" / f"{n}.png" for n in range(1, last + 1)], video


def main() -> int:
    from PIL import Image, ImageDraw

    from vqgan_clip.engine import Engine, ModelSpec

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=str(ROOT / "models" / "tiny"))
    p.add_argument("--out", default=str(ROOT / "docs" / "video-frames.png"))
    args = p.parse_args()
    models = Path(args.models)
    engine = Engine(ModelSpec(str(models / "vqgan.yaml"), str(models / "vqgan.ckpt"),
                              str(models / "clip.pt")), device="cpu", deterministic=True,
                    mode="reference")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (label, job) in enumerate(MODES.items()):
            work = Path(tmp) / str(k)
            work.mkdir()
            paths, video = frames_of(engine, job, work)
            step = max(1, len(paths) // COLUMNS)
            chosen = paths[::step][:COLUMNS - 1] + [paths[-1]]
            every = job.get("zoom_frequency", 1) if job.get("make_zoom_video") else 1
            images = [(f"frame {p.stem}: iteration {int(p.stem) * every}",
                       Image.open(p).convert("RGB")) for p in chosen]
            rows.append((f"{label}: {video['frames']} frames at {video['fps']:g} fps", images))
    w, h = 96 * SCALE, 64 * SCALE
    pad, label_h, num_h = 8, 18, 14
    width = pad + COLUMNS * (w + pad)
    height = pad + len(rows) * (label_h + h + num_h + pad)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = pad
    for label, images in rows:
        draw.text((pad, y + 3), label, fill="black")
        y += label_h
        for c, (caption, image) in enumerate(images):
            x = pad + c * (w + pad)
            sheet.paste(image.resize((w, h), Image.NEAREST), (x, y))
            draw.text((x, y + h + 1), caption, fill="black")
        y += h + num_h + pad
    sheet.save(args.out)
    print(f"wrote {args.out} ({width}x{height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
