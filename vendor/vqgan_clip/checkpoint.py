"""Reading taming-transformers ``.ckpt`` files without pytorch-lightning installed.

A real taming checkpoint is a pickle that holds, beside ``state_dict``, pytorch-lightning
objects (callback states, hyper-parameters). ``torch.load(weights_only=True)`` refuses those
and a plain ``weights_only=False`` would import (and run) whatever the pickle names. We try
the safe loader first; if it refuses, we unpickle with an allow-list: tensor and storage
rebuilders, ``OrderedDict`` and a few numpy/builtin value types are real, every other class
or function the pickle names becomes an inert placeholder. Nothing outside the allow-list is
ever imported or called, and the weights come out intact.
"""

from __future__ import annotations

import os
import pickle
import types
from typing import Any

import torch

_ALLOWED_MODULE_PREFIXES = ("torch._utils", "torch._tensor", "torch.nn.parameter")
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch", "dtype"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "slice"),
    ("builtins", "complex"),
    ("builtins", "bytearray"),
}


class SkippedObject:
    """Stands in for an object whose class the checkpoint names but we do not import."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    # Lightning hparams are dict subclasses; accept item assignment from BUILD / SETITEMS.
    def __setitem__(self, key: Any, value: Any) -> None:
        self.__dict__.setdefault("items", {})[key] = value

    def append(self, value: Any) -> None:
        self.__dict__.setdefault("values", []).append(value)

    def extend(self, values: Any) -> None:
        self.__dict__.setdefault("values", []).extend(values)


def _skipped_reconstructor(*args: Any) -> SkippedObject:
    return SkippedObject(*args)


def _is_allowed(module: str, name: str) -> bool:
    if (module, name) in _ALLOWED_GLOBALS:
        return True
    if module.startswith(_ALLOWED_MODULE_PREFIXES):
        return True
    if module == "torch":
        # storage classes (FloatStorage, ...) and dtypes (float32, ...), nothing callable else
        return name.endswith("Storage") or isinstance(getattr(torch, name, None), torch.dtype)
    if module == "numpy.dtypes":
        return name.endswith("DType")
    return False


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if _is_allowed(module, name):
            return super().find_class(module, name)
        if (module, name) == ("copyreg", "_reconstructor"):
            return _skipped_reconstructor
        return type(name, (SkippedObject,), {"__module__": "vqgan_clip.checkpoint.skipped"})


#: A ``pickle_module`` for ``torch.load`` that only builds allow-listed types.
allow_list_pickle = types.SimpleNamespace(
    Unpickler=_AllowListUnpickler, load=pickle.load, __name__="allow_list_pickle"
)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a taming ``.ckpt`` (or any torch pickle) onto the CPU, never running its code."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VQGAN checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass  # lightning objects inside: fall back to the allow-list unpickler below
    return torch.load(
        path, map_location="cpu", weights_only=False, pickle_module=allow_list_pickle
    )


def state_dict_of(checkpoint: Any, path: str) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a loaded checkpoint (or the checkpoint itself if it is one)."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        return dict(checkpoint["state_dict"])
    if isinstance(checkpoint, dict) and all(
        isinstance(v, torch.Tensor) for v in checkpoint.values()
    ):
        return dict(checkpoint)
    raise ValueError(f"{path}: not a taming checkpoint (no 'state_dict' mapping inside)")
