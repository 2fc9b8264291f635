"""The engine's two modes and the speed switches of the fast one.

``reference`` is generate.py's loop as it was: one image at a time, float32, eager, with
PyTorch's default precision flags. ``fast`` optimises the jobs of a batch together
(:mod:`vqgan_clip.method`) and may use the CUDA switches below. Each switch is its own
option so that ``scripts/bench_engine.py`` can time it alone; ``auto`` resolves to the
setting chosen for the device (all off on CPU, where none of them helps or exists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch

MODES = ("fast", "reference")

#: What ``auto`` means on CUDA. TF32, bf16 CLIP and the fused optimiser are cheap and safe;
#: bf16 decoding, channels-last and compilation wait for the GPU check's measurements.
CUDA_DEFAULTS = {
    "tf32": True,
    "bf16_clip": True,
    "bf16_decode": False,
    "channels_last": False,
    "compile": False,
    "cuda_graphs": False,
    "fused_optimiser": True,
    "batch_invariant": False,
}


@dataclass(frozen=True)
class SpeedOptions:
    """The fast mode's switches; each is True, False or ``"auto"`` (see CUDA_DEFAULTS).

    - ``tf32``: TF32 tensor cores for float32 matrix products and convolutions.
    - ``bf16_clip``: CLIP's image encoder under bf16 autocast (embeddings back in float32).
    - ``bf16_decode``: the VQGAN decoder under bf16 autocast.
    - ``channels_last``: the decoder's weights and input in channels-last layout.
    - ``compile``: ``torch.compile`` of the decoder and of CLIP's image encoder (fixed
      shapes: one compilation per batch size).
    - ``cuda_graphs``: with ``compile``, mode ``reduce-overhead`` (CUDA graphs).
    - ``fused_optimiser``: ``fused=True`` for Adam and AdamW.
    - ``batch_invariant``: decode each image of a batch on its own (CLIP stays batched).
      Convolution libraries (oneDNN on CPU, cuDNN) choose their blocking by batch size,
      so a batched decode moves an image's result in the 6th digit, which the
      optimisation can amplify to a changed pixel. On CPU the rest is batch-invariant as
      measured (CLIP's matrix products, the quantiser), so with this switch a batch gives
      each image bit-identical results to running it alone; on CUDA it is not enough
      for that (cuBLAS also chooses kernels by shape). ``auto``: off.

    All but ``batch_invariant`` and ``fused_optimiser`` are ignored off CUDA (they would
    only slow the CPU down or do not exist there): on CPU the fast mode is batching alone.
    """

    tf32: bool | str = "auto"
    bf16_clip: bool | str = "auto"
    bf16_decode: bool | str = "auto"
    channels_last: bool | str = "auto"
    compile: bool | str = "auto"
    cuda_graphs: bool | str = "auto"
    fused_optimiser: bool | str = "auto"
    batch_invariant: bool | str = "auto"

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | SpeedOptions | None) -> SpeedOptions:
        if options is None:
            return cls()
        if isinstance(options, SpeedOptions):
            return options
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown speed option(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        for key, value in options.items():
            if value not in (True, False, "auto"):
                raise ValueError(f"speed option {key} must be true, false or \"auto\", "
                                 f"not {value!r}")
        return cls(**options)

    def resolved(self, device: torch.device) -> SpeedOptions:
        """Every ``auto`` replaced by the device's default; CUDA-only switches off on CPU."""
        on_cuda = device.type == "cuda"
        values = {}
        for key, value in asdict(self).items():
            if value == "auto":
                value = CUDA_DEFAULTS.get(key, False) if on_cuda else False
            values[key] = bool(value) and (on_cuda or key == "batch_invariant")
        values["cuda_graphs"] = values["cuda_graphs"] and values["compile"]
        return replace(self, **values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def precision_flags(device: torch.device, tf32: bool) -> Iterator[None]:
    """TF32 on (fast mode) or PyTorch's defaults (reference), restored afterwards.

    The flags are process-wide; setting them around each call keeps two engines of
    different modes in one process (the benchmark) from changing each other's results.
    """
    if device.type != "cuda":
        yield
        return
    saved = (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    torch.backends.cudnn.allow_tf32 = True  # PyTorch's default, also in the reference
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cudnn.allow_tf32 = saved[1]


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA when ``enabled``, else nothing."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


def maybe_compile(fn: Callable[..., Any], options: SpeedOptions) -> Callable[..., Any]:
    """``torch.compile(fn)`` when the options ask for it, else ``fn``."""
    if not options.compile:
        return fn
    mode = "reduce-overhead" if options.cuda_graphs else None
    return torch.compile(fn, mode=mode, dynamic=False)
