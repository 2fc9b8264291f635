#!/usr/bin/env bash
# Checks the systemd units and the logrotate snippet of contrib/ as a machine would read them:
# `systemd-analyze verify` on copies whose programs are replaced by /bin/true (the units
# name /opt/runvqgan/..., which is not installed here), and `logrotate --debug` (when
# logrotate is installed) with the owner's user and group replaced by this one's. Any
# warning is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v systemd-analyze >/dev/null; then
    echo "check-units: systemd-analyze not found (Debian: apt-get install systemd)" >&2
    exit 1
fi
cp contrib/*.service contrib/*.timer "$tmp/"
# ExecStart=/opt/runvqgan/target/release/runvqgan ARGS -> ExecStart=/bin/true ARGS
sed -i -E 's#^(Exec[A-Za-z]*=[-@:+!]*)/[^ ]*#\1/bin/true#' "$tmp"/*.service
status=0
out=$(cd "$tmp" && systemd-analyze verify --man=no ./*.service ./*.timer 2>&1) || status=$?
if [[ $status != 0 || -n $out ]]; then
    echo "check-units: systemd-analyze verify of contrib/ (exit $status):" >&2
    echo "$out" >&2
    exit 1
fi
echo "check-units: contrib/*.service and contrib/*.timer verified"

if command -v logrotate >/dev/null; then
    # The two log folders as the snippet expects them: the owner's (0750) and the shared
    # folder (group-writable), each with a log to rotate.
    mkdir -p "$tmp/var-log" "$tmp/srv"
    chmod 0750 "$tmp/var-log"
    chmod 0775 "$tmp/srv"
    echo line >"$tmp/var-log/cron.log"
    echo line >"$tmp/srv/runvqgan.log"
    me=$(id -un)
    group=$(id -gn)
    sed -E -e "s#/var/log/runvqgan/#$tmp/var-log/#; s#/srv/vqgan/#$tmp/srv/#" \
        -e "s/^([[:space:]]*(su|create [0-7]+)) vqgan (vqgan|lab)$/\1 $me $group/" \
        contrib/runvqgan.logrotate >"$tmp/runvqgan"
    status=0
    out=$(logrotate --debug --force --state "$tmp/state" "$tmp/runvqgan" 2>&1) || status=$?
    # --debug always warns that it only prints; any other error or warning fails.
    problems=$(grep -iE '^(error|warning)' <<<"$out" | grep -v 'in debug mode does nothing' || true)
    rotations=$(grep -c '^rotating log ' <<<"$out" || true)
    if [[ $status != 0 || -n $problems || $rotations != 2 ]]; then
        echo "check-units: logrotate --debug contrib/runvqgan.logrotate (exit $status," \
            "$rotations of 2 logs rotated):" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "check-units: contrib/runvqgan.logrotate read by logrotate (both logs rotated)"
else
    echo "check-units: logrotate not installed: contrib/runvqgan.logrotate not checked"
fi
