"""A generation job: its keys, their defaults, and the checks a job passes before it runs.

A job is a plain dict whose keys are the ``dest`` names of generate.py's flags (see
docs/interfaces.md). :data:`JOB_DEFAULTS` is the one list of those keys and defaults: the
command line (:mod:`vqgan_clip.generate`) takes its flags' defaults from it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch

from .cutouts import AUGMENT_CODES, CUT_METHODS
from .optimisers import check_optimiser
from .prompts import parse_prompts

#: Job keys and their defaults (``size`` and ``seed`` are filled in by :func:`normalise_job`).
JOB_DEFAULTS: dict[str, Any] = {
    "prompts": None,
    "image_prompts": [],
    "iterations": 500,
    "size": None,
    "init_image": None,
    "init_noise": None,
    "init_weight": 0.0,
    "noise_prompt_seeds": [],
    "noise_prompt_weights": [],
    "step_size": 0.1,
    "cut_method": "latest",
    "cutn": 32,
    "cut_pow": 1.0,
    "seed": None,
    "optimiser": "Adam",
    "augments": [],
    "output": None,
    "save_every": 50,
    # generate.py's video and story modes (vqgan_clip.video)
    "make_video": False,
    "make_zoom_video": False,
    "zoom_start": 0,
    "zoom_frequency": 10,
    "zoom_scale": 0.99,
    "zoom_shift_x": 0,
    "zoom_shift_y": 0,
    "prompt_frequency": 0,
    "video_length": 10.0,
    # not a generate.py flag: a folder for every saved video frame as <n>.png (generate.py's
    # steps/); None keeps frames only in the encoder
    "frames_dir": None,
}
INIT_NOISES = ("pixels", "gradient")
#: The keys of the video and story modes (vqgan_clip.video).
VIDEO_KEYS = ("make_video", "make_zoom_video", "zoom_start", "zoom_frequency", "zoom_scale",
              "zoom_shift_x", "zoom_shift_y", "prompt_frequency", "video_length")
#: Job keys for the engine's own command line and tests, never set from a task.
LOCAL_KEYS = ("frames_dir",)


def default_size(device: torch.device) -> list[int]:
    """generate.py's default: 512 square on a GPU over 8 GB, 304 on a smaller one, 256 on CPU."""
    if device.type != "cuda":
        return [256, 256]
    if torch.cuda.get_device_properties(device).total_memory <= 2**33:
        return [304, 304]
    return [512, 512]


def round_size(size: Sequence[int], factor: int) -> tuple[int, int]:
    """Round width and height down to multiples of the VQGAN factor (450x300 -> 448x288)."""
    width, height = (int(s) for s in size)
    out = (width // factor * factor, height // factor * factor)
    if out[0] < factor or out[1] < factor:
        raise ValueError(f"image size {width}x{height} is smaller than one VQGAN cell "
                         f"({factor}x{factor} pixels)")
    return out


def check_same_size(jobs: Sequence[dict[str, Any]], factor: int) -> tuple[int, int]:
    """The common (rounded) size of ``jobs``, or a ValueError naming the first odd one."""
    sizes = [round_size(job["size"], factor) for job in jobs]
    for index, size in enumerate(sizes):
        if size != sizes[0]:
            raise ValueError(
                f"a batch needs jobs of one size: job 0 is {sizes[0][0]}x{sizes[0][1]} but "
                f"job {index} is {size[0]}x{size[1]} (after rounding to multiples of "
                f"{factor}); run jobs of other sizes in batches of their own")
    return sizes[0]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        return [value]
    return list(value)


def normalise_job(job: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Check a job dict and fill in defaults; raise ValueError naming any bad key."""
    unknown = sorted(set(job) - set(JOB_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown job key(s) {', '.join(unknown)}; known keys: "
                         f"{', '.join(JOB_DEFAULTS)}")
    out = {key: job.get(key, default) for key, default in JOB_DEFAULTS.items()}
    for key in ("image_prompts", "noise_prompt_seeds", "noise_prompt_weights", "augments"):
        out[key] = _as_list(out[key])
    if isinstance(job.get("image_prompts"), str):
        out["image_prompts"] = [p.strip() for p in job["image_prompts"].split("|") if p.strip()]
    if out["size"] is None:
        out["size"] = default_size(device)
    size = list(out["size"])
    if len(size) != 2 or any(int(s) < 1 for s in size):
        raise ValueError(f"size must be [width, height] in pixels, not {out['size']!r}")
    out["size"] = [int(s) for s in size]
    out["iterations"] = int(out["iterations"])
    if out["iterations"] < 1:
        raise ValueError(f"iterations must be at least 1, not {out['iterations']}")
    for key in ("init_weight", "step_size", "cut_pow"):
        out[key] = float(out[key])
    out["cutn"] = int(out["cutn"])
    out["noise_prompt_seeds"] = [int(s) for s in out["noise_prompt_seeds"]]
    out["noise_prompt_weights"] = [float(w) for w in out["noise_prompt_weights"]]
    if out["seed"] is not None:
        out["seed"] = int(out["seed"])
    if out["init_noise"] is not None and out["init_noise"] not in INIT_NOISES:
        raise ValueError(f"unknown init_noise {out['init_noise']!r}: expected pixels or gradient")
    if out["cut_method"] not in CUT_METHODS:
        raise ValueError(f"unknown cut method {out['cut_method']!r}: expected one of "
                         f"{', '.join(CUT_METHODS)}")
    bad_augs = [a for a in out["augments"] if a not in AUGMENT_CODES]
    if bad_augs:
        raise ValueError(f"unknown augment(s) {', '.join(map(str, bad_augs))}: expected some "
                         f"of {' '.join(AUGMENT_CODES)}")
    check_optimiser(out["optimiser"])
    _check_video(out)
    if not (parse_prompts(out["prompts"]) or out["image_prompts"] or out["noise_prompt_seeds"]):
        raise ValueError("the job has no prompt: give prompts, image_prompts or noise prompts")
    return out


def _check_video(job: dict[str, Any]) -> None:
    """The video and story keys: types, ranges, and generate.py's "mutually exclusive"."""
    for key in ("make_video", "make_zoom_video"):
        job[key] = bool(job[key])
    if job["make_video"] and job["make_zoom_video"]:
        job["make_video"] = False  # as generate.py: the zoom video wins, with a warning
        warnings.warn("make_video and make_zoom_video are mutually exclusive: making the "
                      "zoom video", RuntimeWarning, stacklevel=3)
    for key in ("zoom_start", "zoom_frequency", "zoom_shift_x", "zoom_shift_y",
                "prompt_frequency"):
        job[key] = int(job[key])
    for key in ("zoom_scale", "video_length"):
        job[key] = float(job[key])
    if job["zoom_frequency"] < 1:
        raise ValueError(f"zoom_frequency must be at least 1, not {job['zoom_frequency']}")
    if job["prompt_frequency"] < 0:
        raise ValueError(f"prompt_frequency must be 0 (off) or more, "
                         f"not {job['prompt_frequency']}")
    if not job["zoom_scale"] > 0 or not job["video_length"] > 0:
        raise ValueError("zoom_scale and video_length must be above 0")
