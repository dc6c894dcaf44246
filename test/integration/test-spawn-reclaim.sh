#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A berth-spawn that was SIGKILLed leaves its firewall rules, address and UID-range locks,
# cgroups and state file behind; the next start of ANY machine reclaims them (issue #17),
# and never touches what a running machine holds.
# Runs in a network namespace of its own (the -n -p case).
. "$(dirname "$0")/lib.sh"
in_own_netns "$@"
setup
ip link set lo up

STATE_DIR=/run/berth/spawn
RUNNING='echo started; sleep 30'

# field NAME KEY: a value of the state file of machine NAME, its \xHH escapes undone
field() { printf '%b' "$(sed -n "s/^$2=//p" "$STATE_DIR/$1" 2>/dev/null)"; }
# nft_rules NAME: how many rules of table ip berth carry the machine's comment
nft_rules() { nft list table ip berth 2>/dev/null | grep -c "comment \"berth:$1\""; }
# scope_dirs NAME: the machine's scope cgroups, in every hierarchy
scope_dirs() { find /sys/fs/cgroup -type d -name "machine-$1.scope" 2>/dev/null; }
# is_locked PATH: someone holds the flock on PATH
is_locked() { ! flock -n -x "$1" true 2>/dev/null; }
# wait_unpopulated DIR...: the killed machine's processes are gone (PDEATHSIG)
wait_unpopulated() {
    local d i
    for d in "$@"; do
        for i in $(seq 1 100); do
            grep -qx 'populated 0' "$d/cgroup.events" 2>/dev/null || [ ! -e "$d/cgroup.events" ] && break
            sleep 0.05
        done
    done
}

if ! command -v nft >/dev/null; then
    skip "reclaim" "nft not installed"
    exit 0
fi

# ---- a running machine, whose state nobody may touch
spawn_bg "$SCRATCH/state/r.out" "$SCRATCH/state/r.err" -P -n -p tcp:8081:80 -D "$TREE" -M rcr \
    --property=TasksMax=20 /bin/sh -c "$RUNNING"
wait_for "$SCRATCH/state/r.out" '^started' 10
RUNNING_PID=$BG_PID
cp "$STATE_DIR/rcr" "$SCRATCH/state/rcr.before"
R_CG=$(field rcr CGROUP)
R_ALOCK=$(field rcr ADDRESS_LOCK)

# ---- machines rca (-n -p) and rcb (-U with a limit: a cgroup of its own), both started
# before either is SIGKILLed (any start reclaims)
spawn_bg "$SCRATCH/state/a.out" "$SCRATCH/state/a.err" -P -n -p tcp:8080:80 -D "$TREE" -M rca /bin/sh -c "$RUNNING"
A_PID=$BG_PID
spawn_bg "$SCRATCH/state/b.out" "$SCRATCH/state/b.err" -P -U --property=TasksMax=10 -D "$TREE" -M rcb /bin/sh -c "$RUNNING"
B_PID=$BG_PID
wait_for "$SCRATCH/state/a.out" '^started' 10
wait_for "$SCRATCH/state/b.out" '^started' 10
A_ALOCK=$(field rca ADDRESS_LOCK)
B_ULOCK=$(field rcb UID_RANGE_LOCK)
B_CG=$(field rcb CGROUP)
kill -KILL "$A_PID" "$B_PID"
BG_PID=$A_PID
wait_bg "$SCRATCH/state/a.out" "$SCRATCH/state/a.err" 10
BG_PID=$B_PID
wait_bg "$SCRATCH/state/b.out" "$SCRATCH/state/b.err" 10
mapfile -t B_DIRS < <(scope_dirs rcb)
wait_unpopulated "${B_DIRS[@]}"

# the leftovers are there
ok_if "rca's state file is left" test -f "$STATE_DIR/rca"
ok_if "rcb's state file is left" test -f "$STATE_DIR/rcb"
ok_if "rca's nft rules are left ($(nft_rules rca))" test "$(nft_rules rca)" -gt 0
ok_if "rca's address lock file is left ($A_ALOCK)" test -n "$A_ALOCK" -a -e "$A_ALOCK"
ok_if "rca's machine lock file is left" test -e /run/berth/network/machine-rca.lock
ok_if "rcb's UID-range lock file is left ($B_ULOCK)" test -n "$B_ULOCK" -a -e "$B_ULOCK"
ok_if "rcb's scope cgroup is left (${B_DIRS[*]})" test "${#B_DIRS[@]}" -gt 0 -a -d "$B_CG"

# lock files that no state file names: a berth-spawn killed after it took its machine,
# address or UID-range lock and before it wrote its state file (the soak test met this)
mkdir -p /run/berth/network /run/berth/uid-ranges
ORPHANS=(/run/berth/network/machine-rcd.lock /run/berth/network/subnet-192.0.2.0.lock
         /run/berth/uid-ranges/4026400768)
touch "${ORPHANS[@]}"
# one of them held by a live process: not reclaimed
HELD=/run/berth/network/machine-rch.lock
# (the holder is sleep itself, with the locked file as its fd 9)
(exec 9>"$HELD" && flock -x 9 && exec sleep 60) &
HOLDER=$!
for _ in $(seq 1 50); do is_locked "$HELD" && break; sleep 0.02; done
ok_if "the held lock file is held" is_locked "$HELD"

# ---- an unrelated start reclaims them
run_spawn -P -D "$TREE" -M rcc /bin/true
expect_rc "an unrelated machine starts" 0
expect_eq "one warning line per reclaimed machine" 2 "$(grep -c "Reclaimed the leftovers of machine" <<<"$ERROUT")"
ok_if "rca's state file is gone" test ! -e "$STATE_DIR/rca" -a ! -e "$STATE_DIR/.rca.lock"
ok_if "rcb's state file is gone" test ! -e "$STATE_DIR/rcb" -a ! -e "$STATE_DIR/.rcb.lock"
expect_eq "rca's nft rules are gone" 0 "$(nft_rules rca)"
ok_if "rca's address lock file is gone" test ! -e "$A_ALOCK"
ok_if "rca's machine lock file is gone" test ! -e /run/berth/network/machine-rca.lock
ok_if "rcb's UID-range lock file is gone" test ! -e "$B_ULOCK"
expect_eq "rcb's scope cgroups are gone in every hierarchy" "" "$(scope_dirs rcb)"
for f in "${ORPHANS[@]}"; do
    ok_if "the orphaned lock file ${f#/run/berth/} is gone" test ! -e "$f"
done
ok_if "the held lock file is still there and held" is_locked "$HELD"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
rm -f "$HELD"

# ---- the running machine is untouched
ok_if "rcr still runs" kill -0 "$RUNNING_PID"
ok_if "rcr's state file is unchanged" cmp -s "$STATE_DIR/rcr" "$SCRATCH/state/rcr.before"
ok_if "rcr's state lock is held" is_locked "$STATE_DIR/.rcr.lock"
ok_if "rcr's nft rules are there ($(nft_rules rcr))" test "$(nft_rules rcr)" -gt 0
ok_if "rcr's address lock is held" is_locked "$R_ALOCK"
ok_if "rcr's cgroup is there" test -d "$R_CG"
BG_PID=$RUNNING_PID
kill -TERM "$BG_PID"
wait_bg "$SCRATCH/state/r.out" "$SCRATCH/state/r.err" 10
ok_if "rcr cleans up after itself" test ! -e "$STATE_DIR/rcr" -a "$(nft_rules rcr)" = 0 -a ! -d "$R_CG"

# ---- killed after its cgroups were made and before its clone (the soak test met this:
# the state file of that moment named no cgroup, so the reclaim removed the file and left
# the cgroups for good). strace holds clone3 for 3 s; the scope appears, berth-spawn dies.
if command -v strace >/dev/null; then
    strace -f -qq -o /dev/null -e trace=clone3 -e inject=clone3:delay_enter=3000000 \
        "$BERTH_SPAWN" -q -P --property=TasksMax=10 -D "$TREE" -M rce /bin/true \
        >"$SCRATCH/state/e.out" 2>&1 &
    TRACER=$!
    for _ in $(seq 1 100); do
        [ -n "$(scope_dirs rce)" ] && break
        sleep 0.02
    done
    E_PID=$(pgrep -P "$TRACER" -x berth-spawn | head -n1)
    ok_if "rce: killed while its clone waits, its scope cgroups made ($(scope_dirs rce | wc -l))" \
        test -n "$E_PID" -a -n "$(scope_dirs rce)"
    [ -n "$E_PID" ] && kill -KILL "$E_PID"
    wait "$TRACER" 2>/dev/null
    mapfile -t E_DIRS < <(scope_dirs rce)
    expect_eq "rce: its state file names its cgroups" "$(printf '%s\n' "${E_DIRS[@]}" | sort | paste -sd' ')" \
        "$( (field rce CGROUP; echo; field rce CGROUP_V1 | tr ' ' '\n') | grep . | sort | paste -sd' ')"
    run_spawn -P -D "$TREE" -M rcf /bin/true
    expect_rc "rce: an unrelated machine starts" 0
    expect_eq "rce: its scope cgroups are gone in every hierarchy" "" "$(scope_dirs rce)"
    ok_if "rce: its state file is gone" test ! -e "$STATE_DIR/rce"
else
    skip "killed before its clone" "no strace"
fi
