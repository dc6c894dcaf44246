#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# systemd-machined's state files, /run/systemd/machines/NAME, written by berthd: their
# fields, libsystemd's sd_machine_get_class()/sd_machine_get_ifindices() reading them,
# nss-mymachines resolving a running `berth-spawn -n` machine by name (getent hosts), and
# removal on terminate and on the leader's death.
#
# All in a private mount namespace with a tmpfs on /run/systemd and a private
# nsswitch.conf: the host's /run/systemd/machines and /etc/nsswitch.conf are never touched.

if [ -z "${BERTH_COMPAT_NS:-}" ] && [ "$(id -u)" = 0 ]; then
    BERTH_COMPAT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi

source "$(dirname "$0")/lib.sh"
setup
[ -x "${BERTH_SPAWN:-}" ] || { echo "Bail out! berth-spawn not found at ${BERTH_SPAWN:-}"; exit 1; }
mount -t tmpfs -o mode=0755 tmpfs /run/systemd || { echo "Bail out! cannot mount a tmpfs on /run/systemd"; exit 1; }
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
"$TOOLS/make-busybox-tree.sh" "$TMP/tree" >/dev/null || { echo "Bail out! no busybox tree"; exit 1; }
CD=/run/systemd/machines

if start_berthd; then pass "berthd started"; else fail "berthd started"; finish; fi

# ---- the file of a registered machine
start_leader
UUID_BYTES="16 1 35 69 103 137 171 205 239 1 35 69 103 137 171 205 239"
mgr RegisterMachineWithNetwork sayssusai "$P-a" $UUID_BYTES "svc name" container "$LEADER" "$TMP/tree" 2 7 9 >/dev/null
F=$CD/$P-a
ok_if "RegisterMachine writes $F" test -f "$F"
expect_eq "NAME" "NAME=$P-a" "$(grep '^NAME=' "$F")"
expect_eq "CLASS" "CLASS=container" "$(grep '^CLASS=' "$F")"
expect_eq "LEADER" "LEADER=$LEADER" "$(grep '^LEADER=' "$F")"
expect_eq "NETIF" "NETIF=7 9" "$(grep '^NETIF=' "$F")"
expect_eq "SERVICE (quoted: it has a space)" 'SERVICE="svc name"' "$(grep '^SERVICE=' "$F")"
expect_eq "ROOT" "ROOT=$TMP/tree" "$(grep '^ROOT=' "$F")"
expect_eq "ID" "ID=0123456789abcdef0123456789abcdef" "$(grep '^ID=' "$F")"
expect_match "REALTIME (µs)" '^REALTIME=[0-9]{16}$' "$(grep '^REALTIME=' "$F")"
expect_match "MONOTONIC (µs)" '^MONOTONIC=[0-9]+$' "$(grep '^MONOTONIC=' "$F")"
ok_if "no temporary left in $CD" bash -c "! ls -A $CD | grep -q '^\.#'"

# libsystemd reads it
sdm() {
    python3 - "$1" <<'PY'
import ctypes, sys
l = ctypes.CDLL("libsystemd.so.0")
name = sys.argv[1].encode()
cls = ctypes.c_char_p()
r = l.sd_machine_get_class(name, ctypes.byref(cls))
print("class", r if r < 0 else cls.value.decode())
arr = ctypes.POINTER(ctypes.c_int)()
n = l.sd_machine_get_ifindices(name, ctypes.byref(arr))
print("ifindices", n if n < 0 else " ".join(str(arr[i]) for i in range(n)))
PY
}
if python3 -c 'import ctypes; ctypes.CDLL("libsystemd.so.0")' 2>/dev/null; then
    OUT=$(sdm "$P-a")
    expect_eq "sd_machine_get_class()" "class container" "$(grep '^class' <<<"$OUT")"
    expect_eq "sd_machine_get_ifindices()" "ifindices 7 9" "$(grep '^ifindices' <<<"$OUT")"
else
    skip "sd_machine_*()" "no python3 ctypes or libsystemd.so.0"
fi

