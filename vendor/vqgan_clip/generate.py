"""The VQGAN-CLIP method of nerdyrodent's ``generate.py``, and its command line.

:class:`JobRun` holds one job's optimisation state (latent, optimiser, prompt losses,
cutouts, RNG) and advances it one step at a time; :class:`vqgan_clip.engine.Engine` drives
it. ``python -m vqgan_clip.generate`` accepts generate.py's flags, so a sidecar's first line
runs as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import functional as TF

from .clip_model import CLIP_MEAN, CLIP_STD, tokenize
from .cutouts import AUGMENT_CODES, CUT_METHODS, MakeCutouts
from .ops import clamp_with_grad, vector_quantize
from .prompts import PromptLoss, parse_prompt, parse_prompts
from .rng import JobRng

if TYPE_CHECKING:
    from .clip_model import LoadedClip
    from .vqgan import VQGAN

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
}

#: generate.py's optimisers that torch provides, by their ``-opt`` names.
OPTIMISERS = {
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
    "Adagrad": torch.optim.Adagrad,
    "Adamax": torch.optim.Adamax,
    "RAdam": torch.optim.RAdam,
    "RMSprop": torch.optim.RMSprop,
}
#: generate.py's optimisers from the torch_optimizer package, which is not a dependency.
UNSUPPORTED_OPTIMISERS = ("DiffGrad", "AdamP")
INIT_NOISES = ("pixels", "gradient")


def default_size(device: torch.device) -> list[int]:
    """generate.py's default: 512 square on a GPU over 8 GB, 318 on a smaller one, 256 on CPU."""
    if device.type != "cuda":
        return [256, 256]
    if torch.cuda.get_device_properties(device).total_memory <= 2**33:
        return [318, 318]
    return [512, 512]


