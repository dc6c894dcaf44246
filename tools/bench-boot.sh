#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark, not a test: boot the cached Debian tree (tools/make-debian-tree.sh) to
# "systemctl is-system-running" = running, then power it off; wall time from start to
# exit, median of BENCH_RUNS (default 7) for berth-spawn and systemd-nspawn in one run.
# Both run with --volatile=overlay so the cached tree is never modified.
set -u

cd "$(dirname "$0")/.."
SPAWN=${BERTH_SPAWN:-build/src/spawn/berth-spawn}
RUNS=${BENCH_RUNS:-7}
DEB=$(tools/make-debian-tree.sh --print-path) || exit 1

now() { date +%s%N; }

# one_boot CMD...: prints milliseconds from start to exit, or FAIL
one_boot() {
    local t0 pid leader i state
    t0=$(now)
    "$@" </dev/null >/dev/null 2>&1 &
    pid=$!
    leader=
    for i in $(seq 1 400); do
        leader=$(awk '{print $1}' /proc/$pid/task/$pid/children 2>/dev/null)
        [ -n "$leader" ] && [ -S /proc/"$leader"/root/run/systemd/private ] && break
        sleep 0.005
    done
    state=$(timeout 60 nsenter -t "$leader" -m -u -i -p -C -r -w systemctl is-system-running --wait 2>/dev/null)
    timeout 60 nsenter -t "$leader" -m -u -i -p -C -r -w systemctl poweroff >/dev/null 2>&1
    wait "$pid"
    local rc=$?
    if [ "$state" != running ] || [ "$rc" != 0 ]; then
        echo FAIL
        return
    fi
    echo $(( ($(now) - t0) / 1000000 ))
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "n/a")}'; }

# The two tools alternate run by run, so that drift in the machine's state (page cache,
# other load) does not favour either.
: >"/tmp/bench-boot.$$.b"
: >"/tmp/bench-boot.$$.n"
HAVE_NSPAWN=$(command -v systemd-nspawn || true)
for i in $(seq 1 "$RUNS"); do
    v=$(one_boot "$SPAWN" -q -D "$DEB" -b -M bench-boot --volatile=overlay --console=passive)
    if [ "$v" = FAIL ]; then echo "berth-spawn: run $i failed" >&2; else echo "$v" >>"/tmp/bench-boot.$$.b"; fi
    [ -n "$HAVE_NSPAWN" ] || continue
    v=$(one_boot systemd-nspawn -q --register=no --keep-unit -D "$DEB" -b -M bench-boot --volatile=overlay --console=passive)
    if [ "$v" = FAIL ]; then echo "systemd-nspawn: run $i failed" >&2; else echo "$v" >>"/tmp/bench-boot.$$.n"; fi
done
b=$(median <"/tmp/bench-boot.$$.b")
n=$( [ -n "$HAVE_NSPAWN" ] && median <"/tmp/bench-boot.$$.n" || echo n/a)
rm -f "/tmp/bench-boot.$$.b" "/tmp/bench-boot.$$.n"

echo
echo "### Boot to 'running' + poweroff: Debian 12 minbase + systemd, --volatile=overlay"
echo
echo "median of $RUNS runs; $(uname -r), $(nproc) CPUs."
echo
echo "| tool | median ms | berth-spawn ratio (berth/peer) |"
echo "|---|---:|---:|"
echo "| berth-spawn | $b | 1.00 |"
if [ "$n" != n/a ] && [ "$b" != n/a ]; then
    echo "| systemd-nspawn | $n | $(awk -v a="$b" -v b="$n" 'BEGIN { printf "%.2f", a / b }') |"
else
    echo "| systemd-nspawn | $n | — |"
fi
