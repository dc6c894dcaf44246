#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthd starting machines from the pool without systemd (io.berth.Supervisor1), through
# berthctl: a Debian image cloned into a btrfs pool (a snapshot), started berthd-supervised
# with berth-spawn@.service's options, its status (leader, address, OS, console log tail),
# enable + a berthd restart bringing a machine up, a SIGKILL of berthd while machines run
# (nothing dies, both are taken over with the same PIDs), disable --now, JSON output,
# hostile names, and concurrent clone/rename/remove of one image.
#
# berthd and the machines it starts live in a network namespace of this test's own (the
# veth links never reach the host's network); the D-Bus socket is a path, reachable from it.
#
# Environment: BERTHD, BERTH_SPAWN, BERTHCTL.

source "$(dirname "$0")/lib.sh"
: "${BERTHCTL:=$MD_SRCDIR/build/src/berthctl/berthctl}"
: "${BERTH_SPAWN:=$MD_SRCDIR/build/src/spawn/berth-spawn}"
setup
command -v python3 >/dev/null || skip_all "no python3"
DEB=$("$MD_SRCDIR/tools/make-debian-tree.sh" --print-path 2>/dev/null) || skip_all "no Debian tree in /var/cache/berth"
btrfs_pool

ctl() { "$BERTHCTL" --no-pager "$@"; }
sup() { busctl call -- "$DEST" "$MGR_PATH" io.berth.Supervisor1 "$@"; }

# the network namespace berthd runs in, kept by a bind mount
NETNS=$TMP/netns
touch "$NETNS"
unshare --net="$NETNS" true || skip_all "cannot create a network namespace"
REAL_BERTHD=$BERTHD
BERTHD=$TMP/berthd-in-netns
printf '#!/bin/sh\nexec nsenter --net=%s -- %s "$@"\n' "$NETNS" "$REAL_BERTHD" >"$BERTHD"
chmod +x "$BERTHD"
BERTHD_ARGS=(--pool="$POOL" --berth-spawn="$BERTH_SPAWN" --enabled-dir="$TMP/enabled" --log-dir="$TMP/log"
             --bus-address="$DBUS_SYSTEM_BUS_ADDRESS")

# berth-spawn processes of this test (by their --directory= in our pool)
spawns() { pgrep -f -- "--directory=$POOL/" 2>/dev/null; }
emergency_extra() {
    local p
    for p in $(spawns); do kill -KILL "$p" 2>/dev/null; done
    umount "$NETNS" 2>/dev/null
}
finish_extra() {
    wait_until 30 test -z "$(spawns)"
    [ -n "$(spawns)" ] && leaks+=" berth-spawn:$(spawns | tr '\n' ' ')"
    for p in $(spawns); do kill -KILL "$p" 2>/dev/null; done
    local cg
    for cg in "$CGROOT"/machine.slice/berth-spawn@"$P"* /sys/fs/cgroup/systemd/machine.slice/berth-spawn@"$P"*; do
        [ -e "$cg" ] || continue
        leaks+=" cgroup:$cg"
        find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    umount "$NETNS" || leaks+=" netns:$NETNS"
}

if start_berthd "${BERTHD_ARGS[@]}"; then pass "berthd started"; else fail "berthd started"; finish; fi

# --- the Debian image in the pool, and a clone that must be a snapshot
BASE=$P-deb
btrfs subvolume create "$POOL/$BASE" >/dev/null
cp -a "$DEB/." "$POOL/$BASE/"
M1=$P-m1
M2=$P-m2
ok_if "clone of the Debian image" ctl clone "$BASE" "$M1"
BASE_UUID=$(btrfs subvolume show "$POOL/$BASE" | awk '$1 == "UUID:" { print $2 }')
expect_eq "... is a btrfs snapshot: its parent UUID is the image's UUID" "$BASE_UUID" \
    "$(btrfs subvolume show "$POOL/$M1" | awk '$1 == "Parent" && $2 == "UUID:" { print $3 }')"
