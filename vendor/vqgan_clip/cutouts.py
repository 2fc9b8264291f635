"""Cutouts: the batch of views of the image that CLIP scores each iteration.

Methods (``-cutm``), as in ``generate.py``:

- ``latest`` (default): the whole image pooled (mean of average and max pooling) to CLIP's
  size, repeated ``cutn`` times, then the ``-aug`` augmentations and per-cutout noise.
  ``cut_pow`` is not used.
- ``original``: random square crops whose side follows ``rand() ** cut_pow``, resized.
- ``updated``: random crops like ``original``, then a fixed augmentation list and noise.
- ``nrupdated``: random crops like ``original``, then the ``-aug`` augmentations and noise.
- ``updatedpooling``: pooling like ``latest``, then a fixed augmentation list and noise.

All randomness comes from the global torch RNG (kornia offers no generator argument); the
engine makes that RNG the job's own while a job runs.

Every kornia augmentation gets exactly the arguments generate.py passes, in the same form:
kornia reads a scalar differently from a pair (``translate=0.1`` is the range [-0.1, 0.1]
floored at 0 and used for the x shift, so it shifts vertically only, by up to 10%;
``(0.1, 0.1)`` would shift both ways), and the number and order of random draws follow from
the arguments. Crops are resized with generate.py's Lanczos prefilter and corner-aligned
bicubic (:func:`resample`).
"""

from __future__ import annotations

import math
from itertools import accumulate

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from torch import nn

from .ops import clamp_with_grad

AUGMENT_CODES = ("Ji", "Sh", "Gn", "Pe", "Ro", "Af", "Et", "Ts", "Cr", "Er", "Re")
DEFAULT_AUGMENTS = ("Af", "Pe", "Ji", "Er")
CUT_METHODS = ("latest", "original", "updated", "nrupdated", "updatedpooling")
NOISE_FACTOR = 0.1


def make_augment(code: str, cut_size: int, nr_variant: bool = False) -> nn.Module:
    """The kornia augmentation a ``-aug`` code stands for (generate.py's arguments)."""
    size = (cut_size, cut_size)
    if code == "Ji":
        return K.ColorJitter(brightness=0.1, contrast=0.1, saturation=0.1, hue=0.1, p=0.7)
    if code == "Sh":
        return K.RandomSharpness(sharpness=0.3, p=0.5)
    if code == "Gn":
        return K.RandomGaussianNoise(mean=0.0, std=1.0, p=0.5)
    if code == "Pe":
        return K.RandomPerspective(distortion_scale=0.5 if nr_variant else 0.7, p=0.7)
    if code == "Ro":
        return K.RandomRotation(degrees=15, p=0.7)
    if code == "Af":
        return K.RandomAffine(degrees=30 if nr_variant else 15, translate=0.1, shear=5, p=0.7,
                              padding_mode="zeros", keepdim=True)
    if code == "Et":
        return K.RandomElasticTransform(p=0.7)
    if code == "Ts":
        return K.RandomThinPlateSpline(scale=0.8, same_on_batch=True, p=0.7)
    if code == "Cr":
        return K.RandomCrop(size=size, pad_if_needed=True, padding_mode="reflect", p=0.5)
    if code == "Er":
        return K.RandomErasing(scale=(0.1, 0.4), ratio=(0.3, 1 / 0.3), same_on_batch=True, p=0.7)
    if code == "Re":
        return K.RandomResizedCrop(size=size, scale=(0.1, 1.0), ratio=(0.75, 1.333),
                                   cropping_mode="resample", p=0.5)
    raise ValueError(f"unknown augment {code!r}: expected some of {' '.join(AUGMENT_CODES)}")


def lanczos_kernel(ratio: float, lobes: int = 2) -> torch.Tensor:
    """The 1-D Lanczos low-pass taps for shrinking by ``ratio`` (< 1), normalised to sum 1.

    Taps sit at multiples of ``ratio`` (accumulated in float64, then stored as float32, as
    generate.py does), out to ``lobes / ratio`` on each side, ends excluded.
    """
    count = math.ceil(lobes / ratio + 1)
    offsets = torch.tensor(list(accumulate([0.0] + [ratio] * (count - 1))),
                           dtype=torch.float32)
    x = torch.cat([-offsets[1:].flip([0]), offsets])[1:-1]

    def sinc(t: torch.Tensor) -> torch.Tensor:
        return torch.where(t != 0, torch.sin(math.pi * t) / (math.pi * t), t.new_ones([]))

    inside = torch.logical_and(-lobes < x, x < lobes)
    taps = torch.where(inside, sinc(x) * sinc(x / lobes), x.new_zeros([]))
    return taps / taps.sum()


