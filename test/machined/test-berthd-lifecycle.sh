#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthd's machine lifecycle: scopes it creates (cgroup v2 / hybrid), Terminate and Kill,
# pidfd tracking of leaders, restart and SIGKILL recovery from /run/berth/machines,
# corrupt state files, and what it reads from inside a machine (os-release through
# RESOLVE_IN_ROOT, addresses in the machine's netns, UID shift).

source "$(dirname "$0")/lib.sh"
setup
[ -n "$CGROOT" ] || skip_all "no cgroup2 hierarchy"

if start_berthd; then pass "berthd started"; else fail "berthd started"; finish; fi

# --- CreateMachine: a scope of our own
monitor_start "$TMP/mon"
# the leader forks its child only once it is in the scope (cgroup moves do not move children)
start_leader bash -c 'while [ ! -e "$1" ]; do sleep 0.02; done; sleep 1000 & wait' _ "$TMP/go"
LC=$LEADER
ok_if "CreateMachine" create "$P-c" "$LC"
touch "$TMP/go"
scope=$CGROOT/machine.slice/$(scope $P-c)
ok_if "leader moved into $scope" grep -qx "$LC" "$scope/cgroup.procs"
if [ -d /sys/fs/cgroup/systemd ] && [ "$CGROOT" != /sys/fs/cgroup ]; then
    ok_if "name=systemd v1 scope too" grep -qx "$LC" "/sys/fs/cgroup/systemd/machine.slice/$(scope $P-c)/cgroup.procs"
fi
# (busctl prints a backslash doubled)
expect_eq "Unit is the scope, escaped as systemd escapes unit names" "s \"$(scope $P-c | sed 's/\\/\\\\/g')\"" "$(mprop $P-c Unit)"
wait_until 1 pgrep -P "$LC" -f "sleep 1000"
child=$(pgrep -P "$LC" -f "sleep 1000")
ok_if "GetMachineByPID(child in scope)" bash -c "busctl call $DEST $MGR_PATH $MGR GetMachineByPID u $child | grep -q ${P}_2dc"
start_leader
expect_eq "CreateMachineWithNetwork" "o \"/org/freedesktop/machine1/machine/${P}_2dcn\"" \
    "$(mgr CreateMachineWithNetwork "sayssusaia(sv)" "$P-cn" 0 svc vm "$LEADER" / 1 3 1 Description s hello 2>&1)"
expect_eq "CreateMachineWithNetwork ifindices" "ai 1 3" "$(mprop $P-cn NetworkInterfaces)"
ok_if "unit properties without systemd are ignored with a warning" grep -q "unit property 'Description' needs systemd" "$TMP/berthd.log"

# KillMachine all reaches every process of the scope
ok_if "KillMachine all SIGTERM" mgr KillMachine ssi "$P-c" all 15
ok_if "leader and child died" wait_until 1 dead "$child" "$LC"
ok_if "machine removed" wait_until 1 machine_gone "$P-c"
ok_if "scope removed" wait_until 1 test ! -d "$scope"

# Terminate of a created machine: State closing, everything in the scope goes
start_leader bash -c 'trap "" TERM; while [ ! -e "$1" ]; do sleep 0.02; done; (trap - TERM; exec sleep 1000) & while :; do sleep 0.2; done' _ "$TMP/go2"
LT=$LEADER
create "$P-t" "$LT" >/dev/null
touch "$TMP/go2"
wait_until 1 pgrep -P "$LT" -f "sleep 1000"
tchild=$(pgrep -P "$LT" -f "sleep 1000")
ok_if "TerminateMachine" mgr TerminateMachine s "$P-t"
expect_eq "State closing while the leader ignores SIGTERM" 's "closing"' "$(mprop $P-t State)"
ok_if "child got SIGTERM" wait_until 1 dead "$tchild"
ok_if "KillMachine leader SIGKILL" mgr KillMachine ssi "$P-t" leader 9
ok_if "machine removed" wait_until 1 machine_gone "$P-t"
ok_if "scope removed" wait_until 1 test ! -d "$CGROOT/machine.slice/$(scope $P-t)"

# Unregister of a created machine leaves its processes alone
start_leader
LU=$LEADER
create "$P-u" "$LU" >/dev/null
ok_if "UnregisterMachine (created)" mgr UnregisterMachine s "$P-u"
ok_if "its leader still runs" kill -0 "$LU"
kill "$LU"; wait "$LU" 2>/dev/null
ok_if "its scope goes once empty" wait_until 3 test ! -d "$CGROOT/machine.slice/$(scope $P-u)"

# --- pidfd tracking: SIGKILL a leader, the machine goes within a second
start_leader
LK=$LEADER
register "$P-k" "$LK" >/dev/null
t0=$(date +%s%N)
kill -KILL "$LK"
if wait_until 1 machine_gone "$P-k"; then
    pass "SIGKILLed leader: machine gone after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
else
    fail "SIGKILLed leader: machine still there after 1 s"
fi
monitor_stop
ok_if "MachineRemoved for the killed leader" grep -q "$P-k" "$TMP/mon"
ok_if "PropertiesChanged for State" grep -q "Member=PropertiesChanged" "$TMP/mon"

