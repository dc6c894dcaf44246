#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn's runtime state file, /run/berth/spawn/NAME: written while the machine runs
# (supervisor and leader PID, root, cgroup, UID range, network), atomically replaced,
# removed at exit, and reclaimed by the next start after berth-spawn was killed.
# Runs in a network namespace of its own (the -n case).
. "$(dirname "$0")/lib.sh"
in_own_netns "$@"
setup
ip link set lo up

STATE_DIR=/run/berth/spawn

# field NAME KEY: a value of the state file of machine NAME, its \xHH escapes undone
field() { printf '%b' "$(sed -n "s/^$2=//p" "$STATE_DIR/$1" 2>/dev/null)"; }
RUNNING='echo started; sleep 30'

# ---- a running machine is described by its file
spawn_bg "$SCRATCH/state/a.out" "$SCRATCH/state/a.err" -P -D "$TREE" -M st-a --property=TasksMax=100 /bin/sh -c "$RUNNING"
wait_for "$SCRATCH/state/a.out" '^started' 10
L=$(leader_of "$BG_PID")
ok_if "the state file exists while the machine runs" test -f "$STATE_DIR/st-a"
expect_eq "NAME" st-a "$(field st-a NAME)"
expect_eq "SUPERVISOR is berth-spawn's PID" "$BG_PID" "$(field st-a SUPERVISOR)"
expect_eq "LEADER is the machine's PID 1 as the host sees it" "$L" "$(field st-a LEADER)"
expect_eq "ROOT is the tree" "$TREE" "$(field st-a ROOT)"
CG=$(field st-a CGROUP)
LCG=$(sed -n 's/^0:://p' /proc/"$L"/cgroup)
ok_if "CGROUP is the leader's cgroup ($CG, the leader's $LCG)" test -n "$CG" -a -n "$LCG" -a "${CG%"$LCG"}" != "$CG"
ok_if "CGROUP lists the leader in cgroup.procs" grep -qx "$L" "$CG/cgroup.procs"
ok_if "no temporary file is left next to it" test ! -e "$STATE_DIR/.#st-a"
kill -TERM "$BG_PID"
wait_bg "$SCRATCH/state/a.out" "$SCRATCH/state/a.err" 10
ok_if "the state file is gone after the machine ended" test ! -e "$STATE_DIR/st-a"
ok_if "... and its lock file too" test ! -e "$STATE_DIR/.st-a.lock"

# ---- -U: the picked range
spawn_bg "$SCRATCH/state/u.out" "$SCRATCH/state/u.err" -P -U -D "$TREE" -M st-u /bin/sh -c "$RUNNING"
wait_for "$SCRATCH/state/u.out" '^started' 10
L=$(leader_of "$BG_PID")
read -r _ SHIFT RANGE < /proc/"$L"/uid_map
expect_eq "UID_SHIFT is the leader's uid_map base" "$SHIFT" "$(field st-u UID_SHIFT)"
expect_eq "UID_RANGE" "$RANGE" "$(field st-u UID_RANGE)"
expect_eq "UID_RANGE_LOCK" "/run/berth/uid-ranges/$SHIFT" "$(field st-u UID_RANGE_LOCK)"
expect_eq "no CGROUP for a plain command without limits (it has none of its own)" "" "$(field st-u CGROUP)"
kill -TERM "$BG_PID"
wait_bg "$SCRATCH/state/u.out" "$SCRATCH/state/u.err" 10
ok_if "-U: the state file is gone afterwards" test ! -e "$STATE_DIR/st-u"

# ---- -n: the host side of the link
if command -v nft >/dev/null; then
    spawn_bg "$SCRATCH/state/n.out" "$SCRATCH/state/n.err" -P -n -D "$TREE" -M st-n /bin/sh -c "$RUNNING"
    wait_for "$SCRATCH/state/n.out" '^started' 10
    expect_eq "HOST_IFNAME" ve-st-n "$(field st-n HOST_IFNAME)"
    expect_eq "HOST_IFINDEX is the link's" "$(ip -o link show ve-st-n | cut -d: -f1)" "$(field st-n HOST_IFINDEX)"
    GW=$(field st-n GATEWAY)
    ok_if "GATEWAY is the host end's address ($GW)" test -n "$GW" -a -n "$(ip -4 -o addr show dev ve-st-n | grep -F " $GW/")"
    expect_eq "FIREWALL names the machine's rules" st-n "$(field st-n FIREWALL)"
    kill -TERM "$BG_PID"
    wait_bg "$SCRATCH/state/n.out" "$SCRATCH/state/n.err" 10
    ok_if "-n: the state file is gone afterwards" test ! -e "$STATE_DIR/st-n"
else
    skip "-n state" "nft not installed"
fi

# ---- berth-spawn killed: the file stays, the next start of that name reclaims it
spawn_bg "$SCRATCH/state/k.out" "$SCRATCH/state/k.err" -P -D "$TREE" -M st-k /bin/sh -c "$RUNNING"
wait_for "$SCRATCH/state/k.out" '^started' 10
KILLED=$BG_PID
kill -KILL "$BG_PID"
wait_bg "$SCRATCH/state/k.out" "$SCRATCH/state/k.err" 10
expect_eq "after SIGKILL the stale file is left (nobody to remove it)" "$KILLED" "$(field st-k SUPERVISOR)"
spawn_bg "$SCRATCH/state/k2.out" "$SCRATCH/state/k2.err" -P -D "$TREE" -M st-k /bin/sh -c "$RUNNING"
wait_for "$SCRATCH/state/k2.out" '^started' 10
expect_eq "the next start of the name replaces it" "$BG_PID" "$(field st-k SUPERVISOR)"
kill -TERM "$BG_PID"
wait_bg "$SCRATCH/state/k2.out" "$SCRATCH/state/k2.err" 10
ok_if "... and removes it at exit" test ! -e "$STATE_DIR/st-k"

# ---- a start that fails leaves nothing
run_spawn -P -D "$TREE" -M st-f /does/not/exist
expect_rc "a payload that is not there fails" 1
ok_if "a failed start leaves no state file" test ! -e "$STATE_DIR/st-f"
