#!/usr/bin/env python3
"""Side by side: nerdyrodent's generate.py (upstream) and the engine's reference mode.

    .venv/bin/python scripts/compare_upstream.py --upstream PATH/generate.py \\
        --upstream-python UPSTREAM_VENV/bin/python [--config NAME ...] [--iterations N] \\
        [--json OUT.json] [--keep DIR]

For each configuration (``--list`` shows them) both programs run on the CPU with the same
generate.py flags on the tiny models (``models/tiny``, made by scripts/make_tiny_models.py):
upstream's generate.py unmodified, in its own environment (scripts/upstream-env.sh makes
one), and ``vqgan_clip.generate``'s flags through the engine in reference mode. The table
gives, per configuration, the largest difference of the loss over all iterations, whether the
first iteration's cutouts (CLIP's input) agree, and how many 8-bit pixel values of the two
PNGs differ; for the video configurations (``-vid``, ``-zvid``) also how many frames each
saved (generate.py's ``steps/``, the engine's ``frames_dir``), how many of them differ in
any pixel, and the frame count and rate of each video.

Upstream's code is never copied into this repository: the harness runs the generate.py it is
given, with these changes from the outside only (the child process installs them before it
runs the file):

- import shims: ``pytorch_lightning`` (taming's training base classes; stand-ins, also for
  unpickling lightning checkpoints), ``CLIP.clip`` (upstream's checkout layout of OpenAI's
  ``clip`` package), ``transformers.top_k_top_p_filtering`` (imported, never used, by taming's
  GPT), ``taming.models.dummy_cond_stage`` (missing from the taming package on PyPI) and
  taming's LPIPS loss (it downloads VGG weights; generate.py deletes the loss anyway);
- ``torch.load`` with ``weights_only=False``, as the torch versions upstream was written for
  did (lightning checkpoints hold pickled objects);
- a record of every loss (``Tensor.backward`` is wrapped: upstream calls it once per
  iteration, on the summed loss) and of CLIP's first inputs;
- ``subprocess.Popen`` records the ffmpeg call that would encode the video (its frame
  rate, and the frames piped to it) and runs nothing;
- seeding: upstream draws its starting tokens, its noise images (numpy), the Gumbel
  encoder's noise and its image prompts' cutouts *before* it seeds torch (only the loop
  runs seeded), from a state that depends on how many random numbers building the models
  took. The harness seeds torch and numpy with the run's seed right after CLIP is loaded,
  the last thing before those draws, which is what the engine does (``--no-pre-seed`` turns
  this off, to show the unseeded behaviour).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "stone.png"
SEED = 1234

#: name -> (generate.py flags besides size, seed, iterations, models and output; models)
CONFIGS: dict[str, tuple[list[str], str]] = {
    "default": (["-p", "a red apple"], "vqgan"),
    "init-image": (["-p", "a red apple", "-ii", "{stone}"], "vqgan"),
    "cut-original": (["-p", "a red apple", "-cutm", "original"], "vqgan"),
    "cut-updated": (["-p", "a red apple", "-cutm", "updated"], "vqgan"),
    "cut-nrupdated": (["-p", "a red apple", "-cutm", "nrupdated"], "vqgan"),
    "cut-updatedpooling": (["-p", "a red apple", "-cutm", "updatedpooling"], "vqgan"),
    "cut-original-pow": (["-p", "a red apple", "-cutm", "original", "-cutp", "2.5",
                          "-cuts", "8"], "vqgan"),
    "augments-all": (["-p", "a red apple", "-aug", "Ji", "Sh", "Gn", "Pe", "Ro", "Af", "Et",
                      "Ts", "Cr", "Er", "Re"], "vqgan"),
    "augments-nr": (["-p", "a red apple", "-cutm", "nrupdated", "-aug", "Re", "Af", "Pe",
                     "Cr"], "vqgan"),
    "prompts-weighted": (["-p", "a red apple:2|a blurry photo:-0.5|a tree:1:0.9"], "vqgan"),
    "image-prompt": (["-p", "a red apple", "-ip", "{stone}:0.5"], "vqgan"),
    "init-weight": (["-p", "a red apple", "-ii", "{stone}", "-iw", "0.5"], "vqgan"),
    "noise-prompts": (["-p", "a red apple", "-nps", "7", "8", "-npw", "0.5", "0.3"], "vqgan"),
    "init-noise-pixels": (["-p", "a red apple", "-in", "pixels"], "vqgan"),
    "init-noise-gradient": (["-p", "a red apple", "-in", "gradient"], "vqgan"),
    "optimiser-adamw": (["-p", "a red apple", "-opt", "AdamW", "-lr", "0.2"], "vqgan"),
    "optimiser-diffgrad": (["-p", "a red apple", "-opt", "DiffGrad"], "vqgan"),
    # with a random start generate.py's AdamP fails (it views the non-contiguous latent)
    "optimiser-adamp": (["-p", "a red apple", "-opt", "AdamP", "-ii", "{stone}"], "vqgan"),
    "save-every-15": (["-p", "a red apple", "-se", "15"], "vqgan"),
    # upstream's random start assumes a 256-wide Gumbel codebook; the tiny one is 8 wide
    "gumbel": (["-p", "a red apple", "-ii", "{stone}"], "gumbel"),
    "net2net": (["-p", "a red apple"], "net2net"),
    # videos and story mode: the frames generate.py saves in steps/ are compared too
    "video-progress": (["-p", "a red apple", "-vid"], "vqgan"),
    "video-progress-vl": (["-p", "a red apple", "-vid", "-vl", "0.25"], "vqgan"),
    "video-zoom": (["-p", "a red apple", "-zvid", "-zse", "3", "-zs", "2", "-zsc", "1.1",
                    "-zsx", "3", "-zsy", "-2"], "vqgan"),
    "video-zoom-out": (["-p", "a red apple", "-zvid", "-zse", "2", "-zsc", "0.9", "-se", "4"],
                       "vqgan"),
    "video-zoom-gumbel": (["-p", "a red apple", "-ii", "{stone}", "-zvid", "-zse", "4"],
                          "gumbel"),
    "video-both": (["-p", "a red apple", "-vid", "-zvid", "-zse", "4"], "vqgan"),
    "story": (["-p", "a red apple ^ a blue sea|a boat:0.5 ^ a tree", "-cpe", "3"], "vqgan"),
    "story-no-cpe": (["-p", "a red apple^a blue sea"], "vqgan"),
    "story-image-prompt": (["-p", "a red apple^a tree", "-ip", "{stone}:0.5", "-cpe", "4"],
                           "vqgan"),
    "story-zoom": (["-p", "a red apple^a tree", "-cpe", "2", "-zvid", "-zse", "3"], "vqgan"),
}


# -- the child: runs upstream's generate.py in the upstream environment ----------------------

def _module(name: str, **attrs: object) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod


def _install_shims() -> None:
    import torch
    from torch import nn

    class LightningModule(nn.Module):
        """Only what taming's model classes touch outside training."""

        def print(self, *args: object) -> None:
            print(*args)

    class LightningDataModule:
        pass

    class Callback:
        pass

    class ModelCheckpoint(Callback):
        pass

    class LearningRateMonitor(Callback):
        pass

    class AttributeDict(dict):
        pass

    class Trainer:
        pass

    def rank_zero_only(fn):
        return fn

    for cls, mod in ((ModelCheckpoint, "pytorch_lightning.callbacks.model_checkpoint"),
                     (AttributeDict, "pytorch_lightning.utilities.parsing")):
        cls.__module__ = mod
    _module("pytorch_lightning", LightningModule=LightningModule,
            LightningDataModule=LightningDataModule, seed_everything=lambda seed: seed)
    _module("pytorch_lightning.trainer", Trainer=Trainer)
    _module("pytorch_lightning.callbacks", ModelCheckpoint=ModelCheckpoint, Callback=Callback,
            LearningRateMonitor=LearningRateMonitor)
    _module("pytorch_lightning.callbacks.model_checkpoint", ModelCheckpoint=ModelCheckpoint)
    _module("pytorch_lightning.utilities")
    _module("pytorch_lightning.utilities.distributed", rank_zero_only=rank_zero_only)
    _module("pytorch_lightning.utilities.parsing", AttributeDict=AttributeDict)
    _module("transformers", top_k_top_p_filtering=None)

    class DummyCondStage:
        def __init__(self, conditional_key: str) -> None:
            self.conditional_key = conditional_key
            self.train = None

        def eval(self):
            return self

    import taming.models

    _module("taming.models.dummy_cond_stage", DummyCondStage=DummyCondStage)
    taming.models.dummy_cond_stage = sys.modules["taming.models.dummy_cond_stage"]

    import taming.modules.losses.vqperceptual as vqperceptual

    class NoLPIPS(nn.Module):
        """Stands in for LPIPS, whose VGG weights would be downloaded; never used."""

    vqperceptual.LPIPS = NoLPIPS

    import clip

    _module("CLIP", clip=clip)

    plain_load = torch.load

    def load(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return plain_load(*args, **kwargs)

    torch.load = load


def _install_recorders(record: dict, seed: int | None, keep: Path) -> None:
    import clip
    import numpy as np
    import torch

    record["losses"] = []
    plain_backward = torch.Tensor.backward

    def backward(self, *args, **kwargs):
        record["losses"].append(float(self.detach()))
        return plain_backward(self, *args, **kwargs)

    torch.Tensor.backward = backward

    import io
    import subprocess

    class NoFFmpeg:
        """Stands in for the ffmpeg process generate.py pipes its video frames to: records
        its arguments (the frame rate) and the number of frames, runs nothing."""

        def __init__(self, args, **kwargs):
            record.setdefault("ffmpeg", []).append(list(map(str, args)))
            self.stdin = io.BytesIO()
            self.stdin.close = lambda: None
            self.frames = 0

        def wait(self):
            data = self.stdin.getvalue()
            record["video_frames"] = data.count(b"\x89PNG\r\n\x1a\n")
            return 0

    subprocess.Popen = NoFFmpeg

    plain_clip_load = clip.load
    calls = {"n": 0}

    def clip_load(*args, **kwargs):
        model, preprocess = plain_clip_load(*args, **kwargs)

        def first_inputs(module, inputs):
            if calls["n"] < 3:
                torch.save(inputs[0].detach().clone(), keep / f"upstream-clip-in-{calls['n']}.pt")
            calls["n"] += 1

        model.visual.register_forward_pre_hook(first_inputs)
        if seed is not None:
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
        return model, preprocess

    clip.load = clip_load


def child_main(argv: list[str]) -> int:
    """``--child GENERATE_PY RECORD_JSON SEED|none -- generate.py flags``"""
    import runpy

    generate, record_path, seed = argv[0], Path(argv[1]), argv[2]
    flags = argv[4:] if argv[3] == "--" else argv[3:]
    record: dict = {}
    _install_shims()
    _install_recorders(record, None if seed == "none" else int(seed), record_path.parent)
    sys.argv = [generate, *flags]
    try:
        runpy.run_path(generate, run_name="__main__")
    finally:
        record_path.write_text(json.dumps(record))
    return 0


# -- the driver: runs the engine and compares ---------------------------------------------

def flags_for(name: str, models: Path, output: Path, iterations: int) -> list[str]:
    extra, kind = CONFIGS[name]
    extra = [a.replace("{stone}", str(FIXTURE)) for a in extra]
    save_every = [] if "-se" in extra else ["-se", "10"]
    return [*extra, "-s", "64", "48", "-i", str(iterations), *save_every, "-sd", str(SEED),
            "-m", str(models / "clip.pt"), "-conf", str(models / f"{kind}.yaml"),
            "-ckpt", str(models / f"{kind}.ckpt"), "-o", str(output)]


def run_upstream(python: str, generate: Path, flags: list[str], work: Path,
                 pre_seed: bool) -> dict:
    record = work / "upstream.json"
    cmd = [python, str(Path(__file__).resolve()), "--child", str(generate), str(record),
           str(SEED) if pre_seed else "none", "--", *flags]
    # one thread on both sides: the same reductions, the same rounding
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env)
    if proc.returncode != 0 or not record.exists():
        raise RuntimeError(f"upstream generate.py failed ({proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(record.read_text())


def run_engine(flags: list[str], work: Path) -> dict:
    import torch

    sys.path[:0] = [str(ROOT / "vendor")]
    from vqgan_clip.engine import Engine, ModelSpec
    from vqgan_clip.generate import build_parser, job_from_args

    torch.set_num_threads(1)
    args = build_parser().parse_args(flags)
    job = job_from_args(args)
    job["frames_dir"] = str(work / "engine-steps")
    spec = ModelSpec(vqgan_config=args.vqgan_config, vqgan_checkpoint=args.vqgan_checkpoint,
                     clip_model=args.clip_model)
    engine = Engine(spec, device="cpu", mode="reference")
    inputs: list = []

    def first_inputs(module, args_):
        if len(inputs) < 3:
            inputs.append(args_[0].detach().clone())

    hook = engine.clip.model.visual.register_forward_pre_hook(first_inputs)
    losses: list[float] = []
    try:
        result = engine.generate(job, progress=lambda i, total, loss: losses.append(loss))
    finally:
        hook.remove()
    for n, tensor in enumerate(inputs):
        torch.save(tensor, work / f"engine-clip-in-{n}.pt")
    return {"losses": losses, "method": result.get("method"), "video": result.get("video")}


def pixels(path: Path):
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def compare(name: str, upstream: dict, engine: dict, work: Path) -> dict:
    import torch

    n = len(engine["losses"])
    up, en = upstream["losses"][:n], engine["losses"]
    diffs = [abs(a - b) / max(abs(a), 1e-12) for a, b in zip(up, en, strict=True)]
    tol = 1e-4
    first_bad = next((i for i, d in enumerate(diffs) if d > tol), None)
    # CLIP's first loop input: after the image prompts' cutouts, if any
    index = 1 if "-ip" in CONFIGS[name][0] else 0
    cut_u = torch.load(work / f"upstream-clip-in-{index}.pt")
    cut_e = torch.load(work / f"engine-clip-in-{index}.pt")
    cut_diff = float((cut_u - cut_e).abs().max()) if cut_u.shape == cut_e.shape else None
    a, b = pixels(work / "upstream.png"), pixels(work / "engine.png")
    same_shape = a.shape == b.shape
    differing = float((a != b).mean()) if same_shape else 1.0
    return {
        **compare_frames(upstream, engine, work),
        "config": name,
        "iterations": n,
        "upstream_steps": len(upstream["losses"]),
        "first_loss": [up[0], en[0]],
        "max_rel_loss_diff": max(diffs),
        "first_iteration_over_1e-4": first_bad,
        "cutouts_max_abs_diff": cut_diff,
        "pixels_differing": differing,
        "pixels_max_abs_diff": int(abs(a - b).max()) if same_shape else None,
        "method": engine.get("method"),
    }


def compare_frames(upstream: dict, engine: dict, work: Path) -> dict:
    """The saved video frames (upstream's ``steps/``, the engine's ``frames_dir``): how many,
    how many differ in any pixel value, and the video's frame count and rate both ways."""
    up_dir, en_dir = work / "steps", work / "engine-steps"
    if not up_dir.is_dir() and not en_dir.is_dir():
        return {"frames": None}
    count = [len(list(d.glob("*.png"))) if d.is_dir() else 0 for d in (up_dir, en_dir)]
    differing = sum(
        1 for k in range(min(count))
        if (a := pixels(up_dir / f"{k}.png")).shape != (b := pixels(en_dir / f"{k}.png")).shape
        or bool((a != b).any()))
    rate = None
    for call in upstream.get("ffmpeg", []):
        rate = float(call[call.index("-r") + 1])
    video = engine.get("video") or {}
    return {"frames": {"saved": count, "differing": differing,
                       "video_frames": [upstream.get("video_frames"), video.get("frames")],
                       "fps": [rate, video.get("fps")]}}


def frames_cell(r: dict) -> str:
    f = r.get("frames")
    if not f:
        return "-"
    up, en = f["saved"]
    vid, fps = f["video_frames"], f["fps"]
    return (f"{en} saved ({up} upstream), {f['differing']} differ; video {vid[1]} frames at "
            f"{fps[1]:g} fps ({vid[0]} at {fps[0]:g})")


def table(rows: list[dict]) -> str:
    out = ["| configuration | loss: max rel. diff (iterations) | first iteration > 1e-4 "
           "| cutouts: max abs diff | pixel values differing | video frames |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['config']} | error: {r['error']} | | | | |")
            continue
        cut = "shape differs" if r["cutouts_max_abs_diff"] is None else \
            f"{r['cutouts_max_abs_diff']:.1e}"
        first = "-" if r["first_iteration_over_1e-4"] is None else r["first_iteration_over_1e-4"]
        out.append(f"| {r['config']} | {r['max_rel_loss_diff']:.1e} ({r['iterations']}) "
                   f"| {first} | {cut} | {100 * r['pixels_differing']:.2f}% "
                   f"(max {r['pixels_max_abs_diff']}) | {frames_cell(r)} |")
    return "\n".join(out)


def compare_config(name: str, generate: Path, python: str, models: Path, iterations: int,
                   work: Path, pre_seed: bool = True) -> dict:
    """Run one configuration both ways in ``work``; return its row."""
    work.mkdir(parents=True, exist_ok=True)
    upstream = run_upstream(python, generate,
                            flags_for(name, models, work / "upstream.png", iterations),
                            work, pre_seed)
    engine = run_engine(flags_for(name, models, work / "engine.png", iterations), work)
    return compare(name, upstream, engine, work)


def add_upstream_arguments(p: argparse.ArgumentParser) -> None:
    """The options that name upstream's generate.py and the python that runs it."""
    p.add_argument("--upstream", default=os.environ.get("UPSTREAM_GENERATE"),
                   help="upstream's generate.py (default: $UPSTREAM_GENERATE)")
    p.add_argument("--upstream-python", default=os.environ.get("UPSTREAM_PYTHON"),
                   help="python of the upstream environment (default: $UPSTREAM_PYTHON)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_upstream_arguments(p)
    p.add_argument("--models", default=str(ROOT / "models" / "tiny"),
                   help="tiny models folder (default: models/tiny)")
    p.add_argument("--config", action="append", choices=list(CONFIGS),
                   help="configuration(s) to run (default: all)")
    p.add_argument("--iterations", type=int, default=30, help="-i for every run (default 30)")
    p.add_argument("--no-pre-seed", action="store_true",
                   help="leave upstream's draws before its seeding unseeded")
    p.add_argument("--json", help="also write the rows as JSON here")
    p.add_argument("--keep", help="keep each run's files in this folder")
    p.add_argument("--list", action="store_true", help="list the configurations and exit")
    args = p.parse_args(argv)
    if args.list:
        for name, (extra, kind) in CONFIGS.items():
            print(f"{name:22} {kind:8} {' '.join(extra)}")
        return 0
    if not args.upstream or not args.upstream_python:
        p.error("give --upstream (generate.py) and --upstream-python "
                "(see scripts/upstream-env.sh), or set UPSTREAM_GENERATE and UPSTREAM_PYTHON")
    models = Path(args.models)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.keep) if args.keep else Path(tmp)
        for name in args.config or list(CONFIGS):
            try:
                rows.append(compare_config(name, Path(args.upstream).resolve(),
                                           args.upstream_python, models, args.iterations,
                                           base / name, pre_seed=not args.no_pre_seed))
            except RuntimeError as e:
                rows.append({"config": name, "error": str(e).splitlines()[-1]})
                print(e, file=sys.stderr)
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