def round_size(size: Sequence[int], factor: int) -> tuple[int, int]:
    """Round width and height down to multiples of the VQGAN factor (450x300 -> 448x288)."""
    width, height = (int(s) for s in size)
    out = (width // factor * factor, height // factor * factor)
    if out[0] < factor or out[1] < factor:
        raise ValueError(f"image size {width}x{height} is smaller than one VQGAN cell "
                         f"({factor}x{factor} pixels)")
    return out


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
    if not (parse_prompts(out["prompts"]) or out["image_prompts"] or out["noise_prompt_seeds"]):
        raise ValueError("the job has no prompt: give prompts, image_prompts or noise prompts")
    return out


def check_optimiser(name: str) -> None:
    if name in OPTIMISERS:
        return
    if name in UNSUPPORTED_OPTIMISERS:
        raise ValueError(f"optimiser {name} needs the torch_optimizer package, which this "
                         f"engine does not use; choose one of {', '.join(OPTIMISERS)}")
    raise ValueError(f"unknown optimiser {name!r}: expected one of {', '.join(OPTIMISERS)}")


def make_optimiser(name: str, params: list[Any], lr: float,
                   fused: bool = False) -> torch.optim.Optimizer:
    """The ``-opt`` optimiser over ``params`` (tensors or param groups), learning rate ``lr``.

    ``fused``: the fused CUDA kernel, for Adam and AdamW (ignored for the others).
    """
    check_optimiser(name)
    if fused and name in ("Adam", "AdamW"):
        return OPTIMISERS[name](params, lr=lr, fused=True)
    return OPTIMISERS[name](params, lr=lr)


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


def noise_image(kind: str, width: int, height: int) -> Image.Image:
    """A random start image (``-in pixels`` or ``gradient``) from the global torch RNG."""
    if kind == "pixels":
        pixels = torch.randint(0, 255, (height, width, 3), dtype=torch.uint8)
        return Image.fromarray(pixels.numpy(), mode="RGB")
    # gradient: red ramps left to right from 0, green and blue top to bottom (blue not from 0)
    blue_start = int(torch.randint(0, 255, ()))
    stops = [int(torch.randint(low, high, ())) for low, high in ((1, 255), (2, 255), (3, 128))]
    xs = torch.linspace(0, 1, width).view(1, width).expand(height, width)
    ys = torch.linspace(0, 1, height).view(height, 1).expand(height, width)
    channels = [stops[0] * xs, stops[1] * ys, blue_start + (stops[2] - blue_start) * ys]
    array = torch.stack(channels, dim=-1).to(torch.uint8)
    return Image.fromarray(array.numpy(), mode="RGB")


class JobRun:
    """One job's optimisation: build with the models, call :meth:`step` ``iterations`` times."""

    def __init__(self, job: dict[str, Any], vqgan: VQGAN, clip: LoadedClip,
                 device: torch.device, seed: int, optimiser: bool = True) -> None:
        self.job = job
        self.vqgan = vqgan
        self.clip = clip
        self.device = device
        self.seed = seed
        self.rng = JobRng(seed, device)
        self.width, self.height = round_size(job["size"], vqgan.factor)
        self.mean = torch.tensor(CLIP_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(CLIP_STD, device=device).view(1, 3, 1, 1)
        codebook = vqgan.codebook
        self.z_min = codebook.min(dim=0).values.view(1, -1, 1, 1)
        self.z_max = codebook.max(dim=0).values.view(1, -1, 1, 1)
        self.cutouts = MakeCutouts(job["cut_method"], clip.resolution, job["cutn"],
                                   job["cut_pow"], job["augments"]).to(device)
        with self.rng.active():
            self.z = self._initial_latent().detach().requires_grad_(True)
            self.prompt_losses = self._prompt_losses()
        # (a batch of jobs, vqgan_clip.batch, steps the latents with optimisers of its own)
        self.optimiser = (make_optimiser(job["optimiser"], [self.z], job["step_size"])
                          if optimiser else None)
        self.iteration = 0

    # -- set-up -------------------------------------------------------------------------
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
            return self._encode_image(noise_image(job["init_noise"], w, h))
        toks_x, toks_y = self.width // self.vqgan.factor, self.height // self.vqgan.factor
        codebook = self.vqgan.codebook
        indices = torch.randint(codebook.shape[0], [toks_y * toks_x], device=self.device)
        one_hot = F.one_hot(indices, codebook.shape[0]).to(codebook.dtype)
        z = one_hot @ codebook
        return z.view(1, toks_y, toks_x, -1).permute(0, 3, 1, 2).contiguous()

    def _encode_views(self, image: torch.Tensor) -> torch.Tensor:
        views = (image - self.mean) / self.std
        return self.clip.model.encode_image(views).float()

    def _prompt_losses(self) -> list[PromptLoss]:
        job, model = self.job, self.clip.model
        losses = []
        texts = parse_prompts(job["prompts"])
        if texts:
            context = getattr(model, "context_length", 77)
            tokens = tokenize([p.text for p in texts], context_length=context).to(self.device)
            with torch.no_grad():
                embeds = model.encode_text(tokens).float()
            for p, embed in zip(texts, embeds, strict=True):
                losses.append(PromptLoss(embed.unsqueeze(0), p.weight, p.stop))
        for prompt in job["image_prompts"]:
            p = parse_prompt(prompt)
            image = fit_area(open_image(p.text, "image prompt"), (self.width, self.height))
            with torch.no_grad():
                views = self.cutouts(TF.to_tensor(image).unsqueeze(0).to(self.device))
                embed = self._encode_views(views)
            losses.append(PromptLoss(embed, p.weight, p.stop))
        seeds, weights = job["noise_prompt_seeds"], job["noise_prompt_weights"]
        for seed, weight in zip(seeds, weights, strict=False):
            gen = torch.Generator().manual_seed(seed)
            embed = torch.empty([1, self.clip.embed_dim]).normal_(generator=gen)
            losses.append(PromptLoss(embed.to(self.device), weight))
        return [loss.to(self.device) for loss in losses]

    # -- the method -----------------------------------------------------------------------
    def synth(self, z: torch.Tensor) -> torch.Tensor:
        """Latent -> image in [0, 1] through the codebook (straight-through)."""
        z_q = vector_quantize(z.movedim(1, 3), self.vqgan.codebook).movedim(3, 1).contiguous()
        return clamp_with_grad(self.vqgan.decode(z_q).add(1).div(2), 0, 1)

    def losses(self, image: torch.Tensor) -> list[torch.Tensor]:
        """The loss terms for a synthesised image (CLIP embeds random views of it)."""
        with self.rng.active():
            views = self.cutouts(image)
        embeds = self._encode_views(views)
        terms = []
        if self.job["init_weight"]:
            # as generate.py: pull z towards zero, fading with the iteration count
            fade = 1 / (self.iteration * 2 + 1)
            terms.append(F.mse_loss(self.z, torch.zeros_like(self.z))
                         * fade * self.job["init_weight"] / 2)
        terms.extend(loss(embeds) for loss in self.prompt_losses)
        return terms

    def step(self) -> float:
        """One optimisation step; returns the total loss before it."""
        assert self.optimiser is not None, "this JobRun is stepped by a batch"
        self.optimiser.zero_grad(set_to_none=True)
        loss = sum(self.losses(self.synth(self.z)))
        loss.backward()
        self.optimiser.step()
        with torch.no_grad():
            self.z.copy_(self.z.maximum(self.z_min).minimum(self.z_max))
        self.iteration += 1
        return float(loss.item())

    def image(self) -> torch.Tensor:
        """The current image, (1, 3, H, W) in [0, 1]."""
        with torch.no_grad():
            return self.synth(self.z)


# -- command line ---------------------------------------------------------------------------

#: generate.py's video and zoom flags: recognised, refused.
UNSUPPORTED_FLAGS = [
    ("-vid", "--video", True), ("-zvid", "--zoom_video", True), ("-zs", "--zoom_start", False),
    ("-zse", "--zoom_save_every", False), ("-zsc", "--zoom_scale", False),
    ("-zsx", "--zoom_shift_x", False), ("-zsy", "--zoom_shift_y", False),
    ("-cpe", "--change_prompt_every", False), ("-vl", "--video_length", False),
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
    a("-p", "--prompts", type=str, default=None, help="text prompts: 'a:1|b:0.5:0.1'")
    a("-ip", "--image_prompts", type=str, default=None, help="image prompts: 'a.png|b.png:0.5'")
    a("-i", "--iterations", type=int, default=500, help="number of iterations")
    a("-se", "--save_every", type=int, default=50, help="print the loss every N iterations")
    a("-s", "--size", nargs=2, type=int, default=None, metavar=("WIDTH", "HEIGHT"),
      help="image size, rounded down to multiples of the VQGAN factor "
           "(default: 512x512 on a GPU, 256x256 on CPU)")
    a("-ii", "--init_image", type=str, default=None, help="initial image")
    a("-in", "--init_noise", type=str, default=None, choices=INIT_NOISES,
      help="initial noise image (pixels or gradient)")
    a("-iw", "--init_weight", type=float, default=0.0, help="initial weight")
    a("-m", "--clip_model", type=str, default="ViT-B/32",
      help="CLIP model name (looked up in --clip-dir) or path to an OpenAI-format .pt")
    a("-conf", "--vqgan_config", type=str,
      default="checkpoints/vqgan_imagenet_f16_16384.yaml", help="VQGAN config (.yaml)")
    a("-ckpt", "--vqgan_checkpoint", type=str,
      default="checkpoints/vqgan_imagenet_f16_16384.ckpt", help="VQGAN checkpoint (.ckpt)")
    a("-nps", "--noise_prompt_seeds", nargs="*", type=int, default=[], help="noise prompt seeds")
    a("-npw", "--noise_prompt_weights", nargs="*", type=float, default=[],
      help="noise prompt weights")
    a("-lr", "--learning_rate", type=float, default=0.1, dest="step_size", help="learning rate")
    a("-cutm", "--cut_method", type=str, default="latest", choices=CUT_METHODS,
      help="cut method")
    a("-cuts", "--num_cuts", type=int, default=32, dest="cutn", help="number of cuts")
    a("-cutp", "--cut_power", type=float, default=1.0, dest="cut_pow", help="cut power")
    a("-sd", "--seed", type=int, default=None, help="seed (default: a random one, printed)")
    a("-opt", "--optimiser", type=str, default="Adam",
      choices=[*OPTIMISERS, *UNSUPPORTED_OPTIMISERS], help="optimiser")
    a("-o", "--output", type=str, default="output.png", help="output file name")
    a("-d", "--deterministic", action="store_true", help="use deterministic algorithms")
    a("-aug", "--augments", nargs="+", action="append", type=str, choices=AUGMENT_CODES,
      default=None, help="augments for the latest cut method (default: Af Pe Ji Er)")
    a("-cd", "--cuda_device", "--device", type=str, default=None, dest="device",
      help="device, e.g. cuda:0, cuda:1 or cpu (default: cuda:0 if present, else cpu)")
    a("--mode", type=str, default="fast", choices=("fast", "reference"),
      help="fast (default: batched, with the CUDA speed switches) or reference "
           "(generate.py's float32 loop, for comparisons)")
    a("--clip-dir", type=str, default=None,
      help="folder holding OpenAI CLIP files such as ViT-B-32.pt (default: the folder of -conf)")
    for short, long, is_switch in UNSUPPORTED_FLAGS:
        if is_switch:
            a(short, long, action="store_true", default=None, help=argparse.SUPPRESS)
        else:
            a(short, long, type=str, default=None, help=argparse.SUPPRESS)
    return p


def job_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The engine job a parsed command line describes."""
    augments = [code for group in (args.augments or []) for code in group]
    image_prompts = [p.strip() for p in (args.image_prompts or "").split("|") if p.strip()]
    prompts = args.prompts
    if not prompts and not image_prompts:
        prompts = "A cute, smiling, Nerdy Rodent"  # generate.py's default prompt
    return {
        "prompts": prompts,
        "image_prompts": image_prompts,
        "iterations": args.iterations,
        "size": args.size,
        "init_image": args.init_image,
        "init_noise": args.init_noise,
        "init_weight": args.init_weight,
        "noise_prompt_seeds": args.noise_prompt_seeds,
        "noise_prompt_weights": args.noise_prompt_weights,
        "step_size": args.step_size,
        "cut_method": args.cut_method,
        "cutn": args.cutn,
        "cut_pow": args.cut_pow,
        "seed": args.seed,
        "optimiser": args.optimiser,
        "augments": augments,
        "output": args.output,
        "save_every": args.save_every,
    }


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
    used = [long for short, long, _ in UNSUPPORTED_FLAGS
            if getattr(args, long.lstrip("-")) is not None]
    if used:
        parser.error(f"{', '.join(used)}: video and zoom modes are not supported by this engine")

    from .engine import Engine, ModelSpec  # here, not at import: the engine imports us

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
            from .rng import new_seed

            seed = job["seed"] = new_seed()
        print(f"Using seed: {seed}", flush=True)
        result = engine.generate(job, progress=progress)
    except (FileNotFoundError, ValueError) as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    print(json.dumps({k: result[k] for k in ("output", "seed", "size", "seconds", "final_loss")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
