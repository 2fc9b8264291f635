#!/usr/bin/env bash
# Runs every test: Rust formatting, lints and tests, the systemd units of contrib/, Python
# lints and tests.
# Works on a fresh clone: it first makes the Python environment and the tiny
# models when they are missing (scripts/setup.sh --env-only).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --env-only
# PyO3 builds against the .venv's Python, as setup.sh's builds do (.cargo/config.toml).
export PYO3_PYTHON="$(pwd -P)/.venv/bin/python3"
# CI (root, CI=true) installs the browser of the gallery's browser test; elsewhere that
# test runs when chromium is present and says loudly when it is skipped.
if [[ "${CI:-}" == "true" && $(id -u) == 0 ]]; then
    scripts/install-browser.sh
fi

echo "== layout (import cycles, file lengths)"
scripts/check-layout.sh
echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test
echo "== units"
scripts/check-units.sh
echo "== ruff"
.venv/bin/ruff check vendor python scripts tests/python
echo "== pytest"
.venv/bin/python -m pytest -q
# The night as a Slurm job array on a one-machine cluster (installs slurm-wlm and munge,
# starts their daemons): in CI (root, CI=true); elsewhere by hand.
if [[ "${CI:-}" == "true" && $(id -u) == 0 ]]; then
    echo "== slurm"
    scripts/slurm-test.sh
else
    echo "== slurm: not run here (CI runs it as root); run: sudo scripts/slurm-test.sh"
fi
