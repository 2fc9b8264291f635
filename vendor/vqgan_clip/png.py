"""Writing result images: PNG with text chunks, appearing atomically.

The file is written under a temporary name in the destination folder and renamed into
place, so a reader of a shared folder never sees half a PNG. No time stamps are written:
the same pixels and settings give the same bytes on the same machine.

Besides runvqgan's own chunks (``prompt``, ``settings``, ``software``), :func:`image_chunks`
adds what other tools read: ``parameters`` in the AUTOMATIC1111 "infotext" layout (the
prompt, then one ``Key: value, ...`` line), which image browsers such as Infinite Image
Browsing index without a plug-in; an XMP packet (iTXt ``XML:com.adobe.xmp``) marking the
image as made by a trained algorithm (IPTC Digital Source Type) with the prompt as its
description; and ``environment``, the torch, CUDA and driver versions and determinism
switches, without which an image cannot be made again bit for bit.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import tempfile
from typing import Any
from xml.sax.saxutils import escape

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


#: IPTC Digital Source Type of images made by a trained model from a prompt.
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#: The iTXt keyword of an XMP packet in a PNG (XMP specification part 3).
XMP_KEYWORD = "XML:com.adobe.xmp"


@functools.lru_cache(maxsize=1)
def _driver_version() -> str | None:
    """The NVIDIA kernel driver's version, read from /proc (no NVML needed), or None."""
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8", errors="replace") as f:
            match = re.search(r"Kernel Module(?: for \S+)?\s+([0-9][0-9.]*)", f.read())
    except OSError:
        return None
    return match.group(1) if match else None


def environment() -> dict[str, Any]:
    """Versions and switches that change the pixels: torch, CUDA, cuDNN, the NVIDIA driver,
    Python, and the determinism and precision settings in force now."""
    cudnn = torch.backends.cudnn
    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": cudnn.version() if cudnn.is_available() else None,
        "driver": _driver_version(),
        "python": platform.python_version(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": bool(cudnn.deterministic),
        "cudnn_benchmark": bool(cudnn.benchmark),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "cudnn_allow_tf32": bool(cudnn.allow_tf32),
    }


def environment_summary(env: dict[str, Any] | None = None) -> dict[str, str]:
    """:func:`environment` as the sidecar's ``# key: value`` lines: ``torch``, ``cuda``,
    ``driver`` and ``determinism``."""
    env = environment() if env is None else env
    switches = [
        "deterministic algorithms " + ("on" if env["deterministic_algorithms"] else "off"),
        "cuDNN deterministic " + ("on" if env["cudnn_deterministic"] else "off"),
        "cuDNN benchmark " + ("on" if env["cudnn_benchmark"] else "off"),
        f"CUBLAS_WORKSPACE_CONFIG {env['cublas_workspace_config'] or 'unset'}",
        f"float32 matmul precision {env['float32_matmul_precision']}",
    ]
    return {
        "torch": str(env["torch"]),
        "cuda": str(env["cuda"] or "none"),
        "driver": str(env["driver"] or "none"),
        "determinism": ", ".join(switches),
    }


def _infotext_value(value: Any) -> str:
    """A value for the infotext line: quoted (JSON style, as the web UI does) when it holds
    a character that separates entries."""
    text = str(value)
    if any(c in text for c in ',:"\n'):
        return json.dumps(text, ensure_ascii=False)
    return text


def _model_name(path: str | None) -> str | None:
    if not path:
        return None
    return os.path.splitext(os.path.basename(path))[0] or path


def _clip_name(clip_model: str | None) -> str | None:
    """A CLIP name (``ViT-B/32``) as it is; a checkpoint path by its file name."""
    if clip_model and clip_model.endswith((".pt", ".pth")):
        return _model_name(clip_model)
    return clip_model


