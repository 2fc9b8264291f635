#!/usr/bin/env bash
# The engine's GPU check, for a machine with Python 3.12 and torch but no network, no
# Rust toolchain: one command, under 6 minutes on an H100.
#
#   OUT=/some/folder scripts/gpu-check.sh          # on the GPU machine, from anywhere
#   OUT=/tmp/gc PYTHON=.venv/bin/python scripts/gpu-check.sh --dry   # CPU rehearsal here
#
# Before: scripts/fetch-device-wheels.sh (here, with a network) fills device-wheels/,
# which must travel with the working tree (it is git-ignored: carry it).
#
# Steps (each logged with its exit status and seconds; a failing step does not stop the
# ones after it, the exit status is that of the first failure):
#   1. environment: python, torch, GPU
#   2. wheels: every module of open_clip_torch, kornia, ... that does not import is
#      installed from device-wheels/ (pip --no-index --no-deps --target $SITE), then
#      the engine must import
#   3. models: full-size random models in models/full (scripts/make_tiny_models.py)
#   4. pytest -m cuda (tests/python/test_cuda.py; tiny models made by the fixtures)
#   5. benchmark table: reference vs fast at batch 1, 2, 4, 8, each switch alone, and the
#      reference loop's decode / CLIP / backward split (scripts/bench_engine.py)
#   6. a 500-iteration 450x300 fast-mode run on the full-size models, timed
#   7. torch.compile and CUDA graphs timed alone (last: slow to compile; capped)
# Writes under $OUT: gpu-check.log (everything), summary.txt, pytest-cuda.txt,
# bench-table.txt, bench.jsonl, run500.png, run500.txt, compile-table.txt.
#
# Environment: OUT (default ./gpu-check-out), PYTHON (default python3), WHEELS (default
# device-wheels), SITE (default /tmp/runvqgan-site), MODELS (default models/full).
# --dry: no GPU needed; small sizes and few iterations everywhere, to rehearse the script.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dry=0
[ "${1:-}" = "--dry" ] && dry=1
OUT=${OUT:-$root/gpu-check-out}
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-$root/device-wheels}
SITE=${SITE:-/tmp/runvqgan-site}
MODELS=${MODELS:-models/full}
mkdir -p "$OUT"
log="$OUT/gpu-check.log"
summary="$OUT/summary.txt"
: >"$log"
: >"$summary"
exec > >(tee -a "$log") 2>&1
export PYTHONUNBUFFERED=1
export PYTHONPATH="$SITE:$root/vendor:$root/python${PYTHONPATH:+:$PYTHONPATH}"
started=$(date +%s)
first_failure=0

step() {  # step NAME COMMAND...: run, log status and seconds, remember the first failure
  local name=$1 t0 rc
  shift
  echo
  echo "=== $name ($(date -u +%H:%M:%S), $(($(date +%s) - started)) s in)"
  t0=$(date +%s.%N)
  "$@"
  rc=$?
  local secs
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  echo "=== $name: exit $rc, ${secs} s"
  printf '%-12s exit %-3s %8s s\n' "$name" "$rc" "$secs" >>"$summary"
  if [ "$rc" -ne 0 ] && [ "$first_failure" -eq 0 ]; then first_failure=$rc; fi
  return 0
}

environment() {
  "$PYTHON" - <<'PY' || return 1
import sys, torch
print("python", sys.version.split()[0], sys.executable)
print("torch", torch.__version__, "cuda", torch.version.cuda, "available",
      torch.cuda.is_available())
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0),
          round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1), "GiB")
PY
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  if [ "$dry" -eq 0 ] && ! "$PYTHON" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'
  then
    echo "no CUDA device: this check needs a GPU (use --dry to rehearse it on a CPU)"
    return 1
  fi
}

# distribution name : module it provides (what open_clip and kornia import at run time)
WANTED="open_clip_torch:open_clip kornia:kornia kornia_rs:kornia_rs ftfy:ftfy wcwidth:wcwidth
regex:regex pyyaml:yaml pillow:PIL timm:timm huggingface_hub:huggingface_hub
safetensors:safetensors tqdm:tqdm filelock:filelock fsspec:fsspec packaging:packaging
typing_extensions:typing_extensions torch-optimizer:torch_optimizer pytorch-ranger:pytorch_ranger"

