#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn basics: hostname, PID 1 / --as-pid2, exit status, death by signal,
# SIGTERM/SIGINT handling and --kill-signal.
. "$(dirname "$0")/lib.sh"
setup

# ---- the payload runs, as PID 1
run_payload -- pid
expect_rc "payload runs (exit 0)" 0
expect_eq "payload is PID 1" 1 "$(value pid)"
expect_eq "PID 1's parent is outside the namespace (ppid 0)" 0 "$(value ppid)"

# ---- namespaces: new mount, PID, UTS, IPC and cgroup namespaces; host network and user ns
HOST_NS=$("$BERTH_PAYLOAD" ns)
run_payload -- ns
for ns in mnt pid uts ipc cgroup; do
    h=$(value "$ns" "$HOST_NS")
    c=$(value "$ns")
    if [ -n "$c" ] && [ "$c" != "$h" ]; then
        pass "new $ns namespace ($c, host $h)"
    else
        fail "new $ns namespace" "inside: '$c', host: '$h'
$(last_run)"
    fi
done
expect_eq "the host's network namespace is shared" "$(value net "$HOST_NS")" "$(value net)"
expect_eq "no user namespace (the host's)" "$(value user "$HOST_NS")" "$(value user)"

# ---- hostname
run_payload -- hostname
expect_eq "hostname defaults to the machine name (basename of DIR)" "$MACHINE" "$(value hostname)"

run_payload -M foo-1.test -- hostname
expect_eq "hostname follows -M" foo-1.test "$(value hostname)"

run_payload --machine=foo2 -- hostname
expect_eq "hostname follows --machine=" foo2 "$(value hostname)"

run_payload -M foo --hostname=bar.example -- hostname
expect_eq "--hostname overrides the machine name" bar.example "$(value hostname)"

name64=$(printf 'm%.0s' $(seq 1 64))
run_payload -M "$name64" -- hostname
expect_eq "a 64-character machine name is valid and becomes the hostname" "$name64" "$(value hostname)"

host_before=$(uname -n)
run_payload --hostname=changed-inside -- hostname
expect_eq "the host's hostname is unchanged" "$host_before" "$(uname -n)"

# ---- --as-pid2
run_payload --as-pid2 -- pid
expect_rc "--as-pid2: payload runs" 0
expect_eq "--as-pid2: payload is PID 2" 2 "$(value pid)"
expect_eq "--as-pid2: payload's parent is PID 1 (the stub init)" 1 "$(value ppid)"

run_payload --as-pid2 -- zombies
expect_match "--as-pid2: the stub init reaps orphaned zombies" '^orphan=[0-9]+ reaped$'

run_payload -- zombies
expect_match "control: without --as-pid2 the payload (PID 1) does not reap, the orphan stays a zombie" \
    '^orphan=[0-9]+ zombie$'

# The stub init lives on in the machine next to the payload: it must hold nothing from
# the host (root directory, mounts, the caller's fds) that the payload could take over
# through /proc/1/fd or pidfd_getfd(); only stdio and its socket to berth-spawn stay.
exec 7</etc/hostname
run_payload --as-pid2 -- fds 1
exec 7<&-
stub_fds=$(value fds)
stub_extra=$(grep "^fd " <<<"$OUTPUT" | awk '$2 > 2' | grep -v -- '-> socket:\[' || true)
if [ -n "$stub_fds" ] && [ -z "$stub_extra" ] && [ "$(wc -w <<<"$stub_fds")" -le 4 ]; then
    pass "--as-pid2: the stub init holds only stdio and its sync socket ($stub_fds)"
else
    fail "--as-pid2: the stub init holds only stdio and its sync socket" "extra fds: $stub_extra
$(last_run)"
fi
run_payload --as-pid2 -U -- fds 1
expect_eq "--as-pid2 -U: the stub init is not dumpable, its fds are hidden from the payload" \
    EACCES "$(value fds-error)"

run_payload --as-pid2 -- exit 3
expect_rc "--as-pid2: exit status 3 is passed through" 3

run_payload --as-pid2 -- hostname
expect_eq "--as-pid2: hostname is the machine name" "$MACHINE" "$(value hostname)"

# ---- exit status passthrough
for st in 0 1 3 42 255; do
    run_payload -- exit "$st"
    expect_rc "exit status $st is passed through" "$st"
done

# ---- death by signal
run_payload -- kill-self SEGV
expect_rc "payload (PID 1) killed by SIGSEGV: exit status 139" 139
expect_line "SIGSEGV death message" "Container $MACHINE terminated by signal SIGSEGV." "$ERROUT"

run_payload -M sigtest -- kill-self ILL
expect_rc "payload (PID 1) killed by SIGILL: exit status 132" 132
expect_line "SIGILL death message names the machine" "Container sigtest terminated by signal SIGILL." "$ERROUT"

