"""The command line of nerdyrodent's ``generate.py``: ``python -m vqgan_clip.generate``.

It accepts generate.py's flags, so a sidecar's first line runs as it is, and runs the job
through :class:`vqgan_clip.engine.Engine` (the method itself is :mod:`vqgan_clip.method`).
:func:`build_parser` is the one definition of the flags: ``--options-json`` prints them
for the Rust side (docs/interfaces.md section 1), and a job key's default is the job's
(:data:`vqgan_clip.job.JOB_DEFAULTS`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import torch

from .cutouts import AUGMENT_CODES, CUT_METHODS
from .engine import Engine, ModelSpec
from .job import INIT_NOISES, JOB_DEFAULTS, LOCAL_KEYS
from .optimisers import OPTIMISERS
from .rng import new_seed
from .speed import MODES

#: generate.py's flags for interpolated videos (ffmpeg's minterpolate on an NVIDIA encoder)
#: and for styling a folder of video frames: recognised, refused.
UNSUPPORTED_FLAGS = [
    ("-ofps", "--output_video_fps", False), ("-ifps", "--input_video_fps", False),
    ("-vsd", "--video_style_dir", False),
]


def build_parser() -> argparse.ArgumentParser:
    """generate.py's flags with its long names and defaults (dests are the job keys)."""
    p = argparse.ArgumentParser(
        prog="python -m vqgan_clip.generate",
        description="Image generation using VQGAN+CLIP (runvqgan's engine; generate.py flags)",
    )
    a = p.add_argument
    d = JOB_DEFAULTS
    a("-p", "--prompts", type=str, default=None, help="text prompts: 'a:1|b:0.5:0.1'")
    a("-ip", "--image_prompts", type=str, default=None, help="image prompts: 'a.png|b.png:0.5'")
    a("-i", "--iterations", type=int, default=d["iterations"], help="number of iterations")
    a("-se", "--save_every", type=int, default=d["save_every"],
      help="print the loss every N iterations")
    a("-s", "--size", nargs=2, type=int, default=None, metavar=("WIDTH", "HEIGHT"),
      help="image size, rounded down to multiples of the VQGAN factor "
           "(default: 512x512 on a GPU, 256x256 on CPU)")
    a("-ii", "--init_image", type=str, default=None, help="initial image")
    a("-in", "--init_noise", type=str, default=None, choices=INIT_NOISES,
      help="initial noise image (pixels or gradient)")
    a("-iw", "--init_weight", type=float, default=d["init_weight"], help="initial weight")
    a("-m", "--clip_model", type=str, default="ViT-B/32",
      help="CLIP model name (looked up in --clip-dir) or path to an OpenAI-format .pt")
    a("-conf", "--vqgan_config", type=str,
      default="checkpoints/vqgan_imagenet_f16_16384.yaml", help="VQGAN config (.yaml)")
    a("-ckpt", "--vqgan_checkpoint", type=str,
      default="checkpoints/vqgan_imagenet_f16_16384.ckpt", help="VQGAN checkpoint (.ckpt)")
    a("-nps", "--noise_prompt_seeds", nargs="+", type=int, default=d["noise_prompt_seeds"],
      help="noise prompt seeds")
    a("-npw", "--noise_prompt_weights", nargs="+", type=float,
      default=d["noise_prompt_weights"], help="noise prompt weights")
    a("-lr", "--learning_rate", type=float, default=d["step_size"], dest="step_size",
      help="learning rate")
    a("-cutm", "--cut_method", type=str, default=d["cut_method"], choices=CUT_METHODS,
      help="cut method")
    a("-cuts", "--num_cuts", type=int, default=d["cutn"], dest="cutn", help="number of cuts")
    a("-cutp", "--cut_power", type=float, default=d["cut_pow"], dest="cut_pow",
      help="cut power")
    a("-sd", "--seed", type=int, default=d["seed"],
      help="seed (default: a random one, printed)")
    a("-opt", "--optimiser", type=str, default=d["optimiser"], choices=list(OPTIMISERS),
      help="optimiser")
    a("-o", "--output", type=str, default="output.png", help="output file name")
    a("-d", "--deterministic", action="store_true", help="use deterministic algorithms")
    a("-aug", "--augments", nargs="+", action="append", type=str, choices=AUGMENT_CODES,
      default=None, help="augments for the latest and nrupdated cut methods (default: "
                         "Af Pe Ji Er); only the first -aug's list counts, as in generate.py")
    a("-vid", "--video", action="store_true", dest="make_video",
      help="also make a progress video: every iteration a frame (<output>.mp4)")
    a("-zvid", "--zoom_video", action="store_true", dest="make_zoom_video",
      help="also make a zoom video: every -zse iterations a frame, then zoom and shift")
    a("-zs", "--zoom_start", type=int, default=d["zoom_start"], dest="zoom_start",
      help="zoom from this iteration on")
    a("-zse", "--zoom_save_every", type=int, default=d["zoom_frequency"],
      dest="zoom_frequency", help="a zoom frame every N iterations")
    a("-zsc", "--zoom_scale", type=float, default=d["zoom_scale"], dest="zoom_scale",
      help="zoom factor per zoom frame")
    a("-zsx", "--zoom_shift_x", type=int, default=d["zoom_shift_x"], dest="zoom_shift_x",
      help="shift per zoom frame, pixels left/right (wraps around)")
    a("-zsy", "--zoom_shift_y", type=int, default=d["zoom_shift_y"], dest="zoom_shift_y",
      help="shift per zoom frame, pixels up/down (wraps around)")
    a("-cpe", "--change_prompt_every", type=int, default=d["prompt_frequency"],
      dest="prompt_frequency", help="story mode: the next ^ phrase every N iterations")
    a("-vl", "--video_length", type=float, default=d["video_length"], dest="video_length",
      help="video length in seconds (frame rate = frames / length, 10 to 60)")
    a("--frames-dir", type=str, default=None, dest="frames_dir",
      help="also save every video frame here as <n>.png (generate.py's steps/)")
    a("-cd", "--cuda_device", "--device", type=str, default=None, dest="device",
      help="device, e.g. cuda:0, cuda:1 or cpu (default: cuda:0 if present, else cpu)")
    a("--mode", type=str, default=MODES[0], choices=MODES,
      help="fast (default: batched, with the CUDA speed switches) or reference "
           "(generate.py's float32 loop, for comparisons)")
    a("--clip-dir", type=str, default=None,
      help="folder holding OpenAI CLIP files such as ViT-B-32.pt (default: the folder of -conf)")
    a("--options-json", action="store_true",
      help="print these flags as JSON (for runvqgan's option table) and exit")
    for short, long, is_switch in UNSUPPORTED_FLAGS:
        if is_switch:
            a(short, long, action="store_true", default=None, help=argparse.SUPPRESS)
        else:
            a(short, long, type=str, default=None, help=argparse.SUPPRESS)
    return p


