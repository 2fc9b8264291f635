#!/usr/bin/env bash
# Times `runvqgan plan` on a synthetic shared folder with 10,000 task files (not a test).
#
#   scripts/bench_plan.sh            # 10,000 tasks
#   N=50000 scripts/bench_plan.sh    # another size
#   KEEP=1 scripts/bench_plan.sh     # keep the synthetic folder for profiling
#
# The folder: a quarter of the tasks in tasks/ (some in subfolders), the rest spread over 20
# member folders as task_*.txt; every 10th task already has 3 images (png + sidecar) in its
# output folder, every 50th is invalid, plus sample/README/_ERROR/.done files to skip.
# Uses hyperfine when installed, else five timed runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/bench_root.sh
source scripts/bench_root.sh
bench_setup

cmd="$bin plan --root $root --json"
$cmd >/dev/null
echo "planned tasks: $($cmd | grep -c '"task":')"
if command -v hyperfine >/dev/null; then
    hyperfine --warmup 2 --runs 10 "$cmd >/dev/null"
else
    TIMEFORMAT='%R s'
    for run in 1 2 3 4 5; do
        echo -n "run $run: "
        { time $cmd >/dev/null; } 2>&1
    done
fi
