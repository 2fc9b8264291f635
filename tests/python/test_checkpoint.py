"""Model files never run code: crafted pickles of every format torch reads, as an attacker
would write them, for the VQGAN checkpoint and the CLIP file. Each payload would create a
marker file if it ran; loading must fail with a clear error and the marker must not exist.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from vqgan_clip.checkpoint import load_checkpoint, load_torchscript_weights
from vqgan_clip.clip_model import load_clip
from vqgan_clip.vqgan import load_vqgan


class Payload:
    """Unpickling this calls ``exec`` on code that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _zip_format(path: Path, marker: Path) -> None:
    torch.save(Payload(marker), path)


def _legacy_format(path: Path, marker: Path) -> None:
    torch.save(Payload(marker), path, _use_new_zipfile_serialization=False)


def _plain_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps(Payload(marker)))


def _torchscript(path: Path, marker: Path, archive: Path) -> None:
    """A real TorchScript archive whose data.pkl is replaced by the payload."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("/data.pkl"):
                data = pickle.dumps(Payload(marker), protocol=2)
            dst.writestr(item, data)


FORMATS = {"zip": _zip_format, "legacy": _legacy_format, "plain pickle": _plain_pickle}


def _craft(kind: str, path: Path, marker: Path, tiny_models) -> Path:
    if kind == "torchscript":
        _torchscript(path, marker, tiny_models["clip_jit"])
    else:
        FORMATS[kind](path, marker)
    return path


def test_the_payload_is_live(tmp_path):
    # the crafted files are real attacks: an ordinary unpickler runs them
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("kind", [*FORMATS, "torchscript"])
def test_a_crafted_vqgan_checkpoint_runs_nothing(tmp_path, tiny_models, kind):
    marker = tmp_path / "ran"
    ckpt = _craft(kind, tmp_path / "evil.ckpt", marker, tiny_models)
    with pytest.raises(ValueError, match=r"evil\.ckpt"):
        load_vqgan(tiny_models["vqgan_yaml"], ckpt)
    assert not marker.exists()


@pytest.mark.parametrize("kind", [*FORMATS, "torchscript"])
def test_a_crafted_clip_file_runs_nothing(tmp_path, tiny_models, kind):
    marker = tmp_path / "ran"
    clip = _craft(kind, tmp_path / "ViT-B-32.pt", marker, tiny_models)
    with pytest.raises(ValueError, match="not an OpenAI-format CLIP checkpoint"):
        load_clip(str(clip))
    assert not marker.exists()
    with pytest.raises(ValueError, match="not an OpenAI-format CLIP checkpoint"):
        load_clip("ViT-B/32", tmp_path)  # by name, in clip_dir
    assert not marker.exists()


def test_a_payload_beside_real_weights_is_inert(tmp_path):
    marker = tmp_path / "ran"
    for legacy in (False, True):
        path = tmp_path / f"mixed{legacy}.ckpt"
        torch.save({"state_dict": {"w": torch.ones(2)}, "x": Payload(marker)}, path,
                   _use_new_zipfile_serialization=not legacy)
        ckpt = load_checkpoint(path)
        assert torch.equal(ckpt["state_dict"]["w"], torch.ones(2))
        assert not marker.exists()


def _short(text: str) -> bytes:
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def test_dotted_names_inside_an_allowed_module_are_not_followed(tmp_path):
    # protocol 4 resolves "a.b.c" by walking attributes: from torch._utils (whose
    # rebuilders are allowed) it reaches os.mkdir through traceback -> linecache -> os
    marker = tmp_path / "ran"
    payload = (b"\x80\x04" + _short("torch._utils") + _short("traceback.linecache.os.mkdir")
               + b"\x93" + _short(str(marker)) + b"\x85R.")
    path = tmp_path / "dotted.ckpt"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match="not a torch checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()


def test_torchscript_weights_are_read_without_torch_jit(tiny_models):
    weights = load_torchscript_weights(tiny_models["clip_jit"])
    plain = torch.load(tiny_models["clip"], weights_only=True)
    assert set(weights) == set(plain)
    for key, value in plain.items():
        assert torch.equal(weights[key], value), key


def test_tiny_models_of_every_kind_still_load(tiny_models):
    assert load_clip(str(tiny_models["clip"])).resolution == 32
    assert load_clip(str(tiny_models["clip_jit"])).resolution == 32
    for stem in ("vqgan", "gumbel", "net2net"):
        load_vqgan(tiny_models[f"{stem}_yaml"], tiny_models[f"{stem}_ckpt"])