def job_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The engine job a parsed command line describes."""
    job = {key: getattr(args, key) for key in JOB_DEFAULTS}
    if job["make_video"] and job["make_zoom_video"]:
        print("Warning: Make video and make zoom video are mutually exclusive.", file=sys.stderr)
        job["make_video"] = False
    # as generate.py: of several -aug groups (-aug Ji -aug Sh) only the first counts
    job["augments"] = list(args.augments[0]) if args.augments else []
    job["image_prompts"] = [p.strip() for p in (args.image_prompts or "").split("|")
                            if p.strip()]
    if not job["prompts"] and not job["image_prompts"]:
        job["prompts"] = "A cute, smiling, Nerdy Rodent"  # generate.py's default prompt
    return job


def _kind(action: argparse.Action) -> str:
    if isinstance(action, argparse._StoreTrueAction):
        return "flag"
    kinds = {float: "float", int: "int", str: "str", None: "str"}
    if action.type not in kinds:
        raise TypeError(f"{action.option_strings}: no option kind for type {action.type!r}")
    return kinds[action.type]


def options_json(parser: argparse.ArgumentParser | None = None) -> dict[str, Any]:
    """Every flag of :func:`build_parser`, as ``--options-json`` prints it.

    ``kind``: float, int, str or flag (no value); ``nargs``: None (one value), 2 or "+";
    ``choices``: the values the engine accepts, or None for any; ``default``: the value
    when the flag is absent; ``cli_only``: the flag is not a job key (a model path, the
    device, the mode, ...). Left out: ``-h`` and generate.py's interpolation and style-dir
    flags, which are recognised only to be refused.
    """
    parser = parser or build_parser()
    options = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue  # -h, and the flags recognised only to be refused
        if action.nargs not in (None, 0, 2, "+"):
            raise TypeError(f"{action.option_strings}: nargs {action.nargs!r} has no JSON form")
        shorts = [o for o in action.option_strings if not o.startswith("--")]
        longs = [o for o in action.option_strings if o.startswith("--")]
        options.append({
            "short": shorts[0] if shorts else None,
            "long": longs[0] if longs else None,
            "key": action.dest,
            "kind": _kind(action),
            "nargs": action.nargs or None,
            "choices": list(action.choices) if action.choices is not None else None,
            "default": action.default,
            "cli_only": action.dest not in JOB_DEFAULTS or action.dest in LOCAL_KEYS,
        })
    return {"options": options}


def _cli_device(requested: str | None) -> str | None:
    if requested is None or requested == "cpu" or torch.cuda.is_available():
        return requested
    print("Warning: No GPU found! Using the CPU instead. The iterations will be slow.",
          file=sys.stderr)
    return "cpu"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one generation from generate.py-style flags; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.options_json:
        print(json.dumps(options_json(parser), indent=1))
        return 0
    used = [long for short, long, _ in UNSUPPORTED_FLAGS
            if getattr(args, long.lstrip("-")) is not None]
    if used:
        parser.error(f"{', '.join(used)}: interpolated and styled videos are not supported "
                     "by this engine")

    clip_dir = args.clip_dir or os.path.dirname(args.vqgan_config) or "."
    spec = ModelSpec(vqgan_config=args.vqgan_config, vqgan_checkpoint=args.vqgan_checkpoint,
                     clip_model=args.clip_model, clip_dir=clip_dir)
    job = job_from_args(args)
    every = max(1, args.save_every)

    def progress(i: int, total: int, loss: float) -> None:
        if i % every == 0 or i == total:
            print(f"i: {i}, loss: {loss:g}", flush=True)

    try:
        engine = Engine(spec, device=_cli_device(args.device), deterministic=args.deterministic,
                        mode=args.mode)
        info = engine.info()
        print(f"Using device: {info['device']} ({info['mode']} mode)")
        print(f"Optimising using: {job['optimiser']}")
        seed = job["seed"]
        if seed is None:
            seed = job["seed"] = new_seed()
        print(f"Using seed: {seed}", flush=True)
        result = engine.generate(job, progress=progress)
    except (FileNotFoundError, ValueError) as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    print(json.dumps({k: result[k] for k in ("output", "seed", "size", "seconds", "final_loss",
                                             "video")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
