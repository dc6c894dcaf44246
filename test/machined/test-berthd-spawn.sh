#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berth-spawn --register= against berthd on a private bus: the machine appears with the
# right properties while it runs (before its payload starts) and disappears after; --register=yes
# without a registry fails clearly, auto runs without one.

source "$(dirname "$0")/lib.sh"
setup
[ -x "${BERTH_SPAWN:-}" ] || { echo "Bail out! berth-spawn not found at ${BERTH_SPAWN:-}"; exit 1; }
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
"$TOOLS/make-busybox-tree.sh" "$TMP/tree" >/dev/null || { echo "Bail out! no busybox tree"; exit 1; }

if start_berthd; then pass "berthd started"; else fail "berthd started"; finish; fi

NAME=$P-spawn
UUID=0123456789abcdef0123456789abcdef
timeout 20 "$BERTH_SPAWN" -q -P --register=yes -D "$TMP/tree" -M "$NAME" --uuid=$UUID \
    /bin/sh -c 'cat /proc/self/cgroup >/dev/null; sleep 3' </dev/null >"$TMP/spawn.out" 2>&1 &
SPAWN=$!
wait_until 5 bash -c "busctl call $DEST $MGR_PATH $MGR GetMachine s $NAME >/dev/null 2>&1"
ok_if "--register=yes: the machine is registered while it runs" mgr GetMachine s "$NAME"
expect_eq "Class" 's "container"' "$(mprop "$NAME" Class)"
expect_eq "Service" 's "berth"' "$(mprop "$NAME" Service)"
expect_eq "RootDirectory" "s \"$TMP/tree\"" "$(mprop "$NAME" RootDirectory)"
SPAWN_PID=$(awk '{print $1}' /proc/$SPAWN/task/$SPAWN/children 2>/dev/null)   # under timeout
LEADER_PID=$(awk '{print $1}' /proc/$SPAWN_PID/task/$SPAWN_PID/children 2>/dev/null)
expect_eq "Leader is the machine's PID 1" "u $LEADER_PID" "$(mprop "$NAME" Leader)"
expect_eq "Id is the --uuid" "ay 16 1 35 69 103 137 171 205 239 1 35 69 103 137 171 205 239" "$(mprop "$NAME" Id)"
# machinectl wants /run/systemd/system: give it one in a private mount namespace
mctl() {
    unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system &&
                                           exec machinectl --no-pager "$@"' mctl "$@"
}
if command -v machinectl >/dev/null; then
    ok_if "the real machinectl list shows it" bash -c "$(declare -f mctl); mctl list --no-legend | grep -q '^$NAME '"
fi
wait "$SPAWN"
expect_eq "the machine exits normally" 0 "$?"
wait_until 2 machine_gone "$NAME"
ok_if "after the machine ended it is unregistered" machine_gone "$NAME"

