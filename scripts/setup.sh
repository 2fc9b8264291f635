#!/usr/bin/env bash
# Sets runvqgan up on a fresh machine, then runs the nightly job once on an
# example shared folder so you see the whole cycle.
#
#   scripts/setup.sh              everything, then `runvqgan run --root example`
#   scripts/setup.sh --env-only   only the Python environment and the tiny models
#                                 (what the tests need; no release build, no run)
#
# Steps, each skipped when already done:
#   1. Python: the one runvqgan embeds and .venv is made with. It must be readable by
#      every account that runs runvqgan (the owner's cron job, systemd's User=), so it is
#      the distribution's: Debian's /usr/bin/python3.11 with its shared library (packages
#      python3.11, python3.11-venv, python3.11-dev). Run as root, this installs the missing
#      ones with apt-get; run as another user, it names them and stops. PYTHON=/path/to/python3
#      chooses another Python instead (with a warning when other accounts cannot read it).
#   2. .venv: a virtual environment made with that Python (made again when it was made
#      with another one), with the pinned packages of requirements.txt
#   3. target/release/runvqgan: the release build; PyO3 builds against .venv/bin/python3
#      (.cargo/config.toml), so the binary embeds the Python of step 1
#   4. models/tiny: tiny VQGAN and CLIP checkpoints with random weights, in the
#      real file formats (they make abstract noise; see README for real weights)
#   5. example/: a shared folder with a few task files, one of them invalid
#   6. runvqgan run --root example
set -euo pipefail
cd "$(dirname "$0")/.."

env_only=false
[[ "${1:-}" == "--env-only" ]] && env_only=true

# The Debian packages of the Python runvqgan embeds: the interpreter, its venv module,
# and libpython3.11.so to link against (python3.11-dev brings libpython3.11-dev).
debian_packages=(python3.11 python3.11-venv python3.11-dev)

# The packages of debian_packages that are not installed.
missing_packages() {
    local p
    for p in "${debian_packages[@]}"; do
        [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] ||
            echo "$p"
    done
}

# The first folder on the way to (and including) the folder $1 that other accounts cannot
# enter (no execute permission for others), or nothing.
closed_folder() {
    local dir parts part walked="" mode
    dir=$(realpath -m -- "$1")
    IFS=/ read -ra parts <<<"${dir#/}"
    for part in "${parts[@]}"; do
        [[ -n $part ]] || continue
        walked+="/$part"
        [[ -d $walked ]] || return 0
        mode=$(stat -c %a -- "$walked")
        if ((8#$mode % 2 == 0)); then
            echo "$walked"
            return 0
        fi
    done
}

# 1. The Python.
if [[ -n ${PYTHON:-} ]]; then
    python=$(command -v -- "$PYTHON") || {
        echo "setup: PYTHON=$PYTHON is not a program" >&2
        exit 1
    }
elif command -v dpkg-query >/dev/null; then
    mapfile -t missing < <(missing_packages)
    if ((${#missing[@]})); then
        if [[ $(id -u) == 0 ]]; then
            echo "setup: installing Debian's Python 3.11: apt-get install ${missing[*]}"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        else
            cat >&2 <<MSG
setup: runvqgan embeds Debian's Python 3.11, which every account can read, and these of
setup: its packages are missing: ${missing[*]}
setup: install them (as root), then run scripts/setup.sh again:
setup:     sudo apt-get install ${missing[*]}
setup: (or choose another Python 3.11 with its shared library: PYTHON=/path/to/python3.11
setup: scripts/setup.sh; every account that runs runvqgan must be able to read it)
MSG
            exit 1
        fi
    fi
    python=/usr/bin/python3.11
else
    python=$(command -v python3.11 || command -v python3) || {
        echo "setup: no python3.11 or python3 found; install Python 3.11 with its shared" \
            "library, or name one with PYTHON=/path/to/python3.11" >&2
        exit 1
    }
fi
mapfile -t about < <("$python" - <<'PY'
import os, sys, sysconfig
print(os.path.realpath(sys.executable))
print(sys.version.split()[0])
print(sysconfig.get_path("stdlib"))
print(sysconfig.get_config_var("LIBDIR") or "")
PY
)
real_python=${about[0]}
echo "setup: Python $python (${about[1]}, $real_python)"
for folder in "$(dirname "$real_python")" "${about[2]}" ${about[3]:+"${about[3]}"}; do
    closed=$(closed_folder "$folder")
    [[ -n $closed ]] || continue
    cat >&2 <<MSG
setup: WARNING: this Python is private to $(id -un): other accounts cannot enter
setup: WARNING: $closed (mode $(stat -c %a -- "$closed")), which holds $folder.
setup: WARNING: runvqgan built with it runs only as $(id -un); run by another account (the
setup: WARNING: owner's cron job, a service's User=) it stops with "permission denied on
setup: WARNING: $closed". For a build every account can run, use Debian's python3.11
setup: WARNING: (unset PYTHON; sudo apt-get install ${debian_packages[*]}).
MSG
    break
done

closed=$(closed_folder "$(pwd -P)")
if [[ -n $closed ]]; then
    cat >&2 <<MSG
setup: WARNING: this runvqgan folder lies under $closed (mode $(stat -c %a -- "$closed")),
setup: WARNING: which other accounts cannot enter: only $(id -un) can run its build and its
setup: WARNING: .venv. For the owner's nightly job, install it where the owner can read it
setup: WARNING: (e.g. /opt/runvqgan; docs/owner.md, "Installing").
MSG
fi

# 2. .venv, made with that Python.
made_venv=false
if [[ -x .venv/bin/python ]]; then
    had=$(.venv/bin/python -c 'import os, sys; print(os.path.realpath(sys.executable))' \
        2>/dev/null || echo "a Python that no longer runs")
    if [[ $had != "$real_python" ]]; then
        echo "setup: .venv was made with $had; making it again with $real_python"
        rm -rf .venv
    fi
fi
stamp=.venv/.requirements-installed
if [[ ! -x .venv/bin/python ]]; then
    echo "setup: creating .venv with $python"
    rm -rf .venv
    "$python" -m venv .venv
    made_venv=true
fi
if [[ ! -f $stamp ]] || ! cmp -s requirements.txt "$stamp"; then
    echo "setup: installing Python packages (requirements.txt)"
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
    cp requirements.txt "$stamp"
fi
# The videos (-vid, -zvid) are encoded by PyAV's own FFmpeg libraries: no ffmpeg program.
if ! .venv/bin/python -c 'import av; av.codec.Codec("libx264", "w")' 2>/dev/null; then
    echo "setup: PyAV (av in requirements.txt) with its H.264 encoder is missing from .venv;" \
         "remove .venv/.requirements-installed and run setup again" >&2
    exit 1
fi
# PyO3 builds against .venv/bin/python3 (.cargo/config.toml); a build made before the
# .venv was made again must look at its Python anew (cargo does not notice by itself).
if $made_venv && [[ -d target ]]; then
    cargo clean --quiet -p pyo3-ffi 2>/dev/null || true
    cargo clean --quiet --release -p pyo3-ffi 2>/dev/null || true
fi
export PYO3_PYTHON="$(pwd -P)/.venv/bin/python3"

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
