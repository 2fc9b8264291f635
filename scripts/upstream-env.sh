#!/usr/bin/env bash
# Make a Python environment in which nerdyrodent's generate.py (upstream) runs, for the
# side-by-side comparison of scripts/compare_upstream.py.
#
#     scripts/upstream-env.sh DIR [PROJECT_VENV]
#
# DIR gets a virtual environment with what upstream imports that runvqgan does not use
# (taming-transformers without its training dependencies, OpenAI's `clip` module,
# torch-optimizer, omegaconf, imageio, tqdm). torch, torchvision, kornia, numpy and Pillow
# are NOT installed again: a .pth file makes the project's own environment (PROJECT_VENV,
# default .venv) visible to it, so that both sides of the comparison run the very same
# library versions (a different kornia draws its augmentations differently). Nothing is
# installed into PROJECT_VENV.
#
# Upstream's own code is not fetched here: clone https://github.com/nerdyrodent/VQGAN-CLIP
# anywhere and give its generate.py to the harness (--upstream or UPSTREAM_GENERATE).
# pytorch_lightning, which taming imports for its training classes, is replaced by an
# import-only stand-in in the harness, not installed.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DIR [PROJECT_VENV]" >&2
    exit 2
fi
dir=$1
here=$(cd "$(dirname "$0")/.." && pwd)
project_venv=${2:-$here/.venv}
project_python=$project_venv/bin/python
if [ ! -x "$project_python" ]; then
    echo "$0: $project_python not found: make the project environment first (scripts/setup.sh)" >&2
    exit 1
fi

# The same interpreter as the project's environment, so the shared packages load.
base_python=$("$project_python" -c 'import sys; print(sys._base_executable)')
"$base_python" -m venv "$dir"
site=$("$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
project_site=$("$project_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# Appended after DIR's own site-packages: DIR's packages win, the rest come from the project.
echo "$project_site" > "$site/runvqgan-project.pth"

pip=("$dir/bin/python" -m pip install --quiet --disable-pip-version-check)
# Without their declared dependencies: those would pull in old torch builds and
# pytorch-lightning; what they really import is listed in the second line.
"${pip[@]}" --no-deps taming-transformers-rom1504==0.0.6 clip-anytorch==2.6.0 \
    torch-optimizer==0.3.0 pytorch-ranger==0.1.1
"${pip[@]}" omegaconf==2.3.0 imageio==2.37.0 tqdm==4.67.1 ftfy==6.3.1 regex==2024.11.6 \
    einops==0.8.1 requests==2.32.3

"$dir/bin/python" - <<'EOF'
import importlib
for name in ("taming.modules.diffusionmodules.model", "clip", "torch_optimizer", "omegaconf",
             "imageio", "kornia", "tqdm"):
    importlib.import_module(name)
print("upstream environment ready")
EOF
echo "made $dir; run: UPSTREAM_PYTHON=$dir/bin/python UPSTREAM_GENERATE=PATH/generate.py" \
     ".venv/bin/python -m pytest tests/python/test_upstream_parity.py"
