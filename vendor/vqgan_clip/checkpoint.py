"""Reading model files (taming ``.ckpt``, OpenAI CLIP ``.pt``) without ever running their code.

A model file is untrusted input: a member can name one of theirs in a sidecar. Every
format torch writes is a pickle (the zip format's ``data.pkl``, the legacy format's
sequence of pickles, a TorchScript archive's ``data.pkl``), and an ordinary unpickler
imports and calls whatever a pickle names. So every path here unpickles with
:class:`_AllowListUnpickler`: tensor and storage rebuilders, ``OrderedDict`` and a few
numpy/builtin value types are real; every other class or function a pickle names becomes an
inert placeholder (:class:`SkippedObject`), and dotted names are never looked up. Nothing
outside the allow-list is imported or called, and the weights come out intact.

- A real taming checkpoint holds, beside ``state_dict``, pytorch-lightning objects
  (callback states, hyper-parameters): ``torch.load(weights_only=True)`` refuses those,
  so after it we load with the allow-list unpickler as torch's ``pickle_module``. That
  module's ``load`` (what torch's legacy loader calls first, on the magic number) is the
  same restricted unpickler, not the standard one.
- TorchScript archives are never given to ``torch.jit.load`` (which would compile and run
  the archive's code, ``__setstate__`` included): :func:`load_torchscript_weights` reads
  the parameters and buffers out of the archive's ``data.pkl`` with the same unpickler.
  ``torch.load`` would hand such an archive to ``torch.jit.load``, so a ``.ckpt`` that is
  one is refused.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import types
import warnings
import zipfile
from typing import Any

import torch

_REBUILDERS = {
    ("torch._utils", name) for name in (
        "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
        "_rebuild_parameter_with_state")
} | {("torch._tensor", "_rebuild_from_type_v2")}
_ALLOWED_GLOBALS = _REBUILDERS | {
    ("collections", "OrderedDict"),
    ("torch", "Size"),
    ("torch", "device"),
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

    #: ``module.name`` the pickle gave for the class.
    qualname = ""

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
    if "." in name:
        return False  # protocol 4 would walk attributes: never
    if (module, name) in _ALLOWED_GLOBALS:
        return True
    if module == "torch":
        # storage classes (FloatStorage, ...) and dtypes (float32, ...), nothing callable else
        value = getattr(torch, name, None)
        if isinstance(value, torch.dtype):
            return True
        return (name.endswith("Storage") and isinstance(value, type)
                and issubclass(value, (torch.storage.TypedStorage, torch.UntypedStorage)))
    if module == "numpy.dtypes":
        return name.endswith("DType")
    return False


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if _is_allowed(module, name):
            return super().find_class(module, name)
        if (module, name) == ("copyreg", "_reconstructor"):
            return _skipped_reconstructor
        return type(name, (SkippedObject,), {"__module__": "vqgan_clip.checkpoint.skipped",
                                             "qualname": f"{module}.{name}"})


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return _AllowListUnpickler(file, **kwargs).load()


#: A ``pickle_module`` for ``torch.load`` whose every unpickling is allow-listed.
allow_list_pickle = types.SimpleNamespace(
    Unpickler=_AllowListUnpickler, load=_restricted_load, __name__="allow_list_pickle"
)


def _zip_names(path: str) -> list[str] | None:
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def is_torchscript(path: str) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip with ``constants.pkl`` or ``code/``)."""
    names = _zip_names(path)
    return names is not None and any(
        n.endswith("constants.pkl") or "/code/" in n for n in names)


