"""Reference mode against nerdyrodent's generate.py itself (scripts/compare_upstream.py).

Needs upstream's generate.py and an environment that runs it, which this repository does
not carry (upstream's code is not ours to copy):

    git clone https://github.com/nerdyrodent/VQGAN-CLIP /somewhere/VQGAN-CLIP
    scripts/upstream-env.sh /somewhere/upstream-venv
    UPSTREAM_GENERATE=/somewhere/VQGAN-CLIP/generate.py \\
    UPSTREAM_PYTHON=/somewhere/upstream-venv/bin/python \\
        .venv/bin/python -m pytest tests/python/test_upstream_parity.py

Without both variables every test here is skipped, saying so. Each configuration runs both
programs for a few iterations on the tiny models and asserts that the losses agree at every
iteration, that CLIP's first input is the same and that the two PNGs have the same pixels;
for the video configurations also that every saved frame has the same pixels and that the
videos have the same frame count and rate.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATE = os.environ.get("UPSTREAM_GENERATE")
PYTHON = os.environ.get("UPSTREAM_PYTHON")

pytestmark = pytest.mark.skipif(
    not (GENERATE and PYTHON and os.path.isfile(GENERATE) and os.path.isfile(PYTHON)),
    reason="upstream generate.py not available: set UPSTREAM_GENERATE to its generate.py and "
           "UPSTREAM_PYTHON to a python that runs it (scripts/upstream-env.sh DIR makes one)",
)


def _harness():
    spec = importlib.util.spec_from_file_location("compare_upstream",
                                                  ROOT / "scripts" / "compare_upstream.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HARNESS = _harness()


@pytest.mark.parametrize("name", list(HARNESS.CONFIGS))
def test_reference_mode_reproduces_upstream(tiny_models, tmp_path, name):
    models = Path(tiny_models["vqgan_yaml"]).parent
    row = HARNESS.compare_config(name, Path(GENERATE), PYTHON, models, 8, tmp_path)
    assert row["upstream_steps"] == row["iterations"] + 1  # generate.py runs -i + 1 steps
    assert row["max_rel_loss_diff"] < 1e-5, row
    assert row["cutouts_max_abs_diff"] is not None and row["cutouts_max_abs_diff"] < 1e-5, row
    assert row["pixels_differing"] == 0, row
    frames = row["frames"]
    if frames is not None:  # -vid / -zvid: generate.py's steps/ and the engine's frames
        assert frames["saved"][0] == frames["saved"][1] > 0, row
        assert frames["differing"] == 0, row
        assert frames["video_frames"][0] == frames["video_frames"][1], row
        assert frames["fps"][0] == frames["fps"][1], row
