#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A file system that never answers must not hang berthd (issue #17, "not yet tried"):
#  - a machine whose payload mounts FUSE over its own /etc and never answers it (container
#    root can: mknod of /dev/fuse and mount are allowed, as in nspawn). GetMachineOSRelease
#    reads the machine's /etc from the host side; before, berthd blocked in it for good,
#    and with it every other call.
#  - an image in the pool that is the root of a FUSE mount that never answers (a stuck
#    sshfs or network mount looks the same): ListImages must still answer, and
#    GetImageOSRelease of that image fails with a timeout instead of hanging.
# Meanwhile other calls are answered at once, and no worker is left behind.

# a private mount namespace for the pool's mounts; they go away with the test
if [ -z "${BERTH_FUSE_NS:-}" ] && [ "$(id -u)" = 0 ]; then
    export BERTH_FUSE_NS=1
    exec unshare -m --propagation private "$BASH" "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
setup
[ -x "${BERTH_SPAWN:-}" ] || { echo "Bail out! berth-spawn not found at ${BERTH_SPAWN:-}"; exit 1; }
[ -x "${BERTH_PAYLOAD:-}" ] || { echo "Bail out! berth-payload not found at ${BERTH_PAYLOAD:-}"; exit 1; }
[ -c /dev/fuse ] && grep -qw fuse /proc/filesystems || skip_all "no FUSE in this kernel"
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
"$TOOLS/make-busybox-tree.sh" "$TMP/tree" >/dev/null || { echo "Bail out! no busybox tree"; exit 1; }
install -m 0755 "$BERTH_PAYLOAD" "$TMP/tree/usr/bin/berth-payload"
POOL=$TMP/pool
mkdir -p "$POOL/ok/etc" "$POOL/stuck"
printf 'ID=okos\nNAME="OK OS"\n' >"$POOL/ok/etc/os-release"
mkdir -p "$POOL/ok/usr"

SERVER=
finish_extra() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    umount "$POOL/stuck" 2>/dev/null
    grep -q " $POOL/stuck " /proc/self/mountinfo && leaks+=" mount:$POOL/stuck"
    [ -n "${SPAWN:-}" ] && ! dead "$SPAWN" && leaks+=" berth-spawn:$SPAWN"
    return 0
}
emergency_extra() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    [ -n "${SPAWN:-}" ] && kill -KILL "$SPAWN" 2>/dev/null
    umount -l "$POOL/stuck" 2>/dev/null
}

if start_berthd --pool="$POOL"; then pass "berthd started"; else fail "berthd started"; finish; fi

# workers of berthd that are still there (children of the daemon)
workers() { cat "/proc/$BERTHD_PID/task/$BERTHD_PID/children" 2>/dev/null | wc -w; }
# ms COMMAND...: run it, print how long it took in milliseconds
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }

# ---- a machine whose payload hangs its own /etc
NAME=$P-fuse
"$BERTH_SPAWN" -q -P --register=yes -D "$TMP/tree" -M "$NAME" \
    /usr/bin/berth-payload fuse-hang /etc </dev/null >"$TMP/spawn.out" 2>&1 &
SPAWN=$!
wait_until 10 grep -q "fuse mounted" "$TMP/spawn.out"
if ! grep -q "fuse mounted" "$TMP/spawn.out"; then
    fail "the payload mounts FUSE over its /etc" "$(cat "$TMP/spawn.out")"
    kill "$SPAWN"; wait "$SPAWN"; finish
fi
pass "the payload mounts FUSE over its /etc"
wait_until 5 mgr GetMachine s "$NAME"

# the hostile call in the background; berthd must keep answering meanwhile
( t0=$(date +%s%N)
  mgr GetMachineOSRelease s "$NAME" >"$TMP/osr.out" 2>&1
  echo "rc=$? ms=$(( ($(date +%s%N) - t0) / 1000000 ))" >>"$TMP/osr.out" ) &
