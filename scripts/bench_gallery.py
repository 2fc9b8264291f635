"""Times `runvqgan gallery` on a synthetic shared folder (a benchmark, not a test).

    .venv/bin/python scripts/bench_gallery.py                        # 10,000 images, 200 members
    .venv/bin/python scripts/bench_gallery.py --images 2000          # another size
    .venv/bin/python scripts/bench_gallery.py --images 10000,30000,100000 --keep DIR

The folder: `--members` member folders plus output/, the images spread evenly over them,
each a 448x288 PNG of noise (what a night's images cost to decode) with a runvqgan sidecar
(prompt, seed, task, model set, start time over 10 nights), and one error file per 20
members. The PNGs are hard links to 16 noise pictures (100,000 distinct ones would take
39 GB); each sidecar is a file of its own. It times, with the release binary, the first
build (every thumbnail made), a rebuild with nothing new (the target: under 1 s at
100,000 images) and a rebuild after 50 new images; the rebuilds `--runs` times each, the
median shown. With several sizes, a table gives each time and its ratio to the first size.
`--keep DIR` makes each folder in DIR/<images> and keeps it; a folder already there is
reused (its gallery and the gallery's indexes in the owner's state removed first, so that
the first build is one).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shlex
import shutil
import statistics
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
    noise = []
    for k in range(16):
        path = root / f".noise{k}.png"
        path.write_bytes(noise_png())
        noise.append(path)
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


def add_image(root: Path, folder: Path, i: int, rng: random.Random, picture: Path):
    base = f"{rng.choice(WORDS)}_{i // 8}"
    n = i % 8 + 1
    style = rng.choice(STYLES)
    prompt = f"A painting of a {rng.choice(WORDS)} and a {rng.choice(WORDS)}"
    if style:
        prompt += f" in the style of {style}"
    rel = f"{folder.name}/{base}_{n}.png"
    os.link(picture, root / rel)
    night = 20 + i % 10
    call = shlex.join(["python", "generate.py", "-p", prompt, "-i", "200", "-s", "450", "300",
                       "-sd", str(1000 + i), "-m", "ViT-B/32", "-conf", "models/v.yaml",
                       "-ckpt", "models/v.ckpt", "-o", rel])
    (root / rel).with_suffix(".txt").write_text(
        f"{call}\n# runvqgan: 0.1.0\n# task: {folder.name}/task_{base}.txt\n"
        f"# image: {n} of 8\n# model-set: {rng.choice(['default', 'wikiart'])}\n"
        f"# device: cuda:0\n# started: 2026-11-{night}T23:{i % 60:02d}:00Z\n"
        f"# seconds: 61.0\n# final-loss: 0.8\n# loss-curve: {LOSS_CURVE}\n")


def timed(binary: Path, root: Path) -> tuple[float, str]:
    """One build: wall seconds, and a line with CPU seconds (user + system, all threads)
    and its summary."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([binary, "gallery", "--root", root], capture_output=True, text=True,
                         check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, f"{wall:7.2f} s wall, {cpu:7.2f} s CPU   {out.stdout.strip().splitlines()[1]}"


def forget_gallery(root: Path):
    """Removes the gallery and its indexes in the owner's state: the next build is a first."""
    shutil.rmtree(root / "gallery", ignore_errors=True)
    for index in (root / ".runvqgan").glob("gallery-*.index"):
        index.unlink()


def bench(binary: Path, root: Path, images: int, members: int, runs: int,
          first_build: bool) -> dict[str, float]:
    """Makes (or reuses) the folder at `root` and times the three builds (the rebuilds only
    when not `first_build` and the folder has its gallery already)."""
    if (root / "output").is_dir():
        first_build = first_build or not (root / "gallery").is_dir()
        if first_build:
            forget_gallery(root)
        print(f"reusing {root}", flush=True)
    else:
        start = time.perf_counter()
        make_folder(root, images, members)
        print(f"made {images} images in {members + 1} folders in "
              f"{time.perf_counter() - start:.0f} s ({root})", flush=True)
    folders = sorted(p for p in root.iterdir()
                     if p.is_dir() and p.name.startswith(("member", "output")))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    first = float("nan")
    if not first_build:
        timed(binary, root)  # whatever changed since the folder's last build
    if first_build:
        first, line = timed(binary, root)
        print(f"first build:            {line}", flush=True)
    nothing = []
    for _ in range(runs):
        wall, line = timed(binary, root)
        nothing.append(wall)
        print(f"rebuild, nothing new:   {line}", flush=True)
    rng = random.Random(2)
    new = []
    for _ in range(runs):
        # A new picture for each batch, the earlier ones left alone: removing a picture that
        # images are hard links of changes their status (and so their stamps).
        start = 10_000_000 + 50 * len(list(root.glob(".noise-new-*.png")))
        while list(folders[0].glob(f"*_{start // 8}_*.png")):  # taken by an earlier run
            start += 50
        picture = root / f".noise-new-{start}.png"
        picture.write_bytes(noise_png())
        for j in range(50):
            add_image(root, folders[j % len(folders)], start + j, rng, picture)
        wall, line = timed(binary, root)
        new.append(wall)
        print(f"rebuild, 50 new images: {line}", flush=True)
    size = sum(f.stat().st_size for f in (root / "gallery").rglob("*") if f.is_file())
    print(f"gallery folder: {size / 1e6:.1f} MB, data.js "
          f"{(root / 'gallery' / 'data.js').stat().st_size / 1e6:.1f} MB", flush=True)
    return {"first build": first, "rebuild, nothing new": statistics.median(nothing),
            "rebuild, 50 new": statistics.median(new)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", default="10000",
                        help="how many images; several sizes separated by commas")
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="runs of each rebuild (median)")
    parser.add_argument("--keep", type=Path, help="make the folders in DIR and keep them")
    parser.add_argument("--rebuilds-only", action="store_true",
                        help="in a kept folder with its gallery, time the rebuilds only")
    parser.add_argument("--binary", type=Path,
                        help="the runvqgan to time (default: build target/release/runvqgan)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.images.split(",")]
    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "runvqgan"],
                       cwd=ROOT, check=True)
        binary = ROOT / "target" / "release" / "runvqgan"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            root = (args.keep or Path(tmp)) / f"{n}"
            print(f"== {n} images", flush=True)
            results[n] = bench(binary, root, n, args.members, args.runs,
                               not args.rebuilds_only)
            if args.keep is None:
                shutil.rmtree(root)
    if len(sizes) > 1:
        base = min(sizes)
        print(f"\n| images | {' | '.join(f'{n:,}' for n in sizes)} |")
        print(f"| --- |{' --- |' * len(sizes)}")
        for what in results[base]:
            cells = [f"{results[n][what]:.2f} s" + ("" if n == base else
                     f" (x{results[n][what] / results[base][what]:.1f})") for n in sizes]
            print(f"| {what} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
