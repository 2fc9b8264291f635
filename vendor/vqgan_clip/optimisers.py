"""The ``-opt`` optimisers: every choice generate.py offers, by its name.

generate.py takes six of them from ``torch.optim`` and two (``DiffGrad``, ``AdamP``) from the
``torch_optimizer`` package; so does this engine, so the numbers are upstream's. Each is
built as generate.py builds it: with the learning rate alone (every other setting at the
package's default), except DiffGrad, which generate.py gives ``eps=1e-9`` and
``weight_decay=1e-9`` (:data:`EXTRA_SETTINGS`). ``torch_optimizer`` is imported only when
one of its optimisers is used.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

#: ``-opt`` name -> (module, class). The order is generate.py's list of choices.
OPTIMISERS: dict[str, tuple[str, str]] = {
    "Adam": ("torch.optim", "Adam"),
    "AdamW": ("torch.optim", "AdamW"),
    "Adagrad": ("torch.optim", "Adagrad"),
    "Adamax": ("torch.optim", "Adamax"),
    "DiffGrad": ("torch_optimizer", "DiffGrad"),
    "AdamP": ("torch_optimizer", "AdamP"),
    "RAdam": ("torch.optim", "RAdam"),
    "RMSprop": ("torch.optim", "RMSprop"),
}
#: Settings besides the learning rate that generate.py gives an optimiser.
EXTRA_SETTINGS: dict[str, dict[str, float]] = {"DiffGrad": {"eps": 1e-9, "weight_decay": 1e-9}}
#: Those with a fused CUDA kernel (the fast mode's ``fused_optimiser`` switch).
FUSED = ("Adam", "AdamW")


def check_optimiser(name: str) -> None:
    """A ValueError unless ``name`` is one of :data:`OPTIMISERS`."""
    if name not in OPTIMISERS:
        raise ValueError(f"unknown optimiser {name!r}: expected one of {', '.join(OPTIMISERS)}")


def optimiser_class(name: str) -> type[torch.optim.Optimizer]:
    check_optimiser(name)
    module, cls = OPTIMISERS[name]
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as e:
        raise RuntimeError(f"optimiser {name} needs the {module} package, which is missing "
                           f"from this Python environment (scripts/setup.sh installs it from "
                           f"requirements.txt): {e}") from None


def make_optimiser(name: str, params: list[Any], lr: float,
                   fused: bool = False) -> torch.optim.Optimizer:
    """The ``-opt`` optimiser over ``params`` (tensors or param groups), learning rate ``lr``.

    ``fused``: the fused CUDA kernel, for Adam and AdamW (ignored for the others).
    """
    cls = optimiser_class(name)
    if fused and name in FUSED:
        return cls(params, lr=lr, fused=True)
    return cls(params, lr=lr, **EXTRA_SETTINGS.get(name, {}))