ctl clone "$BASE" "$M2" >/dev/null

# --- start, supervised by berthd
T0=$(date +%s%N)
ctl start "$M1"
expect_eq "berthctl start: exit status 0" 0 $?
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
diag "start to ready took $MS ms"
ok_if "... the machine is registered when start returns" mgr GetMachine s "$M1"
LEADER1=$(mprop "$M1" Leader | awk '{print $2}')
SPAWN1=$(sup ListSupervisedMachines | grep -oE "\"$M1\" [0-9]+" | awk '{print $2}')
ok_if "... berthd names its berth-spawn" test -n "$SPAWN1"
ok_if "... and the guest's systemd reported ready (READY=1 arrived)" \
    grep -q "Machine '$M1' is ready" "$TMP/berthd.log"

# the command line carries every option of the unit's ExecStart=
UNIT_OPTS=$(sed -n 's/^ExecStart=[^ ]* //p' "$MD_SRCDIR/units/berth-spawn@.service.in" | sed "s/%i/$M1/g")
CMDLINE=$(tr '\0' ' ' <"/proc/$SPAWN1/cmdline")
missing=
for o in $UNIT_OPTS; do grep -q -- " $o " <<<" $CMDLINE " || missing+=" $o"; done
expect_eq "berth-spawn runs with every option of berth-spawn@.service" "" "$missing"
ok_if "... on the image berthd found" grep -q -- "--directory=$POOL/$M1 " <<<"$CMDLINE "
expect_eq "... in a session of its own" "$SPAWN1" "$(ps -o sid= -p "$SPAWN1" | tr -d ' ')"
expect_eq "... in the cgroup berth-spawn@NAME.service" "0::/machine.slice/berth-spawn@$M1.service" \
    "$(grep '^0::' "/proc/$SPAWN1/cgroup")"
ok_if "... and the machine below it (--keep-unit)" grep -q "^0::/machine.slice/berth-spawn@$M1.service/" "/proc/$LEADER1/cgroup"
expect_eq "... with standard input from /dev/null" /dev/null "$(readlink "/proc/$SPAWN1/fd/0")"
ok_if "... and its console in the log file" test -s "$TMP/log/$M1.log"

ok_if "start of a running machine succeeds at once (as StartUnit)" ctl start "$M1"

# --- status: leader, address, OS, the console's last lines
wait_until 10 bash -c "mgr() { busctl call -- $DEST $MGR_PATH $MGR \"\$@\"; }; mgr GetMachineAddresses s $M1 | grep -qv '^a(iay) 0'"
wait_until 30 grep -q "$M1 login:" "$TMP/log/$M1.log"
ctl status "$M1" >"$TMP/status" 2>&1
ok_if "status: the leader" grep -Eq "^[[:space:]]+Leader: $LEADER1 " "$TMP/status"
ok_if "status: an address" grep -Eq "^[[:space:]]+Address: [0-9a-f.:]+" "$TMP/status"
ok_if "status: the OS" grep -Eq "^[[:space:]]+OS: Debian GNU/Linux 12" "$TMP/status"
ok_if "status: the tail of the console log" grep -q "$M1 login:" "$TMP/status"
expect_eq "status: the tail is the log's own last lines" "$(tail -n 3 "$TMP/log/$M1.log" | tr -d '\r' | grep -v '^$' | tail -n 1)" \
    "$(grep -v '^$' "$TMP/status" | tail -n 1)"
[ "$_tap_failed" -gt 0 ] && sed 's/^/# status: /' "$TMP/status"

# --- JSON carries every field, and is JSON
ctl list -o json >"$TMP/list.json"
ok_if "list -o json is valid JSON" python3 -m json.tool "$TMP/list.json"
expect_eq "list -o json: the machine with every field" "['addresses', 'class', 'machine', 'os', 'service', 'version']" \
    "$(python3 -c 'import json,sys; d=[m for m in json.load(open(sys.argv[1])) if m["machine"]==sys.argv[2]]; print(sorted(d[0].keys()))' "$TMP/list.json" "$M1" 2>&1)"
