#!/usr/bin/env bash
# Times `runvqgan check` (the daytime check cron runs every few minutes) on the synthetic
# shared folder of bench_plan.sh, 10,000 task files by default (not a test):
#   1. the first pass, which writes an _ERROR.txt beside every invalid task (every 50th);
#   2. five passes with nothing changed, which must write and remove nothing.
#
#   scripts/bench_check.sh            # 10,000 tasks
#   N=50000 scripts/bench_check.sh    # another size
#   KEEP=1 scripts/bench_check.sh     # keep the synthetic folder
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/bench_root.sh
source scripts/bench_root.sh
bench_setup

# One `check` pass: prints its summary line and the seconds it took (bash's `time`).
pass() {
    local out
    TIMEFORMAT='  %R s'
    time { out=$("$bin" check --root "$root"); }
    echo "  ${out##*$'\n'}"
    last_summary=${out##*$'\n'}
}

echo "first pass (writes the error files):"
pass
echo "  error files now: $(find "$root" -name '*_ERROR.txt' | wc -l)"

echo "passes with nothing changed:"
for run in 1 2 3 4 5; do
    echo " run $run:"
    pass
    case "$last_summary" in
    *" 0 file(s) written, 0 removed"*) ;;
    *) echo "a pass with nothing changed wrote or removed files" >&2; exit 1 ;;
    esac
done
