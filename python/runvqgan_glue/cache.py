"""The model cache and the job runner that the Rust bridge calls."""

from __future__ import annotations

import errno
import logging
import traceback
import warnings
from collections.abc import Callable
from typing import Any

log = logging.getLogger("runvqgan_glue")

_WRITE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}

_engines: dict[str, Any] = {}
_keys: dict[str, tuple] = {}
_loads = 0


def _key(spec: dict, device: str | None, deterministic: bool) -> tuple:
    return (
        spec.get("vqgan_config"),
        spec.get("vqgan_checkpoint"),
        spec.get("clip_model"),
        spec.get("clip_dir"),
        device,
        bool(deterministic),
    )


def _speed(deterministic: bool, speed: dict | None) -> dict | None:
    """Deterministic runs decode each image of a batch on its own, so an image is
    bit-identical however it was batched (and `runvqgan reproduce` of one image gives
    the same bytes); the other switches keep the engine's defaults."""
    if not deterministic:
        return speed
    return {**(speed or {}), "batch_invariant": True}


def load_models(
    name: str,
    spec: dict,
    device: str | None = None,
    deterministic: bool = False,
    mode: str = "fast",
    speed: dict | None = None,
) -> dict:
    """Load the model set ``name`` unless it is already loaded with the same files.

    ``spec`` holds ``vqgan_config``, ``vqgan_checkpoint``, ``clip_model`` and
    ``clip_dir``; ``mode`` is "fast" or "reference" (switched without a reload).
    Returns the engine's ``info()`` plus ``loaded``: True when this call loaded the
    models, False when they came from the cache.
    """
    global _loads
    key = _key(spec, device, deterministic)
    speed = _speed(deterministic, speed)
    if name in _engines and _keys[name] == key:
        _engines[name].set_mode(mode, speed)
        info = dict(_engines[name].info())
        info["loaded"] = False
        return info
    # Imported here, not at module level: importing torch is slow and the
    # Rust side wants a clear error at load time, not at import.
    from vqgan_clip.engine import Engine, ModelSpec

    model_spec = ModelSpec(
        vqgan_config=spec["vqgan_config"],
        vqgan_checkpoint=spec["vqgan_checkpoint"],
        clip_model=spec["clip_model"],
        clip_dir=spec.get("clip_dir"),
    )
    with warnings.catch_warnings():
        # The Rust side says it once, in its own log, when it falls back to the CPU.
        warnings.filterwarnings("ignore", message=".*CUDA.*", category=RuntimeWarning)
        engine = Engine(
            model_spec, device=device, deterministic=deterministic, mode=mode, speed=speed
        )
    _engines[name] = engine
    _keys[name] = key
    _loads += 1
    info = dict(engine.info())
    info["loaded"] = True
    log.info("loaded model set %s: %s", name, info)
    return info


def generate(
    name: str, job: dict, progress: Callable[[int, int, float], None] | None = None
) -> dict:
    """Run one job on the loaded model set ``name`` and return the engine's result."""
    return dict(_loaded(name).generate(dict(job), progress=progress))


def generate_batch(
    name: str, jobs: list[dict], progress: Callable[[int, int, float], None] | None = None
) -> list[dict]:
    """Run jobs of one size together on the loaded model set ``name``; one result each."""
    jobs = [dict(j) for j in jobs]
    return [dict(r) for r in _loaded(name).generate_batch(jobs, progress=progress)]


def _loaded(name: str) -> Any:
    try:
        return _engines[name]
    except KeyError:
        raise RuntimeError(f"model set {name!r} is not loaded; call load_models first") from None


def load_count() -> int:
    """How many times a model set was actually loaded in this process."""
    return _loads


def unload_all() -> None:
    """Drop every loaded engine (frees GPU memory)."""
    _engines.clear()
    _keys.clear()


def _is_bad_picture(exc: BaseException) -> bool:
    """Whether PIL refused a picture: not an image it knows, or a decompression bomb."""
    from PIL import Image, UnidentifiedImageError

    return isinstance(exc, (UnidentifiedImageError, Image.DecompressionBombError))


def describe_error(exc: BaseException) -> dict:
    """Classify an exception for the lab member's error file.

    Returns ``kind`` ("out_of_memory", "write" for a read-only or full disk,
    "missing_file", "member_input" for a picture the task names that cannot be used,
    "interrupted" or "other"), ``message`` (one line) and
    ``traceback`` (the full text, for the owner's log).
    """
    name = type(exc).__name__
    text = str(exc).strip().splitlines()
    first = text[0] if text else name
    kind = "other"
    if name == "OutOfMemoryError" or "out of memory" in first.lower():
        kind = "out_of_memory"
    elif isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
        # The output folder is read-only, full or over quota (the engine writes the PNG).
        kind = "write"
    elif isinstance(exc, FileNotFoundError):
        kind = "missing_file"
    elif _is_bad_picture(exc):
        # The member's in_file/template_file is not a picture PIL can read, or is far too big.
        kind = "member_input"
    elif isinstance(exc, KeyboardInterrupt):
        kind = "interrupted"
    return {
        "kind": kind,
        "message": f"{name}: {first}",
        "traceback": "".join(traceback.format_exception(exc)),
    }