run_payload --as-pid2 -- kill-self TERM
expect_rc "--as-pid2: payload killed by SIGTERM: exit status 143" 143
expect_line "--as-pid2: SIGTERM death message" "Container $MACHINE terminated by signal SIGTERM." "$ERROUT"

run_payload --as-pid2 -- kill-self KILL
expect_rc "--as-pid2: payload killed by SIGKILL: exit status 137" 137
expect_line "--as-pid2: SIGKILL death message" "Container $MACHINE terminated by signal SIGKILL." "$ERROUT"

run_payload -q -- kill-self SEGV
expect_rc "-q: death by signal still gives 128+N" 139
expect_eq "-q: no death message (stderr empty)" "" "$ERROUT"

run_payload -q -- exit 0
expect_eq "-q: nothing on stderr for a clean run" "" "$ERROUT"

# ---- SIGTERM / SIGINT to berth-spawn
bgout=$SCRATCH/state/bg.out
bgerr=$SCRATCH/state/bg.err

# sig_test DESC SIGNAL-TO-SEND [SPAWN-OPTIONS...] -- PAYLOAD-ARGS
# starts the payload, waits for its "ready", sends the signal to berth-spawn
sig_test() {
    local desc=$1 sig=$2
    shift 2
    local opts=()
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    : >"$bgout"
    spawn_bg "$bgout" "$bgerr" -P -D "$TREE" "${opts[@]}" "$PAYLOAD" "$@"
    if ! wait_for "$bgout" '^ready' 10; then
        fail "$desc: payload became ready" "$(cat "$bgout" "$bgerr")"
        kill -KILL "$BG_PID" 2>/dev/null
        wait_bg "$bgout" "$bgerr" 5
        return 1
    fi
    kill "-$sig" "$BG_PID" 2>/dev/null
    wait_bg "$bgout" "$bgerr" 10
    return 0
}

if sig_test "SIGTERM, default kill signal" TERM -- sigwait 1 20; then
    expect_rc "SIGTERM to berth-spawn with the default kill signal (SIGKILL): exit status 137" 137
    expect_no_match "default kill signal: the payload's SIGTERM handler did not run" '^got '
    expect_line "default kill signal: SIGKILL death message" \
        "Container $MACHINE terminated by signal SIGKILL." "$ERROUT"
fi

if sig_test "SIGTERM, --kill-signal=SIGTERM" TERM --kill-signal=SIGTERM -- sigwait 1 20; then
    expect_line "--kill-signal=SIGTERM: the payload receives SIGTERM" "got SIGTERM"
    expect_rc "--kill-signal=SIGTERM: payload's exit status 0 is passed through" 0
fi

if sig_test "SIGINT, --kill-signal=SIGTERM" INT --kill-signal=SIGTERM -- sigwait 1 20; then
    expect_line "SIGINT to berth-spawn sends the kill signal (SIGTERM) to the payload" "got SIGTERM"
    expect_rc "SIGINT + --kill-signal=SIGTERM: exit status 0" 0
fi

if sig_test "SIGTERM, --kill-signal=SIGRTMIN+3" TERM --kill-signal=SIGRTMIN+3 -- sigwait 1 20; then
    expect_line "--kill-signal=SIGRTMIN+3: the payload receives SIGRTMIN+3" "got SIGRTMIN+3"
    expect_rc "--kill-signal=SIGRTMIN+3: exit status 0" 0
fi

if sig_test "SIGTERM, --kill-signal=SIGTERM, --as-pid2" TERM --as-pid2 --kill-signal=SIGTERM -- sigwait 1 20; then
    expect_line "--as-pid2: the stub init forwards the kill signal (SIGTERM) to the payload" "got SIGTERM"
    expect_rc "--as-pid2 + forwarded signal: exit status 0" 0
fi

# a second SIGTERM sends SIGKILL
: >"$bgout"
spawn_bg "$bgout" "$bgerr" -P -D "$TREE" --kill-signal=SIGTERM "$PAYLOAD" sigwait 99 20
if wait_for "$bgout" '^ready' 10; then
    kill -TERM "$BG_PID"
    if wait_for "$bgout" '^got SIGTERM' 5; then
        pass "first SIGTERM is forwarded (payload keeps running)"
    else
        fail "first SIGTERM is forwarded (payload keeps running)" "$(cat "$bgout" "$bgerr")"
    fi
    kill -TERM "$BG_PID"
    wait_bg "$bgout" "$bgerr" 10
    expect_rc "second SIGTERM kills the payload with SIGKILL: exit status 137" 137
else
    fail "first SIGTERM is forwarded (payload keeps running)" "payload never ready: $(cat "$bgout" "$bgerr")"
    kill -KILL "$BG_PID" 2>/dev/null
    wait_bg "$bgout" "$bgerr" 5
fi