expect_eq "list -o json: values" "container berth debian 12" \
    "$(python3 -c 'import json,sys; m=[m for m in json.load(open(sys.argv[1])) if m["machine"]==sys.argv[2]][0]; print(m["class"], m["service"], m["os"], m["version"])' "$TMP/list.json" "$M1" 2>&1)"
ctl list -o json-pretty >"$TMP/list-pretty.json"
ok_if "list -o json-pretty is valid JSON over several lines" \
    bash -c "python3 -m json.tool '$TMP/list-pretty.json' >/dev/null && [ \$(wc -l <'$TMP/list-pretty.json') -gt 3 ]"

# --- enable, and a berthd restart brings the machine up
ok_if "enable of a machine" ctl enable "$M2"
ok_if "... recorded in the enabled directory" test -f "$TMP/enabled/$M2"
ok_if "... and shown in EnabledMachines" bash -c "busctl get-property $DEST $MGR_PATH io.berth.Supervisor1 EnabledMachines | grep -q '\"$M2\"'"
ok_if "... but not started without --now" machine_gone "$M2"
stop_berthd TERM
ok_if "berthd stopped: the running machine lives on" kill -0 "$SPAWN1"
start_berthd "${BERTHD_ARGS[@]}"
wait_until 60 mgr GetMachine s "$M2"
ok_if "berthd restarted: the enabled machine is started" mgr GetMachine s "$M2"
wait_until 60 bash -c "busctl call -- $DEST $MGR_PATH io.berth.Supervisor1 ListSupervisedMachines | grep -q '\"$M2\" [0-9]* \"running\"'"
expect_eq "... the other one is taken over with the same berth-spawn" "$SPAWN1" \
    "$(sup ListSupervisedMachines | grep -oE "\"$M1\" [0-9]+" | awk '{print $2}')"
expect_eq "... and the same leader" "u $LEADER1" "$(mprop "$M1" Leader)"

