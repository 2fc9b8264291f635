#!/usr/bin/env bash
# The synthetic shared folder of the planning benchmarks (sourced by bench_plan.sh and
# bench_check.sh, not run on its own). bench_setup builds the release binary ($bin) and makes
# the folder ($root, removed on exit unless KEEP is set) with N task files (default 10,000).
#
# A quarter of the N tasks in tasks/ (some in subfolders), the rest spread over MEMBERS member
# folders as task_*.txt; every 10th task already has 3 images (png + sidecar) in its output
# folder, every 50th is invalid (every INVALID_EVERY-th: 1 makes them all invalid), plus
# sample/README/.done files.

make_bench_root() {
    local root=$1 N=$2 MEMBERS=$3 i m n dir file out
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
        if (( i % ${INVALID_EVERY:-50} == 0 )); then
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
}

bench_setup() {
    N=${N:-10000}
    MEMBERS=20
    cargo build --release --quiet
    bin=$PWD/target/release/runvqgan
    root=$(mktemp -d)
    if [[ -n "${KEEP:-}" ]]; then echo "keeping $root"; else trap 'rm -rf "$root"' EXIT; fi
    make_bench_root "$root" "$N" "$MEMBERS"
}