OSR=$!
sleep 0.5
expect_eq "a worker reads the machine's os-release" 1 "$(workers)"
T=$(ms mgr ListMachines)
ok_if "ListMachines is answered while the read hangs (${T} ms)" test "$T" -lt 1000
T=$(ms mgr GetMachine s "$NAME")
ok_if "GetMachine is answered while the read hangs (${T} ms)" test "$T" -lt 1000
wait "$OSR"
expect_match "GetMachineOSRelease fails with a timeout" "org.freedesktop.DBus.Error.Timeout|timed out" "$(cat "$TMP/osr.out")"
MS=$(sed -n 's/.*ms=//p' "$TMP/osr.out")
ok_if "... after the 10 s limit, not much later (${MS} ms)" test "$MS" -ge 9000 -a "$MS" -lt 13000
wait_until 3 test "$(workers)" = 0
expect_eq "the stuck worker was killed and reaped" 0 "$(workers)"
# the host's own os-release is still read directly
ok_if "GetMachineOSRelease of .host still works" mgr GetMachineOSRelease s .host

kill "$SPAWN"
wait "$SPAWN" 2>/dev/null
wait_until 5 machine_gone "$NAME"
ok_if "the machine is gone" machine_gone "$NAME"

# ---- a machine's os-release is read by a worker once, then kept for 30 s (a `list` of
# many machines asks for every one's): a change inside shows only after that
OSNAME=$P-os
cp -a "$TMP/tree" "$TMP/tree2"
printf 'ID=first\n' >"$TMP/tree2/etc/os-release"
"$BERTH_SPAWN" -q -P --register=yes -D "$TMP/tree2" -M "$OSNAME" /bin/sleep 30 </dev/null >/dev/null 2>&1 &
OSSPAWN=$!
wait_until 5 mgr GetMachine s "$OSNAME"
expect_match "GetMachineOSRelease reads the machine's os-release" '"ID" "first"' "$(mgr GetMachineOSRelease s "$OSNAME" 2>&1)"
printf 'ID=second\n' >"$TMP/tree2/etc/os-release"
expect_match "... and keeps it: a change within 30 s does not show yet" '"ID" "first"' "$(mgr GetMachineOSRelease s "$OSNAME" 2>&1)"
kill "$OSSPAWN"; wait "$OSSPAWN" 2>/dev/null
wait_until 5 machine_gone "$OSNAME"

# ---- an image on a FUSE mount that never answers
python3 "$(dirname "$0")/hang-fuse.py" "$POOL/stuck" "$TMP/fuse.ready" &
SERVER=$!
wait_until 5 test -s "$TMP/fuse.ready"
ok_if "the pool has a FUSE mount that never answers" grep -q " $POOL/stuck .* - fuse " /proc/self/mountinfo
T=$(ms timeout -k 1 5 busctl call -- "$DEST" "$MGR_PATH" "$MGR" ListImages)
OUT=$(timeout -k 1 5 busctl call -- "$DEST" "$MGR_PATH" "$MGR" ListImages 2>&1)
expect_match "ListImages answers (${T} ms) and lists the good image" '"ok"' "$OUT"
expect_match "... and the stuck one, as a directory" '"stuck" "directory"' "$OUT"
ok_if "... quickly" test "$T" -lt 2000
( mgr GetImageOSRelease s stuck >"$TMP/iosr.out" 2>&1; echo "rc=$?" >>"$TMP/iosr.out" ) &
OSR=$!
sleep 0.3
T=$(ms mgr GetImageOSRelease s ok)
OUT=$(mgr GetImageOSRelease s ok 2>&1)
expect_match "GetImageOSRelease of the good image meanwhile" '"ID" "okos"' "$OUT"
ok_if "... answered at once (${T} ms)" test "$T" -lt 1000
wait "$OSR"
expect_match "GetImageOSRelease of the stuck image fails with a timeout" "Timeout|timed out" "$(cat "$TMP/iosr.out")"
# The killed worker's FUSE request was read by the server and never answered: the kernel
# keeps it asleep (SIGKILL or not) until the server answers or goes away. It keeps a slot.
diag "workers stuck in the FUSE server: $(workers)"
T=$(ms mgr ListMachines)
ok_if "berthd still answers (${T} ms)" test "$T" -lt 1000
kill "$SERVER"; wait "$SERVER" 2>/dev/null; SERVER=
wait_until 5 test "$(workers)" = 0
expect_eq "once the server is gone, the worker is reaped" 0 "$(workers)"

finish
