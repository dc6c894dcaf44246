#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthd's D-Bus API: every Manager and Machine member it serves, signals, the host
# entry, authorization as an unprivileged user, hostile arguments, and the real
# machinectl as a client.

source "$(dirname "$0")/lib.sh"
setup

if start_berthd; then pass "berthd starts and owns $DEST"; else fail "berthd starts"; finish; fi

# --- a second instance must refuse to start, with one clear line
out=$("$BERTHD" --state-dir="$TMP/state2" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "already taken" <<<"$out" && [ "$(wc -l <<<"$out")" -eq 1 ]; then
    pass "second berthd refuses: $out"
else
    fail "second berthd refuses (rc=$rc): $out"
fi

# --- introspection: exact signatures from machine1-api.md
intro=$(busctl introspect "$DEST" "$MGR_PATH" "$MGR")
for m in "GetMachine s o" "GetMachineByPID u o" "ListMachines - a(ssso)" \
         "RegisterMachine sayssus o" "RegisterMachineWithNetwork sayssusai o" \
         "CreateMachine sayssusa(sv) o" "CreateMachineWithNetwork sayssusaia(sv) o" \
         "UnregisterMachine s -" "TerminateMachine s -" "KillMachine ssi -" \
         "GetMachineAddresses s a(iay)" "GetMachineOSRelease s a{ss}" "GetMachineUIDShift s u" \
         "BindMountMachine sssbb -" "CopyFromMachine sss -" "CopyFromMachineWithFlags ssst -" \
         "CopyToMachine sss -" "CopyToMachineWithFlags ssst -" "OpenMachineRootDirectory s h" \
         "MapFromMachineUser su u" "MapFromMachineGroup su u" "MapToMachineUser u sou" "MapToMachineGroup u sou"; do
    set -- $m
    ok_if "Manager.$1 has signature $2 -> $3" \
        grep -qE "^\.$1 +method +$(sed 's/[()[{}]/\\&/g' <<<"$2") +$(sed 's/[()[{}]/\\&/g' <<<"$3") " <<<"$intro"
done
ok_if "signals MachineNew/MachineRemoved (so)" \
    bash -c 'grep -qE "^\.MachineNew +signal +so " <<<"$1" && grep -qE "^\.MachineRemoved +signal +so " <<<"$1"' _ "$intro"
# ListImages lists exactly the host's own image (".host", as machined) and the images of the
# search path (the pool itself is tested in test-berthd-images.sh): the names of
# directories and NAME.raw files there, hidden ones left out, each with the object path of
# its escaped name
expected=$(echo .host; for d in /etc/machines /run/machines /var/lib/machines /var/lib/container /usr/local/lib/machines \
                    /usr/lib/machines; do
               find "$d" -mindepth 1 -maxdepth 1 \( -type d -o -name '*.raw' \) -not -name '.*' -printf '%f\n' 2>/dev/null
           done | sed 's/\.raw$//' | sort -u)
listed=$(busctl --json=short call "$DEST" "$MGR_PATH" "$MGR" ListImages | python3 -c '
import json, sys
for name, typ, ro, crt, mtime, usage, path in json.load(sys.stdin)["data"][0]:
    enc = "".join(c if c.isalnum() else "_%02x" % ord(c) for c in name)
    print(name if path == "/org/freedesktop/machine1/image/" + enc else "BAD-PATH:" + name + ":" + path)
' | sort)
expect_eq "ListImages lists .host and the search path's images with their object paths ($(wc -w <<<"$expected") here)" \
    "$expected" "$listed"
expect_eq "PoolPath" 's "/var/lib/machines"' "$(busctl get-property $DEST $MGR_PATH $MGR PoolPath)"
expect_eq "PoolUsage unknown" "t 18446744073709551615" "$(busctl get-property $DEST $MGR_PATH $MGR PoolUsage)"
expect_eq "PoolLimit unknown" "t 18446744073709551615" "$(busctl get-property $DEST $MGR_PATH $MGR PoolLimit)"

# --- the host
expect_eq "ListMachines shows .host" 'a(ssso) 1 ".host" "host" "" "/org/freedesktop/machine1/machine/_2ehost"' \
    "$(mgr ListMachines)"
expect_eq ".host path escaped like machined" "/org/freedesktop/machine1/machine/_2ehost" "$(mpath .host)"
expect_eq ".host Class" 's "host"' "$(mprop .host Class)"
expect_eq ".host Leader" "u 1" "$(mprop .host Leader)"
expect_eq ".host RootDirectory" 's "/"' "$(mprop .host RootDirectory)"
host_id=$(mprop .host Id | cut -d' ' -f3- | xargs printf '%02x')
expect_eq ".host Id is /etc/machine-id" "$(cat /etc/machine-id 2>/dev/null)" "$host_id"
ok_if ".host GetOSRelease has ID" bash -c "busctl call $DEST $(mpath .host) $MACH GetOSRelease | grep -q '\"ID\"'"
expect_fail ".host cannot be terminated" "NotSupported|cannot be terminated|not supported" mgr TerminateMachine s .host

# --- register a machine and look at every property
monitor_start "$TMP/mon1"
start_leader
L1=$LEADER
ok_if "RegisterMachine" register "$P-one" "$L1"
start_leader
L2=$LEADER
ok_if "RegisterMachineWithNetwork" mgr RegisterMachineWithNetwork sayssusai "$P-two" 0 "" vm "$L2" "" 2 1 7
path=$(mpath "$P-one")
expect_eq "object path escaped" "/org/freedesktop/machine1/machine/${P}_2done" "$path"
expect_eq "Name" "s \"$P-one\"" "$(mprop $P-one Name)"
expect_eq "Id" "ay 16 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16" "$(mprop $P-one Id)"
expect_eq "Service" 's "berth-test"' "$(mprop $P-one Service)"
expect_eq "Class" 's "container"' "$(mprop $P-one Class)"
expect_eq "Leader" "u $L1" "$(mprop $P-one Leader)"
expect_eq "RootDirectory" 's "/"' "$(mprop $P-one RootDirectory)"
expect_eq "State" 's "running"' "$(mprop $P-one State)"
expect_eq "NetworkInterfaces (none)" "ai 0" "$(mprop $P-one NetworkInterfaces)"
expect_eq "NetworkInterfaces (with network)" "ai 2 1 7" "$(mprop $P-two NetworkInterfaces)"
expect_eq "Class vm" 's "vm"' "$(mprop $P-two Class)"
expect_eq "zero-length Id reads as 16 zero bytes" "ay 16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0" "$(mprop $P-two Id)"
ts=$(mprop $P-one Timestamp | cut -d' ' -f2); now=$(( $(date +%s) * 1000000 ))
ok_if "Timestamp is now (µs, realtime)" test $((now - ts)) -lt 60000000 -a $((ts - now)) -lt 60000000
tsm=$(mprop $P-one TimestampMonotonic | cut -d' ' -f2)
ok_if "TimestampMonotonic is set" test "$tsm" -gt 0
ok_if "Unit is a string" bash -c "busctl get-property $DEST $path $MACH Unit | grep -q '^s '"
ok_if "GetAll works" bash -c "busctl call $DEST $path org.freedesktop.DBus.Properties GetAll s $MACH | grep -q Leader"
expect_eq "ListMachines" "a(ssso) 3 \".host\" \"host\" \"\" \"/org/freedesktop/machine1/machine/_2ehost\" \"$P-one\" \"container\" \"berth-test\" \"$path\" \"$P-two\" \"vm\" \"\" \"/org/freedesktop/machine1/machine/${P}_2dtwo\"" \
    "$(mgr ListMachines)"
expect_eq "GetMachineByPID(leader)" "o \"$path\"" "$(mgr GetMachineByPID u "$L1")"
expect_fail "GetMachineByPID(unrelated)" "does not belong" mgr GetMachineByPID u $$
expect_fail "GetMachine unknown" "No machine" mgr GetMachine s nosuchmachine
ok_if "introspection lists machine nodes" bash -c "busctl tree $DEST | grep -q ${P}_2done"
ok_if "GetMachineOSRelease" bash -c "busctl call $DEST $MGR_PATH $MGR GetMachineOSRelease s $P-one | grep -q '\"ID\"'"
ok_if "Machine.GetOSRelease" bash -c "busctl call $DEST $path $MACH GetOSRelease | grep -q '\"ID\"'"
expect_eq "GetMachineUIDShift (no userns)" "u 0" "$(mgr GetMachineUIDShift s $P-one)"
expect_eq "Machine.GetUIDShift" "u 0" "$(busctl call $DEST $path $MACH GetUIDShift)"
ok_if "GetMachineAddresses" bash -c "busctl call $DEST $MGR_PATH $MGR GetMachineAddresses s $P-one | grep -q '^a(iay) '"
ok_if "Machine.GetAddresses" bash -c "busctl call $DEST $path $MACH GetAddresses | grep -q '^a(iay) '"

# duplicates
expect_fail "same name twice -> MachineExists" "already exists" register "$P-one" "$L1"
start_leader
expect_fail "same leader twice -> MachineExists" "already leads" register "$P-three" "$L1"

# --- Kill / Terminate / Unregister
ok_if "KillMachine leader SIGCONT" mgr KillMachine ssi "$P-one" leader 18
expect_fail "KillMachine bad who" "Invalid kill target" mgr KillMachine ssi "$P-one" everybody 15
expect_fail "KillMachine bad signal" "Invalid signal" mgr KillMachine ssi "$P-one" all 0
expect_fail "KillMachine signal 4096" "Invalid signal" mgr KillMachine ssi "$P-one" all 4096
ok_if "Machine.Kill SIGKILL" busctl call "$DEST" "$(mpath $P-two)" "$MACH" Kill si leader 9
ok_if "machine with killed leader disappears" wait_until 1 machine_gone "$P-two"
ok_if "UnregisterMachine" mgr UnregisterMachine s "$P-one"
ok_if "unregistered machine is gone" machine_gone "$P-one"
ok_if "unregistering leaves the leader running" kill -0 "$L1"
register "$P-one" "$L1" >/dev/null
ok_if "Machine.Terminate" busctl call "$DEST" "$(mpath $P-one)" "$MACH" Terminate
ok_if "terminated machine disappears" wait_until 1 machine_gone "$P-one"
monitor_stop
expect_eq "MachineNew signals" 3 "$(grep -c 'Member=MachineNew' "$TMP/mon1")"
expect_eq "MachineRemoved signals" 3 "$(grep -c 'Member=MachineRemoved' "$TMP/mon1")"
ok_if "PropertiesChanged State=closing on Terminate" \
    bash -c "grep -A30 'Member=PropertiesChanged' $TMP/mon1 | grep -q closing"

# --- authorization: an unprivileged user may read, not change
start_leader
LA=$LEADER
register "$P-auth" "$LA" >/dev/null
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
ok_if "unprivileged ListMachines" nobody busctl call $DEST $MGR_PATH $MGR ListMachines
ok_if "unprivileged GetMachine" nobody busctl call $DEST $MGR_PATH $MGR GetMachine s "$P-auth"
ok_if "unprivileged properties" nobody busctl get-property $DEST "$(mpath $P-auth)" $MACH Leader
ok_if "unprivileged GetMachineOSRelease" nobody busctl call $DEST $MGR_PATH $MGR GetMachineOSRelease s "$P-auth"
start_leader
nl=$LEADER
expect_fail "unprivileged RegisterMachine denied by berthd" "Only root" nobody dbus-send --system --print-reply \
    --dest=$DEST $MGR_PATH $MGR.RegisterMachine string:$P-evil array:byte:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 \
    string: string:container uint32:$nl string:/
ok_if "unprivileged register left no machine" machine_gone "$P-evil"
expect_fail "unprivileged CreateMachine denied" "Access denied" \
    nobody busctl call $DEST $MGR_PATH $MGR CreateMachine "sayssusa(sv)" "$P-evil" 0 "" container "$nl" / 0
expect_fail "unprivileged TerminateMachine denied by berthd" "Only root" \
    nobody dbus-send --system --print-reply --dest=$DEST $MGR_PATH $MGR.TerminateMachine string:$P-auth
expect_fail "unprivileged KillMachine denied by berthd" "Only root" \
    nobody dbus-send --system --print-reply --dest=$DEST $MGR_PATH $MGR.KillMachine string:$P-auth string:all int32:9
expect_fail "unprivileged UnregisterMachine denied by berthd" "Only root" \
    nobody dbus-send --system --print-reply --dest=$DEST $MGR_PATH $MGR.UnregisterMachine string:$P-auth
expect_fail "unprivileged Machine.Kill denied" "Access denied" nobody busctl call $DEST "$(mpath $P-auth)" $MACH Kill si all 9
ok_if "machine and leader survived" bash -c "kill -0 $LA && busctl call $DEST $MGR_PATH $MGR GetMachine s $P-auth"
expect_fail "unprivileged cannot own the name" "not allowed|Access|denied|Not allowed" \
    nobody "$BERTHD" --state-dir="$TMP/nobody-state" --bus-name=org.freedesktop.machine1

# --- hostile arguments: proper errors, and the daemon keeps serving
start_leader
LH=$LEADER
long=$(printf 'a%.0s' $(seq 65))
# a label may not start or end with '-' (systemd's hostname_is_valid(): "-M --" is refused there)
for n in "" "/" ".." "." "a..b" ".a" "a/b" "$long" ".host" "foo bar" "x.y." "é" "-" "--" "-x" "x-" "a.-b" "a-.b"; do
    expect_fail "name '${n:0:20}' rejected" "InvalidArgs|Invalid machine name|already exists" register "$n" "$LH"
done
expect_fail "unknown class rejected" "Invalid machine class" register "$P-h" "$LH" toaster
expect_fail "empty class rejected" "Invalid machine class" mgr RegisterMachine sayssus "$P-h" 0 "" "" "$LH" /
expect_fail "class host rejected" "Invalid machine class" register "$P-h" "$LH" host
expect_fail "relative root rejected" "Root directory" register "$P-h" "$LH" container relative/path
expect_fail "root with .. rejected" "Root directory" register "$P-h" "$LH" container /a/../b
expect_fail "bogus PID rejected" "does not exist" register "$P-h" 2147483647
expect_fail "PID 1 rejected" "Invalid leader" register "$P-h" 1
expect_fail "PID > INT_MAX rejected" "Invalid leader" register "$P-h" 4294967295
expect_fail "berthd's own PID rejected" "Invalid leader" register "$P-h" "$BERTHD_PID"
expect_fail "Id of 3 bytes rejected" "Invalid machine ID" mgr RegisterMachine sayssus "$P-h" 3 1 2 3 "" container "$LH" /
expect_fail "Id of 17 bytes rejected" "Invalid machine ID" \
    mgr RegisterMachine sayssus "$P-h" 17 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 "" container "$LH" /
expect_fail "service with control characters rejected" "Invalid service" \
    mgr RegisterMachine sayssus "$P-h" 0 "$(printf 'a\nb')" container "$LH" /
expect_fail "ifindex 0 rejected" "Invalid network interface" \
    mgr RegisterMachineWithNetwork sayssusai "$P-h" 0 "" container "$LH" / 1 0
expect_fail "wrong signature rejected" "InvalidArgs|Invalid" mgr RegisterMachine s "$P-h"
expect_fail "non-UTF-8 name never reaches the daemon" "." \
    dbus-send --system --print-reply --dest=$DEST $MGR_PATH $MGR.GetMachine "string:$(printf '\xff\xfe')"
ok_if "no hostile registration succeeded" bash -c "[ \"\$(busctl call $DEST $MGR_PATH $MGR ListMachines | grep -o '\"container\"' | wc -l)\" = 1 ]"
ok_if "berthd still serving" mgr ListMachines
ok_if "berthd still running" kill -0 "$BERTHD_PID"

# --- the real machinectl against berthd (it wants /run/systemd/system: private mount ns)
if command -v machinectl >/dev/null; then
    mctl() {
        unshare -m sh -c 'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system &&
                          exec machinectl --no-pager "$@"' mctl "$@"
    }
    ok_if "machinectl list shows the machine" bash -c "$(declare -f mctl); mctl list | grep -q '^$P-auth *container'"
    ok_if "machinectl status" bash -c "$(declare -f mctl); mctl status $P-auth 2>/dev/null | grep -q 'Leader: $LA'"
    ok_if "machinectl show" bash -c "$(declare -f mctl); mctl show $P-auth | grep -q '^State=running'"
    # machinectl kill: a leader that reports the signal it gets
    start_leader bash -c 'trap "echo usr1 >\"\$1\"; exit 0" USR1; while :; do sleep 0.05; done' _ "$TMP/killed"
    LK=$LEADER
    ok_if "RegisterMachine for machinectl kill" register "$P-kill" "$LK"
    ok_if "machinectl kill --signal=SIGUSR1" bash -c "$(declare -f mctl); mctl kill --signal=SIGUSR1 $P-kill"
    ok_if "the leader got SIGUSR1" wait_until 2 test -s "$TMP/killed"
    ok_if "machine killed via machinectl is gone" wait_until 2 machine_gone "$P-kill"
    ok_if "machinectl terminate" bash -c "$(declare -f mctl); mctl terminate $P-auth"
    ok_if "machine terminated via machinectl is gone" wait_until 1 machine_gone "$P-auth"
    ok_if "machinectl list after terminate" bash -c "$(declare -f mctl); ! mctl list | grep -q '^$P-auth'"
else
    skip "machinectl checks" "machinectl not installed"
fi

finish
