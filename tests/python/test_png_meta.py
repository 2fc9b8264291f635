"""Metadata other tools read: the AUTOMATIC1111 ``parameters`` infotext, the XMP packet with
the IPTC digital source type, and the environment (versions, determinism) in every PNG."""

from __future__ import annotations

import json
import re
import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import torch
from PIL import Image

from vqgan_clip.png import DIGITAL_SOURCE_TYPE, XMP_KEYWORD, infotext, xmp_packet

SMALL = {"size": [64, 48], "iterations": 2, "cutn": 2}
PROMPT = 'A "friendly" robot in the style of Banksy:1.5|rust, metal:-0.3'

# How infotext readers split the settings line (entries `Key: value`, a value quoted
# JSON-style when it holds a comma or colon): written here from the layout, not copied.
ENTRY = re.compile(r'\s*([\w][\w \-/]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def parse_infotext(text: str) -> tuple[str, dict[str, str]]:
    """Prompt and settings of an infotext, as an image browser reads them: the last line
    holds the settings, everything above it is the prompt."""
    *prompt_lines, settings_line = text.split("\n")
    settings = {}
    for key, value in ENTRY.findall(settings_line):
        settings[key] = json.loads(value) if value.startswith('"') else value
    return "\n".join(prompt_lines), settings


def chunks(path: Path) -> list[tuple[bytes, bytes]]:
    """The raw chunks of a PNG, in order: (type, data)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        out.append((kind, body))
        pos += 12 + length
    return out


def test_written_png_has_parameters_in_infotext_layout(tiny_engine, tmp_path):
    out = tmp_path / "robot_1.png"
    tiny_engine.generate({"prompts": PROMPT, "seed": 77, **SMALL, "output": str(out)})
    with Image.open(out) as img:
        text = dict(img.text)
        size = img.size
    prompt, settings = parse_infotext(text["parameters"])
    assert prompt == PROMPT
    first = text["parameters"].split("\n")[-1]
    assert re.match(r"Steps: 2, Sampler: [^,]+, Seed: 77, Size: 64x48, Model: vqgan, ", first)
    assert settings["Steps"] == "2" and settings["Seed"] == "77"
    assert settings["Size"] == f"{size[0]}x{size[1]}"
    assert settings["Model"] == "vqgan" and settings["CLIP"] == "clip"
    assert settings["Cutouts"] == "2" and settings["Deterministic"] == "True"
    assert settings["Torch"] == torch.__version__
    assert settings["Version"].startswith("runvqgan vqgan_clip ")
    # runvqgan's own chunks are still there.
    assert text["prompt"] == PROMPT
    assert json.loads(text["settings"])["seed"] == 77


RDF = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
       "dc": "http://purl.org/dc/elements/1.1/"}
SOURCE_TYPE = "{http://iptc.org/std/Iptc4xmpExt/2008-02-29/}DigitalSourceType"


def parse_xmp(packet: str) -> ET.Element:
    """The rdf:Description of an XMP packet, parsed by a strict XML parser (expat)."""
    assert packet.startswith("<?xpacket begin=")
    root = ET.fromstring(packet[packet.index("<x:xmpmeta"):packet.index("<?xpacket end")])
    return root.find("rdf:RDF/rdf:Description", RDF)


def xmp_of(path: Path) -> str:
    """The XMP packet of a PNG, from its iTXt chunk."""
    itxt = [body for kind, body in chunks(path) if kind == b"iTXt"]
    xmp = [b for b in itxt if b.startswith(XMP_KEYWORD.encode() + b"\0")]
    assert len(xmp) == 1
    # keyword \0, compression flag 0 (XMP must be uncompressed), method, language \0,
    # translated keyword \0, then the packet.
    rest = xmp[0][len(XMP_KEYWORD) + 1:]
    assert rest[0] == 0
    return rest[2:].split(b"\0", 2)[2].decode("utf-8")


def test_written_png_has_xmp_with_the_digital_source_type(tiny_engine, tmp_path):
    out = tmp_path / "robot_2.png"
    tiny_engine.generate({"prompts": PROMPT, "seed": 78, **SMALL, "output": str(out)})
    desc = parse_xmp(xmp_of(out))
    source = desc.get(SOURCE_TYPE)
    assert source == DIGITAL_SOURCE_TYPE
    assert source.endswith("/digitalsourcetype/trainedAlgorithmicMedia")
    assert desc.find("dc:description/rdf:Alt/rdf:li", RDF).text == PROMPT


def test_a_prompt_xml_cannot_hold_still_gives_a_well_formed_marked_xmp(tiny_engine, tmp_path):
    # U+FFFE and U+FFFF are outside XML 1.0's characters (not even &#xFFFE; may name them):
    # escaped as they were, the packet is not XML and the marking is lost. The engine takes
    # any prompt (a sidecar given to reproduce, the generate command line).
    prompt = "A dog\ufffe in the rain\uffff"
    out = tmp_path / "dog_1.png"
    tiny_engine.generate({"prompts": prompt, "seed": 3, **SMALL, "output": str(out)})
    desc = parse_xmp(xmp_of(out))
    assert desc.get(SOURCE_TYPE) == DIGITAL_SOURCE_TYPE
    assert desc.find("dc:description/rdf:Alt/rdf:li", RDF).text == (
        "A dog\ufffd in the rain\ufffd")
    with Image.open(out) as img:
        assert img.text["prompt"] == prompt  # runvqgan's own chunk keeps the exact text


def test_xmp_is_well_formed_whatever_the_prompt_holds():
    nasty = ("\x00\x01\x08\x0b\x0c\x1b[31m\x7f\x9b\ud800\udfff\ufdd0\ufdef\ufffe\uffff"
             "\U0001fffe\U0010ffff <&>\"'\t\r\n ok")
    desc = parse_xmp(xmp_packet(nasty, 'runvqgan "1" <x>\ufffe'))
    assert desc.get(SOURCE_TYPE) == DIGITAL_SOURCE_TYPE
    text = desc.find("dc:description/rdf:Alt/rdf:li", RDF).text
    assert text == "\ufffd" * 6 + "[31m" + "\ufffd" * 10 + " <&>\"'\t\r\n ok"
    assert desc.get("{http://ns.adobe.com/xap/1.0/}CreatorTool") == 'runvqgan "1" <x>\ufffd'


def test_written_png_records_versions_and_determinism(tiny_engine, tmp_path):
    out = tmp_path / "robot_3.png"
    result = tiny_engine.generate({"prompts": "x", "seed": 1, **SMALL, "output": str(out)})
    with Image.open(out) as img:
        env = json.loads(img.text["environment"])
    assert env["torch"] == torch.__version__
    assert env["cuda"] == torch.version.cuda
    assert "driver" in env  # None on a machine without an NVIDIA driver
    assert env["deterministic_algorithms"] is True  # tiny_engine is deterministic
    assert env["cudnn_deterministic"] is True and env["cudnn_benchmark"] is False
    # The same, summed up for the sidecar's `# key: value` lines, in the engine's result.
    summary = result["environment"]
    assert sorted(summary) == ["cuda", "determinism", "driver", "torch"]
    assert summary["torch"] == torch.__version__
    assert summary["determinism"].startswith("deterministic algorithms on, ")


def test_values_that_hold_separators_are_quoted():
    settings = {"iterations": 5, "seed": 1, "size_used": [16, 16],
                "vqgan_checkpoint": "/m/a, b.ckpt", "clip_model": "ViT-B/32"}
    text = infotext("line one\nline two", settings, "runvqgan x", {"torch": "2.0"})
    prompt, parsed = parse_infotext(text)
    assert prompt == "line one\nline two"
    assert parsed["Model"] == "a, b"
    assert parsed["CLIP"] == "ViT-B/32"
    assert parsed["Size"] == "16x16"
