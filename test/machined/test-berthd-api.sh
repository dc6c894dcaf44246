#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthd's D-Bus API: every Manager and Machine member it serves, signals, the host
# entry, authorization as an unprivileged user, hostile arguments, and the real
# machinectl as a client.

source "$(dirname "$0")/lib.sh"
setup

if start_berthd; then ok "berthd starts and owns $DEST"; else not_ok "berthd starts"; finish; fi

# --- a second instance must refuse to start, with one clear line
out=$("$BERTHD" --state-dir="$TMP/state2" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "already taken" <<<"$out" && [ "$(wc -l <<<"$out")" -eq 1 ]; then
    ok "second berthd refuses: $out"
else
    not_ok "second berthd refuses (rc=$rc): $out"
fi

# --- introspection: exact signatures from machine1-api.md
intro=$(busctl introspect "$DEST" "$MGR_PATH" "$MGR")
for m in "GetMachine s o" "GetMachineByPID u o" "ListMachines - a(ssso)" \
         "RegisterMachine sayssus o" "RegisterMachineWithNetwork sayssusai o" \
         "CreateMachine sayssusa(sv) o" "CreateMachineWithNetwork sayssusaia(sv) o" \
         "UnregisterMachine s -" "TerminateMachine s -" "KillMachine ssi -" \
         "GetMachineAddresses s a(iay)" "GetMachineOSRelease s a{ss}" "GetMachineUIDShift s u"; do
    set -- $m
    check "Manager.$1 has signature $2 -> $3" \
        grep -qE "^\.$1 +method +$(sed 's/[()[{}]/\\&/g' <<<"$2") +$(sed 's/[()[{}]/\\&/g' <<<"$3") " <<<"$intro"
done
check "signals MachineNew/MachineRemoved (so)" \
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
check_eq "ListImages lists .host and the search path's images with their object paths ($(wc -w <<<"$expected") here)" \
    "$expected" "$listed"
check_eq "PoolPath" 's "/var/lib/machines"' "$(busctl get-property $DEST $MGR_PATH $MGR PoolPath)"
check_eq "PoolUsage unknown" "t 18446744073709551615" "$(busctl get-property $DEST $MGR_PATH $MGR PoolUsage)"
check_eq "PoolLimit unknown" "t 18446744073709551615" "$(busctl get-property $DEST $MGR_PATH $MGR PoolLimit)"

# --- the host
check_eq "ListMachines shows .host" 'a(ssso) 1 ".host" "host" "" "/org/freedesktop/machine1/machine/_2ehost"' \
    "$(mgr ListMachines)"
check_eq ".host path escaped like machined" "/org/freedesktop/machine1/machine/_2ehost" "$(mpath .host)"
check_eq ".host Class" 's "host"' "$(mprop .host Class)"
check_eq ".host Leader" "u 1" "$(mprop .host Leader)"
check_eq ".host RootDirectory" 's "/"' "$(mprop .host RootDirectory)"
host_id=$(mprop .host Id | cut -d' ' -f3- | xargs printf '%02x')
check_eq ".host Id is /etc/machine-id" "$(cat /etc/machine-id 2>/dev/null)" "$host_id"
check ".host GetOSRelease has ID" bash -c "busctl call $DEST $(mpath .host) $MACH GetOSRelease | grep -q '\"ID\"'"
check_fails ".host cannot be terminated" "NotSupported|cannot be terminated|not supported" mgr TerminateMachine s .host

# --- register a machine and look at every property
monitor_start "$TMP/mon1"
start_leader
L1=$LEADER
check "RegisterMachine" register "$P-one" "$L1"
start_leader
L2=$LEADER
check "RegisterMachineWithNetwork" mgr RegisterMachineWithNetwork sayssusai "$P-two" 0 "" vm "$L2" "" 2 1 7
path=$(mpath "$P-one")
check_eq "object path escaped" "/org/freedesktop/machine1/machine/${P}_2done" "$path"
check_eq "Name" "s \"$P-one\"" "$(mprop $P-one Name)"
check_eq "Id" "ay 16 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16" "$(mprop $P-one Id)"
check_eq "Service" 's "berth-test"' "$(mprop $P-one Service)"
check_eq "Class" 's "container"' "$(mprop $P-one Class)"
check_eq "Leader" "u $L1" "$(mprop $P-one Leader)"
check_eq "RootDirectory" 's "/"' "$(mprop $P-one RootDirectory)"
check_eq "State" 's "running"' "$(mprop $P-one State)"
check_eq "NetworkInterfaces (none)" "ai 0" "$(mprop $P-one NetworkInterfaces)"
check_eq "NetworkInterfaces (with network)" "ai 2 1 7" "$(mprop $P-two NetworkInterfaces)"
check_eq "Class vm" 's "vm"' "$(mprop $P-two Class)"
check_eq "zero-length Id reads as 16 zero bytes" "ay 16 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0" "$(mprop $P-two Id)"
ts=$(mprop $P-one Timestamp | cut -d' ' -f2); now=$(( $(date +%s) * 1000000 ))
check "Timestamp is now (µs, realtime)" test $((now - ts)) -lt 60000000 -a $((ts - now)) -lt 60000000
tsm=$(mprop $P-one TimestampMonotonic | cut -d' ' -f2)
check "TimestampMonotonic is set" test "$tsm" -gt 0
check "Unit is a string" bash -c "busctl get-property $DEST $path $MACH Unit | grep -q '^s '"
check "GetAll works" bash -c "busctl call $DEST $path org.freedesktop.DBus.Properties GetAll s $MACH | grep -q Leader"
check_eq "ListMachines" "a(ssso) 3 \".host\" \"host\" \"\" \"/org/freedesktop/machine1/machine/_2ehost\" \"$P-one\" \"container\" \"berth-test\" \"$path\" \"$P-two\" \"vm\" \"\" \"/org/freedesktop/machine1/machine/${P}_2dtwo\"" \
    "$(mgr ListMachines)"
check_eq "GetMachineByPID(leader)" "o \"$path\"" "$(mgr GetMachineByPID u "$L1")"
check_fails "GetMachineByPID(unrelated)" "does not belong" mgr GetMachineByPID u $$
check_fails "GetMachine unknown" "No machine" mgr GetMachine s nosuchmachine
check "introspection lists machine nodes" bash -c "busctl tree $DEST | grep -q ${P}_2done"
check "GetMachineOSRelease" bash -c "busctl call $DEST $MGR_PATH $MGR GetMachineOSRelease s $P-one | grep -q '\"ID\"'"
check "Machine.GetOSRelease" bash -c "busctl call $DEST $path $MACH GetOSRelease | grep -q '\"ID\"'"
check_eq "GetMachineUIDShift (no userns)" "u 0" "$(mgr GetMachineUIDShift s $P-one)"
check_eq "Machine.GetUIDShift" "u 0" "$(busctl call $DEST $path $MACH GetUIDShift)"
check "GetMachineAddresses" bash -c "busctl call $DEST $MGR_PATH $MGR GetMachineAddresses s $P-one | grep -q '^a(iay) '"
check "Machine.GetAddresses" bash -c "busctl call $DEST $path $MACH GetAddresses | grep -q '^a(iay) '"

# duplicates
check_fails "same name twice -> MachineExists" "already exists" register "$P-one" "$L1"
start_leader
check_fails "same leader twice -> MachineExists" "already leads" register "$P-three" "$L1"

# --- Kill / Terminate / Unregister
check "KillMachine leader SIGCONT" mgr KillMachine ssi "$P-one" leader 18
check_fails "KillMachine bad who" "Invalid kill target" mgr KillMachine ssi "$P-one" everybody 15
check_fails "KillMachine bad signal" "Invalid signal" mgr KillMachine ssi "$P-one" all 0
check_fails "KillMachine signal 4096" "Invalid signal" mgr KillMachine ssi "$P-one" all 4096
check "Machine.Kill SIGKILL" busctl call "$DEST" "$(mpath $P-two)" "$MACH" Kill si leader 9
check "machine with killed leader disappears" wait_until 1 machine_gone "$P-two"
check "UnregisterMachine" mgr UnregisterMachine s "$P-one"
check "unregistered machine is gone" machine_gone "$P-one"
check "unregistering leaves the leader running" kill -0 "$L1"
register "$P-one" "$L1" >/dev/null
check "Machine.Terminate" busctl call "$DEST" "$(mpath $P-one)" "$MACH" Terminate
check "terminated machine disappears" wait_until 1 machine_gone "$P-one"
monitor_stop
check_eq "MachineNew signals" 3 "$(grep -c 'Member=MachineNew' "$TMP/mon1")"
check_eq "MachineRemoved signals" 3 "$(grep -c 'Member=MachineRemoved' "$TMP/mon1")"
check "PropertiesChanged State=closing on Terminate" \
    bash -c "grep -A30 'Member=PropertiesChanged' $TMP/mon1 | grep -q closing"

# --- authorization: an unprivileged user may read, not change
start_leader
LA=$LEADER
register "$P-auth" "$LA" >/dev/null
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
check "unprivileged ListMachines" nobody busctl call $DEST $MGR_PATH $MGR ListMachines
check "unprivileged GetMachine" nobody busctl call $DEST $MGR_PATH $MGR GetMachine s "$P-auth"
check "unprivileged properties" nobody busctl get-property $DEST "$(mpath $P-auth)" $MACH Leader
check "unprivileged GetMachineOSRelease" nobody busctl call $DEST $MGR_PATH $MGR GetMachineOSRelease s "$P-auth"
start_leader
nl=$LEADER
check_fails "unprivileged RegisterMachine denied by berthd" "Only root" nobody dbus-send --system --print-reply \
    --dest=$DEST $MGR_PATH $MGR.RegisterMachine string:$P-evil array:byte:1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 \
    string: string:container uint32:$nl string:/
check "unprivileged register left no machine" machine_gone "$P-evil"
check_fails "unprivileged CreateMachine denied" "Access denied" \
    nobody busctl call $DEST $MGR_PATH $MGR CreateMachine "sayssusa(sv)" "$P-evil" 0 "" container "$nl" / 0
check_fails "unprivileged TerminateMachine denied by berthd" "Only root" \
    nobody dbus-send --system --print-reply --dest=$DEST $MGR_PATH $MGR.TerminateMachine string:$P-auth
check_fails "unprivileged KillMachine denied by berthd" "Only root" \
    nobody dbus-send --system --print-reply --dest=$DEST $MGR_PATH $MGR.KillMachine string:$P-auth string:all int32:9
check_fails "unprivileged UnregisterMachine denied by berthd" "Only root" \
    nobody dbus-send --system --print-reply --dest=$DEST $MGR_PATH $MGR.UnregisterMachine string:$P-auth
check_fails "unprivileged Machine.Kill denied" "Access denied" nobody busctl call $DEST "$(mpath $P-auth)" $MACH Kill si all 9
check "machine and leader survived" bash -c "kill -0 $LA && busctl call $DEST $MGR_PATH $MGR GetMachine s $P-auth"
check_fails "unprivileged cannot own the name" "not allowed|Access|denied|Not allowed" \
    nobody "$BERTHD" --state-dir="$TMP/nobody-state" --bus-name=org.freedesktop.machine1

# --- hostile arguments: proper errors, and the daemon keeps serving
start_leader
LH=$LEADER
long=$(printf 'a%.0s' $(seq 65))
# a label may not start or end with '-' (systemd's hostname_is_valid(): "-M --" is refused there)
for n in "" "/" ".." "." "a..b" ".a" "a/b" "$long" ".host" "foo bar" "x.y." "é" "-" "--" "-x" "x-" "a.-b" "a-.b"; do
    check_fails "name '${n:0:20}' rejected" "InvalidArgs|Invalid machine name|already exists" register "$n" "$LH"
done
check_fails "unknown class rejected" "Invalid machine class" register "$P-h" "$LH" toaster
check_fails "empty class rejected" "Invalid machine class" mgr RegisterMachine sayssus "$P-h" 0 "" "" "$LH" /
check_fails "class host rejected" "Invalid machine class" register "$P-h" "$LH" host
check_fails "relative root rejected" "Root directory" register "$P-h" "$LH" container relative/path
check_fails "root with .. rejected" "Root directory" register "$P-h" "$LH" container /a/../b
check_fails "bogus PID rejected" "does not exist" register "$P-h" 2147483647
check_fails "PID 1 rejected" "Invalid leader" register "$P-h" 1
check_fails "PID > INT_MAX rejected" "Invalid leader" register "$P-h" 4294967295
check_fails "berthd's own PID rejected" "Invalid leader" register "$P-h" "$BERTHD_PID"
check_fails "Id of 3 bytes rejected" "Invalid machine ID" mgr RegisterMachine sayssus "$P-h" 3 1 2 3 "" container "$LH" /
check_fails "Id of 17 bytes rejected" "Invalid machine ID" \
    mgr RegisterMachine sayssus "$P-h" 17 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 "" container "$LH" /
check_fails "service with control characters rejected" "Invalid service" \
    mgr RegisterMachine sayssus "$P-h" 0 "$(printf 'a\nb')" container "$LH" /
check_fails "ifindex 0 rejected" "Invalid network interface" \
    mgr RegisterMachineWithNetwork sayssusai "$P-h" 0 "" container "$LH" / 1 0
check_fails "wrong signature rejected" "InvalidArgs|Invalid" mgr RegisterMachine s "$P-h"
check_fails "non-UTF-8 name never reaches the daemon" "." \
    dbus-send --system --print-reply --dest=$DEST $MGR_PATH $MGR.GetMachine "string:$(printf '\xff\xfe')"
check "no hostile registration succeeded" bash -c "[ \"\$(busctl call $DEST $MGR_PATH $MGR ListMachines | grep -o '\"container\"' | wc -l)\" = 1 ]"
check "berthd still serving" mgr ListMachines
check "berthd still running" kill -0 "$BERTHD_PID"

# --- the real machinectl against berthd (it wants /run/systemd/system: private mount ns)
if command -v machinectl >/dev/null; then
    mctl() {
        unshare -m sh -c 'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system &&
                          exec machinectl --no-pager "$@"' mctl "$@"
    }
    check "machinectl list shows the machine" bash -c "$(declare -f mctl); mctl list | grep -q '^$P-auth *container'"
    check "machinectl status" bash -c "$(declare -f mctl); mctl status $P-auth 2>/dev/null | grep -q 'Leader: $LA'"
    check "machinectl show" bash -c "$(declare -f mctl); mctl show $P-auth | grep -q '^State=running'"
    # machinectl kill: a leader that reports the signal it gets
    start_leader bash -c 'trap "echo usr1 >\"\$1\"; exit 0" USR1; while :; do sleep 0.05; done' _ "$TMP/killed"
    LK=$LEADER
    check "RegisterMachine for machinectl kill" register "$P-kill" "$LK"
    check "machinectl kill --signal=SIGUSR1" bash -c "$(declare -f mctl); mctl kill --signal=SIGUSR1 $P-kill"
    check "the leader got SIGUSR1" wait_until 2 test -s "$TMP/killed"
    check "machine killed via machinectl is gone" wait_until 2 machine_gone "$P-kill"
    check "machinectl terminate" bash -c "$(declare -f mctl); mctl terminate $P-auth"
    check "machine terminated via machinectl is gone" wait_until 1 machine_gone "$P-auth"
    check "machinectl list after terminate" bash -c "$(declare -f mctl); ! mctl list | grep -q '^$P-auth'"
else
    ok "machinectl checks # SKIP machinectl not installed"
fi

finish
