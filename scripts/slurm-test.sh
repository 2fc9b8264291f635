#!/usr/bin/env bash
# The night on a real Slurm, on this one machine: installs Debian's slurm-wlm and munge
# (apt-get; needs root), starts a one-machine cluster (munged, slurmctld, slurmd with CPU
# slots), and over a tiny-model shared folder (models/tiny, from scripts/setup.sh
# --env-only):
#   1. submits the array that `runvqgan slurm-script --cpu` prints and checks the end
#      state: every image exactly once (numbers 1..N, no gaps), every task .done, no
#      pending marker, claim, lease or temporary file left;
#   2. submits a one-element array over new, longer tasks, cancels that element (scancel)
#      in the middle of an image (it must end interrupted, leaving images to make), submits
#      the whole array again, and checks the same end state;
#   3. suspends an element mid-image (scontrol suspend: SIGSTOP, as suspend preemption does):
#      `status` must show it running, not as a run that did not finish; resumes it (SIGCONT)
#      and checks the end state (submitting again if the element left work);
#   4. requeues an element mid-image (scontrol requeue): it must start again with the same
#      job id, append to its output file (--open-mode=append) and finish the queue, every
#      image exactly once.
# The root uses claims = "lease" so that the elements claim through leases (on a local
# disk `auto` would choose flock). scripts/test.sh runs it in CI (root, CI=true: a
# few minutes); elsewhere run it by hand (it installs system packages and starts
# daemons), before changing claims or the Slurm script:
#   sudo scripts/slurm-test.sh [ELEMENTS]      (default 2 elements at once)
# Set KEEP=1 to keep the cluster's folder (printed at the end) for inspection; BENCH="1 2 4"
# measures images per hour with 1, 2 and 4 elements instead (see below).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
elements=${1:-2}
started=$(date +%s)

