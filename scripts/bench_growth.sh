#!/usr/bin/env bash
# How the folder commands grow with the folder (issue 27; a benchmark, not a test): `plan
# --json`, the daytime `check` with nothing changed, and `check`'s first pass (which writes
# an _ERROR.txt beside every invalid task), on the synthetic shared folder of bench_plan.sh
# at 10,000, 30,000 and 100,000 task files, then `check`'s first pass and a `run` over
# 20,000 invalid tasks (no engine starts: nothing is valid). Each figure is the median of RUNS runs (default 3; a first pass is run once per
# fresh folder), printed in seconds and as the ratio to the first size's.
#
#   scripts/bench_growth.sh                       # 10k, 30k, 100k
#   SIZES="10000 100000" RUNS=5 scripts/bench_growth.sh
#   INVALID=2000 scripts/bench_growth.sh          # the invalid folder's size (20,000)
#
# The gallery's growth is scripts/bench_gallery.py --images N (it needs real PNGs).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/bench_root.sh
source scripts/bench_root.sh
SIZES=${SIZES:-10000 30000 100000}
RUNS=${RUNS:-3}
# RUNVQGAN_BIN: another binary (the release build by default).
if [[ -n "${RUNVQGAN_BIN:-}" ]]; then
    bin=$RUNVQGAN_BIN
else
    cargo build --release --quiet
    bin=$PWD/target/release/runvqgan
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Seconds one run of "$@" takes (wall clock), output discarded.
seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
}

# The median of RUNS runs of "$@".
median() {
    local i
    for i in $(seq 1 "$RUNS"); do seconds "$@"; done | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'
}

declare -A plan check first
for n in $SIZES; do
    root=$work/root$n
    make_bench_root "$root" "$n" 20 >/dev/null
    first[$n]=$(seconds "$bin" check --root "$root")
    first[$n]=$(printf '%.3f' "${first[$n]}")
    plan[$n]=$(median "$bin" plan --root "$root" --json)
    check[$n]=$(median "$bin" check --root "$root")
    rm -rf "$root"
done

base=${SIZES%% *}
printf '\n%-34s' "tasks"
for n in $SIZES; do printf '%18s' "$n"; done
echo
row() {
    local name=$1 n v
    local -n figures=$2
    printf '%-34s' "$name"
    for n in $SIZES; do
        v=${figures[$n]}
        printf '%18s' "$(printf '%.2f s (x%.1f)' "$v" "$(awk -v a="$v" -v b="${figures[$base]}" 'BEGIN {print a / b}')")"
    done
    echo
}
row "plan --json" plan
row "check, nothing changed" check
row "check, first pass (every 50th bad)" first

root=$work/invalid
INVALID=${INVALID:-20000}
INVALID_EVERY=1 make_bench_root "$root" "$INVALID" 20 >/dev/null
printf '\ncheck, first pass over %s invalid tasks: %.2f s\n' "$INVALID" "$(seconds "$bin" check --root "$root")"
rm -rf "$root"
INVALID_EVERY=1 make_bench_root "$root" "$INVALID" 20 >/dev/null
printf 'run over %s invalid tasks (their error files written): %.2f s\n' "$INVALID" "$(seconds "$bin" run --root "$root")"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
