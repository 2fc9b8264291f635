"""Shared fixtures: the tiny model set, made once per session by the real script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def model_maker():
    """The ``scripts/make_tiny_models.py`` module."""
    return _load_script("make_tiny_models")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, model_maker) -> dict[str, Path]:
    """Paths of the tiny models: vqgan/gumbel/net2net ``_yaml``/``_ckpt`` and ``clip``."""
    return model_maker.make_tiny_models(tmp_path_factory.mktemp("tiny_models"))


@pytest.fixture(scope="session")
def tiny_engine(tiny_models):
    """A deterministic CPU engine on the tiny VQModel (f16) and tiny CLIP."""
    from vqgan_clip.engine import Engine, ModelSpec

    spec = ModelSpec(
        vqgan_config=str(tiny_models["vqgan_yaml"]),
        vqgan_checkpoint=str(tiny_models["vqgan_ckpt"]),
        clip_model=str(tiny_models["clip"]),
    )
    return Engine(spec, device="cpu", deterministic=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (run by scripts/gpu-check.sh)")


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (scripts/gpu-check.sh runs these on a GPU)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    """Says loudly when the browser test could not run (no chromium on this machine)."""
    skipped = terminalreporter.stats.get("skipped", [])
    if any("BROWSER TEST SKIPPED" in str(report.longrepr) for report in skipped):
        terminalreporter.write_sep(
            "!", "BROWSER TEST SKIPPED: no chromium/chromedriver here; "
                 "install them with scripts/install-browser.sh (as root)", red=True, bold=True)
