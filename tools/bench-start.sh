#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench-start.sh — benchmark (not a test): the cost of berthd's supervision. A Debian
# machine from the pool, booted to READY=1 (the guest's systemd is up), two ways:
#   direct:    berth-spawn with berth-spawn@.service's options, run by this script, timed
#              from exec until READY=1 arrives on a notification socket of ours;
#   berthctl:  `berthctl start NAME`, which returns when berthd got READY=1 from the
#              berth-spawn it started (io.berth.Supervisor1).
# Both register with the same private berthd; each run is powered off before the next,
# the two alternate. The table shows the medians and the ratio.
#
# Everything runs in a network namespace of its own (the veth links stay there) with a
# private dbus-daemon; the image is a copy of tools/make-debian-tree.sh's tree in a scratch
# pool. Environment: BERTHD, BERTHCTL, BERTH_SPAWN, BENCH_RUNS (7). Must run as root.

set -u
umask 022
export LC_ALL=C

# shellcheck source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_init bench-start 7 0
: "${BERTHD:=$repo/build/src/machined/berthd}"
: "${BERTHCTL:=$repo/build/src/berthctl/berthctl}"
DEST=org.freedesktop.machine1
[ -x "$BERTHD" ] || die "berthd not found at $BERTHD"
[ -x "$BERTHCTL" ] || die "berthctl not found at $BERTHCTL"
command -v python3 >/dev/null || die "python3 is needed"
DEB=$("$here/make-debian-tree.sh" --print-path) || die "no Debian tree (tools/make-debian-tree.sh)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-start.XXXXXX") || die "mktemp failed"
chmod 755 "$TMP"
DBUS_PID=
BERTHD_PID=
NAME=bs$$

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    trap '' INT TERM
    busctl call "$DEST" /org/freedesktop/machine1 io.berth.Supervisor1 StopMachine s "$NAME" >/dev/null 2>&1
    [ -n "$BERTHD_PID" ] && kill -TERM "$BERTHD_PID" 2>/dev/null && wait "$BERTHD_PID" 2>/dev/null
    [ -n "$DBUS_PID" ] && kill "$DBUS_PID" 2>/dev/null && wait "$DBUS_PID" 2>/dev/null
    umount "$TMP/netns" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=private-bus.sh
source "$here/private-bus.sh"
private_bus_start "$TMP" "$repo/units/org.freedesktop.machine1.conf" || die "dbus-daemon did not start"
touch "$TMP/netns"
unshare --net="$TMP/netns" true || die "cannot create a network namespace"
mkdir "$TMP/pool"
cp -a "$DEB" "$TMP/pool/$NAME"
nsenter --net="$TMP/netns" -- "$BERTHD" --state-dir="$TMP/state" --pool="$TMP/pool" --berth-spawn="$berth" \
    --enabled-dir="$TMP/enabled" --log-dir="$TMP/log" --bus-address="$DBUS_SYSTEM_BUS_ADDRESS" \
    >"$TMP/berthd.log" 2>&1 &
BERTHD_PID=$!
for _ in $(seq 200); do
    busctl status "$DEST" >/dev/null 2>&1 && break
    sleep 0.02
done
busctl status "$DEST" >/dev/null 2>&1 || die "berthd did not come up"

# direct: the unit's ExecStart=, timed to READY=1 on our own socket; then SIGTERM (poweroff)
cat >"$TMP/direct.py" <<'PY'
import os, signal, socket, subprocess, sys, time
path, argv = sys.argv[1], sys.argv[2:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
env = dict(os.environ, NOTIFY_SOCKET=path)
t0 = time.monotonic()
p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
s.settimeout(90)
while b"READY=1" not in s.recv(4096).split(b"\n"):
    pass
print("%.1f" % ((time.monotonic() - t0) * 1000))
sys.stdout.flush()
p.send_signal(signal.SIGTERM)
sys.exit(0 if p.wait(timeout=90) == 0 else 1)
PY
UNIT_OPTS=$(sed -n 's/^ExecStart=[^ ]* //p' "$repo/units/berth-spawn@.service.in" | sed "s/%i/$NAME/g")
direct() {
    rm -f "$TMP/notify"
    # shellcheck disable=SC2086  # the unit's options, split as systemd does
    nsenter --net="$TMP/netns" -- python3 "$TMP/direct.py" "$TMP/notify" \
        "$berth" $UNIT_OPTS --directory="$TMP/pool/$NAME"
}
supervised() {
    local t0 t1
    t0=$EPOCHREALTIME
    "$BERTHCTL" start "$NAME" || return 1
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
    busctl call "$DEST" /org/freedesktop/machine1 io.berth.Supervisor1 StopMachine s "$NAME" >/dev/null
}

median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "bench-start: $runs runs each, alternating..." >&2
: >"$TMP/direct"
: >"$TMP/supervised"
# one boot each first: page cache and the seccomp cache warm for both
direct >/dev/null || die "direct berth-spawn failed"
supervised >/dev/null || die "berthctl start failed"
for ((r = 0; r < runs; r++)); do
    direct >>"$TMP/direct" || die "direct berth-spawn failed"
    supervised >>"$TMP/supervised" || die "berthctl start failed"
done
d=$(median <"$TMP/direct")
s=$(median <"$TMP/supervised")
echo
echo "Boot of a Debian machine to READY=1, median of $runs runs ($(nproc) CPUs)"
echo
echo "| way | ms | min–max ms |"
echo "|---|---:|---:|"
echo "| berth-spawn run directly | $d | $(sort -n "$TMP/direct" | sed -n '1p;$p' | paste -sd- -) |"
echo "| \`berthctl start\` (berthd-supervised) | $s | $(sort -n "$TMP/supervised" | sed -n '1p;$p' | paste -sd- -) |"
echo
echo "berthctl start / direct: $(awk -v d="$d" -v s="$s" 'BEGIN { printf "%.3f", s / d }')"
