"""The VQGAN-CLIP method of nerdyrodent's ``generate.py``: the one optimisation loop.

:class:`Optimisation` optimises the images of one batch (jobs of one size) together;
reference mode is the same loop with one image and every speed switch off
(:class:`vqgan_clip.speed.SpeedOptions`), fast mode the same loop with the engine's batch and
switches. Each image keeps everything that makes it its own (an :class:`ImageRun`: its
seeded RNG state, latent, prompt losses, cutout settings); only the heavy work is shared.
Each iteration:

1. the latents are stacked and decoded in one batch (straight-through through the
   codebook, clamped to [0, 1] with gradients that point back into range);
2. each image's cutouts and augmentations are drawn with *its own* RNG state swapped in;
3. all cutouts go through CLIP's image encoder in one batch;
4. each image's loss terms are computed on its own embeddings (spherical-distance prompt
   losses with weights and stops, and the fading ``init_weight`` pull of the latent towards
   zero), and the sum over images is back-propagated once. No term couples two images, so
   the gradient that reaches an image's latent is the gradient of its own loss;
5. each latent is stepped by an optimiser state of its own (one optimiser per
   (optimiser, learning rate) pair, with a separate parameter, and so separate moments and
   step count, per image), then clamped to the codebook's range.

So an image's result does not depend on which other images shared its batch, up to the
rounding of batched kernels (docs/interfaces.md section 1 says what was measured). Jobs may
ask for different iteration counts: an image that is done leaves the batch and keeps its
latent.

Parity with generate.py (:data:`METHOD` names the behaviour followed; reference mode on the
CPU gives the same losses and pixels, see scripts/compare_upstream.py and docs/method.md):

- random numbers: an image's set-up (starting tokens, the Gumbel encoder's noise, image
  prompts' cutouts) draws from the job's seed, then the RNG is seeded again with the same
  seed for the loop, as generate.py seeds just before its loop (its set-up draws come
  unseeded; see :class:`ImageRun`); noise start images come from numpy, as there;
- the latent keeps generate.py's memory layout (a channels-last view for a random start),
  text prompts are encoded one at a time, the ``init_weight`` term is computed in its order;
- the saved image is generate.py's last ``checkin``: the image after the largest multiple
  of ``save_every`` iterations not above ``iterations`` (``-i 80 -se 50`` saves the image
  after 50 iterations; the loop still runs all 80).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import functional as TF

from .clip_model import CLIP_MEAN, CLIP_STD, tokenize
from .cutouts import MakeCutouts
from .job import check_same_size, round_size
from .ops import clamp_with_grad, vector_quantize
from .optimisers import make_optimiser
from .prompts import PromptLoss, parse_prompt, parse_prompts
from .rng import JobRng
from .speed import SpeedOptions, autocast, maybe_compile
from .video import VideoWriter, frame_array, plan_of, story_phrases, zoom_and_shift

if TYPE_CHECKING:
    from .clip_model import LoadedClip
    from .vqgan import VQGAN

#: Which behaviour of nerdyrodent's generate.py (its last change to the method: 2022-01-28)
#: the images follow; recorded in every PNG and sidecar. Change it whenever a change to the
#: method changes the pixels a job gives. Images without it were made before parity.
METHOD = "upstream-2022-parity-1"


def open_image(path: str, what: str) -> Image.Image:
    """Open an image file as RGB, with an error that says which setting named it."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except OSError as e:
        raise ValueError(f"{what} {path} is not a readable image: {e}") from None