def resample(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a (n, c, h, w) crop to size x size as generate.py does.

    Each axis that shrinks is first low-passed with a Lanczos-2 kernel (reflect padding);
    then a bicubic resize with ``align_corners=True`` (also when enlarging).
    """
    n, c, h, w = x.shape
    planes = x.reshape(n * c, 1, h, w)
    if size < h:
        taps = lanczos_kernel(size / h).to(x.device, x.dtype)
        pad = (taps.shape[0] - 1) // 2
        planes = F.conv2d(F.pad(planes, (0, 0, pad, pad), "reflect"), taps[None, None, :, None])
    if size < w:
        taps = lanczos_kernel(size / w).to(x.device, x.dtype)
        pad = (taps.shape[0] - 1) // 2
        planes = F.conv2d(F.pad(planes, (pad, pad, 0, 0), "reflect"), taps[None, None, None, :])
    return F.interpolate(planes.reshape(n, c, h, w), (size, size), mode="bicubic",
                         align_corners=True)


class MakeCutouts(nn.Module):
    """Produce ``cutn`` views of a (1, 3, H, W) image in [0, 1], each cut_size square."""

    def __init__(self, method: str, cut_size: int, cutn: int, cut_pow: float = 1.0,
                 augments: list[str] | tuple[str, ...] | None = None) -> None:
        super().__init__()
        if method not in CUT_METHODS:
            raise ValueError(f"unknown cut method {method!r}: expected one of "
                             f"{', '.join(CUT_METHODS)}")
        if cutn < 1:
            raise ValueError(f"the number of cutouts must be at least 1, not {cutn}")
        self.method, self.cut_size, self.cutn, self.cut_pow = method, cut_size, cutn, cut_pow
        codes = list(augments) if augments else list(DEFAULT_AUGMENTS)
        if method in ("latest", "nrupdated"):
            augs = [make_augment(c, cut_size, nr_variant=method == "nrupdated") for c in codes]
        elif method == "updated":
            augs = [
                K.RandomHorizontalFlip(p=0.5),
                K.ColorJitter(hue=0.01, saturation=0.01, p=0.7),
                K.RandomSharpness(0.3, p=0.4),
                K.RandomAffine(degrees=30, translate=0.1, p=0.8, padding_mode="border"),
                K.RandomPerspective(0.2, p=0.4),
            ]
        elif method == "updatedpooling":
            augs = [
                K.RandomAffine(degrees=15, translate=0.1, p=0.7, padding_mode="border"),
                K.RandomPerspective(0.7, p=0.7),
                K.ColorJitter(hue=0.1, saturation=0.1, p=0.7),
                K.RandomErasing((0.1, 0.4), (0.3, 1 / 0.3), same_on_batch=True, p=0.7),
            ]
        else:
            augs = []
        self.augs = nn.Sequential(*augs)

    def _pooled(self, image: torch.Tensor) -> torch.Tensor:
        size = (self.cut_size, self.cut_size)
        pooled = (F.adaptive_avg_pool2d(image, size) + F.adaptive_max_pool2d(image, size)) / 2
        return pooled.repeat(self.cutn, 1, 1, 1)

    def _random_crops(self, image: torch.Tensor) -> torch.Tensor:
        side_y, side_x = image.shape[2:4]
        max_size = min(side_x, side_y)
        min_size = min(side_x, side_y, self.cut_size)
        crops = []
        for _ in range(self.cutn):
            size = int(torch.rand([]) ** self.cut_pow * (max_size - min_size) + min_size)
            off_x = int(torch.randint(0, side_x - size + 1, ()))
            off_y = int(torch.randint(0, side_y - size + 1, ()))
            crop = image[:, :, off_y:off_y + size, off_x:off_x + size]
            crops.append(resample(crop, self.cut_size))
        return torch.cat(crops, dim=0)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.method in ("latest", "updatedpooling"):
            batch = self._pooled(image)
        else:
            batch = self._random_crops(image)
        if self.method == "original":
            return clamp_with_grad(batch, 0.0, 1.0)
        batch = self.augs(batch)
        facs = batch.new_empty([batch.shape[0], 1, 1, 1]).uniform_(0, NOISE_FACTOR)
        return batch + facs * torch.randn_like(batch)
