"""The engine: load a VQGAN and a CLIP once, then run any number of generation jobs.

    engine = Engine(ModelSpec(vqgan_config=..., vqgan_checkpoint=..., clip_model="ViT-B/32",
                              clip_dir="models"), device=None, deterministic=False)
    result = engine.generate({"prompts": "a dog", "seed": 1, "output": "dog.png"}, progress)

See docs/interfaces.md section 1 for the job keys and the result.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

from . import __version__
from .clip_model import load_clip
from .generate import JobRun, normalise_job, round_size
from .png import to_pil, write_png
from .rng import new_seed
from .vqgan import load_vqgan

log = logging.getLogger(__name__)

Progress = Callable[[int, int, float], Any]


@dataclass(frozen=True)
class ModelSpec:
    """Which models to load: a taming yaml + ckpt pair and an OpenAI-format CLIP."""

    vqgan_config: str
    vqgan_checkpoint: str
    clip_model: str = "ViT-B/32"
    clip_dir: str | None = None  # where CLIP names are looked up; default: folder of the yaml

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> ModelSpec:
        known = {"vqgan_config", "vqgan_checkpoint", "clip_model", "clip_dir"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"unknown model spec key(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        return cls(**{k: (os.fspath(v) if v is not None else None) for k, v in spec.items()})


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``: CUDA if present, else CPU with a warning. ``"cuda"`` without CUDA: an error."""
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        msg = "no CUDA device found: running on the CPU, which is very slow"
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device} requested but CUDA is not available here")
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {device} requested but only "
                             f"{torch.cuda.device_count()} CUDA device(s) exist")
        return torch.device("cuda", index)
    return dev


def set_deterministic() -> None:
    """Process-wide switches for repeatable results (cuBLAS needs its env var before use)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    # warn_only: some CUDA backward kernels (grid sampling in the augmentations, adaptive
    # max pooling) have no deterministic version; they warn instead of failing the job.
    torch.use_deterministic_algorithms(True, warn_only=True)


class Engine:
    """A loaded model set; :meth:`generate` runs one job at a time on it."""

    def __init__(self, spec: ModelSpec | Mapping[str, Any], device: str | None = None,
                 deterministic: bool = False) -> None:
        if not isinstance(spec, ModelSpec):
            spec = ModelSpec.from_mapping(spec)
        started = time.perf_counter()
        self.spec = spec
        self.deterministic = bool(deterministic)
        if self.deterministic:
            set_deterministic()
        self.device = resolve_device(device)
        loaded = load_vqgan(spec.vqgan_config, spec.vqgan_checkpoint)
        self.vqgan_kind = loaded.kind
        self.vqgan = loaded.model.to(self.device)
        clip_dir = spec.clip_dir
        if clip_dir is None:
            clip_dir = os.path.dirname(spec.vqgan_config) or "."
        self.clip = load_clip(spec.clip_model, clip_dir)
        self.clip.model.to(self.device)
        self.load_seconds = time.perf_counter() - started
        log.info("loaded %s + CLIP %s on %s in %.1f s", self.vqgan_kind, spec.clip_model,
                 self.device, self.load_seconds)

    def info(self) -> dict[str, Any]:
        """What was loaded, where, and how long it took."""
        return {
            "vqgan_kind": self.vqgan_kind,
            "factor": self.vqgan.factor,
            "n_embed": self.vqgan.n_embed,
            "embed_dim": self.vqgan.embed_dim,
            "clip_model": self.spec.clip_model,
            "clip_resolution": self.clip.resolution,
            "device": str(self.device),
            "load_seconds": round(self.load_seconds, 3),
        }

    def rounded_size(self, size: list[int]) -> list[int]:
        """The size a job of this ``size`` actually gets (multiples of the factor)."""
        return list(round_size(size, self.vqgan.factor))

    def settings(self, job: dict[str, Any]) -> dict[str, Any]:
        """Everything that determines the image: the job (seed included) and the models."""
        settings = {k: v for k, v in job.items() if k not in ("output", "save_every")}
        settings.update({
            "size_used": self.rounded_size(job["size"]),
            "deterministic": self.deterministic,
            "device": str(self.device),
            **{k: v for k, v in asdict(self.spec).items() if v is not None},
        })
        return settings

    def generate(self, job: Mapping[str, Any], progress: Progress | None = None) -> dict[str, Any]:
        """Run one job; write its PNG if ``job["output"]`` is set; return what happened.

        ``progress(iteration, total, loss)`` is called after every iteration; if it raises,
        the run stops, nothing is written, and the exception propagates.
        """
        started = time.perf_counter()
        job = normalise_job(dict(job), self.device)
        if job["seed"] is None:
            job["seed"] = new_seed()
        run = JobRun(job, self.vqgan, self.clip, self.device, job["seed"])
        total = job["iterations"]
        loss = float("nan")
        for i in range(1, total + 1):
            loss = run.step()
            if progress is not None:
                progress(i, total, loss)
        image = to_pil(run.image())
        output = None
        if job["output"]:
            output = write_png(image, job["output"], {
                "prompt": job["prompts"] or "",
                "settings": json.dumps(self.settings(job), sort_keys=True),
                "software": f"runvqgan vqgan_clip {__version__}",
            })
        return {
            "seed": job["seed"],
            "seconds": round(time.perf_counter() - started, 3),
            "final_loss": loss,
            "device": str(self.device),
            "output": output,
            "size": [run.width, run.height],
            "iterations": total,
        }
