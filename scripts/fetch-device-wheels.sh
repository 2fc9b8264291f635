#!/usr/bin/env bash
# Fill device-wheels/ (git-ignored) with the wheels the GPU machine lacks, for
# scripts/gpu-check.sh to install there without a network.
#
#   scripts/fetch-device-wheels.sh [DEST] [PYTHON_VERSION]   # defaults: device-wheels 3.12
#
# The GPU machine has Python 3.12 with torch, torchvision, numpy, pillow, pyyaml, regex,
# timm, huggingface_hub, safetensors, tqdm, filelock, fsspec and packaging already; it
# lacks open_clip_torch, kornia, kornia_rs, ftfy, wcwidth, torch_optimizer and
# pytorch_ranger. All of them are fetched
# (each wheel is small; torch and torchvision are not, and are never bundled):
# gpu-check.sh installs only those whose module does not import there. Versions follow
# requirements.txt where it pins them. Run from anywhere; needs pip and the network.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-device-wheels}
pyver=${2:-3.12}
pip=(python3 -m pip)
[ -x .venv/bin/python ] && pip=(.venv/bin/python -m pip)
pin() {  # NAME -> NAME==VERSION from requirements.txt, or NAME
  local v
  v=$(grep -i "^$1==" requirements.txt | head -1 || true)
  echo "${v:-$1}"
}
# what open_clip and kornia import at run time, and what those import
packages=(
  "$(pin open_clip_torch)" "$(pin kornia)" kornia_rs ftfy wcwidth regex
  "$(pin pyyaml)" "$(pin pillow)" timm huggingface_hub safetensors tqdm filelock fsspec
  packaging typing_extensions "$(pin torch-optimizer)" "$(pin pytorch-ranger)"
)
mkdir -p "$dest"
"${pip[@]}" download --quiet --only-binary=:all: --no-deps --dest "$dest" \
  --python-version "$pyver" --implementation cp \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_34_x86_64 \
  "${packages[@]}"
ls -1 "$dest"
du -sh "$dest"
