"""The taming-compatible VQGAN: strict loading of each kind, shapes, errors."""

from __future__ import annotations

import pytest
import torch
import yaml

from vqgan_clip.checkpoint import SkippedObject, load_checkpoint
from vqgan_clip.job import round_size
from vqgan_clip.vqgan import build_vqgan, first_stage_weights, load_vqgan, read_config


@pytest.mark.parametrize(
    ("stem", "kind", "factor"),
    [("vqgan", "VQModel", 16), ("gumbel", "GumbelVQ", 8), ("net2net", "Net2NetTransformer", 16)],
)
def test_each_kind_loads_strictly_from_its_checkpoint(tiny_models, stem, kind, factor):
    loaded = load_vqgan(tiny_models[f"{stem}_yaml"], tiny_models[f"{stem}_ckpt"])
    assert loaded.kind == kind
    assert loaded.model.factor == factor
    # every model parameter came from the file, and only loss/transformer keys were left out
    raw = load_checkpoint(tiny_models[f"{stem}_ckpt"])["state_dict"]
    prefix = "first_stage_model." if kind == "Net2NetTransformer" else ""
    kept = first_stage_weights(raw, prefix)
    assert set(kept) == set(loaded.model.state_dict())
    dropped = set(raw) - {prefix + k for k in kept}
    assert dropped and all(k.startswith(("loss.", "transformer.")) for k in dropped)
    for name, value in loaded.model.state_dict().items():
        assert torch.equal(value, kept[name]), name
    assert not any(p.requires_grad for p in loaded.model.parameters())


def test_lightning_objects_in_checkpoint_are_skipped_not_imported(tiny_models):
    ckpt = load_checkpoint(tiny_models["vqgan_ckpt"])
    (callback_class,) = ckpt["callbacks"]
    assert issubclass(callback_class, SkippedObject)
    assert isinstance(ckpt["hyper_parameters"], SkippedObject)
    assert ckpt["global_step"] == 1000


def test_checkpoint_loader_never_runs_code_from_the_pickle(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.ones(1)}, "x": Evil()}, path)
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt["x"], SkippedObject)  # print was replaced, not called
    assert torch.equal(ckpt["state_dict"]["w"], torch.ones(1))


def test_full_size_architecture_round_trips_through_save_and_strict_load(tmp_path, model_maker):
    config = model_maker.vqmodel_config(model_maker.FULL_DD, n_embed=16384, embed_dim=256)
    model, prefix = build_vqgan(config["model"])
    assert prefix == ""
    assert model.factor == 16
    assert tuple(model.codebook.shape) == (16384, 256)
    assert "encoder.down.4.attn.1.proj_out.weight" in model.state_dict()  # attention at 16
    assert "decoder.up.4.attn.2.q.weight" in model.state_dict()
    path = tmp_path / "full.pt"
    torch.save(model.state_dict(), path)
    again, _ = build_vqgan(config["model"])
    again.load_state_dict(torch.load(path, weights_only=True), strict=True)
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize(("stem", "factor"), [("vqgan", 16), ("gumbel", 8)])
def test_decode_of_encode_has_the_input_shape(tiny_models, stem, factor):
    model = load_vqgan(tiny_models[f"{stem}_yaml"], tiny_models[f"{stem}_ckpt"]).model
    x = torch.rand(1, 3, 96, 64) * 2 - 1
    z = model.encode(x)
    assert tuple(z.shape) == (1, model.embed_dim, 96 // factor, 64 // factor)
    assert tuple(model.decode(z).shape) == (1, 3, 96, 64)


def test_size_rounds_down_to_multiples_of_the_factor():
    assert round_size([450, 300], 16) == (448, 288)
    assert round_size([450, 300], 8) == (448, 296)
    assert round_size([512, 512], 16) == (512, 512)
    with pytest.raises(ValueError, match="smaller than one VQGAN cell"):
        round_size([10, 300], 16)


def test_missing_checkpoint_is_a_clear_error(tiny_models, tmp_path):
    missing = tmp_path / "nope.ckpt"
    with pytest.raises(FileNotFoundError, match="VQGAN checkpoint not found: .*nope.ckpt"):
        load_vqgan(tiny_models["vqgan_yaml"], missing)


def test_missing_config_is_a_clear_error(tiny_models, tmp_path):
    with pytest.raises(FileNotFoundError, match="VQGAN config not found"):
        load_vqgan(tmp_path / "nope.yaml", tiny_models["vqgan_ckpt"])


def test_unknown_target_is_a_clear_error_naming_it(tiny_models, tmp_path):
    config = {"model": read_config(tiny_models["vqgan_yaml"])}
    config["model"]["target"] = "taming.models.vqgan.EMAVQ"
    path = tmp_path / "ema.yaml"
    path.write_text(yaml.safe_dump(config))
    message = "unsupported VQGAN model target 'taming.models.vqgan.EMAVQ'"
    with pytest.raises(ValueError, match=message):
        load_vqgan(path, tiny_models["vqgan_ckpt"])


def test_checkpoint_for_another_config_is_a_clear_error(tiny_models):
    with pytest.raises(ValueError, match="does not match"):
        load_vqgan(tiny_models["gumbel_yaml"], tiny_models["vqgan_ckpt"])
