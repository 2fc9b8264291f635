"""Times `runvqgan gallery` on a synthetic shared folder (a benchmark, not a test).

    .venv/bin/python scripts/bench_gallery.py                 # 10,000 images, 200 members
    .venv/bin/python scripts/bench_gallery.py --images 2000   # another size
    .venv/bin/python scripts/bench_gallery.py --keep DIR      # keep the folder in DIR

The folder: `--members` member folders plus output/, the images spread evenly over them,
each a 448x288 PNG of noise (what a night's images cost to decode) with a runvqgan sidecar
(prompt, seed, task, model set, start time over 10 nights), and one error file per 20
members. It times three builds with the release binary: the first (every thumbnail made),
a rebuild with nothing new (the target: under 1 s), and a rebuild after 50 new images.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("lighthouse storm robot forest dawn river castle cat dog city night ocean "
         "mountain garden portrait dragon ship desert moon train").split()
STYLES = ["", "Banksy", "Picasso", "Monet", "Hokusai"]
# A loss curve as runvqgan records it (32 points), so data.js is as large as a real one.
LOSS_CURVE = " ".join(f"{0.95 - 0.15 * (1 - 0.9 ** k):.4f}" for k in range(32))


def make_folder(root: Path, images: int, members: int, seed: int = 1) -> list[Path]:
    """Writes the synthetic shared folder; returns the member folders."""
    rng = random.Random(seed)
    folders = [root / f"member{m:03d}" for m in range(1, members + 1)] + [root / "output"]
    for f in folders:
        f.mkdir(parents=True)
    (root / "tasks").mkdir()
    noise = [noise_png() for _ in range(16)]
    for i in range(images):
        add_image(root, folders[i % len(folders)], i, rng, noise[i % len(noise)])
    for m in range(0, members, 20):
        (folders[m] / "task_bad_ERROR.txt").write_text(
            f"{folders[m].name}/task_bad.txt: unknown field `iteration`; did you mean "
            "`iterations`?\n")
    return folders


def noise_png() -> bytes:
    """A 448x288 PNG of noise: as costly to decode as an image gets at that size."""
    out = BytesIO()
    Image.frombytes("RGB", (448, 288), os.urandom(448 * 288 * 3)).save(out, "PNG",
                                                                       compress_level=1)
    return out.getvalue()


def add_image(root: Path, folder: Path, i: int, rng: random.Random, picture: bytes):
    base = f"{rng.choice(WORDS)}_{i // 8}"
    n = i % 8 + 1
    style = rng.choice(STYLES)
    prompt = f"A painting of a {rng.choice(WORDS)} and a {rng.choice(WORDS)}"
    if style:
        prompt += f" in the style of {style}"
    rel = f"{folder.name}/{base}_{n}.png"
    (root / rel).write_bytes(picture)
    night = 20 + i % 10
    call = shlex.join(["python", "generate.py", "-p", prompt, "-i", "200", "-s", "450", "300",
                       "-sd", str(1000 + i), "-m", "ViT-B/32", "-conf", "models/v.yaml",
                       "-ckpt", "models/v.ckpt", "-o", rel])
    (root / rel).with_suffix(".txt").write_text(
        f"{call}\n# runvqgan: 0.1.0\n# task: {folder.name}/task_{base}.txt\n"
        f"# image: {n} of 8\n# model-set: {rng.choice(['default', 'wikiart'])}\n"
        f"# device: cuda:0\n# started: 2026-11-{night}T23:{i % 60:02d}:00Z\n"
        f"# seconds: 61.0\n# final-loss: 0.8\n# loss-curve: {LOSS_CURVE}\n")


def timed(binary: Path, root: Path) -> str:
    """One build: wall seconds, CPU seconds (user + system, all threads) and its summary."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([binary, "gallery", "--root", root], capture_output=True, text=True,
                         check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return f"{wall:7.2f} s wall, {cpu:7.2f} s CPU   {out.stdout.strip().splitlines()[1]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="make the folder here and keep it")
    parser.add_argument("--binary", type=Path,
                        help="the runvqgan to time (default: build target/release/runvqgan)")
    args = parser.parse_args()
    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "runvqgan"],
                       cwd=ROOT, check=True)
        binary = ROOT / "target" / "release" / "runvqgan"
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "shared"
        start = time.perf_counter()
        folders = make_folder(root, args.images, args.members)
        print(f"made {args.images} images in {len(folders)} folders in "
              f"{time.perf_counter() - start:.0f} s ({root}); {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        print(f"first build:            {timed(binary, root)}", flush=True)
        print(f"rebuild, nothing new:   {timed(binary, root)}", flush=True)
        rng = random.Random(2)
        picture = noise_png()
        for j in range(50):
            add_image(root, folders[j % len(folders)], args.images + j, rng, picture)
        print(f"rebuild, 50 new images: {timed(binary, root)}")
        size = sum(f.stat().st_size for f in (root / "gallery").rglob("*") if f.is_file())
        print(f"gallery folder: {size / 1e6:.1f} MB, data.js "
              f"{(root / 'gallery' / 'data.js').stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
