"""A VQGAN that loads taming-transformers checkpoints, with no taming or lightning import.

The modules mirror taming's parameter names exactly (``encoder.down.0.block.1.norm1.weight``,
``quantize.embedding.weight``, ...) so a taming ``state_dict`` loads strictly. Supported
``model.target`` values in the ``.yaml``:

- ``taming.models.vqgan.VQModel`` (imagenet f16 1024 / 16384, wikiart, ...)
- ``taming.models.vqgan.GumbelVQ`` (openimages f8 8192)
- ``taming.models.cond_transformer.Net2NetTransformer``: only its first stage
  (``params.first_stage_config``; weights under ``first_stage_model.``) is built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from torch import nn

from .checkpoint import load_checkpoint, state_dict_of

VQMODEL = "taming.models.vqgan.VQModel"
GUMBELVQ = "taming.models.vqgan.GumbelVQ"
NET2NET = "taming.models.cond_transformer.Net2NetTransformer"
KIND_NAMES = {VQMODEL: "VQModel", GUMBELVQ: "GumbelVQ", NET2NET: "Net2NetTransformer"}


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


def _swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    """Two 3x3 convolutions with group norm and swish, plus a (1x1 or 3x3) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float,
                 conv_shortcut: bool = False) -> None:
        super().__init__()
        self.norm1 = _group_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.norm2 = _group_norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.shortcut_kind = None
        if in_channels != out_channels:
            if conv_shortcut:
                self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
                self.shortcut_kind = "conv_shortcut"
            else:
                self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1, 1, 0)
                self.shortcut_kind = "nin_shortcut"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(_swish(self.norm1(x)))
        h = self.conv2(self.dropout(_swish(self.norm2(h))))
        if self.shortcut_kind is not None:
            x = getattr(self, self.shortcut_kind)(x)
        return x + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all pixels, with 1x1 convolutions for q, k, v, out."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = _group_norm(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, height, width = x.shape
        h = self.norm(x)
        # taming's own sequence of products (not a fused attention kernel, whose different
        # rounding would move the images away from generate.py's): scores (b, hw, hw) of
        # each query pixel against every key pixel, scaled, softmax over the keys
        q = self.q(h).reshape(b, c, height * width).permute(0, 2, 1)
        k = self.k(h).reshape(b, c, height * width)
        weights = torch.softmax(torch.bmm(q, k) * (int(c) ** -0.5), dim=2)
        v = self.v(h).reshape(b, c, height * width)
        out = torch.bmm(v, weights.permute(0, 2, 1)).reshape(b, c, height, width)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    """Halve the resolution: pad right/bottom by one, then a stride-2 3x3 conv (or avg pool)."""

    def __init__(self, channels: int, with_conv: bool) -> None:
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, 3, 2, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_conv:
            return self.conv(F.pad(x, (0, 1, 0, 1)))
        return F.avg_pool2d(x, 2, 2)


class Upsample(nn.Module):
    """Double the resolution: nearest-neighbour, then an optional 3x3 conv."""

    def __init__(self, channels: int, with_conv: bool) -> None:
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x) if self.with_conv else x


class _Level(nn.Module):
    """One resolution level: res blocks, optional attention after each, optional resampler."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.ModuleList()
        self.attn = nn.ModuleList()


class _Mid(nn.Module):
    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, dropout)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


def _run_level(level: _Level, h: torch.Tensor) -> torch.Tensor:
    for i, block in enumerate(level.block):
        h = block(h)
        if len(level.attn) > 0:
            h = level.attn[i](h)
    return h


class Encoder(nn.Module):
    """taming's ``diffusionmodules.model.Encoder`` (no timestep embedding)."""

    def __init__(self, *, ch: int, ch_mult: list[int], num_res_blocks: int,
                 attn_resolutions: list[int], in_channels: int, resolution: int,
                 z_channels: int, dropout: float = 0.0, resamp_with_conv: bool = True,
                 double_z: bool = True, **_ignored: Any) -> None:
        super().__init__()
        self.num_resolutions = len(ch_mult)
        self.conv_in = nn.Conv2d(in_channels, ch, 3, 1, 1)
        in_mult = (1, *ch_mult)
        res = resolution
        self.down = nn.ModuleList()
        block_in = ch
        for i_level in range(self.num_resolutions):
            level = _Level()
            block_in, block_out = ch * in_mult[i_level], ch * ch_mult[i_level]
            for _ in range(num_res_blocks):
                level.block.append(ResnetBlock(block_in, block_out, dropout))
                block_in = block_out
                if res in attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i_level != self.num_resolutions - 1:
                level.downsample = Downsample(block_in, resamp_with_conv)
                res //= 2
            self.down.append(level)
        self.mid = _Mid(block_in, dropout)
        self.norm_out = _group_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, 2 * z_channels if double_z else z_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for i_level, level in enumerate(self.down):
            h = _run_level(level, h)
            if i_level != self.num_resolutions - 1:
                h = level.downsample(h)
        h = self.mid(h)
        return self.conv_out(_swish(self.norm_out(h)))


