"""Glue between the Rust orchestrator and the VQGAN-CLIP engine.

The Rust side (src/engine.rs) imports this package once per run. It keeps one
loaded :class:`vqgan_clip.engine.Engine` per model set for the life of the
process, so VQGAN and CLIP are loaded once however many images the night holds.
Everything crossing the boundary is plain data: dicts of str, int, float, list.
"""

from runvqgan_glue.cache import (
    describe_error,
    generate,
    generate_batch,
    load_count,
    load_models,
    unload_all,
)

__all__ = [
    "describe_error",
    "generate",
    "generate_batch",
    "load_count",
    "load_models",
    "unload_all",
]