# --- SIGKILL of berthd while both run
SPAWN2=$(sup ListSupervisedMachines | grep -oE "\"$M2\" [0-9]+" | awk '{print $2}')
LEADER2=$(mprop "$M2" Leader | awk '{print $2}')
stop_berthd KILL
sleep 1
ok_if "berthd SIGKILLed: nothing of the machines died" kill -0 "$SPAWN1" "$SPAWN2" "$LEADER1" "$LEADER2"
start_berthd "${BERTHD_ARGS[@]}"
expect_eq "... a new berthd takes both over, same berth-spawn PIDs" "$M1 $SPAWN1 running,$M2 $SPAWN2 running" \
    "$(sup ListSupervisedMachines | grep -o '"[^"]*" [0-9]* "[a-z]*"' | tr -d '"' | sort | paste -sd,)"
expect_eq "... and the same leaders" "u $LEADER1 u $LEADER2" "$(mprop "$M1" Leader) $(mprop "$M2" Leader)"
ok_if "... and stops one it took over" ctl disable --now "$M2"
ok_if "disable --now: the machine is gone" machine_gone "$M2"
ok_if "... its berth-spawn too" dead "$SPAWN2"
ok_if "... it is no longer enabled" test ! -e "$TMP/enabled/$M2"
wait_until 5 test ! -e "$CGROOT/machine.slice/berth-spawn@$M2.service"
ok_if "... and its cgroup is removed" test ! -e "$CGROOT/machine.slice/berth-spawn@$M2.service"

# --- hostile names: refused before anything runs
for bad in "" ".." "../$M1" "a/b" "-x" "$(printf 'x%.0s' $(seq 70))" ".hidden"; do
    OUT=$(ctl start "$bad" 2>&1)
    RC=$?
    ok_if "start '${bad:0:20}' is refused (rc $RC)" test "$RC" = 1
    ok_if "... with one line" test "$(wc -l <<<"$OUT")" = 1
done
OUT=$(sup StartMachine s "../../etc" 2>&1)
ok_if "StartMachine '../../etc' over D-Bus: InvalidArgs" grep -q "Invalid machine name" <<<"$OUT"
OUT=$(sup EnableMachine s "../x" 2>&1)
ok_if "EnableMachine '../x': refused" grep -q "Invalid machine name" <<<"$OUT"
ok_if "... nothing written outside the enabled directory" test ! -e "$TMP/x"
check_start_missing=$(ctl start "$P-nosuch" 2>&1)
ok_if "start of a missing image: NoSuchImage" grep -q "No image '$P-nosuch' known" <<<"$check_start_missing"
expect_eq "... only the one machine still runs" "$M1" \
    "$(sup ListSupervisedMachines | grep -oE '"[^"]*" [0-9]+' | awk '{print $1}' | tr -d '"' | paste -sd,)"

# --- concurrent clone, rename and remove of one image
C=$P-conc
ctl clone "$BASE" "$C" >/dev/null
ctl clone "$C" "$C-copy" >"$TMP/c1" 2>&1 &
A=$!
ctl rename "$C" "$C-new" >"$TMP/c2" 2>&1 &
B=$!
ctl remove "$C" >"$TMP/c3" 2>&1 &
D=$!
wait $A; RA=$?
wait $B; RB=$?
wait $D; RD=$?
diag "clone rc $RA, rename rc $RB, remove rc $RD"
for f in c1 c2 c3; do sed "s/^/# $f: /" "$TMP/$f"; done
ok_if "concurrent rename and remove: at most one took the image" test $(( (RB == 0) + (RD == 0) )) -le 1
ok_if "... each failure is one line naming the image" \
    bash -c "for f in c1 c2 c3; do [ ! -s $TMP/\$f ] || { [ \$(wc -l <$TMP/\$f) = 1 ] && grep -q '$C' $TMP/\$f; } || exit 1; done"
ok_if "... no temporaries left in the pool" test -z "$(find "$POOL" -maxdepth 1 -name '.#*')"
if [ "$RA" = 0 ]; then
    ok_if "... the clone is complete" test -s "$POOL/$C-copy/etc/os-release"
else
    ok_if "... the failed clone left nothing" test ! -e "$POOL/$C-copy"
fi
if [ "$RB" = 0 ]; then
    ok_if "... renamed: the new name exists, the old does not" test -d "$POOL/$C-new" -a ! -e "$POOL/$C"
elif [ "$RD" = 0 ]; then
    ok_if "... removed: neither name exists" test ! -e "$POOL/$C" -a ! -e "$POOL/$C-new"
else
    ok_if "... both refused: the image is there, whole" test -s "$POOL/$C/etc/os-release" -a ! -e "$POOL/$C-new"
fi
for i in "$C" "$C-copy" "$C-new"; do [ -e "$POOL/$i" ] && ctl remove "$i"; done

# --- the console log is bounded: beyond 1 MiB it moves to NAME.log.1
head -c 2000000 /dev/zero | tr '\0' 'x' | fold -w 100 >>"$TMP/log/$M1.log"
wait_until 15 test -e "$TMP/log/$M1.log.1"
ok_if "a log beyond 1 MiB is rotated to NAME.log.1" test "$(stat -c %s "$TMP/log/$M1.log.1" 2>/dev/null || echo 0)" -ge 2000000
ok_if "... and NAME.log starts again, small" test "$(stat -c %s "$TMP/log/$M1.log")" -lt 100000

# --- poweroff through the supervisor, then cleanup checks
ok_if "StopMachine of the last one" sup StopMachine s "$M1"
ok_if "... gone" machine_gone "$M1"
ok_if "... nothing supervised any more" test "$(sup ListSupervisedMachines)" = "a(susbs) 0"
ok_if "... and no record left for a later berthd" test -z "$(ls "$TMP/supervise")"
finish
