#!/usr/bin/env python3
"""Seconds per iteration of the engine on the full-size architectures (random weights).

    python scripts/bench_engine.py [--models models/full] [--iterations 3] [--device cpu]

Uses ``MODELS/vqgan_imagenet_f16_16384.{yaml,ckpt}`` and ``MODELS/ViT-B-32.pt``, made with
``scripts/make_tiny_models.py MODELS --full-size`` if missing. Runs a 450x300 job (448x288
after rounding) with 32 cutouts on the CPU, and on CUDA when present, and splits each
iteration into decode (latent -> image), CLIP (cutouts, augmentations, image encoder,
prompt losses) and backward (gradients and the optimiser step). One warm-up iteration is
not counted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "vendor"))

from vqgan_clip.engine import Engine, ModelSpec  # noqa: E402
from vqgan_clip.generate import JobRun, normalise_job  # noqa: E402

JOB = {"prompts": "a painting of a lighthouse in a storm", "size": [450, 300], "cutn": 32,
       "seed": 1, "iterations": 1}


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


def bench(spec: ModelSpec, device: str, iterations: int) -> dict:
    engine = Engine(spec, device=device)
    dev = engine.device

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    job = normalise_job(dict(JOB), dev)
    run = JobRun(job, engine.vqgan, engine.clip, dev, job["seed"])
    parts: dict[str, list[float]] = {"decode": [], "clip": [], "backward": [], "total": []}
    for i in range(iterations + 1):
        sync()
        t0 = time.perf_counter()
        run.optimiser.zero_grad(set_to_none=True)
        image = run.synth(run.z)
        sync()
        t1 = time.perf_counter()
        loss = sum(run.losses(image))
        sync()
        t2 = time.perf_counter()
        loss.backward()
        run.optimiser.step()
        with torch.no_grad():
            run.z.copy_(run.z.maximum(run.z_min).minimum(run.z_max))
        run.iteration += 1
        sync()
        t3 = time.perf_counter()
        if i == 0:
            continue  # warm-up
        for key, value in (("decode", t1 - t0), ("clip", t2 - t1), ("backward", t3 - t2),
                           ("total", t3 - t0)):
            parts[key].append(value)
    result = {
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "size": [run.width, run.height],
        "cutn": job["cutn"],
        "iterations": iterations,
        "load_seconds": engine.info()["load_seconds"],
    }
    result.update({f"{k}_s_per_it": round(statistics.mean(v), 4) for k, v in parts.items()})
    if dev.type == "cuda":
        result["max_memory_gb"] = round(torch.cuda.max_memory_allocated(dev) / 2**30, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=str(ROOT / "models" / "full"),
                        help="folder of the full-size models (made if missing)")
    parser.add_argument("--iterations", type=int, default=3, help="timed iterations (CPU)")
    parser.add_argument("--cuda-iterations", type=int, default=20, help="timed iterations (CUDA)")
    parser.add_argument("--device", action="append",
                        help="device(s) to time (default: cpu, plus cuda if present)")
    args = parser.parse_args(argv)
    spec = ensure_models(Path(args.models))
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    for device in devices:
        n = args.cuda_iterations if device.startswith("cuda") else args.iterations
        print(json.dumps(bench(spec, device, n)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
