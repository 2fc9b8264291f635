#!/usr/bin/env python3
"""Write random-weight VQGAN and CLIP checkpoints in the real file formats.

    python scripts/make_tiny_models.py OUT_DIR            # tiny models for tests
    python scripts/make_tiny_models.py OUT_DIR --full-size  # full-size, for benchmarks

Tiny (a 64x64, 10-iteration run takes seconds on one CPU core):

- ``vqgan.yaml`` + ``vqgan.ckpt``: taming ``VQModel``, f16
- ``gumbel.yaml`` + ``gumbel.ckpt``: taming ``GumbelVQ``, f8
- ``net2net.yaml`` + ``net2net.ckpt``: taming ``Net2NetTransformer`` (VQModel f16 first stage,
  plus transformer weights the engine ignores)
- ``clip.pt``: an OpenAI-format CLIP state dict (ViT, 32 px input, the real 49408-token vocab)
- ``clip_jit.pt``: the same CLIP as a TorchScript archive, the form OpenAI publishes

Full size: ``vqgan_imagenet_f16_16384.yaml`` + ``.ckpt`` (the imagenet f16 16384
architecture) and ``ViT-B-32.pt``.

Each ``.ckpt`` is a pickled dict like pytorch-lightning writes: ``state_dict`` (with
``loss.*`` perceptual/discriminator weights, as real ones have), ``epoch``, ``global_step``
and lightning objects (a callback class and hyper-parameters), here from stand-in modules
named like lightning's, so loading them exercises the same path as a real checkpoint.
Weights are drawn from a fixed seed: the same files every time.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "vendor"))

from vqgan_clip.vqgan import build_vqgan  # noqa: E402

SEED = 20240607

TINY_DD = {
    "double_z": False, "z_channels": 8, "resolution": 64, "in_channels": 3, "out_ch": 3,
    "ch": 32, "ch_mult": [1, 1, 1, 2, 2], "num_res_blocks": 1, "attn_resolutions": [4],
    "dropout": 0.0,
}
TINY_GUMBEL_DD = {**TINY_DD, "ch_mult": [1, 1, 1, 2], "attn_resolutions": [8]}
FULL_DD = {
    "double_z": False, "z_channels": 256, "resolution": 256, "in_channels": 3, "out_ch": 3,
    "ch": 128, "ch_mult": [1, 1, 2, 2, 4], "num_res_blocks": 2, "attn_resolutions": [16],
    "dropout": 0.0,
}
LPIPS_LOSS = {
    "target": "taming.modules.losses.vqperceptual.VQLPIPSWithDiscriminator",
    "params": {"disc_conditional": False, "disc_in_channels": 3, "disc_start": 250001,
               "disc_weight": 0.8, "codebook_weight": 1.0},
}


def vqmodel_config(dd: dict[str, Any], n_embed: int, embed_dim: int) -> dict[str, Any]:
    return {"model": {
        "base_learning_rate": 4.5e-06,
        "target": "taming.models.vqgan.VQModel",
        "params": {"embed_dim": embed_dim, "n_embed": n_embed, "monitor": "val/rec_loss",
                   "ddconfig": dd, "lossconfig": LPIPS_LOSS},
    }}


def gumbel_config(dd: dict[str, Any], n_embed: int, embed_dim: int) -> dict[str, Any]:
    return {"model": {
        "base_learning_rate": 4.5e-06,
        "target": "taming.models.vqgan.GumbelVQ",
        "params": {
            "kl_weight": 1.0e-08, "embed_dim": embed_dim, "n_embed": n_embed,
            "monitor": "val/rec_loss",
            "temperature_scheduler_config": {
                "target": "taming.lr_scheduler.LambdaWarmUpCosineScheduler",
                "params": {"warm_up_steps": 0, "max_decay_steps": 1000001, "lr_start": 0.9,
                           "lr_max": 0.9, "lr_min": 1.0e-06},
            },
            "ddconfig": dd,
            "lossconfig": {"target": "taming.modules.losses.vqperceptual.DummyLoss"},
        },
    }}


def net2net_config(dd: dict[str, Any], n_embed: int, embed_dim: int) -> dict[str, Any]:
    first = vqmodel_config(dd, n_embed, embed_dim)["model"]
    first["params"]["lossconfig"] = {"target": "taming.modules.losses.DummyLoss"}
    del first["base_learning_rate"]
    return {"model": {
        "base_learning_rate": 4.5e-06,
        "target": "taming.models.cond_transformer.Net2NetTransformer",
        "params": {
            "cond_stage_key": "objects_bbox",
            "transformer_config": {
                "target": "taming.modules.transformer.mingpt.GPT",
                "params": {"vocab_size": n_embed, "block_size": 32, "n_layer": 1, "n_head": 2,
                           "n_embd": 16, "embd_pdrop": 0.1, "resid_pdrop": 0.1,
                           "attn_pdrop": 0.1},
            },
            "first_stage_config": first,
            "cond_stage_config": {"target": "taming.models.dummy_cond_stage.DummyCondStage",
                                  "params": {"conditional_key": "objects_bbox"}},
        },
    }}


def fake_loss_weights(gen: torch.Generator, prefix: str = "loss.") -> dict[str, torch.Tensor]:
    """A few tensors named like VQLPIPSWithDiscriminator's (LPIPS + patch discriminator)."""
    shapes = {
        "logvar": (),
        "perceptual_loss.net.slice1.0.weight": (64, 3, 3, 3),
        "perceptual_loss.net.slice1.0.bias": (64,),
        "perceptual_loss.lin0.model.1.weight": (1, 64, 1, 1),
        "perceptual_loss.scaling_layer.shift": (1, 3, 1, 1),
        "discriminator.main.0.weight": (64, 3, 4, 4),
        "discriminator.main.0.bias": (64,),
        "discriminator.main.2.weight": (128, 64, 4, 4),
        "discriminator.main.3.running_mean": (128,),
        "discriminator.main.3.num_batches_tracked": None,
    }
    out = {}
    for name, shape in shapes.items():
        if shape is None:
            out[prefix + name] = torch.tensor(0)
        else:
            out[prefix + name] = torch.randn(shape, generator=gen) * 0.02
    return out


