"""Several jobs of one size optimised together: the fast mode's loop.

Each job keeps everything that makes its image its own (a :class:`JobRun`: its seeded RNG
state, latent, prompt losses, cutout settings); only the heavy work is shared. Each
iteration:

1. the latents are stacked and decoded in one batch;
2. each image's cutouts and augmentations are drawn with *its own* RNG state swapped in;
3. all cutouts go through CLIP's image encoder in one batch;
4. each image's loss terms are computed on its own embeddings, and the sum over images is
   back-propagated once. No term couples two images, so the gradient that reaches an
   image's latent is the gradient of its own loss;
5. each latent is stepped by an optimiser state of its own (one optimiser per
   (optimiser, learning rate) pair, with a separate parameter, and so separate moments and
   step count, per image), then clamped to the codebook's range.

So an image's result does not depend on which other images shared its batch, up to the
rounding of batched kernels (see docs/interfaces.md section 1 for what was measured).
Jobs may ask for different iteration counts: an image that is done leaves the batch and
keeps its latent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from .generate import JobRun, make_optimiser, round_size
from .ops import clamp_with_grad, vector_quantize
from .speed import SpeedOptions, autocast, maybe_compile

if TYPE_CHECKING:
    from .clip_model import LoadedClip
    from .vqgan import VQGAN


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


class BatchRun:
    """The jobs of one batch; call :meth:`step` until :attr:`done`."""

    def __init__(self, jobs: Sequence[dict[str, Any]], vqgan: VQGAN, clip: LoadedClip,
                 device: torch.device, options: SpeedOptions,
                 compiled: dict[str, Callable[..., Any]] | None = None) -> None:
        if not jobs:
            raise ValueError("a batch needs at least one job")
        self.width, self.height = check_same_size(jobs, vqgan.factor)
        self.vqgan, self.clip, self.device, self.options = vqgan, clip, device, options
        self.runs = [JobRun(job, vqgan, clip, device, job["seed"], optimiser=False)
                     for job in jobs]
        self.losses: list[float] = [float("nan")] * len(self.runs)
        self.optimisers = self._optimisers()
        compiled = compiled if compiled is not None else {}
        self._decode = compiled.get("decode") or maybe_compile(vqgan.decode, options)
        self._encode = (compiled.get("encode_image")
                        or maybe_compile(clip.model.encode_image, options))
        codebook = vqgan.codebook
        self.z_min = codebook.min(dim=0).values.view(1, -1, 1, 1)
        self.z_max = codebook.max(dim=0).values.view(1, -1, 1, 1)
        self.mean = self.runs[0].mean
        self.std = self.runs[0].std
        self.iteration = 0
        self.total = max(run.job["iterations"] for run in self.runs)

    def _optimisers(self) -> list[torch.optim.Optimizer]:
        groups: dict[tuple[str, float], list[torch.Tensor]] = {}
        for run in self.runs:
            key = (run.job["optimiser"], run.job["step_size"])
            groups.setdefault(key, []).append(run.z)
        return [make_optimiser(name, params, lr, fused=self.options.fused_optimiser)
                for (name, lr), params in groups.items()]

    @property
    def done(self) -> bool:
        return self.iteration >= self.total

    def active(self) -> list[int]:
        """Indices of the images that still have iterations to run."""
        return [i for i, run in enumerate(self.runs) if run.iteration < run.job["iterations"]]

    # -- the method, batched ------------------------------------------------------------
    def synth(self, z: torch.Tensor, eager: bool = False) -> torch.Tensor:
        """Stacked latents -> images in [0, 1], (b, 3, H, W).

        ``eager``: the decoder as it is, never the compiled one (the final images are made
        once, without gradients: not worth a compilation).
        """
        z_q = vector_quantize(z.movedim(1, 3), self.vqgan.codebook).movedim(3, 1).contiguous()
        if self.options.channels_last:
            z_q = z_q.contiguous(memory_format=torch.channels_last)
        decode = self.vqgan.decode if eager else self._decode
        with autocast(self.device, self.options.bf16_decode):
            if self.options.batch_invariant and z_q.shape[0] > 1:
                decoded = torch.cat([decode(z_q[i:i + 1]) for i in range(z_q.shape[0])])
            else:
                decoded = decode(z_q)
        return clamp_with_grad(decoded.float().add(1).div(2), 0, 1)

    def encode_views(self, views: torch.Tensor) -> torch.Tensor:
        views = (views - self.mean) / self.std
        with autocast(self.device, self.options.bf16_clip):
            embeds = self._encode(views)
        return embeds.float()

    def step(self) -> float:
        """One iteration of every active image; returns the mean of their losses before it."""
        active = self.active()
        runs = [self.runs[i] for i in active]
        if self.options.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        for optimiser in self.optimisers:
            optimiser.zero_grad(set_to_none=True)
        z = torch.cat([run.z for run in runs]) if len(runs) > 1 else runs[0].z
        images = self.synth(z)
        views = []
        for k, run in enumerate(runs):
            with run.rng.active():
                views.append(run.cutouts(images[k:k + 1]))
        embeds = self.encode_views(torch.cat(views) if len(views) > 1 else views[0])
        per_image = embeds.split([v.shape[0] for v in views])
        losses = []
        for run, own in zip(runs, per_image, strict=True):
            terms = []
            if run.job["init_weight"]:
                fade = 1 / (run.iteration * 2 + 1)
                terms.append(F.mse_loss(run.z, torch.zeros_like(run.z))
                             * fade * run.job["init_weight"] / 2)
            terms.extend(loss(own) for loss in run.prompt_losses)
            losses.append(sum(terms))
        total = torch.stack(losses).sum() if len(losses) > 1 else losses[0]
        total.backward()
        for optimiser in self.optimisers:
            optimiser.step()
        values = torch.stack([loss.detach() for loss in losses]).tolist()
        with torch.no_grad():
            for run in runs:
                run.z.copy_(run.z.maximum(self.z_min).minimum(self.z_max))
                run.iteration += 1
        for i, value in zip(active, values, strict=True):
            self.losses[i] = value
        self.iteration += 1
        return sum(values) / len(values)

    def images(self) -> list[torch.Tensor]:
        """Each image as it is now, (1, 3, H, W) in [0, 1], in job order."""
        with torch.no_grad():
            z = torch.cat([run.z for run in self.runs])
            images = self.synth(z, eager=True)
        return [images[i:i + 1] for i in range(len(self.runs))]