class Decoder(nn.Module):
    """taming's ``diffusionmodules.model.Decoder``; ``up[i]`` is level i, run from the top."""

    def __init__(self, *, ch: int, out_ch: int, ch_mult: list[int], num_res_blocks: int,
                 attn_resolutions: list[int], resolution: int, z_channels: int,
                 dropout: float = 0.0, resamp_with_conv: bool = True,
                 give_pre_end: bool = False, **_ignored: Any) -> None:
        super().__init__()
        self.num_resolutions = len(ch_mult)
        self.give_pre_end = give_pre_end
        block_in = ch * ch_mult[-1]
        res = resolution // 2 ** (self.num_resolutions - 1)
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, 1, 1)
        self.mid = _Mid(block_in, dropout)
        levels: list[_Level] = []
        for i_level in reversed(range(self.num_resolutions)):
            level = _Level()
            block_out = ch * ch_mult[i_level]
            for _ in range(num_res_blocks + 1):
                level.block.append(ResnetBlock(block_in, block_out, dropout))
                block_in = block_out
                if res in attn_resolutions:
                    level.attn.append(AttnBlock(block_in))
            if i_level != 0:
                level.upsample = Upsample(block_in, resamp_with_conv)
                res *= 2
            levels.insert(0, level)
        self.up = nn.ModuleList(levels)
        self.norm_out = _group_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, out_ch, 3, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for i_level in reversed(range(self.num_resolutions)):
            level = self.up[i_level]
            h = _run_level(level, h)
            if i_level != 0:
                h = level.upsample(h)
        if self.give_pre_end:
            return h
        return self.conv_out(_swish(self.norm_out(h)))


class VectorQuantizer(nn.Module):
    """Nearest-neighbour codebook (taming ``VectorQuantizer2``); weights: ``embedding``."""

    def __init__(self, n_embed: int, embed_dim: int) -> None:
        super().__init__()
        self.n_embed = n_embed
        self.embed_dim = embed_dim
        self.embedding = nn.Embedding(n_embed, embed_dim)

    @property
    def codebook(self) -> torch.Tensor:
        return self.embedding.weight

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.permute(0, 2, 3, 1).contiguous()
        flat = z.view(-1, self.embed_dim)
        dist = (
            flat.pow(2).sum(1, keepdim=True)
            + self.codebook.pow(2).sum(1)
            - 2 * flat @ self.codebook.T
        )
        z_q = self.codebook[dist.argmin(1)].view(z.shape)
        # taming returns z + (z_q - z) (its straight-through form), which can differ from
        # z_q in the last bit; generate.py starts from that value
        z_q = z + (z_q - z)
        return z_q.permute(0, 3, 1, 2).contiguous()


class GumbelQuantizer(nn.Module):
    """taming ``GumbelQuantize``: 1x1 ``proj`` to code logits, codebook ``embed``.

    Encoding samples a hard Gumbel-softmax as taming does in eval mode (random: it draws
    from the global torch RNG, which the engine seeds per job).
    """

    def __init__(self, num_hiddens: int, embed_dim: int, n_embed: int,
                 temperature: float = 1.0) -> None:
        super().__init__()
        self.n_embed = n_embed
        self.embed_dim = embed_dim
        self.temperature = temperature
        self.proj = nn.Conv2d(num_hiddens, n_embed, 1)
        self.embed = nn.Embedding(n_embed, embed_dim)

    @property
    def codebook(self) -> torch.Tensor:
        return self.embed.weight

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        logits = self.proj(z)
        one_hot = F.gumbel_softmax(logits, tau=self.temperature, dim=1, hard=True)
        return torch.einsum("bnhw,nd->bdhw", one_hot, self.codebook)


