#!/usr/bin/env python3
"""Image-iterations per second of the engine: reference mode against fast mode by batch size.

    python scripts/bench_engine.py                      # CUDA if present, else --cpu-small
    python scripts/bench_engine.py --cpu-small          # CPU: small images, few iterations
    python scripts/bench_engine.py --switches           # also each CUDA speed switch alone
    python scripts/bench_engine.py --split              # also decode / CLIP / backward split

Uses ``MODELS/vqgan_imagenet_f16_16384.{yaml,ckpt}`` and ``MODELS/ViT-B-32.pt`` (full-size
architectures, random weights), made with ``scripts/make_tiny_models.py --full-size`` if
missing. On CUDA: 450x300 (448x288 after rounding), 32 cutouts, 3 warm-up and 10 timed
iterations; ``--cpu-small``: 64x64, 4 cutouts, 1 warm-up and 1 timed iterations. Each
configuration runs through ``Engine.generate_batch`` (the real code path); the timed part
excludes the set-up and the warm-up iterations (which include any compilation). Prints a
table: reference mode (one image at a time, float32) and fast mode at batch 1, 2, 4, 8,
image-iterations per second, the speed-up over reference, and on CUDA the peak memory per
image.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "vendor"))

from vqgan_clip.engine import Engine, ModelSpec  # noqa: E402
from vqgan_clip.job import normalise_job  # noqa: E402
from vqgan_clip.method import Optimisation  # noqa: E402
from vqgan_clip.speed import CUDA_DEFAULTS, SpeedOptions, precision_flags  # noqa: E402

PROMPTS = ["a painting of a lighthouse in a storm", "a fox in a snowy forest",
           "a city at night, neon", "an apple on a table", "a mountain lake at dawn",
           "a robot reading a book", "a castle in the clouds", "a bowl of ramen"]
#: The fast mode's switches, each timed alone (all others off) by ``--switches``.
SWITCHES = ["tf32", "bf16_clip", "bf16_decode", "channels_last", "fused_optimiser"]
COMPILE_SWITCHES = ["compile", "cuda_graphs"]


def ensure_models(folder: Path) -> ModelSpec:
    yaml_path = folder / "vqgan_imagenet_f16_16384.yaml"
    ckpt_path = folder / "vqgan_imagenet_f16_16384.ckpt"
    clip_path = folder / "ViT-B-32.pt"
    if not (yaml_path.exists() and ckpt_path.exists() and clip_path.exists()):
        print(f"making full-size random models in {folder} ...", file=sys.stderr)
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "make_tiny_models", ROOT / "scripts" / "make_tiny_models.py")
        maker = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(maker)
        maker.make_full_models(folder)
    return ModelSpec(str(yaml_path), str(ckpt_path), "ViT-B/32", str(folder))


def jobs_for(batch: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    return [{"prompts": PROMPTS[i % len(PROMPTS)], "seed": i + 1, "size": args.size,
             "cutn": args.cutn, "iterations": args.warmup + args.iterations}
            for i in range(batch)]


def measure(engine: Engine, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    """Time ``batch`` jobs through generate_batch; the first ``warmup`` iterations untimed."""
    dev = engine.device
    marks: dict[int, float] = {}
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    started = time.perf_counter()

    def progress(i: int, total: int, loss: float) -> None:
        marks[i] = time.perf_counter()  # the loss was read: the GPU is done with step i

    results = engine.generate_batch(jobs_for(batch, args), progress=progress)
    # reference mode counts iterations across its jobs: time each job's timed part
    per_job = args.warmup + args.iterations
    steps = sorted(marks)
    timed = 0.0
    for job in range(len(steps) // per_job):
        base = job * per_job
        start = marks[base + args.warmup] if args.warmup else (
            marks[base] if base else started)
        timed += marks[base + per_job] - start
    image_iterations = batch * args.iterations
    row: dict[str, Any] = {
        "mode": engine.mode,
        "batch": batch,
        "seconds": round(timed, 4),
        "image_its_per_s": round(image_iterations / timed, 3),
        "s_per_batch_it": round(timed / args.iterations, 4),
        "first_s": round(marks[1] - started, 2),  # set-up + first iteration (compile)
        "final_loss_mean": round(statistics.mean(r["final_loss"] for r in results), 5),
    }
    if dev.type == "cuda":
        row["peak_gb_per_image"] = round(torch.cuda.max_memory_allocated(dev) / 2**30 / batch,
                                         3)
    return row


def split(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    """The reference loop's seconds per iteration, split into decode / CLIP / backward."""
    dev = engine.device

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    job = normalise_job(jobs_for(1, args)[0], dev)
    parts: dict[str, list[float]] = {"decode": [], "clip": [], "backward": [], "total": []}
    with precision_flags(dev, engine.speed.tf32):
        run = Optimisation([job], engine.vqgan, engine.clip, dev, engine.speed)
        images = run.runs
        for i in range(args.warmup + args.iterations):
            sync()
            t0 = time.perf_counter()
            for optimiser in run.optimisers:
                optimiser.zero_grad(set_to_none=True)
            image = run.synth(images[0].z)
            sync()
            t1 = time.perf_counter()
            losses = run.image_losses(images, image)
            sync()
            t2 = time.perf_counter()
            run.update(images, losses)
            sync()
            t3 = time.perf_counter()
            if i < args.warmup:
                continue
            for key, value in (("decode", t1 - t0), ("clip", t2 - t1), ("backward", t3 - t2),
                               ("total", t3 - t0)):
                parts[key].append(value)
    return {f"{k}_s_per_it": round(statistics.mean(v), 4) for k, v in parts.items()}