def infotext(prompt: str, settings: dict[str, Any], software: str,
             env: dict[str, Any]) -> str:
    """The AUTOMATIC1111 ``parameters`` layout: the prompt, then
    ``Steps: N, Seed: S, Size: WxH, Model: ..., ...`` on one line."""
    width, height = settings.get("size_used") or settings.get("size") or (0, 0)
    entries: list[tuple[str, Any]] = [
        ("Steps", settings.get("iterations")),
        ("Sampler", f"VQGAN-CLIP {settings.get('optimiser', 'Adam')}"),
        ("Seed", settings.get("seed")),
        ("Size", f"{width}x{height}"),
        ("Model", _model_name(settings.get("vqgan_checkpoint"))),
        ("CLIP", _clip_name(settings.get("clip_model"))),
        ("Learning rate", settings.get("step_size")),
        ("Cutouts", settings.get("cutn")),
        ("Cut method", settings.get("cut_method")),
        ("Cut power", settings.get("cut_pow")),
        ("Augments", " ".join(settings.get("augments") or []) or None),
        ("Init image", _model_name(settings.get("init_image"))),
        ("Init weight", settings.get("init_weight") or None),
        ("Image prompts", " ".join(_model_name(p) or "" for p in
                                   settings.get("image_prompts") or []) or None),
        ("Mode", settings.get("mode")),
        ("Deterministic", settings.get("deterministic")),
        ("Device", settings.get("device")),
        ("Torch", env.get("torch")),
        ("CUDA", env.get("cuda")),
        ("Driver", env.get("driver")),
        ("Version", software),
    ]
    line = ", ".join(f"{key}: {_infotext_value(value)}" for key, value in entries
                     if value is not None and value != "")
    return f"{prompt}\n{line}"


#: What an XMP packet cannot carry. XML 1.0 (its ``Char`` production) excludes the C0
#: controls other than tab, line feed and carriage return, the surrogates, and U+FFFE and
#: U+FFFF: not even a character reference may name them, so one of them in the prompt makes
#: the packet unreadable and the ``trainedAlgorithmicMedia`` marking is lost with it. XML also
#: discourages DEL, the C1 controls and the other noncharacters (U+FDD0..U+FDEF and the last
#: two code points of every plane); XMP readers are not bound to accept them, so they go too.
_NOT_IN_XMP = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000))
    + "]"
)


def xml_text(text: str) -> str:
    """``text`` escaped for XML character data or an attribute in double quotes: markup
    characters as entities, a carriage return as ``&#13;`` (a parser would turn a raw one
    into a line feed), and every character XML cannot carry or discourages
    (:data:`_NOT_IN_XMP`) replaced by U+FFFD, the replacement character. The image's
    ``prompt`` chunk keeps the exact text; the XMP description is for other tools."""
    return escape(_NOT_IN_XMP.sub("\ufffd", text), {'"': "&quot;", "\r": "&#13;"})


def png_text(text: str) -> str:
    """``text`` as a PNG text chunk can hold it: no NUL (PNG forbids it in text) and no lone
    surrogate (from a command line in a broken encoding; UTF-8 cannot encode it), each
    replaced by U+FFFD."""
    return re.sub("[\x00\ud800-\udfff]", "\ufffd", text)


def xmp_packet(prompt: str, software: str) -> str:
    """An XMP packet saying the image was made by a trained algorithm, with the prompt as its
    description and runvqgan as the creator tool; well-formed XML whatever the prompt holds
    (:func:`xml_text`)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        f'    Iptc4xmpExt:DigitalSourceType="{DIGITAL_SOURCE_TYPE}"\n'
        f'    xmp:CreatorTool="{xml_text(software)}">\n'
        '   <dc:description><rdf:Alt>'
        f'<rdf:li xml:lang="x-default">{xml_text(prompt)}</rdf:li>'
        '</rdf:Alt></dc:description>\n'
        '  </rdf:Description>\n'
        ' </rdf:RDF>\n'
        '</x:xmpmeta>\n'
        '<?xpacket end="r"?>'
    )


def image_chunks(prompt: str, settings: dict[str, Any], software: str) -> dict[str, str]:
    """Every text chunk of a result image: runvqgan's ``prompt``, ``settings`` (JSON, sorted
    keys) and ``software``; ``environment`` (JSON); ``parameters`` (infotext); the XMP packet."""
    env = environment()
    return {
        "prompt": prompt,
        "settings": json.dumps(settings, sort_keys=True),
        "software": software,
        "environment": json.dumps(env, sort_keys=True),
        "parameters": infotext(prompt, settings, software, env),
        XMP_KEYWORD: xmp_packet(prompt, software),
    }


def write_png(image: Image.Image, path: str | os.PathLike[str], text: dict[str, str]) -> str:
    """Write ``image`` to ``path`` atomically with the given tEXt/iTXt chunks; return path.
    The XMP packet always goes into an uncompressed iTXt chunk, as XMP readers expect."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"output folder not found: {folder}")
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        if key == XMP_KEYWORD:
            info.add_itxt(key, png_text(value))
        else:
            info.add_text(key, png_text(value))
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