# --- restart and SIGKILL recovery
start_leader
LR1=$LEADER
start_leader
LR2=$LEADER
start_leader
LR3=$LEADER
register "$P-r1" "$LR1" >/dev/null
mgr RegisterMachineWithNetwork sayssusai "$P-r2" 0 svc2 vm "$LR2" "" 1 5 >/dev/null
create "$P-r3" "$LR3" >/dev/null
props() {
    local n
    for n in Name Id Timestamp TimestampMonotonic Service Unit Leader Class RootDirectory NetworkInterfaces State; do
        mprop "$1" "$n"
    done
}
before1=$(props $P-r1); before2=$(props $P-r2); before3=$(props $P-r3)
ok_if "state files written" test -f "$STATE/$P-r1" -a -f "$STATE/$P-r2" -a -f "$STATE/$P-r3"
stop_berthd TERM
ok_if "leaders survive a berthd stop" kill -0 "$LR1" "$LR2" "$LR3"
ok_if "scope survives a berthd stop" test -d "$CGROOT/machine.slice/$(scope $P-r3)"
start_berthd
expect_eq "after restart: same properties (registered)" "$before1" "$(props $P-r1)"
expect_eq "after restart: same properties (with network)" "$before2" "$(props $P-r2)"
expect_eq "after restart: same properties (created)" "$before3" "$(props $P-r3)"

stop_berthd KILL
kill -KILL "$LR2"; wait "$LR2" 2>/dev/null
# a PID reuse impostor: same PID recorded, different start time
sed -i 's/^LEADER_STARTTIME=.*/LEADER_STARTTIME=1/' "$STATE/$P-r1"
printf 'garbage\n' >"$STATE/$P-bad"
printf 'VERSION=99\nNAME=%s-future\n' "$P" >"$STATE/$P-future"
printf 'VERSION=1\nNAME=%s-torn\nCLASS=container\nLEADER=%s' "$P" "$LR3" >"$STATE/$P-torn"
start_berthd
expect_eq "after SIGKILL: created machine has same properties" "$before3" "$(props $P-r3)"
ok_if "machine whose leader died meanwhile dropped" machine_gone "$P-r2"
ok_if "its state file removed" test ! -e "$STATE/$P-r2"
ok_if "leader with another start time not adopted" machine_gone "$P-r1"
ok_if "corrupt state file skipped with a warning" grep -q "$P-bad is corrupt, skipping" "$TMP/berthd.log"
ok_if "torn state file skipped with a warning" grep -q "$P-torn is corrupt, skipping" "$TMP/berthd.log"
ok_if "unknown-version state file skipped with a warning" grep -q "$P-future has an unknown version" "$TMP/berthd.log"
ok_if "berthd serves after bad state files" mgr ListMachines
rm -f "$STATE/$P-bad" "$STATE/$P-future" "$STATE/$P-torn"
mgr TerminateMachine s "$P-r3" >/dev/null
ok_if "restored machine can be terminated" wait_until 1 machine_gone "$P-r3"
ok_if "restored scope removed" wait_until 1 test ! -d "$CGROOT/machine.slice/$(scope $P-r3)"

# --- reading from inside a machine
root=$TMP/root
mkdir -p "$root/etc" "$root/usr/lib"
printf 'ID=inside\nNAME="Inside OS"\n' >"$root/usr/lib/os-release"
# a symlink that would escape the machine's root if resolved on the host
ln -s ../../../../../../../usr/lib/os-release "$root/etc/os-release"
start_leader python3 -c 'import os, sys, time; os.chroot(sys.argv[1]); os.chdir("/"); time.sleep(1000)' "$root"
LO=$LEADER
wait_until 2 test "$(readlink /proc/$LO/root)" = "$root"
register "$P-os" "$LO" container "$root" >/dev/null
expect_eq "os-release read inside the machine's root" 'a{ss} 2 "ID" "inside" "NAME" "Inside OS"' \
    "$(mgr GetMachineOSRelease s $P-os)"
# berthd keeps a machine's os-release for a few seconds: register it anew (a new machine,
# nothing kept) before each read of a changed root
reregister_os() {
    mgr UnregisterMachine s "$P-os" >/dev/null
    register "$P-os" "$LO" container "$root" >/dev/null
}
rm "$root/etc/os-release"
ln -s /usr/lib/os-release "$root/etc/os-release"
reregister_os
expect_eq "absolute symlink resolved inside the root" 'a{ss} 2 "ID" "inside" "NAME" "Inside OS"' \
    "$(mgr GetMachineOSRelease s $P-os)"
rm "$root/etc/os-release" "$root/usr/lib/os-release"
ln -s /etc/os-release "$root/usr/lib/os-release"
reregister_os
expect_fail "no os-release inside: NoOSReleaseInformation, not the host's" "does not contain" \
    mgr GetMachineOSRelease s "$P-os"
rm -f "$root/etc/os-release"
mkfifo "$root/etc/os-release"
reregister_os
expect_fail "a FIFO as os-release is refused, not read" "." timeout 5 busctl call $DEST $MGR_PATH $MGR GetMachineOSRelease s "$P-os"
ok_if "berthd still serving" mgr ListMachines

start_leader unshare -n --map-root-user sh -c 'ip link add va type veth peer name vb && ip addr add 10.99.0.7/24 dev va && exec sleep 1000'
LN=$LEADER
wait_until 2 bash -c "ip -n 2>/dev/null; [ \"\$(readlink /proc/$LN/ns/net)\" != \"\$(readlink /proc/self/ns/net)\" ] && [ \"\$(cat /proc/$LN/comm)\" = sleep ]"
register "$P-net" "$LN" >/dev/null
expect_eq "GetMachineAddresses from the machine's netns" "a(iay) 1 2 4 10 99 0 7" "$(mgr GetMachineAddresses s $P-net)"
expect_eq "UID shift of a user-namespaced machine" "u 0" "$(mgr GetMachineUIDShift s $P-net)"

finish
