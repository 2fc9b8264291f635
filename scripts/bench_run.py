"""Benchmark: one `runvqgan run` over 6 images against 6 separate generate processes.

The old R runner started `python generate.py` once per image, so every image paid for
starting Python, importing torch and loading VQGAN and CLIP. runvqgan loads them once.
This script makes a shared folder with one task of 6 images, times `runvqgan run` on it,
then runs the 6 calls recorded in the sidecars, each as its own
`python -m vqgan_clip.generate` process (the R runner's way), and prints both times and
their ratio. Same models, same settings, same seeds, same machine, one run.

    .venv/bin/python scripts/bench_run.py [--models full|tiny] [--size W H] [--iterations N]

`full` (default) uses the full-size random models in models/full (made when missing), whose
load time is that of the real checkpoints; `tiny` uses models/tiny.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def model_files(kind: str) -> dict[str, Path]:
    if kind == "full":
        d = PROJECT / "models/full"
        files = {
            "conf": d / "vqgan_imagenet_f16_16384.yaml",
            "ckpt": d / "vqgan_imagenet_f16_16384.ckpt",
            "clip": d / "ViT-B-32.pt",
        }
        if not all(p.exists() for p in files.values()):
            print("making the full-size random models in models/full ...", flush=True)
            subprocess.run(
                [sys.executable, str(PROJECT / "scripts/make_tiny_models.py"), str(d),
                 "--full-size"],
                check=True,
            )
        return files
    d = PROJECT / "models/tiny"
    return {"conf": d / "vqgan.yaml", "ckpt": d / "vqgan.ckpt", "clip": d / "clip.pt"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", choices=["full", "tiny"], default="full")
    ap.add_argument("--size", nargs=2, type=int, default=[64, 64], metavar=("W", "H"))
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--images", type=int, default=6)
    args = ap.parse_args()

    binary = PROJECT / "target/release/runvqgan"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=PROJECT, check=True)
    files = model_files(args.models)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "shared"
        (root / "tasks").mkdir(parents=True)
        (root / "output").mkdir()
        (root / "runvqgan.toml").write_text(
            "device = \"cpu\"\n[models.default]\n"
            f"vqgan_config = \"{files['conf']}\"\n"
            f"vqgan_checkpoint = \"{files['ckpt']}\"\n"
            f"clip_model = \"{files['clip']}\"\n"
        )
        task = {
            "text": "A lighthouse in a storm",
            "each": args.images,
            "iterations": args.iterations,
            "resolution": args.size,
            "out_file": "bench",
            "seed": 1,
        }
        (root / "tasks/bench.txt").write_text(json.dumps(task))

        t0 = time.perf_counter()
        subprocess.run([str(binary), "-q", "run", "--root", str(root)], check=True)
        one_run = time.perf_counter() - t0

        calls = []
        for n in range(1, args.images + 1):
            first_line = (root / f"output/bench_{n}.txt").read_text().splitlines()[0]
            words = shlex.split(first_line)
            assert words[:2] == ["python", "generate.py"], words[:2]
            out = words.index("-o")
            words[out + 1] = str(Path(tmp) / f"separate_{n}.png")
            calls.append([sys.executable, "-m", "vqgan_clip.generate", "-cd", "cpu",
                          *words[2:]])
        t0 = time.perf_counter()
        for call in calls:
            subprocess.run(call, cwd=PROJECT / "vendor", check=True,
                           stdout=subprocess.DEVNULL)
        separate = time.perf_counter() - t0

    print(f"models: {args.models}, {args.images} images of {args.size[0]}x{args.size[1]}, "
          f"{args.iterations} iterations, CPU")
    print(f"one runvqgan run:               {one_run:8.1f} s")
    print(f"{args.images} generate processes:           {separate:8.1f} s")
    print(f"ratio (separate / one run):     {separate / one_run:8.2f}x")


if __name__ == "__main__":
    main()
