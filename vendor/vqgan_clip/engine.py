"""The engine: load a VQGAN and a CLIP once, then run any number of generation jobs.

    engine = Engine(ModelSpec(vqgan_config=..., vqgan_checkpoint=..., clip_model="ViT-B/32",
                              clip_dir="models"), device=None, deterministic=False,
                    mode="fast", speed=None)
    result = engine.generate({"prompts": "a dog", "seed": 1, "output": "dog.png"}, progress)
    results = engine.generate_batch([job1, job2, job3], progress)  # one size, one batch

See docs/interfaces.md section 1 for the job keys and the result.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from . import __version__
from .clip_model import load_clip
from .job import JOB_DEFAULTS, VIDEO_KEYS, check_same_size, normalise_job, round_size
from .method import METHOD, Optimisation
from .png import environment_summary, image_chunks, to_pil, write_png
from .rng import new_seed
from .speed import MODES, SpeedOptions, maybe_compile, precision_flags
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
    """A loaded model set; :meth:`generate` runs one job, :meth:`generate_batch` several.

    ``mode``: ``"fast"`` (default) optimises the jobs of a batch together and uses the
    ``speed`` switches (:class:`vqgan_clip.speed.SpeedOptions`, a dict or None for all
    ``auto``); ``"reference"`` is generate.py's loop, one image at a time in float32.
    """

    def __init__(self, spec: ModelSpec | Mapping[str, Any], device: str | None = None,
                 deterministic: bool = False, mode: str = "fast",
                 speed: SpeedOptions | Mapping[str, Any] | None = None) -> None:
        if not isinstance(spec, ModelSpec):
            spec = ModelSpec.from_mapping(spec)
        _check_mode(mode)
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
        self.set_mode(mode, speed)
        log.info("loaded %s + CLIP %s on %s in %.1f s", self.vqgan_kind, spec.clip_model,
                 self.device, self.load_seconds)

    def set_mode(self, mode: str = "fast",
                 speed: SpeedOptions | Mapping[str, Any] | None = None) -> None:
        """Switch between ``fast`` and ``reference`` (and the fast mode's switches)."""
        _check_mode(mode)
        options = SpeedOptions.from_mapping(speed).resolved(self.device)
        if mode == "reference":
            options = SpeedOptions(**{k: False for k in options.as_dict()})
        self.mode, self.speed = mode, options
        layout = torch.channels_last if options.channels_last else torch.contiguous_format
        self.vqgan.to(memory_format=layout)
        self._compiled: dict[str, Any] = {}
        if options.compile:
            self._compiled = {
                "decode": maybe_compile(self.vqgan.decode, options),
                "encode_image": maybe_compile(self.clip.model.encode_image, options),
            }

    def info(self) -> dict[str, Any]:
        """What was loaded, where, and how long it took; the mode and its switches."""
        return {
            "vqgan_kind": self.vqgan_kind,
            "factor": self.vqgan.factor,
            "n_embed": self.vqgan.n_embed,
            "embed_dim": self.vqgan.embed_dim,
            "clip_model": self.spec.clip_model,
            "clip_resolution": self.clip.resolution,
            "device": str(self.device),
            "load_seconds": round(self.load_seconds, 3),
            "mode": self.mode,
            "speed": self.speed.as_dict(),
            "method": METHOD,
        }

    def rounded_size(self, size: list[int]) -> list[int]:
        """The size a job of this ``size`` actually gets (multiples of the factor)."""
        return list(round_size(size, self.vqgan.factor))

    def settings(self, job: dict[str, Any]) -> dict[str, Any]:
        """Everything that determines the image: the job (seed included), models and mode."""
        # the video and story keys only where they differ from off / the default: a still
        # image's settings stay as they were before videos, and read back as flags they
        # are the flags that were given (-cpe 0 is no flag)
        settings = {k: v for k, v in job.items() if k not in ("output", "frames_dir")
                    and not (k in VIDEO_KEYS and v == JOB_DEFAULTS[k])}
        settings.update({
            "size_used": self.rounded_size(job["size"]),
            "deterministic": self.deterministic,
            "device": str(self.device),
            "mode": self.mode,
            "method": METHOD,
            **{k: v for k, v in asdict(self.spec).items() if v is not None},
        })
        switches = sorted(k for k, v in self.speed.as_dict().items() if v)
        if switches:
            settings["speed"] = switches
        return settings

    def generate(self, job: Mapping[str, Any], progress: Progress | None = None) -> dict[str, Any]:
        """Run one job; write its PNG if ``job["output"]`` is set; return what happened.

        ``progress(iteration, total, loss)`` is called after every iteration; if it raises,
        the run stops, nothing is written, and the exception propagates.
        """
        return self.generate_batch([job], progress)[0]

    def generate_batch(self, jobs: Sequence[Mapping[str, Any]],
                       progress: Progress | None = None) -> list[dict[str, Any]]:
        """Run several jobs of one size; write each one's PNG; return one result per job.

        Fast mode optimises them together (one batch); reference mode runs them one after
        the other. Jobs whose sizes differ after rounding are a ValueError (nothing runs).
        ``progress(iteration, total, loss)``: fast mode calls it once per batch iteration
        with the mean loss of the images still running (total: the largest ``iterations``);
        reference mode once per image iteration, counting on across the jobs (total: the
        sum of their ``iterations``). If it raises, nothing is written and the exception
        propagates. Files are written only once every image is done.
        """
        started = time.perf_counter()
        jobs = [normalise_job(dict(job), self.device) for job in jobs]
        if not jobs:
            return []
        check_same_size(jobs, self.vqgan.factor)
        for job in jobs:
            if job["seed"] is None:
                job["seed"] = new_seed()
        with precision_flags(self.device, self.speed.tf32):
            if self.mode == "reference":
                # generate.py's loop: the same loop, one image at a time, switches off
                batches = [[job] for job in jobs]
            else:
                # a video or story job changes its latent, optimiser and prompts on its
                # own schedule: it runs in a batch of its own
                alone = [job for job in jobs if _own_schedule(job)]
                rest = [job for job in jobs if not _own_schedule(job)]
                batches = [[job] for job in alone] + ([rest] if rest else [])
            images, losses, videos = self._optimise(batches, progress)
            # back into the jobs' order
            ran = [id(job) for batch in batches for job in batch]
            batch_of = {id(job): len(batch) for batch in batches for job in batch}
            back = [ran.index(id(job)) for job in jobs]
            images, losses, videos = ([xs[k] for k in back] for xs in (images, losses, videos))
        outputs = [self._write(job, image) for job, image in zip(jobs, images, strict=True)]
        seconds = round(time.perf_counter() - started, 3)
        env = environment_summary()
        size = list(round_size(jobs[0]["size"], self.vqgan.factor))
        return [{
            "seed": job["seed"],
            "seconds": seconds,
            "final_loss": loss,
            "device": str(self.device),
            "output": output,
            "size": size,
            "iterations": job["iterations"],
            "batch_size": batch_of[id(job)],
            "video": video,
            "mode": self.mode,
            "method": METHOD,
            "environment": env,
        } for job, loss, output, video in zip(jobs, losses, outputs, videos, strict=True)]

    def _optimise(self, batches: list[list[dict[str, Any]]], progress: Progress | None):
        """Run each batch to the end; progress counts on across batches."""
        total = sum(max(job["iterations"] for job in batch) for batch in batches)
        done = 0
        images: list[torch.Tensor] = []
        losses: list[float] = []
        videos: list[dict[str, Any] | None] = []
        for batch in batches:
            run = Optimisation(batch, self.vqgan, self.clip, self.device, self.speed,
                               self._compiled)
            try:
                while not run.done:
                    loss = run.step()
                    done += 1
                    if progress is not None:
                        progress(done, total, loss)
                paths = run.finish()
            except BaseException:
                run.abandon()
                raise
            images.extend(run.images())
            losses.extend(run.losses)
            videos.extend(None if image.plan is None else {
                "path": path, "mode": image.plan.mode, "frames": image.video.encoded,
                "fps": image.plan.fps, "saved_frames": image.video.saved,
            } for image, path in zip(run.runs, paths, strict=True))
        return images, losses, videos

    def _write(self, job: dict[str, Any], image: torch.Tensor) -> str | None:
        if not job["output"]:
            return None
        return write_png(to_pil(image), job["output"], {
            **image_chunks(job["prompts"] or "", self.settings(job),
                           f"runvqgan vqgan_clip {__version__}"),
            "method": METHOD,
        })


def _own_schedule(job: Mapping[str, Any]) -> bool:
    return bool(job["make_video"] or job["make_zoom_video"] or job["prompt_frequency"])


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown engine mode {mode!r}: expected one of {', '.join(MODES)}")