say() { echo "== $*"; }
fail() { echo "slurm-test: FAILED: $*" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends slurm-wlm munge ||
        { apt-get update && apt-get install -y --no-install-recommends slurm-wlm munge; }
fi
[ -f models/tiny/clip.pt ] || scripts/setup.sh --env-only
say "building runvqgan"
cargo build --quiet
bin=${RUNVQGAN_BIN:-$repo/target/debug/runvqgan}

work=$(mktemp -d /tmp/runvqgan-slurm.XXXXXX)
chmod 755 "$work" # munged runs as the munge user
pids=()
cleanup() {
    scancel --quiet --user root 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 2
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

say "starting munge"
mkdir -p "$work/munge"
if [ ! -f /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
fi
chown munge:munge "$work/munge"
runuser -u munge -- munged --foreground --socket="$work/munge/munge.socket" \
    --pid-file="$work/munge/munged.pid" --seed-file="$work/munge/seed" \
    --log-file="$work/munge/munged.log" &
pids+=($!)

host=$(hostname -s)
cpus=2
for n in $elements ${BENCH:-}; do [ "$n" -gt "$cpus" ] && cpus=$n; done
mkdir -p "$work/state" "$work/spool"
cat > "$work/slurm.conf" <<CONF
ClusterName=runvqgan-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
KillWait=10
NodeName=$host CPUs=$cpus RealMemory=4000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$work/slurm.conf

say "starting slurmctld and slurmd ($cpus CPU slots)"
slurmctld -D -i -f "$SLURM_CONF" &
pids+=($!)
slurmd -D -f "$SLURM_CONF" &
pids+=($!)
for _ in $(seq 60); do
    sinfo --noheader --states=idle --format=%n 2>/dev/null | grep -q . && break
    sleep 1
done
sinfo --noheader --states=idle --format=%n | grep -q . ||
    { tail -20 "$work/slurmctld.log" "$work/slurmd.log"; fail "the node did not come up"; }

root=$work/root
mkdir -p "$root/tasks" "$root/output"
cat > "$root/runvqgan.toml" <<TOML
claims = "lease"
lease_seconds = 5

[models.default]
vqgan_config = "$repo/models/tiny/vqgan.yaml"
vqgan_checkpoint = "$repo/models/tiny/vqgan.ckpt"
clip_model = "$repo/models/tiny/clip.pt"
TOML
task() { # name each iterations
    printf '{"text": "a %s", "each": %s, "iterations": %s, "resolution": [32, 32], "raw": "-cuts 4", "out_file": "%s"}\n' \
        "$1" "$2" "$3" "$1" > "$root/tasks/$1.txt"
}

# Submits the array (of $elements elements, or of $1) and prints the array job's id.
submit() {
    local n=${1:-$elements}
    # --mem 1G: the node has 4000 MB; a tiny-model element needs about 1 GB.
    "$bin" slurm-script --root "$root" --gpus "$n" --elements "$n" --cpu \
        --cpus-per-element 1 --time 20:00 --mem 1G > "$work/night.sbatch"
    sbatch --parsable --chdir="$work" "$work/night.sbatch"
}
# Every run's record of events (one file per run, in the order the runs started).
events() { cat "$root"/.runvqgan/events/*.jsonl 2>/dev/null || true; }
# Waits until a run after the first $1 lines of events writes an image.
wait_image_after() {
    for _ in $(seq 1200); do
        events | tail -n +"$(($1 + 1))" | grep -q '"event":"image_written"' && return 0
        sleep 0.5
    done
    fail "no image was written"
}
wait_job() {
    for _ in $(seq 1200); do
        squeue --noheader --jobs "$1" 2>/dev/null | grep -q . || return 0
        sleep 0.5
    done
    fail "job $1 did not end"
}

# Every task done, every image exactly once with numbers 1..each, nothing hidden left.
check_end_state() {
    local name each n
    for done in "$root"/tasks/*.txt.done; do
        name=$(basename "$done" .txt.done)
        each=$(sed -E 's/.*"each": ([0-9]+).*/\1/' "$done")
        n=$(find "$root/output" -maxdepth 1 -name "${name}_*.png" | wc -l)
        [ "$n" = "$each" ] || fail "$name has $n image(s), not $each"
        for i in $(seq "$each"); do
            [ -f "$root/output/${name}_$i.png" ] || fail "$name: image $i is missing (a gap)"
            [ -f "$root/output/${name}_$i.txt" ] || fail "$name: sidecar $i is missing"
        done
    done
    if ls "$root"/tasks/*.txt >/dev/null 2>&1; then
        ls -la "$root/tasks"; fail "a task was not marked done"
    fi
    # Claims and leases live in the owner's state folder (.runvqgan/claims, .runvqgan/leases).
    left=$(find "$root" -name '*.runvqgan-pending' -o -name '*.claim' -o -name '*.lease' \
        -o -name '*.tmp' -o -name '*takeover*' -o -name '*_ERROR.txt')
    [ -z "$left" ] || fail "left behind: $left"
}

# BENCH="1 2 4": instead of the test, measure images per hour of the tiny-model folder
# with each number of elements (8 single-image tasks of 3 iterations each; a benchmark:
# on a loaded machine the figures vary).
if [ -n "${BENCH:-}" ]; then
    for n in $BENCH; do
        rm -rf "$root/tasks" "$root/output" "$root/.runvqgan" "$root/runvqgan.log"
        mkdir -p "$root/tasks" "$root/output"
        for i in 1 2 3 4 5 6 7 8; do task "bench$i" 1 3; done
        elements=$n
        t0=$(date +%s.%N)
        job=$(submit)
        wait_job "$job"
        t1=$(date +%s.%N)
        check_end_state
        awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "bench: %s element(s): 8 images in %.0f s = %.0f images per hour\n", n, b - a, 8 * 3600 / (b - a) }'
    done
    exit 0
fi

say "1. an array of $elements elements over 4 tasks"
for t in alpha beta gamma delta; do task "$t" 2 3; done
t0=$(date +%s)
job=$(submit)
wait_job "$job"
t1=$(date +%s)
check_end_state
events | grep -h '"event":"run_started"' |
    grep -q '"slurm_array_task_id":"0"' || fail "run_started does not name the array element"
grep -q 'claims: lease' "$root/runvqgan.log" || fail "the log does not say which claims are used"
grep -q ", Slurm array job $job, element 1" "$root/runvqgan.log" ||
    fail "the log does not name the array element"
"$bin" status --root "$root" > "$work/status.txt"
grep -q "^  it was an element of Slurm array job $job:" "$work/status.txt" ||
    { cat "$work/status.txt"; fail "status does not list the array's elements"; }
[ "$(grep -c '^    element ' "$work/status.txt")" = "$elements" ] ||
    { cat "$work/status.txt"; fail "status does not list every element"; }
grep -q '^Claims: lease' "$work/status.txt" || fail "status does not say which claims are used"
# Every element built the gallery at its end, one after another under the gallery's lock.
[ "$(events | grep -c '"event":"gallery_built"')" = "$elements" ] ||
    fail "not every element built the gallery"
grep -q '"images":8' <(events | sort | grep '"event":"gallery_built"' | tail -1) ||
    fail "the last gallery build does not show the 8 images"
[ ! -e "$root/.runvqgan/gallery.lease" ] || fail "the gallery's lease was left behind"
images=$(events | grep -c '"event":"image_written"')
echo "   8 images by $elements element(s) in $((t1 - t0)) s (submission to end)"

say "2. scancel an element mid-image, then submit again"
# One element over long tasks, so that nothing else can take its work: the cancel must land
# in the middle of an image, and the next submission must finish the tasks.
for t in long1 long2; do task "$t" 2 400; done
before=$(events | wc -l)
job=$(submit 1)
# Wait until images are being made (the first image of this submission is written).
wait_image_after "$before"
scancel "${job}_0"
echo "   cancelled element ${job}_0"
wait_job "$job"
grep -q '"outcome":"interrupted"' <(events | tail -n +"$((before + 1))") ||
    fail "the cancelled element was not interrupted mid-image (its work was done first: make the long tasks longer)"
[ -n "$(ls "$root"/tasks/long*.txt 2>/dev/null)" ] || fail "no task was left by the cancelled element"
made=$(find "$root/output" -name 'long*.png' | wc -l)
[ "$made" -lt 4 ] || fail "the cancelled element made every image"
echo "   the cancelled element left $((4 - made)) of 4 images for the next submission"
job=$(submit)
wait_job "$job"
check_end_state
echo "   every task done, every image once, after the cancel and a second submission"
[ "$images" -gt 0 ] || fail "no image events"

# Submits the array again until no task is left (a run that lost its lease while frozen
# leaves its task to the next run), at most three times.
finish_queue() {
    for _ in 1 2 3; do
        ls "$root"/tasks/*.txt >/dev/null 2>&1 || return 0
        wait_job "$(submit)"
    done
}

say "3. scontrol suspend an element mid-image (SIGSTOP), status, then resume"
for t in frozen1 frozen2; do task "$t" 2 300; done
before=$(events | wc -l)
job=$(submit 1)
wait_image_after "$before"
scontrol suspend "${job}_0"
squeue --noheader --jobs "$job" --format %T | grep -q SUSPENDED || fail "the element was not suspended"
sleep 3
"$bin" status --root "$root" > "$work/status-suspended.txt"
grep -q '^Running now: run .*Slurm array job' "$work/status-suspended.txt" ||
    { cat "$work/status-suspended.txt"; fail "status does not show the suspended element as running"; }
grep -q 'did not finish' "$work/status-suspended.txt" &&
    { cat "$work/status-suspended.txt"; fail "status takes the suspended element for dead"; }
scontrol resume "${job}_0"
echo "   suspended element ${job}_0 for 3 s: status showed it running; resumed"
wait_job "$job"
finish_queue
check_end_state
ls "$root"/.runvqgan/live/*.json >/dev/null 2>&1 && fail "a live file was left behind"
grep -l '"outcome": "did_not_finish"' "$root"/.runvqgan/runs/*.json >/dev/null 2>&1 &&
    fail "a run that finished is recorded as one that did not"
echo "   every task done, every image once, after the suspend"

say "4. scontrol requeue an element mid-image"
for t in again1 again2; do task "$t" 2 300; done
before=$(events | wc -l)
job=$(submit 1)
wait_image_after "$before"
scontrol requeue "${job}_0"
echo "   requeued element ${job}_0"
# The element starts again under the same job id (after Slurm's delay for requeued jobs).
for _ in $(seq 1200); do
    [ "$(events | tail -n +"$((before + 1))" | grep -c '"event":"run_started"')" -ge 2 ] && break
    sleep 0.5
done
[ "$(events | tail -n +"$((before + 1))" | grep -c '"event":"run_started"')" -ge 2 ] ||
    fail "the requeued element did not start again"
wait_job "$job"
out=$(ls "$root"/.runvqgan/slurm-"${job}"_0.out)
[ "$(grep -c 'claims: lease' "$out")" -ge 2 ] ||
    { cat "$out"; fail "the output file does not hold both starts (--open-mode=append)"; }
finish_queue
check_end_state
echo "   the requeued element started again, appended to its output, and the queue finished"
echo "slurm-test: passed in $(( $(date +%s) - started )) s"