# with a network link, its host-side ifindex is registered, and the machine's addresses
# are read from its network namespace (all in a network namespace of the test's own: the
# link never appears in the machine's real network)
{
    declare -f mctl
    cat <<'EOF'
spawn=$1 tree=$2 name=$3
"$spawn" -q -P -n --register=yes -D "$tree" -M "$name" /bin/sleep 4 </dev/null >/dev/null 2>&1 &
S=$!
for i in $(seq 1 100); do ip -o link show "ve-$name" >/dev/null 2>&1 && break; sleep 0.05; done
sleep 0.3
L=$(awk '{print $1}' /proc/$S/task/$S/children)
echo "link $(ip -o link show "ve-$name" | cut -d: -f1)"
path=$(busctl call org.freedesktop.machine1 /org/freedesktop/machine1 org.freedesktop.machine1.Manager \
       GetMachine s "$name" | cut -d'"' -f2)
busctl get-property org.freedesktop.machine1 "$path" org.freedesktop.machine1.Machine NetworkInterfaces
echo "addr $(nsenter -t "$L" -n ip -o -4 addr show host0 | awk '{print $4}' | cut -d/ -f1)"
echo "GetMachineAddresses $(busctl call org.freedesktop.machine1 /org/freedesktop/machine1 \
    org.freedesktop.machine1.Manager GetMachineAddresses s "$name")"
echo "GetAddresses $(busctl call org.freedesktop.machine1 "$path" org.freedesktop.machine1.Machine GetAddresses)"
command -v machinectl >/dev/null && mctl status "$name" 2>&1 | sed 's/^/machinectl: /'
wait
EOF
} >"$TMP/netns.sh"
NETNS_OUT=$(unshare --net bash "$TMP/netns.sh" "$BERTH_SPAWN" "$TMP/tree" "$P-net" 2>&1)
IFX=$(sed -n 's/^link //p' <<<"$NETNS_OUT")
expect_eq "-n: NetworkInterfaces holds the host end's ifindex" "ai 1 $IFX" "$(grep '^ai' <<<"$NETNS_OUT")"
A=$(sed -n 's/^addr //p' <<<"$NETNS_OUT")
# IPv4 entries are (2, [4 bytes]); host0's IPv6 link-local address may come with them
ok_if "-n: the machine has its pool address ($A)" grep -qE '^10\.231\.' <<<"$A"
ok_if "-n: GetMachineAddresses reports it" grep -qF " 2 4 ${A//./ }" <<<"$(grep '^GetMachineAddresses a(iay) ' <<<"$NETNS_OUT")"
ok_if "-n: Machine.GetAddresses reports it" grep -qF " 2 4 ${A//./ }" <<<"$(grep '^GetAddresses a(iay) ' <<<"$NETNS_OUT")"
if command -v machinectl >/dev/null; then
    ok_if "-n: the real machinectl status shows the address" grep -qE "^machinectl: .*Address: $A\$" <<<"$NETNS_OUT"
fi
wait_until 2 machine_gone "$P-net"

# Terminate reaches berth-spawn, which applies its kill signal (SIGKILL for a command):
# the machine goes at once instead of after berthd's 10 s SIGKILL timer (a command as PID
# 1 of its namespace ignores the SIGTERM it has no handler for)
# ms_since T0: milliseconds since T0 (from date +%s%N)
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# spawn_plain NAME: a registered berth-spawn running a plain command; SPAWN, SPAWN_PID
spawn_plain() {
    timeout 30 "$BERTH_SPAWN" -P --register=yes -D "$TMP/tree" -M "$1" /bin/sleep 60 \
        </dev/null >"$TMP/term.out" 2>&1 &
    SPAWN=$!
    wait_until 5 bash -c "busctl call $DEST $MGR_PATH $MGR GetMachine s $1 >/dev/null 2>&1"
    SPAWN_PID=$(awk '{print $1}' /proc/$SPAWN/task/$SPAWN/children 2>/dev/null)   # under timeout
}
spawn_plain "$P-term"
expect_eq "the registering berth-spawn is recorded as the machine's supervisor" \
    "SUPERVISOR=$SPAWN_PID" "$(grep '^SUPERVISOR=' "$STATE/$P-term")"
T0=$(date +%s%N)
ok_if "TerminateMachine of a plain-command machine returns" mgr TerminateMachine s "$P-term"
wait_until 3 machine_gone "$P-term"
MS=$(ms_since "$T0")
ok_if "... and the machine is gone within 1 s (took $MS ms)" test "$MS" -lt 1000
wait "$SPAWN"
RC=$?
expect_eq "... berth-spawn ended by itself, killing its payload with SIGKILL (--kill-signal default)" 137 "$RC"
ok_if "... and said so" grep -q "terminated by signal SIGKILL" "$TMP/term.out"

# the same after berthd was SIGKILLed and restarted: the supervisor is restored
spawn_plain "$P-term"
stop_berthd KILL
start_berthd
T0=$(date +%s%N)
ok_if "after a berthd restart, TerminateMachine returns" mgr TerminateMachine s "$P-term"
wait_until 3 machine_gone "$P-term"
MS=$(ms_since "$T0")
ok_if "... and the machine is gone within 1 s (took $MS ms)" test "$MS" -lt 1000
wait "$SPAWN"
expect_eq "... berth-spawn applied SIGKILL" 137 "$?"