class VQGAN(nn.Module):
    """Encoder, quantiser and decoder of a taming first-stage model, weights frozen."""

    def __init__(self, ddconfig: dict[str, Any], n_embed: int, embed_dim: int,
                 gumbel: bool = False, colorize_nlabels: int | None = None) -> None:
        super().__init__()
        z_channels = ddconfig["z_channels"]
        self.gumbel = gumbel
        self.encoder = Encoder(**ddconfig)
        self.decoder = Decoder(**ddconfig)
        if gumbel:
            self.quantize: nn.Module = GumbelQuantizer(z_channels, embed_dim, n_embed)
        else:
            self.quantize = VectorQuantizer(n_embed, embed_dim)
        self.quant_conv = nn.Conv2d(z_channels, embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, z_channels, 1)
        if colorize_nlabels is not None:
            self.register_buffer("colorize", torch.zeros(3, colorize_nlabels, 1, 1))

    @property
    def factor(self) -> int:
        """Downsampling factor f: one latent cell covers f x f pixels."""
        return 2 ** (self.decoder.num_resolutions - 1)

    @property
    def codebook(self) -> torch.Tensor:
        return self.quantize.codebook

    @property
    def n_embed(self) -> int:
        return self.quantize.n_embed

    @property
    def embed_dim(self) -> int:
        return self.quantize.embed_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Image in [-1, 1], (b, 3, H, W) -> quantised latent (b, embed_dim, H/f, W/f)."""
        return self.quantize(self.quant_conv(self.encoder(x)))

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """Quantised latent -> image in about [-1, 1]."""
        return self.decoder(self.post_quant_conv(z_q))


@dataclass
class LoadedVQGAN:
    model: VQGAN
    kind: str  # "VQModel" | "GumbelVQ" | "Net2NetTransformer"
    target: str


def read_config(config_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a taming ``.yaml`` and return its ``model`` section."""
    path = os.fspath(config_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VQGAN config not found: {path}")
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise ValueError(f"{path}: not a taming config (no 'model' section)")
    if "target" not in config["model"]:
        raise ValueError(f"{path}: not a taming config (no 'model.target')")
    return config["model"]


def _build_first_stage(target: str, params: dict[str, Any], where: str) -> VQGAN:
    if target not in (VQMODEL, GUMBELVQ):
        raise ValueError(
            f"{where}: unsupported VQGAN model target {target!r}; supported: "
            f"{VQMODEL}, {GUMBELVQ}, {NET2NET}"
        )
    try:
        return VQGAN(
            ddconfig=dict(params["ddconfig"]),
            n_embed=int(params["n_embed"]),
            embed_dim=int(params["embed_dim"]),
            gumbel=target == GUMBELVQ,
            colorize_nlabels=params.get("colorize_nlabels"),
        )
    except KeyError as e:
        raise ValueError(f"{where}: {target} params lack {e.args[0]!r}") from None


def build_vqgan(model_config: dict[str, Any], where: str = "config") -> tuple[VQGAN, str]:
    """Build the (untrained) first-stage model a taming ``model`` config describes.

    Returns the model and the key prefix its weights have in the checkpoint.
    """
    target = model_config["target"]
    params = model_config.get("params") or {}
    if target == NET2NET:
        first = params.get("first_stage_config")
        if not isinstance(first, dict) or "target" not in first:
            raise ValueError(f"{where}: {NET2NET} without params.first_stage_config.target")
        return _build_first_stage(first["target"], first.get("params") or {}, where), (
            "first_stage_model."
        )
    return _build_first_stage(target, params, where), ""


def first_stage_weights(
    state_dict: dict[str, torch.Tensor], prefix: str
) -> dict[str, torch.Tensor]:
    """Keep the first-stage weights under ``prefix`` (prefix removed), minus ``loss.*``."""
    out = {}
    for key, value in state_dict.items():
        if not key.startswith(prefix):
            continue  # transformer.*, cond_stage_model.* of a Net2NetTransformer
        key = key[len(prefix):]
        if key.startswith("loss."):
            continue  # perceptual loss and discriminator, only used in training
        out[key] = value
    return out


def load_vqgan(config_path: str | os.PathLike[str],
               checkpoint_path: str | os.PathLike[str]) -> LoadedVQGAN:
    """Build a VQGAN from a taming ``.yaml`` and load its ``.ckpt`` strictly, on the CPU."""
    model_config = read_config(config_path)
    model, prefix = build_vqgan(model_config, where=os.fspath(config_path))
    ckpt_path = os.fspath(checkpoint_path)
    weights = first_stage_weights(state_dict_of(load_checkpoint(ckpt_path), ckpt_path), prefix)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as e:
        raise ValueError(
            f"{ckpt_path} does not match {os.fspath(config_path)} ({model_config['target']}): {e}"
        ) from None
    model.eval().requires_grad_(False)
    target = model_config["target"]
    return LoadedVQGAN(model=model, kind=KIND_NAMES[target], target=target)
