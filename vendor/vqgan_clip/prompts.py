"""Prompt strings and the spherical-distance loss each prompt contributes.

A prompt string is ``text``, ``text:weight`` or ``text:weight:stop``; several are joined
with ``|``; ``^`` separates story phrases (only the first phrase is used here; story mode,
``-cpe``, moves through the others: :mod:`vqgan_clip.video`). A negative weight pushes the image
away from the prompt. ``stop`` is a distance below which the prompt stops pulling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .ops import replace_grad


@dataclass(frozen=True)
class ParsedPrompt:
    text: str
    weight: float = 1.0
    stop: float = -math.inf


def _number(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def parse_prompt(prompt: str) -> ParsedPrompt:
    """Split ``text[:weight[:stop]]``.

    As in ``generate.py`` the two last ``:`` fields are weight and stop; unlike it, a
    trailing field that is not a number stays part of the text, so ``"Note: dogs"`` is a
    plain prompt instead of an error. URLs (``https://...``) keep their colon.
    """
    prompt = prompt.strip()
    parts = prompt.rsplit(":", 2)
    if len(parts) == 3:
        weight, stop = _number(parts[1]), _number(parts[2])
        if weight is not None and stop is not None:
            return ParsedPrompt(parts[0].strip(), weight, stop)
    parts = prompt.rsplit(":", 1)
    if len(parts) == 2:
        weight = _number(parts[1])
        if weight is not None:
            return ParsedPrompt(parts[0].strip(), weight)
    return ParsedPrompt(prompt)


def split_prompts(prompts: str | None) -> list[str]:
    """The ``|``-separated prompts of the first ``^`` story phrase, blank ones dropped."""
    if not prompts:
        return []
    first_phrase = prompts.split("^")[0]
    return [p.strip() for p in first_phrase.split("|") if p.strip()]


def story_phrase_count(prompts: str | None) -> int:
    return len(prompts.split("^")) if prompts else 0


def parse_prompts(prompts: str | None) -> list[ParsedPrompt]:
    """Parse a whole ``-p`` string (``"a:2:0.5|b"``) into its weighted prompts."""
    return [parse_prompt(p) for p in split_prompts(prompts)]


class PromptLoss(torch.nn.Module):
    """Weighted mean squared great-circle distance from image embeddings to a target.

    ``embed`` is (n, d) targets; the input is (cutouts, d). Distances below ``stop`` get no
    gradient (they are replaced by ``stop`` for the backward pass only).
    """

    def __init__(self, embed: torch.Tensor, weight: float = 1.0,
                 stop: float = -math.inf) -> None:
        super().__init__()
        self.register_buffer("embed", embed)
        self.register_buffer("weight", torch.as_tensor(float(weight)))
        self.register_buffer("stop", torch.as_tensor(float(stop)))

    def forward(self, image_embeds: torch.Tensor) -> torch.Tensor:
        a = F.normalize(image_embeds.unsqueeze(1), dim=2)
        b = F.normalize(self.embed.unsqueeze(0), dim=2)
        # chord length c between unit vectors -> squared great-circle distance 2*asin(c/2)^2
        dists = (a - b).norm(dim=2).div(2).arcsin().pow(2).mul(2)
        dists = dists * self.weight.sign()
        floored = torch.maximum(dists, self.stop.to(dists.dtype))
        return self.weight.abs() * replace_grad(dists, floored).mean()
