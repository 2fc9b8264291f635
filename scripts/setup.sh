#!/usr/bin/env bash
# Sets runvqgan up on a fresh machine, then runs the nightly job once on an
# example shared folder so you see the whole cycle.
#
#   scripts/setup.sh              everything, then `runvqgan run --root example`
#   scripts/setup.sh --env-only   only the Python environment and the tiny models
#                                 (what the tests need; no release build, no run)
#
# Steps, each skipped when already done:
#   1. .venv: a virtual environment with the pinned packages of requirements.txt
#   2. target/release/runvqgan: the release build
#   3. models/tiny: tiny VQGAN and CLIP checkpoints with random weights, in the
#      real file formats (they make abstract noise; see README for real weights)
#   4. example/: a shared folder with a few task files, one of them invalid
#   5. runvqgan run --root example
set -euo pipefail
cd "$(dirname "$0")/.."

env_only=false
[[ "${1:-}" == "--env-only" ]] && env_only=true

python=${PYTHON:-python3}
stamp=.venv/.requirements-installed
if [[ ! -x .venv/bin/python ]]; then
    echo "setup: creating .venv with $($python --version)"
    "$python" -m venv .venv
fi
if [[ ! -f $stamp ]] || ! cmp -s requirements.txt "$stamp"; then
    echo "setup: installing Python packages (requirements.txt)"
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
    cp requirements.txt "$stamp"
fi

if [[ ! -f models/tiny/clip.pt || ! -f models/tiny/vqgan.ckpt ]]; then
    echo "setup: making tiny test models in models/tiny"
    .venv/bin/python scripts/make_tiny_models.py models/tiny
fi

$env_only && exit 0

echo "setup: building runvqgan (release)"
cargo build --release --quiet

if [[ ! -d example ]]; then
    echo "setup: writing an example shared folder in example/"
    scripts/make_example.sh example "$PWD/models/tiny"
fi

echo "setup: running the nightly job on example/"
status=0
target/release/runvqgan run --root example || status=$?
echo
echo "setup: done (runvqgan exited $status; 3 means some tasks failed, as the invalid example task should)."
echo "setup: look at example/output, example/alice and example/bob, and example/runvqgan.log"
[[ $status == 0 || $status == 3 ]]
