#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Soak (issue #17, "not yet tried"): for a bounded time (BERTH_SOAK_SECONDS, default 60),
# start machines of every setup and SIGKILL their berth-spawn at a random moment, from
# before the payload runs to well after; machine names repeat, so a start meets its own
# name's leftovers as well as other machines'. Then one more start of an unrelated
# machine, and nothing of any killed machine may remain: state files, cgroups in every
# hierarchy, nft rules, address, machine and UID-range lock files, veth links, ephemeral
# snapshots, mounts and processes (the last two: lib.sh's leak check). Prints the counts
# per setup. Runs in a network namespace of its own (the -n -p setups).
. "$(dirname "$0")/lib.sh"
in_own_netns "$@"
setup
ip link set lo up

SECONDS_MAX=${BERTH_SOAK_SECONDS:-60}
STATE_DIR=/run/berth/spawn

SETUPS=(
    "plain|"
    "userns|-U"
    "veth-port|-n -p tcp:8090:80"
    "userns-veth|-U -n"
    "volatile|--volatile=yes"
    "ephemeral|-x"
    "as-pid2|--as-pid2"
    "limits|--property=TasksMax=50 --property=MemoryMax=256M"
)
declare -A STARTS KILLED_EARLY KILLED_RUNNING FAILED
for s in "${SETUPS[@]}"; do
    STARTS[${s%%|*}]=0 KILLED_EARLY[${s%%|*}]=0 KILLED_RUNNING[${s%%|*}]=0 FAILED[${s%%|*}]=0
done

deadline=$(( $(date +%s) + SECONDS_MAX ))
i=0
while [ "$(date +%s)" -lt "$deadline" ]; do
    s=${SETUPS[i % ${#SETUPS[@]}]}
    name=${s%%|*}
    read -ra opts <<<"${s#*|}"
    # two names per setup, so that names repeat
    m=sk-$name-$(( (i / ${#SETUPS[@]}) % 2 ))
    spawn_bg "$SCRATCH/state/sk.out" "$SCRATCH/state/sk.err" -P -D "$TREE" -M "$m" "${opts[@]}" \
        /bin/sh -c 'echo started; sleep 30'
    pid=$BG_PID
    STARTS[$name]=$(( STARTS[$name] + 1 ))
    # a third within the first 10 ms (a fast host's whole start: the windows between
    # clone and the parent death signal), a third within the start on a slow one (up
    # to 40 ms), the rest up to 400 ms
    case $(( RANDOM % 3 )) in
        0) d=$(( RANDOM % 10 )) ;;
        1) d=$(( RANDOM % 40 )) ;;
        *) d=$(( RANDOM % 400 )) ;;
    esac
    sleep "0.$(printf '%03d' "$d")"
    if [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || ! kill -0 "$pid" 2>/dev/null; then
        # it ended by itself: a start that failed (the kill below finds nothing)
        FAILED[$name]=$(( FAILED[$name] + 1 ))
        [ "${FAILED[$name]}" = 1 ] && diag "$name: a start failed: $(tail -n 3 "$SCRATCH/state/sk.err")"
    elif grep -q '^started' "$SCRATCH/state/sk.out" 2>/dev/null; then
        KILLED_RUNNING[$name]=$(( KILLED_RUNNING[$name] + 1 ))
    else
        KILLED_EARLY[$name]=$(( KILLED_EARLY[$name] + 1 ))
    fi
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    i=$((i + 1))
done

# the machines' processes die with berth-spawn (PDEATHSIG, then the cgroup): give them a moment
for _ in $(seq 1 100); do
    pgrep -f "$SCRATCH/berthbox" >/dev/null 2>&1 || break
    sleep 0.05
done

# one more start, of an unrelated machine: it reclaims every dead machine's leftovers
run_spawn -P -D "$TREE" -M sk-final /bin/true
expect_rc "an unrelated machine starts after $i SIGKILLed starts" 0

is_locked() { ! flock -n -x "$1" true 2>/dev/null; }
unlocked_files() {   # DIR [GLOB]: lock files nobody holds (a running machine holds its own)
    local f
    for f in "$1"/${2:-*.lock}; do
        [ -e "$f" ] && ! is_locked "$f" && echo "$f"
    done
}

leaks_of() {   # SETUP: what is left of its machines
    # (anchored: sk-userns must not match sk-userns-veth's leftovers)
    # (scope names escape '-' as \x2d, as systemd's unit names do)
    local m=sk-$1 e
    e=machine-${m//-/\\x2d}\\x2d
    ls "$STATE_DIR" 2>/dev/null | grep -E "^\.?$m-[01](\.lock)?\$"
    find /sys/fs/cgroup -type d -name 'machine-*.scope' 2>/dev/null | grep -F -e "/${e}0.scope" -e "/${e}1.scope"
    nft list ruleset 2>/dev/null | grep -cE "berth:$m-[01]\"" | grep -v '^0$'
    ls /run/berth/network 2>/dev/null | grep -E "^machine-$m-[01]\.lock\$"
    ip -o link 2>/dev/null | grep -oE "ve-$m[^:@ ]*"
}

total_leaks=0
diag "setup              starts  killed-early  killed-running  failed  leftovers"
for s in "${SETUPS[@]}"; do
    name=${s%%|*}
    left=$(leaks_of "$name")
    n=0
    [ -n "$left" ] && n=$(wc -l <<<"$left")
    total_leaks=$((total_leaks + n))
    diag "$(printf '%-18s %6d  %12d  %14d  %6d  %9d' "$name" "${STARTS[$name]}" "${KILLED_EARLY[$name]}" "${KILLED_RUNNING[$name]}" "${FAILED[$name]}" "$n")"
    expect_eq "$name: every start ran until it was killed" 0 "${FAILED[$name]}"
    expect_eq "$name: nothing of its ${STARTS[$name]} SIGKILLed machines is left" "" "$left"
done
expect_eq "no unheld machine or address lock file is left" "" \
    "$(unlocked_files /run/berth/network | grep -E '/(machine-sk-|subnet-)')"
expect_eq "no unheld UID-range lock file is left" "" "$(unlocked_files /run/berth/uid-ranges '*')"
expect_eq "no unheld ephemeral snapshot lock is left" "" "$(unlocked_files /run/berth/ephemeral)"
ok_if "ephemeral copies of the tree are gone" \
    test -z "$(find "$SCRATCH" -maxdepth 1 -name '.#*')"
ok_if "the soak ran every setup at least once ($i starts)" test "$i" -ge "${#SETUPS[@]}"
