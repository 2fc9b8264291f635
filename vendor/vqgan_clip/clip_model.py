"""CLIP from OpenAI-format checkpoints (JIT archive or plain state dict), via open_clip.

A model is named as OpenAI names it (``ViT-B/32``) and looked up as ``<clip_dir>/ViT-B-32.pt``
(the file name OpenAI's download uses), or given as a path to a ``.pt`` file. Nothing is
ever downloaded. The weights are read by :mod:`vqgan_clip.checkpoint` (never by
``torch.jit.load`` or an unrestricted unpickler: a model file runs no code) and open_clip
builds the model from them, as its ``load_openai_model`` does; its transformers then run in
OpenAI's layout (:func:`sequence_first`).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import open_clip
import torch
from open_clip.model import build_model_from_openai_state_dict, get_cast_dtype
from torch import nn

from .checkpoint import is_torchscript, load_checkpoint, load_torchscript_weights

#: OpenAI's CLIP models; each is stored as ``<clip_dir>/<file name>``.
OPENAI_FILES = {
    "RN50": "RN50.pt",
    "RN101": "RN101.pt",
    "RN50x4": "RN50x4.pt",
    "RN50x16": "RN50x16.pt",
    "RN50x64": "RN50x64.pt",
    "ViT-B/32": "ViT-B-32.pt",
    "ViT-B/16": "ViT-B-16.pt",
    "ViT-L/14": "ViT-L-14.pt",
    "ViT-L/14@336px": "ViT-L-14-336px.pt",
}

#: The normalisation CLIP was trained with (RGB mean and std).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class LoadedClip:
    model: nn.Module
    name: str
    path: str
    resolution: int  # side of the square images the visual tower takes
    embed_dim: int  # width of the joint embedding space


def resolve_clip_path(name: str, clip_dir: str | os.PathLike[str] | None) -> str:
    """Map a CLIP name or path to an existing file, or raise a clear error.

    OpenAI names are looked up in ``clip_dir``; anything else is a path, tried as given
    and then, if relative, inside ``clip_dir``.
    """
    folder = os.fspath(clip_dir) if clip_dir is not None else "."
    if name in OPENAI_FILES:
        path = os.path.join(folder, OPENAI_FILES[name])
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"CLIP model {name} not found: looked for {path} "
                f"(put OpenAI's {OPENAI_FILES[name]} in {folder}, or pass a path)"
            )
        return path
    tried = [name]
    if os.path.isfile(name):
        return name
    if not os.path.isabs(name):
        in_dir = os.path.join(folder, name)
        tried.append(in_dir)
        if os.path.isfile(in_dir):
            return in_dir
    if name.endswith((".pt", ".pth")):
        raise FileNotFoundError(f"CLIP model file not found: looked for {' and '.join(tried)}")
    raise ValueError(
        f"unknown CLIP model {name!r}: expected one of {', '.join(OPENAI_FILES)} "
        f"(looked up in {folder}) or the path of an OpenAI-format .pt file "
        f"(looked for {' and '.join(tried)})"
    )


def load_clip(name: str, clip_dir: str | os.PathLike[str] | None = None) -> LoadedClip:
    """Load an OpenAI-format CLIP on the CPU in fp32, in eval mode, frozen."""
    path = resolve_clip_path(name, clip_dir)
    try:
        if is_torchscript(path):
            state_dict = load_torchscript_weights(path)
        else:
            state_dict = load_checkpoint(path, what="CLIP model")
    except ValueError as e:
        reason = str(e).removeprefix(f"{path}: ")
        raise ValueError(f"{path}: not an OpenAI-format CLIP checkpoint ({reason})") from None
    if isinstance(state_dict, dict) and isinstance(state_dict.get("state_dict"), dict):
        # a training checkpoint: weights under state_dict, with a "module." prefix
        state_dict = {k.removeprefix("module."): v for k, v in state_dict["state_dict"].items()}
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path}: not an OpenAI-format CLIP checkpoint (no state dict inside)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            model = build_model_from_openai_state_dict(state_dict,
                                                       cast_dtype=get_cast_dtype("fp32"))
        except (RuntimeError, KeyError, AttributeError, TypeError) as e:
            raise ValueError(f"{path}: not an OpenAI-format CLIP checkpoint "
                             f"({type(e).__name__}: {e})") from None
    model.float()
    model.eval().requires_grad_(False)
    sequence_first(model)
    size = model.visual.image_size
    resolution = int(size[0] if isinstance(size, (tuple, list)) else size)
    return LoadedClip(
        model=model, name=name, path=path, resolution=resolution,
        embed_dim=int(model.visual.output_dim),
    )


def sequence_first(model: nn.Module) -> None:
    """Run each of ``model``'s transformer stacks in OpenAI's layout: (tokens, batch, width).

    open_clip runs them batch first, (batch, tokens, width): ``nn.MultiheadAttention`` then
    transposes its input and output around every attention, and its projections work on
    the transposed (non-contiguous) activations, copying them forwards and backwards. In
    OpenAI's layout the stack transposes once at each end, as OpenAI's CLIP (generate.py's)
    does: on the CPU this makes CLIP's forward and backward about a fifth faster, and its
    results bit-identical to OpenAI's (batch first they differ in the last bits for some
    batch sizes). The weights are the same; only the order of the activations changes.
    Stacks of other block types (which need batch first) are left as they are.
    """
    for module in model.modules():
        blocks = getattr(module, "resblocks", None)
        if getattr(module, "batch_first", None) is not True or blocks is None:
            continue
        if all(isinstance(getattr(b, "attn", None), nn.MultiheadAttention) for b in blocks):
            module.batch_first = False
            for block in blocks:
                block.attn.batch_first = False


def tokenize(texts: list[str], context_length: int = 77) -> torch.Tensor:
    """CLIP's BPE tokens, (len(texts), context_length); long texts are truncated."""
    return open_clip.tokenize(texts, context_length=context_length)
