"""Differentiable helpers whose gradients differ from their forward maths.

VQGAN-CLIP optimises a continuous latent through two non-differentiable steps (nearest
codebook entry, clamping to the image range); these functions let the gradient pass them.
"""

from __future__ import annotations

import torch


class _ReplaceGrad(torch.autograd.Function):
    """Forward returns ``forward_value``; backward sends the gradient to ``backward_value``."""

    @staticmethod
    def forward(ctx, forward_value: torch.Tensor, backward_value: torch.Tensor) -> torch.Tensor:
        ctx.shape = backward_value.shape
        return forward_value

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, grad.sum_to_size(ctx.shape)


class _ClampWithGrad(torch.autograd.Function):
    """Clamp, but let through gradients that point back into the range."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, low: float, high: float) -> torch.Tensor:
        ctx.low, ctx.high = low, high
        ctx.save_for_backward(x)
        return x.clamp(low, high)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        overshoot = x - x.clamp(ctx.low, ctx.high)
        return grad * (grad * overshoot >= 0), None, None


def replace_grad(forward_value: torch.Tensor, backward_value: torch.Tensor) -> torch.Tensor:
    """Value of ``forward_value``, gradient routed to ``backward_value`` (straight-through)."""
    return _ReplaceGrad.apply(forward_value, backward_value)


def clamp_with_grad(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """``x.clamp(low, high)`` whose gradient is kept where it moves ``x`` back into range."""
    return _ClampWithGrad.apply(x, low, high)


def vector_quantize(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Snap each vector (last dim) of ``x`` to its nearest codebook row, straight-through."""
    dist = (
        x.pow(2).sum(dim=-1, keepdim=True)
        + codebook.pow(2).sum(dim=1)
        - 2 * x @ codebook.T
    )
    nearest = codebook[dist.argmin(dim=-1)]
    return replace_grad(nearest, x)
