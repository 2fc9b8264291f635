"""The glue the Rust bridge calls: models loaded once per set, jobs run, errors classified."""

from __future__ import annotations

import runvqgan_glue
from runvqgan_glue import cache


def _spec(tiny_models) -> dict:
    return {
        "vqgan_config": str(tiny_models["vqgan_yaml"]),
        "vqgan_checkpoint": str(tiny_models["vqgan_ckpt"]),
        "clip_model": str(tiny_models["clip"]),
        "clip_dir": None,
    }


def test_a_model_set_is_loaded_once_and_then_reused(tiny_models, tmp_path):
    runvqgan_glue.unload_all()
    before = runvqgan_glue.load_count()
    first = runvqgan_glue.load_models("default", _spec(tiny_models), "cpu", True)
    again = runvqgan_glue.load_models("default", _spec(tiny_models), "cpu", True)
    assert first["loaded"] is True
    assert again["loaded"] is False
    assert runvqgan_glue.load_count() == before + 1
    assert first["vqgan_kind"] == "VQModel"
    assert first["factor"] == 16

    steps = []
    out = tmp_path / "a.png"
    result = runvqgan_glue.generate(
        "default",
        {"prompts": "a lighthouse", "iterations": 2, "size": [32, 32], "seed": 5,
         "output": str(out)},
        lambda i, total, loss: steps.append((i, total)),
    )
    assert result["seed"] == 5
    assert result["size"] == [32, 32]
    assert out.read_bytes().startswith(b"\x89PNG")
    assert steps[-1] == (2, 2)


def test_other_files_under_the_same_name_load_again(tiny_models):
    runvqgan_glue.unload_all()
    before = runvqgan_glue.load_count()
    spec = _spec(tiny_models)
    runvqgan_glue.load_models("default", spec, "cpu", True)
    spec = dict(spec, vqgan_config=str(tiny_models["gumbel_yaml"]),
                vqgan_checkpoint=str(tiny_models["gumbel_ckpt"]))
    info = runvqgan_glue.load_models("default", spec, "cpu", True)
    assert info["loaded"] is True
    assert info["vqgan_kind"] == "GumbelVQ"
    assert runvqgan_glue.load_count() == before + 2


def test_generate_on_a_set_that_was_never_loaded_says_so():
    runvqgan_glue.unload_all()
    try:
        runvqgan_glue.generate("nope", {"prompts": "x"})
    except RuntimeError as e:
        assert "model set 'nope' is not loaded" in str(e)
    else:
        raise AssertionError("expected an error")


def test_errors_are_classified_for_the_members_error_file():
    class OutOfMemoryError(RuntimeError):
        pass

    oom = cache.describe_error(OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert oom["kind"] == "out_of_memory"
    assert oom["message"].startswith("OutOfMemoryError: CUDA out of memory")
    missing = cache.describe_error(FileNotFoundError("no such file: stone.png"))
    assert missing["kind"] == "missing_file"
    from PIL import UnidentifiedImageError

    bad = cache.describe_error(UnidentifiedImageError("cannot identify image file 'sketch.png'"))
    assert bad["kind"] == "member_input"
    try:
        raise ValueError("bad\nsecond line")
    except ValueError as e:
        other = cache.describe_error(e)
    assert other == {
        "kind": "other",
        "message": "ValueError: bad",
        "traceback": other["traceback"],
    }
    assert "Traceback" in other["traceback"]
