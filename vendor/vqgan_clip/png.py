"""Writing result images: PNG with text chunks, appearing atomically.

The file is written under a temporary name in the destination folder and renamed into
place, so a reader of a shared folder never sees half a PNG. No time stamps are written:
the same pixels and settings give the same bytes.
"""

from __future__ import annotations

import os
import tempfile

import torch
from PIL import Image, PngImagePlugin


def to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> 8-bit RGB PIL image.

    Values are scaled by 255 and truncated, not rounded, as generate.py's conversion
    (torchvision's ``to_pil_image``) does: 0.999 becomes 254.
    """
    if image.dim() == 4:
        image = image[0]
    array = image.detach().clamp(0, 1).mul(255).to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy(), mode="RGB")


def write_png(image: Image.Image, path: str | os.PathLike[str], text: dict[str, str]) -> str:
    """Write ``image`` to ``path`` atomically with the given tEXt/iTXt chunks; return path."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"output folder not found: {folder}")
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            image.save(f, format="PNG", pnginfo=info)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
