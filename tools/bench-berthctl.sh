#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench-berthctl.sh — benchmark (not a test): `berthctl list` against `machinectl list`
# on the same berthd with N registered machines (default 1000).
#
# It starts a private dbus-daemon (tools/private-bus.sh) and a private berthd with its
# state in a scratch directory, starts N `sleep` leaders and registers one machine per
# leader. Both clients then run BENCH_RUNS times each, alternating, with output to a
# file, inside one private mount namespace in which /run/systemd/system exists
# (machinectl refuses to run without it). The table shows the median wall time of each
# and the ratio; both must report the same N machines.
#
# Environment: BERTHD, BERTHCTL (defaults in build/), MACHINECTL (default machinectl),
# BENCH_MACHINES (1000), BENCH_RUNS (7), TMPDIR. Must run as root.

set -u
umask 022
export LC_ALL=C

# shellcheck source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_init bench-berthctl 7 0
: "${BERTHD:=$repo/build/src/machined/berthd}"
: "${BERTHCTL:=$repo/build/src/berthctl/berthctl}"
: "${MACHINECTL:=$(command -v machinectl)}"
: "${BENCH_MACHINES:=1000}"
DEST=org.freedesktop.machine1

case $BENCH_MACHINES in ''|*[!0-9]*|0) die "BENCH_MACHINES must be a positive integer" ;; esac
[ -x "$BERTHD" ] || die "berthd not found at $BERTHD"
[ -x "$BERTHCTL" ] || die "berthctl not found at $BERTHCTL"
[ -n "$MACHINECTL" ] && [ -x "$MACHINECTL" ] || die "machinectl not found (apt-get install systemd-container)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-berthctl.XXXXXX") || die "mktemp failed"
chmod 755 "$TMP"
LEADERS=()
DBUS_PID=
BERTHD_PID=

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local p
    trap '' INT TERM
    for p in "${LEADERS[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    private_bus_stop
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=private-bus.sh
source "$here/private-bus.sh"
private_bus_start "$TMP" "$repo/units/org.freedesktop.machine1.conf" || die "dbus-daemon did not start"
mkdir "$TMP/pool"
private_berthd_start "$TMP" "$BERTHD" --pool="$TMP/pool" || die "berthd did not come up"

echo "bench-berthctl: registering $BENCH_MACHINES machines..." >&2
for ((i = 0; i < BENCH_MACHINES; i++)); do
    sleep 1000 &
    LEADERS+=("$!")
    disown "$!"
done
# one busctl for all registrations would need one long argument list; a loop is plain
for ((i = 0; i < BENCH_MACHINES; i++)); do
    busctl call "$DEST" /org/freedesktop/machine1 org.freedesktop.machine1.Manager RegisterMachine \
        sayssus "bc$$-$i" 0 berth-bench container "${LEADERS[$i]}" / >/dev/null || die "RegisterMachine $i failed"
done

# The timing loop, in a mount namespace where machinectl finds /run/systemd/system.
cat >"$TMP/loop.sh" <<'LOOP'
set -u
mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system || exit 1
for ((r = 0; r < RUNS; r++)); do
    for tool in "$BERTHCTL" "$MACHINECTL"; do
        for args in "list" "list --max-addresses=0"; do
            t0=$EPOCHREALTIME
            # shellcheck disable=SC2086
            "$tool" --no-pager $args >"$TMP/out" 2>&1 || { echo "FAIL $tool $args"; cat "$TMP/out"; exit 1; }
            t1=$EPOCHREALTIME
            echo "$(basename "$tool")|$args|$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')|$(tail -1 "$TMP/out")"
        done
    done
done
LOOP
RUNS=$runs
export BERTHCTL MACHINECTL RUNS TMP
unshare --mount --propagation private -- bash "$TMP/loop.sh" >"$TMP/times" || { cat "$TMP/times" >&2; die "a client failed"; }

median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

want="$BENCH_MACHINES machines listed."
bad=$(awk -F'|' -v w="$want" '$4 != w' "$TMP/times" | head -3)
[ -z "$bad" ] || die "a client did not list $BENCH_MACHINES machines: $bad"

echo
echo "berthctl vs machinectl against berthd, $BENCH_MACHINES machines, median of $runs runs ($(nproc) CPUs)"
echo
echo "| command | berthctl ms | machinectl ms | machinectl / berthctl |"
echo "|---|---|---|---|"
for args in "list" "list --max-addresses=0"; do
    b=$(awk -F'|' -v a="$args" '$1 == "berthctl" && $2 == a { print $3 }' "$TMP/times" | median)
    m=$(awk -F'|' -v a="$args" '$1 == "machinectl" && $2 == a { print $3 }' "$TMP/times" | median)
    echo "| $args | $b | $m | $(awk -v b="$b" -v m="$m" 'BEGIN { printf "%.1f", m / b }') |"
done
echo
echo "Both printed \"$want\" on every run. Wall time of the whole client run, output to a file."