def load_checkpoint(path: str | os.PathLike[str],
                    what: str = "VQGAN checkpoint") -> dict[str, Any]:
    """Load a taming ``.ckpt`` (or any torch pickle) onto the CPU, never running its code."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    if is_torchscript(path):
        raise ValueError(f"{path}: {what} is a TorchScript archive, which is not a "
                         f"checkpoint of weights; use the file torch.save wrote")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass  # lightning objects inside: fall back to the allow-list unpickler below
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise ValueError(f"{path}: {what} is not a torch checkpoint ({e})") from None
    try:
        return torch.load(
            path, map_location="cpu", weights_only=False, pickle_module=allow_list_pickle
        )
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, TypeError,
            AttributeError) as e:
        raise ValueError(f"{path}: {what} is not a torch checkpoint "
                         f"({type(e).__name__}: {e})") from None


_CLASS = re.compile(r"^class (\w+)\(Module\):\n((?:  .*\n)*)", re.MULTILINE)
_LIST = re.compile(r"^  __(parameters|buffers)__ = \[(.*)\]$", re.MULTILINE)


def _declared_state(zf: zipfile.ZipFile, prefix: str) -> dict[str, set[str]]:
    """Each module class's parameter and buffer names, read (as text) from ``code/``."""
    declared: dict[str, set[str]] = {}
    code = f"{prefix}code/"
    for name in zf.namelist():
        if not (name.startswith(code) and name.endswith(".py")):
            continue
        module = name[len(code):-len(".py")].replace("/", ".")
        text = zf.read(name).decode("utf-8", "replace")
        for match in _CLASS.finditer(text):
            names: set[str] = set()
            for _, items in _LIST.findall(match.group(2)):
                names.update(re.findall(r'"([^"]+)"', items))
            declared[f"{module}.{match.group(1)}"] = names
    return declared


def load_torchscript_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The state dict (parameters and buffers) of a TorchScript archive, no code run."""
    path = os.fspath(path)
    with zipfile.ZipFile(path) as zf:
        pickles = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise ValueError(f"{path}: not a TorchScript archive (no single data.pkl)")
        prefix = pickles[0][:-len("data.pkl")]
        order = f"{prefix}byteorder"
        if order in zf.namelist() and zf.read(order).strip() != b"little":
            raise ValueError(f"{path}: a big-endian TorchScript archive is not supported")

        def persistent_load(saved_id: Any) -> Any:
            kind, storage_type, key, _location, _numel = saved_id
            if kind != "storage" or not isinstance(key, str) or "/" in key:
                raise pickle.UnpicklingError(f"unexpected persistent id {saved_id!r}")
            if storage_type is torch.UntypedStorage:
                dtype = torch.uint8
            elif isinstance(storage_type, type) and issubclass(
                    storage_type, torch.storage.TypedStorage):
                with warnings.catch_warnings():  # (TypedStorage is deprecated; it is what
                    warnings.simplefilter("ignore", UserWarning)  # the archive names)
                    dtype = storage_type.dtype
            else:
                raise pickle.UnpicklingError(f"unexpected storage type {storage_type!r}")
            data = bytearray(zf.read(f"{prefix}data/{key}"))
            untyped = torch.frombuffer(data, dtype=torch.uint8).untyped_storage() if data \
                else torch.UntypedStorage(0)
            return torch.storage.TypedStorage(wrap_storage=untyped, dtype=dtype,
                                              _internal=True)

        unpickler = _AllowListUnpickler(io.BytesIO(zf.read(pickles[0])))
        unpickler.persistent_load = persistent_load
        try:
            root = unpickler.load()
        except (pickle.UnpicklingError, KeyError, ValueError, TypeError, EOFError) as e:
            raise ValueError(f"{path}: unreadable TorchScript archive "
                             f"({type(e).__name__}: {e})") from None
        declared = _declared_state(zf, prefix)
    state: dict[str, torch.Tensor] = {}

    def walk(obj: SkippedObject, at: str) -> None:
        attrs = getattr(obj, "state", None)
        if not isinstance(attrs, dict):
            return
        wanted = declared.get(obj.qualname)
        for key, value in attrs.items():
            if isinstance(value, torch.Tensor) and (wanted is None or key in wanted):
                state[at + key] = value
            elif isinstance(value, SkippedObject):
                walk(value, f"{at}{key}.")

    if isinstance(root, SkippedObject):
        walk(root, "")
    return state


def state_dict_of(checkpoint: Any, path: str) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a loaded checkpoint (or the checkpoint itself if it is one)."""
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        return dict(checkpoint["state_dict"])
    if isinstance(checkpoint, dict) and all(
        isinstance(v, torch.Tensor) for v in checkpoint.values()
    ):
        return dict(checkpoint)
    raise ValueError(f"{path}: not a taming checkpoint (no 'state_dict' mapping inside)")