wheels() {
  local missing=() pair dist module
  for pair in $WANTED; do
    dist=${pair%%:*}
    module=${pair##*:}
    if ! "$PYTHON" -c "import $module" 2>/dev/null; then missing+=("$dist"); fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "all modules import already; nothing to install"
  else
    echo "installing from $WHEELS: ${missing[*]}"
    if [ ! -d "$WHEELS" ]; then
      echo "$WHEELS is missing: run scripts/fetch-device-wheels.sh with a network and carry it"
      return 1
    fi
    "$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir \
      --disable-pip-version-check --upgrade --target "$SITE" --find-links "$WHEELS" \
      "${missing[@]}" || return 1
  fi
  "$PYTHON" -c 'import open_clip, kornia, torch_optimizer, vqgan_clip.engine, vqgan_clip.method
print("engine imports: open_clip", open_clip.__version__, "kornia", kornia.__version__)'
}

models() {
  if [ -f "$MODELS/vqgan_imagenet_f16_16384.ckpt" ] && [ -f "$MODELS/ViT-B-32.pt" ]; then
    echo "full-size models already in $MODELS"
  else
    "$PYTHON" scripts/make_tiny_models.py "$MODELS" --full-size
  fi
}

cuda_tests() {
  "$PYTHON" -m pytest -m cuda -s -q -p no:cacheprovider tests/python 2>&1 \
    | tee "$OUT/pytest-cuda.txt"
}

bench() {
  local extra=()
  [ "$dry" -eq 1 ] && extra=(--cpu-small --batches 1 2 --iterations 1)
  timeout 240 "$PYTHON" scripts/bench_engine.py --models "$MODELS" --switches --split \
    --table "$OUT/bench-table.txt" --json "$OUT/bench.jsonl" "${extra[@]}"
}

run500() {
  local size=(450 300) iterations=500 device=() t0 rc
  if [ "$dry" -eq 1 ]; then size=(64 64); iterations=2; device=(-cd cpu); fi
  t0=$(date +%s.%N)
  timeout 150 "$PYTHON" -m vqgan_clip.generate -p "a lighthouse in a storm, oil painting" \
    -i "$iterations" -s "${size[@]}" -sd 1 -se 100 --mode fast "${device[@]}" \
    -conf "$MODELS/vqgan_imagenet_f16_16384.yaml" \
    -ckpt "$MODELS/vqgan_imagenet_f16_16384.ckpt" -m ViT-B/32 --clip-dir "$MODELS" \
    -o "$OUT/run500.png" | tee "$OUT/run500.txt"
  rc=${PIPESTATUS[0]}
  awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$iterations" \
    'BEGIN { printf "%d iterations: %.1f s wall, model load included (the JSON line above has the engine seconds)\n", n, b - a }' \
    | tee -a "$OUT/run500.txt"
  return "$rc"
}

compiled() {
  local limit=$1
  if [ "$dry" -eq 1 ]; then
    echo "dry run: compilation not timed (CUDA only)"
    return 0
  fi
  timeout "$limit" "$PYTHON" scripts/bench_engine.py --models "$MODELS" --batches \
    --switches --switch-list none compile cuda_graphs --table "$OUT/compile-table.txt"
}

step environment environment
step wheels wheels
step models models
step cuda-tests cuda_tests
step bench bench
step run500 run500
left=$((340 - ($(date +%s) - started)))
if [ "$left" -gt 60 ]; then
  step compile compiled "$((left > 170 ? 170 : left))"
else
  echo "=== compile: skipped, only ${left} s left of the 6 minutes"
  echo "compile      skipped (time)" >>"$summary"
fi
echo
echo "=== gpu-check done in $(($(date +%s) - started)) s; first failure exit: $first_failure"
cat "$summary"
[ -f "$OUT/bench-table.txt" ] && cat "$OUT/bench-table.txt"
[ -f "$OUT/compile-table.txt" ] && cat "$OUT/compile-table.txt"
exit "$first_failure"
