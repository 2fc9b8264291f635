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

N=${N:-10000}
MEMBERS=20

cargo build --release --quiet
bin=$PWD/target/release/runvqgan

root=$(mktemp -d)
if [[ -n "${KEEP:-}" ]]; then echo "keeping $root"; else trap 'rm -rf "$root"' EXIT; fi
mkdir -p "$root/tasks/sub" "$root/output"
for m in $(seq 1 "$MEMBERS"); do mkdir -p "$root/member$m/sub"; done
printf 'README\n' >"$root/tasks/README.txt"
printf '{"text": "sample", "out_file": "sample"}\n' >"$root/tasks/sample.txt"

echo "making $N task files in $root ..."
for i in $(seq 1 "$N"); do
    if (( i % 4 == 0 )); then
        if (( i % 8 == 0 )); then dir="$root/tasks/sub"; else dir="$root/tasks"; fi
        file="$dir/t$i.txt"; out="$root/output"
    else
        m=$(( i % MEMBERS + 1 ))
        if (( i % 3 == 0 )); then dir="$root/member$m/sub"; else dir="$root/member$m"; fi
        file="$dir/task_$i.txt"; out="$root/member$m"
    fi
    if (( i % 50 == 0 )); then
        printf '{"text": ["bad:weight"], "out_file": ["x%s"], "iteration": [100]}\n' "$i" >"$file"
        continue
    fi
    printf '{"text": ["A painting of thing %s:1.5|surreal:0.25"], "style": ["", "Banksy"], "iterations": [300], "out_file": ["img%s"], "each": [2], "seed": [%s]}\n' \
        "$i" "$i" "$i" >"$file"
    if (( i % 10 == 0 )); then
        for n in 1 2 3; do
            : >"$out/img${i}_$n.png"
            printf "python generate.py -p 'A painting of thing %s:1.5|surreal:0.25' -i 300 -s 450 300 -o x.png\n# task: elsewhere.txt\n# task-sha256: 00\n# image: %s of 4\n" \
                "$i" "$n" >"$out/img${i}_$n.txt"
        done
    fi
    if (( i % 97 == 0 )); then cp "$file" "$file.done"; fi
done
echo "task files: $(find "$root" -name '*.txt' | wc -l) .txt files in all (tasks, sidecars, skipped files)"

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
