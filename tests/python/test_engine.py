"""The engine: generation on the tiny models, determinism, progress, outputs, errors."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from PIL import Image

from vqgan_clip.clip_model import load_clip, tokenize
from vqgan_clip.engine import Engine, ModelSpec

# save_every 1: the saved image is the last one (generate.py saves its last checkin)
SMALL = {"size": [64, 64], "iterations": 3, "save_every": 1}


def test_info_describes_the_loaded_models(tiny_engine):
    info = tiny_engine.info()
    assert info["vqgan_kind"] == "VQModel"
    assert (info["factor"], info["n_embed"], info["embed_dim"]) == (16, 64, 8)
    assert info["clip_resolution"] == 32
    assert info["device"] == "cpu"
    assert info["load_seconds"] >= 0


def test_thirty_iterations_lower_the_total_loss(tiny_engine):
    losses = []
    result = tiny_engine.generate(
        {"prompts": "a red apple", "size": [64, 64], "iterations": 30, "seed": 3},
        progress=lambda i, total, loss: losses.append((i, total, loss)),
    )
    assert [i for i, _, _ in losses] == list(range(1, 31))
    assert all(total == 30 for _, total, _ in losses)
    values = [loss for _, _, loss in losses]
    assert sum(values[-5:]) / 5 < sum(values[:5]) / 5
    assert result["final_loss"] == values[-1]
    assert result["iterations"] == 30
    assert result["output"] is None


def test_same_seed_gives_byte_identical_png(tiny_engine, tmp_path):
    job = {"prompts": "a:2:0.5|b:-0.5", "seed": 1234, **SMALL}
    a = tiny_engine.generate({**job, "output": str(tmp_path / "a.png")})
    b = tiny_engine.generate({**job, "output": str(tmp_path / "b.png")})
    assert a["seed"] == b["seed"] == 1234
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    c = tiny_engine.generate({**job, "seed": 1235, "output": str(tmp_path / "c.png")})
    assert c["seed"] == 1235
    assert (tmp_path / "c.png").read_bytes() != (tmp_path / "a.png").read_bytes()


def test_a_job_does_not_depend_on_or_disturb_the_global_rng(tiny_engine, tmp_path):
    job = {"prompts": "x", "seed": 9, **SMALL}
    torch.manual_seed(0)
    first = tiny_engine.generate({**job, "output": str(tmp_path / "1.png")})
    after = torch.rand(3)
    torch.manual_seed(0)
    torch.rand(100)  # other work consuming random numbers in the same process
    second = tiny_engine.generate({**job, "output": str(tmp_path / "2.png")})
    assert first["final_loss"] == second["final_loss"]
    assert (tmp_path / "1.png").read_bytes() == (tmp_path / "2.png").read_bytes()
    torch.manual_seed(0)
    assert torch.equal(torch.rand(3), after)  # generate() left the global stream alone


def test_seed_is_chosen_and_reported_when_missing(tiny_engine):
    a = tiny_engine.generate({"prompts": "x", **SMALL})
    b = tiny_engine.generate({"prompts": "x", **SMALL})
    assert isinstance(a["seed"], int) and isinstance(b["seed"], int)
    assert a["seed"] != b["seed"]


def test_png_carries_prompt_settings_and_software(tiny_engine, tmp_path):
    out = tmp_path / "out.png"
    result = tiny_engine.generate({"prompts": "a dog|a cat", "seed": 5, **SMALL,
                                   "output": str(out)})
    assert result["output"] == str(out)
    with Image.open(out) as img:
        assert img.size == (64, 64)
        text = dict(img.text)
    assert text["prompt"] == "a dog|a cat"
    settings = json.loads(text["settings"])
    assert settings["seed"] == 5
    assert settings["prompts"] == "a dog|a cat"
    assert settings["iterations"] == 3 and settings["cutn"] == 32
    assert settings["step_size"] == 0.1 and settings["optimiser"] == "Adam"
    assert "runvqgan" in text["software"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary left


def test_size_is_rounded_down_to_the_factor(tiny_engine):
    result = tiny_engine.generate({"prompts": "x", "size": [450, 300], "iterations": 1,
                                   "seed": 1, "cutn": 2})
    assert result["size"] == [448, 288]


def test_progress_that_raises_stops_and_writes_nothing(tiny_engine, tmp_path):
    calls = []

    def stop_at_two(i, total, loss):
        calls.append(i)
        if i == 2:
            raise KeyboardInterrupt("stop")

    with pytest.raises(KeyboardInterrupt):
        tiny_engine.generate({"prompts": "x", "seed": 1, "size": [64, 64], "iterations": 50,
                              "output": str(tmp_path / "x.png")}, progress=stop_at_two)
    assert calls == [1, 2]
    assert list(tmp_path.iterdir()) == []


def test_other_methods_and_options_run(tiny_engine, tmp_path, tiny_models):
    init = tmp_path / "init.png"
    Image.new("RGB", (80, 50), (200, 30, 30)).save(init)
    jobs = [
        {"init_noise": "pixels", "cut_method": "original", "cut_pow": 0.5, "optimiser": "AdamW"},
        {"init_noise": "gradient", "cut_method": "updated", "optimiser": "Adagrad"},
        {"init_image": str(init), "init_weight": 0.5, "cut_method": "nrupdated",
         "augments": ["Ji", "Sh", "Gn", "Pe", "Ro", "Af", "Et", "Ts", "Cr", "Er", "Re"],
         "optimiser": "Adamax"},
        {"image_prompts": [f"{init}:0.5"], "prompts": None, "cut_method": "updatedpooling",
         "optimiser": "RMSprop"},
        {"noise_prompt_seeds": [1, 2], "noise_prompt_weights": [0.5, -0.5], "prompts": None,
         "optimiser": "RAdam"},
    ]
    for extra in jobs:
        job = {"prompts": "x", "seed": 2, "size": [64, 48], "iterations": 2, "cutn": 4, **extra}
        result = tiny_engine.generate(job)
        assert result["size"] == [64, 48]
        assert result["final_loss"] == result["final_loss"]  # not NaN


@pytest.mark.parametrize("stem", ["gumbel", "net2net"])
def test_other_vqgan_kinds_generate(tiny_models, stem, tmp_path):
    spec = ModelSpec(str(tiny_models[f"{stem}_yaml"]), str(tiny_models[f"{stem}_ckpt"]),
                     clip_model="clip.pt", clip_dir=str(tiny_models["clip"].parent))
    engine = Engine(spec, device="cpu", deterministic=True)
    job = {"prompts": "x", "seed": 4, "size": [450, 300], "iterations": 2, "cutn": 2,
           "save_every": 1}
    result = engine.generate({**job, "output": str(tmp_path / "a.png")})
    assert result["size"] == ([448, 296] if stem == "gumbel" else [448, 288])
    engine.generate({**job, "output": str(tmp_path / "b.png")})
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_missing_image_prompt_file_is_a_clear_error(tiny_engine, tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match=f"image prompt not found: {missing}"):
        tiny_engine.generate({"image_prompts": [f"{missing}:0.5"], **SMALL})


def test_missing_init_image_is_a_clear_error(tiny_engine, tmp_path):
    with pytest.raises(FileNotFoundError, match="init image not found"):
        tiny_engine.generate({"prompts": "x", "init_image": str(tmp_path / "no.png"), **SMALL})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"optimiser": "SGDX"}, "unknown optimiser"),
        ({"augments": ["Zz"]}, "unknown augment"),
        ({"cut_method": "fancy"}, "unknown cut method"),
        ({"iterations": 0}, "iterations must be at least 1"),
        ({"prompts": None}, "no prompt"),
        ({"max_iterations": 3}, "unknown job key"),
    ],
)
def test_bad_jobs_are_clear_errors(tiny_engine, extra, message):
    with pytest.raises(ValueError, match=message):
        tiny_engine.generate({"prompts": "x", **SMALL, **extra})


def test_unknown_clip_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown CLIP model 'ViT-X/99'"):
        load_clip("ViT-X/99", tmp_path)


def test_missing_clip_file_names_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"looked for {tmp_path}/ViT-B-32.pt"):
        load_clip("ViT-B/32", tmp_path)


def test_clip_is_found_by_name_in_clip_dir(tiny_models, tmp_path):
    (tmp_path / "ViT-B-32.pt").write_bytes(tiny_models["clip"].read_bytes())
    assert load_clip("ViT-B/32", tmp_path).resolution == 32


def test_engine_defaults_to_cpu_with_a_warning_without_cuda(tiny_models):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    spec = {"vqgan_config": str(tiny_models["vqgan_yaml"]),
            "vqgan_checkpoint": str(tiny_models["vqgan_ckpt"]),
            "clip_model": str(tiny_models["clip"])}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        engine = Engine(spec)
    assert engine.info()["device"] == "cpu"
    assert any("CPU" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="CUDA is not available"):
        Engine(spec, device="cuda:1")


def test_clip_loads_from_a_jit_archive_like_openai_publishes(tiny_models):
    plain = load_clip(str(tiny_models["clip"]))
    jit = load_clip(str(tiny_models["clip_jit"]))
    image = torch.rand(2, 3, 32, 32)
    assert torch.allclose(plain.model.encode_image(image), jit.model.encode_image(image),
                          atol=1e-3)


def test_clip_runs_its_transformers_in_openais_layout(tiny_models):
    """load_clip turns open_clip's batch-first stacks to (tokens, batch, width), as OpenAI's
    CLIP runs them; the embeddings are those of the batch-first model."""
    loaded = load_clip(str(tiny_models["clip"]))
    model = loaded.model
    stacks = [model.visual.transformer, model.transformer]
    assert all(not s.batch_first for s in stacks)
    assert all(not b.attn.batch_first for s in stacks for b in s.resblocks)
    image, tokens = torch.rand(3, 3, 32, 32), tokenize(["a red apple", "a tree"])
    seq_first = model.encode_image(image), model.encode_text(tokens)
    for s in stacks:
        s.batch_first = True
        for b in s.resblocks:
            b.attn.batch_first = True
    batch_first = model.encode_image(image), model.encode_text(tokens)
    for a, b in zip(seq_first, batch_first, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