def fit_area(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize keeping the aspect ratio, to at most the area of ``size`` (as generate.py)."""
    ratio = image.size[0] / image.size[1]
    area = min(image.size[0] * image.size[1], size[0] * size[1])
    new = (max(1, round((area * ratio) ** 0.5)), max(1, round((area / ratio) ** 0.5)))
    return image.resize(new, Image.LANCZOS)


def noise_image(kind: str, width: int, height: int, seed: int) -> Image.Image:
    """A random start image (``-in pixels`` or ``gradient``), as generate.py makes it.

    generate.py draws these from numpy's global RNG, which it never seeds; here numpy's
    legacy generator is seeded with ``seed`` (modulo 2**32). ``pixels`` is height x width
    transposed, as there (a ``width`` x ``height`` array read as rows x columns); the
    resize to the image size follows.
    """
    rng = np.random.RandomState(seed % 2**32)
    if kind == "pixels":
        return Image.fromarray(rng.randint(0, 255, (width, height, 3), dtype=np.uint8))
    # gradient: red ramps left to right from 0, green and blue top to bottom; the draws in
    # generate.py's order: blue's start, then the three ends
    blue_start = rng.randint(0, 255)
    ends = [rng.randint(1, 255), rng.randint(2, 255), rng.randint(3, 128)]
    array = np.zeros((height, width, 3), dtype=float)
    array[:, :, 0] = np.linspace(0, ends[0], width)[None, :]
    array[:, :, 1] = np.linspace(0, ends[1], height)[:, None]
    array[:, :, 2] = np.linspace(blue_start, ends[2], height)[:, None]
    return Image.fromarray(array.astype(np.uint8))


class ImageRun:
    """One image's own state: its job, RNG, latent, prompt losses, cutouts and iteration.

    Set-up draws (starting tokens, Gumbel noise, image prompts' cutouts) come from the seed;
    the loop's draws from the seed again. generate.py makes the set-up draws before it seeds
    torch, from a state that only depends on how many random numbers building its models
    took (on a GPU, the CUDA generator's fixed default seed): they cannot be remade from a
    seed, and the harness seeds them as here to compare everything after.
    """

    def __init__(self, job: dict[str, Any], vqgan: VQGAN, clip: LoadedClip,
                 device: torch.device) -> None:
        self.job = job
        self.vqgan = vqgan
        self.clip = clip
        self.device = device
        self.rng = JobRng(job["seed"], device)
        self.width, self.height = round_size(job["size"], vqgan.factor)
        self.cutouts = MakeCutouts(job["cut_method"], clip.resolution, job["cutn"],
                                   job["cut_pow"], job["augments"]).to(device)
        with self.rng.active():
            self.z = self._initial_latent().detach().requires_grad_(True)
            self.prompt_losses = self._prompt_losses()
        self.rng.reseed()
        self.iteration = 0
        self.loss = float("nan")
        every = job["save_every"]
        #: the iteration whose image is saved (generate.py's last checkin)
        self.saved_at = job["iterations"] - job["iterations"] % every if every >= 1 \
            else job["iterations"]
        self.saved: torch.Tensor | None = None
        #: story mode: the ``^`` phrases and the next one to use (generate.py's ``p``)
        self.phrases, self.next_phrase = story_phrases(job["prompts"]), 1
        self.plan = plan_of(job)
        self.video = None if self.plan is None else VideoWriter(
            self.plan, job["output"], job["frames_dir"], job["prompts"] or "")

    @property
    def done(self) -> bool:
        return self.iteration >= self.job["iterations"]

    def _encode_image(self, image: Image.Image) -> torch.Tensor:
        image = image.resize((self.width, self.height), Image.LANCZOS)
        x = TF.to_tensor(image).unsqueeze(0).to(self.device)
        with torch.no_grad():
            return self.vqgan.encode(x * 2 - 1)

    def _initial_latent(self) -> torch.Tensor:
        job = self.job
        if job["init_image"]:
            return self._encode_image(open_image(job["init_image"], "init image"))
        if job["init_noise"]:
            w, h = job["size"]
            return self._encode_image(noise_image(job["init_noise"], w, h, job["seed"]))
        toks_x, toks_y = self.width // self.vqgan.factor, self.height // self.vqgan.factor
        codebook = self.vqgan.codebook
        indices = torch.randint(codebook.shape[0], [toks_y * toks_x], device=self.device)
        one_hot = F.one_hot(indices, codebook.shape[0]).to(codebook.dtype)
        z = one_hot @ codebook
        # a channels-last view, as generate.py's latent (sums over it, as in the init_weight
        # term, run in its memory order). Except for AdamP: torch_optimizer's AdamP views
        # its parameter flat, which fails on that view (generate.py stops there).
        z = z.view(1, toks_y, toks_x, -1).permute(0, 3, 1, 2)
        return z.contiguous() if job["optimiser"] == "AdamP" else z

    def _text_losses(self, prompts: str | None) -> list[PromptLoss]:
        model = self.clip.model
        losses = []
        context = getattr(model, "context_length", 77)
        for p in parse_prompts(prompts):
            # one at a time, as generate.py (a batch of texts rounds differently)
            tokens = tokenize([p.text], context_length=context).to(self.device)
            with torch.no_grad():
                embed = model.encode_text(tokens).float()
            losses.append(PromptLoss(embed, p.weight, p.stop).to(self.device))
        return losses

    def _prompt_losses(self) -> list[PromptLoss]:
        job, model = self.job, self.clip.model
        losses = self._text_losses(job["prompts"])
        for prompt in job["image_prompts"]:
            p = parse_prompt(prompt)
            image = fit_area(open_image(p.text, "image prompt"), (self.width, self.height))
            with torch.no_grad():
                views = self.cutouts(TF.to_tensor(image).unsqueeze(0).to(self.device))
                embed = model.encode_image(normalise_views(views)).float()
            losses.append(PromptLoss(embed, p.weight, p.stop))
        seeds, weights = job["noise_prompt_seeds"], job["noise_prompt_weights"]
        for seed, weight in zip(seeds, weights, strict=False):
            gen = torch.Generator().manual_seed(seed)
            embed = torch.empty([1, self.clip.embed_dim]).normal_(generator=gen)
            losses.append(PromptLoss(embed.to(self.device), weight))
        return [loss.to(self.device) for loss in losses]

    def before_iteration(self, optimisation: Optimisation) -> None:
        """What generate.py does at the top of its loop, before iteration ``self.iteration``:
        the zoom video's frame and zoom, then story mode's change of prompt
        (:mod:`vqgan_clip.video`)."""
        i, job = self.iteration, self.job
        if self.plan is not None and self.plan.mode == "zoom" and i % self.plan.every == 0:
            frame = frame_array(optimisation.image_of(self))
            self.video.add(frame)
            if job["zoom_start"] <= i:
                image = zoom_and_shift(frame, job["zoom_scale"], job["zoom_shift_x"],
                                       job["zoom_shift_y"])
                with self.rng.active():
                    z = self._encode_image(image)
                self.z = z.detach().requires_grad_(True)
                optimisation.optimisers = optimisation._optimisers()
        every = job["prompt_frequency"]
        if every > 0 and i > 0 and i % every == 0:
            if self.next_phrase >= len(self.phrases):
                self.next_phrase = 0
            # text prompts only: image and noise prompts end here, as in generate.py
            self.prompt_losses = self._text_losses(self.phrases[self.next_phrase])
            self.next_phrase += 1

    def loss_terms(self, embeds: torch.Tensor) -> list[torch.Tensor]:
        """This image's loss terms, given CLIP's embeddings of its cutouts."""
        terms = []
        if self.job["init_weight"]:
            # as generate.py: pull z towards zero, fading with the iteration count (the
            # factor in float32, multiplied in its order)
            fade = (1 / torch.tensor(self.iteration * 2 + 1)) * self.job["init_weight"]
            terms.append(F.mse_loss(self.z, torch.zeros_like(self.z)) * fade / 2)
        terms.extend(loss(embeds) for loss in self.prompt_losses)
        return terms


def normalise_views(views: torch.Tensor) -> torch.Tensor:
    """Cutouts in [0, 1] -> CLIP's input normalisation."""
    mean = torch.tensor(CLIP_MEAN, device=views.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=views.device).view(1, 3, 1, 1)
    return (views - mean) / std


class Optimisation:
    """The images of one batch (jobs of one size); call :meth:`step` until :attr:`done`.

    ``options``: the speed switches (all off: generate.py's float32 eager loop).
    ``compiled``: the engine's compiled decoder and CLIP image encoder, if it made them.
    """

    def __init__(self, jobs: Sequence[dict[str, Any]], vqgan: VQGAN, clip: LoadedClip,
                 device: torch.device, options: SpeedOptions,
                 compiled: dict[str, Callable[..., Any]] | None = None) -> None:
        if not jobs:
            raise ValueError("a batch needs at least one job")
        self.width, self.height = check_same_size(jobs, vqgan.factor)
        self.vqgan, self.clip, self.device, self.options = vqgan, clip, device, options
        self.runs = [ImageRun(job, vqgan, clip, device) for job in jobs]
        self.optimisers = self._optimisers()
        compiled = compiled if compiled is not None else {}
        self._decode = compiled.get("decode") or maybe_compile(vqgan.decode, options)
        self._encode = (compiled.get("encode_image")
                        or maybe_compile(clip.model.encode_image, options))
        codebook = vqgan.codebook
        self.z_min = codebook.min(dim=0).values.view(1, -1, 1, 1)
        self.z_max = codebook.max(dim=0).values.view(1, -1, 1, 1)
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

    @property
    def losses(self) -> list[float]:
        """Each image's loss before its last step (NaN before the first), in job order."""
        return [run.loss for run in self.runs]

    def active(self) -> list[ImageRun]:
        """The images that still have iterations to run."""
        return [run for run in self.runs if not run.done]

    # -- the method ---------------------------------------------------------------------
    def synth(self, z: torch.Tensor, eager: bool = False) -> torch.Tensor:
        """Stacked latents -> images in [0, 1], (b, 3, H, W), through the codebook.

        ``eager``: the decoder as it is, never the compiled one (the final images are made
        once, without gradients: not worth a compilation).
        """
        # (b, H, W, C) -> a channels-last view, which the decoder takes as it is (as
        # generate.py does; channels_last mode asks for the same layout)
        z_q = vector_quantize(z.movedim(1, 3), self.vqgan.codebook).movedim(3, 1)
        if self.options.channels_last:
            z_q = z_q.contiguous(memory_format=torch.channels_last)
        decode = self.vqgan.decode if eager else self._decode
        with autocast(self.device, self.options.bf16_decode):
            if self.options.batch_invariant and z_q.shape[0] > 1:
                decoded = torch.cat([decode(z_q[i:i + 1]) for i in range(z_q.shape[0])])
            else:
                decoded = decode(z_q)
        return clamp_with_grad(decoded.float().add(1).div(2), 0, 1)

    def image_losses(self, runs: Sequence[ImageRun], images: torch.Tensor) -> list[torch.Tensor]:
        """Each image's total loss: its own cutouts (its own RNG), CLIP in one batch."""
        views = []
        for k, run in enumerate(runs):
            with run.rng.active():
                views.append(run.cutouts(images[k:k + 1]))
        with autocast(self.device, self.options.bf16_clip):
            embeds = self._encode(normalise_views(torch.cat(views) if len(views) > 1
                                                  else views[0]))
        per_image = embeds.float().split([v.shape[0] for v in views])
        return [sum(run.loss_terms(own)) for run, own in zip(runs, per_image, strict=True)]

    def update(self, runs: Sequence[ImageRun], losses: list[torch.Tensor]) -> list[float]:
        """Back-propagate, step each latent, clamp it to the codebook range; the loss values."""
        total = torch.stack(losses).sum() if len(losses) > 1 else losses[0]
        total.backward()
        for optimiser in self.optimisers:
            optimiser.step()
        values = torch.stack([loss.detach() for loss in losses]).tolist()
        with torch.no_grad():
            for run, value in zip(runs, values, strict=True):
                run.z.copy_(run.z.maximum(self.z_min).minimum(self.z_max))
                run.iteration += 1
                run.loss = value
        self.iteration += 1
        return values

    def step(self) -> float:
        """One iteration of every active image; returns the mean of their losses before it."""
        runs = self.active()
        for run in runs:
            run.before_iteration(self)
            if run.iteration == run.saved_at:
                run.saved = self.image_of(run)
        if self.options.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        for optimiser in self.optimisers:
            optimiser.zero_grad(set_to_none=True)
        z = torch.cat([run.z for run in runs]) if len(runs) > 1 else runs[0].z
        images = self.synth(z)
        for k, run in enumerate(runs):
            if run.plan is not None and run.plan.mode == "progress":
                run.video.add(frame_array(images[k:k + 1]))
        values = self.update(runs, self.image_losses(runs, images))
        return sum(values) / len(values)

    def finish(self) -> list[str | None]:
        """After the last iteration: generate.py's loop top at iteration ``iterations``
        (a zoom frame and zoom there, and the progress video's last saved frame), then each
        video closed; each image's MP4 path (None: no video), in job order."""
        for run in self.runs:
            if run.plan is None:
                continue
            run.before_iteration(self)
            if run.plan.mode == "progress":
                run.video.add(frame_array(self.image_of(run)))
        return [None if run.video is None else run.video.close() for run in self.runs]

    def abandon(self) -> None:
        """The run stopped early: no video is kept."""
        for run in self.runs:
            if run.video is not None:
                run.video.abandon()

    def image_of(self, run: ImageRun) -> torch.Tensor:
        """One image as it is now, (1, 3, H, W) in [0, 1]."""
        with torch.no_grad():
            return self.synth(run.z, eager=True)

    def images(self) -> list[torch.Tensor]:
        """Each image's result, (1, 3, H, W) in [0, 1], in job order: the image at its
        ``saved_at`` iteration (generate.py's last checkin), which is the image as it is
        now unless ``save_every`` does not divide ``iterations``."""
        with torch.no_grad():
            z = torch.cat([run.z for run in self.runs])
            images = self.synth(z, eager=True)
        return [run.saved if run.saved is not None else images[i:i + 1]
                for i, run in enumerate(self.runs)]