def random_state_dict(model: torch.nn.Module, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Reproducible random weights: normal(0, 1/sqrt(fan_in)) weights, zero biases."""
    out = {}
    for name, tensor in model.state_dict().items():
        if name.endswith(".bias"):
            value = torch.zeros_like(tensor)
        elif "norm" in name and name.endswith(".weight"):
            value = torch.ones_like(tensor)
        elif name.endswith("embedding.weight") or name.endswith("embed.weight"):
            value = torch.rand(tensor.shape, generator=gen) * 2 - 1
        else:
            fan_in = max(1, tensor[0].numel()) if tensor.dim() > 1 else max(1, tensor.numel())
            value = torch.randn(tensor.shape, generator=gen) / fan_in**0.5
        out[name] = value.contiguous()
    return out


@contextmanager
def lightning_stand_ins():
    """Modules named like pytorch-lightning's, present only while a checkpoint is pickled."""
    names = ["pytorch_lightning", "pytorch_lightning.callbacks",
             "pytorch_lightning.callbacks.model_checkpoint", "pytorch_lightning.utilities",
             "pytorch_lightning.utilities.parsing"]
    mods = {n: types.ModuleType(n) for n in names}

    class ModelCheckpoint:
        pass

    class AttributeDict(dict):
        pass

    for cls, mod in ((ModelCheckpoint, "pytorch_lightning.callbacks.model_checkpoint"),
                     (AttributeDict, "pytorch_lightning.utilities.parsing")):
        cls.__module__ = mod
        cls.__qualname__ = cls.__name__
        setattr(mods[mod], cls.__name__, cls)
    saved = {n: sys.modules.get(n) for n in names}
    sys.modules.update(mods)
    try:
        yield ModelCheckpoint, AttributeDict
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def write_taming(out: Path, stem: str, config: dict[str, Any],
                 extra: dict[str, torch.Tensor] | None = None) -> tuple[Path, Path]:
    """Write ``stem.yaml`` and a lightning-style ``stem.ckpt`` for a taming config."""
    gen = torch.Generator().manual_seed(SEED + sum(map(ord, stem)))
    model, prefix = build_vqgan(config["model"], where=stem)
    state = {prefix + k: v for k, v in random_state_dict(model, gen).items()}
    state.update(fake_loss_weights(gen, prefix + "loss.") if not prefix else {})
    state.update(extra or {})
    yaml_path, ckpt_path = out / f"{stem}.yaml", out / f"{stem}.ckpt"
    yaml_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    with lightning_stand_ins() as (model_checkpoint, attribute_dict):
        hparams = attribute_dict(config["model"]["params"])
        checkpoint = {
            "epoch": 3, "global_step": 1000, "pytorch-lightning_version": "1.0.8",
            "callbacks": {model_checkpoint: {"best_model_score": torch.tensor(0.5),
                                             "best_model_path": "logs/last.ckpt"}},
            "hyper_parameters": hparams,
            "state_dict": state,
        }
        torch.save(checkpoint, ckpt_path)
    return yaml_path, ckpt_path


def transformer_weights(gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {
        "transformer.tok_emb.weight": torch.randn(32, 16, generator=gen),
        "transformer.pos_emb": torch.zeros(1, 32, 16),
        "transformer.blocks.0.attn.key.weight": torch.randn(16, 16, generator=gen),
        "transformer.blocks.0.attn.key.bias": torch.zeros(16),
        "transformer.head.weight": torch.randn(32, 16, generator=gen),
    }


def write_openai_clip(path: Path, *, embed_dim: int, vision_width: int, vision_layers: int,
                      patch_size: int, image_size: int, text_width: int, text_layers: int,
                      seed: int) -> Path:
    """An OpenAI-format CLIP state dict (ViT), partly fp16 as OpenAI's files are."""
    import open_clip
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg, convert_weights_to_fp16

    torch.manual_seed(seed)
    model = CLIP(
        embed_dim,
        vision_cfg=CLIPVisionCfg(layers=vision_layers, width=vision_width,
                                 patch_size=patch_size, image_size=image_size),
        text_cfg=CLIPTextCfg(context_length=77, vocab_size=49408, width=text_width,
                             heads=text_width // 64, layers=text_layers),
        quick_gelu=True,
    )
    convert_weights_to_fp16(model)
    state = {k: v.clone().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, path)
    del open_clip
    return path


def write_openai_clip_jit(state_path: Path, path: Path) -> Path:
    """The CLIP in ``state_path`` as a TorchScript archive (``encode_image``/``encode_text``).

    As in OpenAI's archives, the causal text mask is a constant, not a state-dict entry.
    """
    import warnings

    import open_clip

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = open_clip.load_openai_model(str(state_path), precision="fp32", device="cpu")
        mask = model._buffers.pop("attn_mask")
        object.__setattr__(model, "attn_mask", mask)
        inputs = {"encode_image": torch.zeros(1, 3, *model.visual.image_size),
                  "encode_text": open_clip.tokenize(["a photo"])}
        traced = torch.jit.trace_module(model, inputs, check_trace=False)
        torch.jit.save(traced, str(path))
    return path


def make_tiny_models(out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the tiny model set into ``out_dir``; return the paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["vqgan_yaml"], paths["vqgan_ckpt"] = write_taming(
        out, "vqgan", vqmodel_config(TINY_DD, n_embed=64, embed_dim=8))
    paths["gumbel_yaml"], paths["gumbel_ckpt"] = write_taming(
        out, "gumbel", gumbel_config(TINY_GUMBEL_DD, n_embed=64, embed_dim=8))
    paths["net2net_yaml"], paths["net2net_ckpt"] = write_taming(
        out, "net2net", net2net_config(TINY_DD, n_embed=32, embed_dim=8),
        extra=transformer_weights(torch.Generator().manual_seed(SEED)))
    paths["clip"] = write_openai_clip(
        out / "clip.pt", embed_dim=32, vision_width=64, vision_layers=1, patch_size=8,
        image_size=32, text_width=64, text_layers=1, seed=SEED)
    paths["clip_jit"] = write_openai_clip_jit(paths["clip"], out / "clip_jit.pt")
    return paths


def make_full_models(out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the full-size imagenet f16 16384 VQGAN and ViT-B/32, random weights."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["vqgan_yaml"], paths["vqgan_ckpt"] = write_taming(
        out, "vqgan_imagenet_f16_16384", vqmodel_config(FULL_DD, n_embed=16384, embed_dim=256))
    paths["clip"] = write_openai_clip(
        out / "ViT-B-32.pt", embed_dim=512, vision_width=768, vision_layers=12, patch_size=32,
        image_size=224, text_width=512, text_layers=12, seed=SEED)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="folder to write the models into (created if missing)")
    parser.add_argument("--full-size", action="store_true",
                        help="write the full-size imagenet f16 16384 VQGAN and ViT-B/32")
    args = parser.parse_args(argv)
    paths = make_full_models(args.out_dir) if args.full_size else make_tiny_models(args.out_dir)
    for path in paths.values():
        print(f"{path}  ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