# a booted systemd guest: berth-spawn sends SIGRTMIN+3 and the guest powers off cleanly
if DEB=$("$TOOLS/make-debian-tree.sh" --print-path 2>"$TMP/mkdeb.log"); then
    timeout 60 "$BERTH_SPAWN" -q --register=yes -D "$DEB" --volatile=overlay -M "$P-boot" -b \
        </dev/null >"$TMP/boot.out" 2>&1 &
    SPAWN=$!
    wait_until 10 bash -c "busctl call $DEST $MGR_PATH $MGR GetMachine s $P-boot >/dev/null 2>&1"
    BL=$(mprop "$P-boot" Leader | awk '{print $2}')
    # until the guest's systemd answers on its private socket
    wait_until 30 test -S "/proc/$BL/root/run/systemd/private"
    STATE_BOOT=$(timeout 30 nsenter -t "$BL" -m -u -i -p -C -r -w systemctl is-system-running --wait 2>&1)
    expect_eq "the booted guest is running" running "$STATE_BOOT"
    T0=$(date +%s%N)
    ok_if "TerminateMachine of a booted machine returns" mgr TerminateMachine s "$P-boot"
    wait_until 15 machine_gone "$P-boot"
    MS=$(ms_since "$T0")
    ok_if "... and it is gone well before berthd's 10 s SIGKILL timer (took $MS ms)" test "$MS" -lt 8000
    wait "$SPAWN"
    expect_eq "... powered off cleanly (exit status 0: the guest's systemd got SIGRTMIN+3)" 0 "$?"
else
    skip "booted machine terminate" "no Debian tree: $(tail -n1 "$TMP/mkdeb.log")"
fi

# a payload that ends at once: registration still happens before it runs, and works
ok_if "--register=yes with a payload that exits at once" timeout 20 "$BERTH_SPAWN" -q -P --register=yes \
    -D "$TMP/tree" -M "$NAME" /bin/true
ok_if "... and it is gone afterwards" machine_gone "$NAME"

# auto (the default) registers when there is a registry
timeout 20 "$BERTH_SPAWN" -q -P -D "$TMP/tree" -M "$NAME" /bin/sleep 2 </dev/null >/dev/null 2>&1 &
SPAWN=$!
wait_until 5 bash -c "busctl call $DEST $MGR_PATH $MGR GetMachine s $NAME >/dev/null 2>&1"
ok_if "--register=auto (default) registers with a registry on the bus" mgr GetMachine s "$NAME"
wait "$SPAWN"

timeout 20 "$BERTH_SPAWN" -q -P --register=no -D "$TMP/tree" -M "$NAME" /bin/sleep 2 </dev/null >/dev/null 2>&1 &
SPAWN=$!
sleep 0.5
ok_if "--register=no: not registered" machine_gone "$NAME"
wait "$SPAWN"

# a name taken by another registered machine
start_leader
register "$NAME" "$LEADER" >/dev/null 2>&1
expect_fail "--register=yes with a name already registered fails" "Failed to register" timeout 20 "$BERTH_SPAWN" -q -P --register=yes \
    -D "$TMP/tree" -M "$NAME" /bin/true
OUT=$(timeout 20 "$BERTH_SPAWN" -q -P -D "$TMP/tree" -M "$NAME" /bin/true 2>&1)
expect_eq "--register=auto when the registry refuses: the machine still runs" 0 "$?"
ok_if "... with a warning saying so" grep -q "continuing unregistered" <<<"$OUT"
kill_leaders

# without a registry
stop_berthd TERM
OUT=$(timeout 20 "$BERTH_SPAWN" -q -P --register=yes -D "$TMP/tree" -M "$NAME" /bin/true 2>&1)
expect_eq "--register=yes without a registry: exit status 1" 1 "$?"
ok_if "... with one clear line" bash -c "[ \$(printf '%s\n' \"\$1\" | wc -l) = 1 ] && grep -q 'Failed to register' <<<\"\$1\"" _ "$OUT"
ok_if "--register=auto without a registry: runs" timeout 20 "$BERTH_SPAWN" -q -P -D "$TMP/tree" -M "$NAME" /bin/true
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$TMP/nonexistent ok_if "--register=auto without a bus: runs" \
    timeout 20 "$BERTH_SPAWN" -q -P -D "$TMP/tree" -M "$NAME" /bin/true

finish