def table(rows: list[dict[str, Any]], reference: float, title: str) -> str:
    cuda = any("peak_gb_per_image" in r for r in rows)
    head = f"{'config':<28} {'batch':>5} {'img-it/s':>9} {'s/batch-it':>10} {'speed-up':>8}"
    head += f" {'peak GB/img':>11}" if cuda else ""
    lines = [title, head, "-" * len(head)]
    for r in rows:
        line = (f"{r['config']:<28} {r['batch']:>5} {r['image_its_per_s']:>9.3f} "
                f"{r['s_per_batch_it']:>10.4f} {r['image_its_per_s'] / reference:>7.2f}x")
        if cuda:
            line += f" {r.get('peak_gb_per_image', float('nan')):>11.3f}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=str(ROOT / "models" / "full"),
                        help="folder of the full-size models (made if missing)")
    parser.add_argument("--device", default=None, help="cpu or cuda[:N] (default: cuda if "
                        "present, else cpu)")
    parser.add_argument("--cpu-small", action="store_true", default=None,
                        help="small sizes and few iterations (the default without CUDA)")
    parser.add_argument("--size", type=int, nargs=2, default=None, metavar=("W", "H"))
    parser.add_argument("--cutn", type=int, default=None)
    parser.add_argument("--iterations", type=int, default=None, help="timed iterations")
    parser.add_argument("--warmup", type=int, default=None, help="untimed iterations first")
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 2, 4, 8],
                        help="fast-mode batch sizes (none: only reference and switches)")
    parser.add_argument("--switches", action="store_true",
                        help="also time each CUDA speed switch alone at --switch-batch")
    parser.add_argument("--compile", action="store_true",
                        help="with --switches: also torch.compile and CUDA graphs (slow to "
                             "compile: about a minute each)")
    parser.add_argument("--switch-batch", type=int, default=4)
    parser.add_argument("--switch-list", nargs="+", default=None,
                        help="which switches --switches times: none, a switch name, auto, "
                             "all (all but compilation)")
    parser.add_argument("--split", action="store_true",
                        help="also the reference loop split into decode / CLIP / backward")
    parser.add_argument("--deterministic", action="store_true")
    parser.add_argument("--json", default=None, help="write every row as JSON lines here")
    parser.add_argument("--table", default=None, help="write the table here too")
    args = parser.parse_args(argv)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    small = args.cpu_small if args.cpu_small is not None else device == "cpu"
    defaults = ((64, 64), 4, 1, 1) if small else ((450, 300), 32, 10, 3)
    args.size = list(args.size or defaults[0])
    args.cutn = args.cutn or defaults[1]
    args.iterations = args.iterations or defaults[2]
    args.warmup = defaults[3] if args.warmup is None else args.warmup

    spec = ensure_models(Path(args.models))
    engine = Engine(spec, device=device, deterministic=args.deterministic, mode="reference")
    dev = engine.device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (
        f"cpu, {torch.get_num_threads()} threads")
    header = (f"device: {name}; torch {torch.__version__}; size {args.size[0]}x{args.size[1]}"
              f"; {args.cutn} cutouts; {args.warmup} warm-up + {args.iterations} timed "
              f"iterations; full-size random models ({args.models})")
    print(header, flush=True)
    rows: list[dict[str, Any]] = []

    def record(row: dict[str, Any], config: str) -> dict[str, Any]:
        row["config"] = config
        rows.append(row)
        print(json.dumps(row), flush=True)
        return row

    ref = record(measure(engine, 1, args), "reference")
    engine.set_mode("fast")
    auto = ", ".join(k for k, v in engine.speed.as_dict().items() if v) or "batching only"
    for batch in args.batches:
        record(measure(engine, batch, args), f"fast ({auto})")
    out = table(list(rows), ref["image_its_per_s"],
                f"{header}\nimage-iterations per second; speed-up vs reference batch 1")

    if args.switches and dev.type == "cuda":
        off = {k: False for k in SpeedOptions().as_dict()}
        switch_rows = []
        names = args.switch_list or [
            "none", *SWITCHES, *(COMPILE_SWITCHES if args.compile else []), "auto", "all"]
        for switch in names:
            if switch == "auto":
                speed: dict[str, Any] = {}
            elif switch == "all":  # every switch but compilation and batch_invariant
                speed = {**off, **{k: True for k in SWITCHES}}
            elif switch == "cuda_graphs":
                speed = {**off, "compile": True, "cuda_graphs": True}
            else:
                speed = {**off, **({switch: True} if switch != "none" else {})}
            engine.set_mode("fast", speed)
            try:
                row = record(measure(engine, args.switch_batch, args), f"fast, {switch} only"
                             if switch not in ("none", "auto", "all") else f"fast, {switch}")
            except Exception as e:  # a switch that fails here is reported, not fatal
                print(f"switch {switch} failed: {type(e).__name__}: {e}", flush=True)
                continue
            switch_rows.append(row)
        out += "\n\n" + table(switch_rows, ref["image_its_per_s"],
                              f"each switch alone at batch {args.switch_batch} (auto = "
                              f"{', '.join(k for k, v in CUDA_DEFAULTS.items() if v)}); "
                              f"first_s in the JSON rows includes compilation")
    if args.split:
        engine.set_mode("reference")
        parts = split(engine, args)
        print(json.dumps({"split": "reference", **parts}), flush=True)
        out += "\n\nreference loop, seconds per iteration: " + ", ".join(
            f"{k.removesuffix('_s_per_it')} {v:.4f}" for k, v in parts.items())
    print("\n" + out, flush=True)
    if args.table:
        Path(args.table).write_text(out + "\n")
    if args.json:
        Path(args.json).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
