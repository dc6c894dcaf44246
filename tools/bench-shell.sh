#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench-shell.sh — benchmark (not a test): the round trip of running /bin/true in a booted
# Debian guest (tools/make-debian-tree.sh, --ephemeral) three ways, alternating, in one run:
#   berthctl shell NAME /bin/true      berthd's OpenMachineShellWithStatus, exit status back
#   machinectl shell NAME /bin/true    the real machinectl against the same berthd
#   nsenter -a -t LEADER /bin/true     the floor: joining the namespaces, nothing else
# It starts a private dbus-daemon and berthd, boots the guest with berth-spawn registered
# there, waits for it to be running, and prints the median wall time of each and the
# ratios to nsenter.
#
# Environment: BERTHD, BERTHCTL, BERTH_SPAWN (defaults in build/), MACHINECTL,
# BENCH_RUNS (30), TMPDIR. Must run as root, holding /var/tmp/berth-itest.lock.

set -u
umask 022
export LC_ALL=C

# shellcheck source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_init bench-shell 30 3
: "${BERTHD:=$repo/build/src/machined/berthd}"
: "${BERTHCTL:=$repo/build/src/berthctl/berthctl}"
: "${MACHINECTL:=$(command -v machinectl)}"
DEST=org.freedesktop.machine1

[ -x "$BERTHD" ] || die "berthd not found at $BERTHD"
[ -x "$BERTHCTL" ] || die "berthctl not found at $BERTHCTL"
[ -x "$berth" ] || die "berth-spawn not found at $berth"
[ -n "$MACHINECTL" ] && [ -x "$MACHINECTL" ] || die "machinectl not found (apt-get install systemd-container)"
DEB=$("$here/make-debian-tree.sh" --print-path) || die "no Debian tree (tools/make-debian-tree.sh)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-shell.XXXXXX") || die "mktemp failed"
chmod 755 "$TMP"
DBUS_PID=
BERTHD_PID=
SPAWN_PID=
NAME=bsh$$

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    trap '' INT TERM
    if [ -n "$SPAWN_PID" ]; then
        kill -TERM "$SPAWN_PID" 2>/dev/null
        wait "$SPAWN_PID" 2>/dev/null
    fi
    private_bus_stop
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=private-bus.sh
source "$here/private-bus.sh"
private_bus_start "$TMP" "$repo/units/org.freedesktop.machine1.conf" || die "dbus-daemon did not start"
private_berthd_start "$TMP" "$BERTHD" || die "berthd did not come up"

"$berth" -q -b --ephemeral --register=yes -D "$DEB" -M "$NAME" --console=passive </dev/null >"$TMP/spawn.log" 2>&1 &
SPAWN_PID=$!
LEADER=
for _ in $(seq 300); do
    # the name has no characters that the object path would escape
    LEADER=$(busctl get-property "$DEST" "/org/freedesktop/machine1/machine/$NAME" \
             org.freedesktop.machine1.Machine Leader 2>/dev/null | awk '{ print $2 }')
    [ -n "$LEADER" ] && break
    sleep 0.1
done
[ -n "$LEADER" ] || die "the guest did not register: $(tail -3 "$TMP/spawn.log")"
# systemctl talks to the guest's manager on its private socket: wait for it first
for _ in $(seq 600); do
    [ -S "/proc/$LEADER/root/run/systemd/private" ] && break
    sleep 0.1
done
state=$(timeout 120 env -u DBUS_SYSTEM_BUS_ADDRESS nsenter -t "$LEADER" -m -u -i -p -r -w systemctl is-system-running --wait 2>&1)
echo "bench-shell: guest $NAME (leader $LEADER) is $state" >&2
[ "$state" = running ] || die "the guest is not running: $state"

cat >"$TMP/loop.sh" <<'LOOP'
set -u
mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system || exit 1
run() {
    local t0 t1
    t0=$EPOCHREALTIME
    "$@" </dev/null >"$TMP/out" 2>&1 || { echo "FAIL $*"; cat "$TMP/out"; exit 1; }
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) * 1000 }'
}
for ((r = 0; r < WARMUP + RUNS; r++)); do
    b=$(run "$BERTHCTL" -q shell "$NAME" /bin/true) || { echo "$b"; exit 1; }
    m=$(run "$MACHINECTL" -q shell "$NAME" /bin/true) || { echo "$m"; exit 1; }
    n=$(run nsenter -a -t "$LEADER" /bin/true) || { echo "$n"; exit 1; }
    [ "$r" -ge "$WARMUP" ] && echo "$b $m $n"
done
LOOP
export BERTHCTL MACHINECTL TMP NAME LEADER RUNS=$runs WARMUP=$warmup
unshare --mount --propagation private -- bash "$TMP/loop.sh" >"$TMP/times" || { cat "$TMP/times" >&2; die "a client failed"; }

median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
b=$(awk '{ print $1 }' "$TMP/times" | median)
m=$(awk '{ print $2 }' "$TMP/times" | median)
n=$(awk '{ print $3 }' "$TMP/times" | median)
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.1f", x / y }'; }

echo
echo "/bin/true in a booted Debian guest ($state), median of $runs runs each, alternating ($(nproc) CPUs)"
echo
echo "| command | ms | / nsenter | / machinectl |"
echo "|---|---|---|---|"
echo "| berthctl shell NAME /bin/true | $b | $(ratio "$b" "$n") | $(ratio "$b" "$m") |"
echo "| machinectl shell NAME /bin/true (against berthd) | $m | $(ratio "$m" "$n") | 1.0 |"
echo "| nsenter -a -t LEADER /bin/true | $n | 1.0 | $(ratio "$n" "$m") |"
