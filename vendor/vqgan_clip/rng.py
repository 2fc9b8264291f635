"""Per-job random number state, so a job's result never depends on what else ran.

kornia's augmentations draw from torch's global generators and take no generator argument,
so each job keeps its own copy of the global CPU (and CUDA device) RNG state and swaps it
in only while its own random work runs. Several jobs can then be interleaved (the batching
of same-size jobs planned for later) and each still sees exactly the stream its seed gives.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def new_seed() -> int:
    """A fresh seed from the OS (fits in 32 bits, like the seeds users type)."""
    return secrets.randbelow(2**32)


class JobRng:
    """The RNG state of one job; ``with rng.active():`` makes it the global state."""

    def __init__(self, seed: int, device: torch.device) -> None:
        self.seed = int(seed)
        self.device = device
        self._cpu_state = torch.Generator().manual_seed(self.seed).get_state()
        self._cuda_state: torch.Tensor | None = None

    def _cuda_generator(self) -> torch.Generator:
        index = self.device.index if self.device.index is not None else torch.cuda.current_device()
        return torch.cuda.default_generators[index]

    def reseed(self) -> None:
        """Start the stream again from the seed (CPU and CUDA), as ``torch.manual_seed``."""
        self._cpu_state = torch.Generator().manual_seed(self.seed).get_state()
        self._cuda_state = None

    @contextmanager
    def active(self) -> Iterator[None]:
        on_cuda = self.device.type == "cuda"
        saved_cpu = torch.get_rng_state()
        cuda_gen = self._cuda_generator() if on_cuda else None
        saved_cuda = cuda_gen.get_state() if cuda_gen is not None else None
        torch.set_rng_state(self._cpu_state)
        if cuda_gen is not None:
            if self._cuda_state is None:
                cuda_gen.manual_seed(self.seed)
            else:
                cuda_gen.set_state(self._cuda_state)
        try:
            yield
        finally:
            self._cpu_state = torch.get_rng_state()
            torch.set_rng_state(saved_cpu)
            if cuda_gen is not None:
                self._cuda_state = cuda_gen.get_state()
                cuda_gen.set_state(saved_cuda)