mgr TerminateMachine s "$P-a" >/dev/null
wait_until 5 machine_gone "$P-a"
ok_if "TerminateMachine removes the file" test ! -e "$F"

start_leader
mgr RegisterMachine sayssus "$P-b" 0 "" container "$LEADER" "" >/dev/null
ok_if "a second machine's file" test -f "$CD/$P-b"
kill -KILL "$LEADER"
wait_until 5 machine_gone "$P-b"
ok_if "the leader's death removes it" test ! -e "$CD/$P-b"

# after a berthd SIGKILL and restart, a machine that lives on gets its file back
start_leader
mgr RegisterMachine sayssus "$P-c" 0 "" container "$LEADER" "" >/dev/null
stop_berthd KILL
rm -f "$CD/$P-c"
start_berthd
ok_if "berthd restarted: the restored machine's file is written again" test -f "$CD/$P-c"
kill -KILL "$LEADER"
wait_until 5 machine_gone "$P-c"

# ---- nss-mymachines: getent hosts NAME for a berth-spawn -n machine (in a network
# namespace of the test's own), with a private nsswitch.conf
NSS=$(ls /usr/lib/*/libnss_mymachines.so.2 /lib/*/libnss_mymachines.so.2 2>/dev/null | head -n1)
if [ -n "$NSS" ]; then
    printf 'passwd: files\ngroup: files\nshadow: files\nhosts: mymachines\n' >"$TMP/nsswitch.conf"
    mount --bind "$TMP/nsswitch.conf" /etc/nsswitch.conf
    cat >"$TMP/netns.sh" <<'SH'
spawn=$1 tree=$2 name=$3
"$spawn" -q -P -n --register=yes -D "$tree" -M "$name" /bin/sleep 8 </dev/null >/dev/null 2>&1 &
S=$!
for i in $(seq 1 100); do ip -o link show "ve-$name" >/dev/null 2>&1 && break; sleep 0.05; done
L=
for i in $(seq 1 100); do
    L=$(awk '{print $1}' /proc/$S/task/$S/children 2>/dev/null)
    [ -n "$L" ] && nsenter -t "$L" -n ip -o -4 addr show host0 2>/dev/null | grep -q inet && break
    sleep 0.05
done
echo "addr $(nsenter -t "$L" -n ip -o -4 addr show host0 | awk '{print $4}' | cut -d/ -f1)"
echo "addr6 $(nsenter -t "$L" -n ip -o -6 addr show host0 | awk '{print $4}' | cut -d/ -f1 | head -n1)"
echo "getent $(getent hosts "$name")"
echo "getent-ipv4 $(getent ahostsv4 "$name" | head -n1)"
echo "missing $(getent hosts "$name-nosuch"; echo "rc=$?")"
kill "$S"
wait
SH
    OUT=$(unshare --net bash "$TMP/netns.sh" "$BERTH_SPAWN" "$TMP/tree" "$P-net" 2>&1)
    A=$(sed -n 's/^addr //p' <<<"$OUT")
    ok_if "the machine has an address ($A)" grep -qE '^10\.' <<<"$A"
    A6=$(sed -n 's/^addr6 //p' <<<"$OUT")
    # getent hosts asks for IPv6 first: host0's link-local address, if it has one
    expect_match "getent hosts NAME (nss-mymachines) returns its address" \
        "^getent ($A|${A6:-none}) +$P-net\$" "$(grep '^getent ' <<<"$OUT")"
    expect_match "getent ahostsv4 NAME too" "^getent-ipv4 $A " "$(grep '^getent-ipv4 ' <<<"$OUT")"
    expect_eq "an unknown name is not found (exit status 2)" "missing rc=2" "$(grep '^missing ' <<<"$OUT")"
    umount /etc/nsswitch.conf
    wait_until 5 machine_gone "$P-net"
    ok_if "... its file is gone with it" test ! -e "$CD/$P-net"
else
    skip "nss-mymachines resolution" "libnss-mymachines is not installed"
fi

finish_extra() {
    umount /run/systemd 2>/dev/null || leaks+=" mount:/run/systemd"
}
finish
