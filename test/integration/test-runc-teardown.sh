#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-runc when things go wrong between create and start, and nothing left behind: run
# whose init dies before start, an init killed after create then start and delete, an init
# that leaves a child in the runtime's PID namespace (delete and run), a failed exec
# --pid-file, create failing on its console socket or pid file, and a created init that
# holds none of its caller's file descriptors but the --preserve-fds range. After each:
# no state directory, no cgroup in any hierarchy, no process (and lib.sh checks mounts).
. "$(dirname "$0")/lib.sh"
setup

. "$(dirname "$0")/runc-lib.sh"

TREE=$(new_tree tree)

# what is left of container $ID, for the diagnostics of a failed check
tap_context() {
    ls -d "$ROOT/$ID" 2>/dev/null
    find /sys/fs/cgroup -name "berth-runc-$ID" 2>/dev/null
}

# ---- run whose init dies between create and start: the profile lets the set-up through
# and denies the open of the start FIFO (loaded last, with no_new_privs), so the init
# reports "created", then exits
DENY_OPEN='c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["open", "openat", "openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
B=$(bundle dies '["true"]' "$DENY_OPEN")
ID=$P-dies
expect_fail "run whose init dies before start fails" "stopped" runc run --bundle "$B" "$ID"
ok_if "run leaves no state directory and no cgroup behind" nothing "$ID"
ID=$P-dies-d
expect_fail "run --detach whose init dies before start fails" "stopped" runc run --detach --bundle "$B" "$ID"
ok_if "run --detach leaves no state directory and no cgroup behind" nothing "$ID"

# ---- create, the init dies, then start and delete
ID=$P-died
ok_if "create whose init dies after reporting created succeeds" runc create --bundle "$B" "$ID"
ok_if "state says stopped" wait_status "$ID" stopped
expect_fail "start of it says it has stopped" "has stopped" runc start "$ID"
ok_if "delete of it succeeds" runc delete "$ID"
ok_if "delete leaves nothing behind" nothing "$ID"

B=$(bundle killed '["sleep", "1000"]')
ID=$P-killed
ok_if "create" runc create --bundle "$B" --pid-file "$SCRATCH/killed.pid" "$ID"
PID=$(cat "$SCRATCH/killed.pid")
kill -KILL "$PID"
ok_if "state of a SIGKILLed init says stopped" wait_status "$ID" stopped
expect_fail "start of a SIGKILLed init says it has stopped" "has stopped" runc start "$ID"
ok_if "delete without --force succeeds" runc delete "$ID"
ok_if "delete leaves nothing behind" nothing "$ID"

# ---- in the runtime's PID namespace the init's children outlive it: delete and run end
# them with the cgroup, as runc does
NOPID='c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]'
B=$(bundle orphan '["sh", "-c", "sleep 1000 & echo $! >/out/bg"]' "$NOPID")
ID=$P-orphan
ok_if "create and start a container without a PID namespace" runc run --detach --bundle "$B" "$ID"
ok_if "its init exits" wait_status "$ID" stopped
BG=$(cat "$B/out/bg" 2>/dev/null)
ok_if "the child it left runs on" kill -0 "$BG"
ok_if "delete of the stopped container succeeds" runc delete "$ID"
ok_if "the child went with the cgroup" gone "$BG"
ok_if "delete leaves nothing behind" nothing "$ID"
rm -f "$B/out/bg"
ID=$P-orphan-run
ok_if "run without a PID namespace ends with the init" runc run --bundle "$B" "$ID"
BG=$(cat "$B/out/bg" 2>/dev/null)
ok_if "run ended the child the init left" gone "$BG"
ok_if "run leaves nothing behind" nothing "$ID"

# ---- exec whose pid file cannot be written: the caller is told it failed, so the process
# does not run on
B=$(bundle execpid '["sleep", "1000"]')
ID=$P-execpid
ok_if "run --detach a container" runc run --detach --bundle "$B" "$ID"
# (its output to a file: a process left running would hold a pipe open)
runc exec --detach --pid-file "$SCRATCH/no/such/dir/pid" "$ID" sleep 999 >"$SCRATCH/execpid.out" 2>&1
expect_eq "exec --detach with an unwritable pid file fails" 1 "$?"
expect_match "it names the pid file" "PID file" "$(cat "$SCRATCH/execpid.out")"
sleep 0.2
OUTPUT=$(runc ps --format json "$ID" 2>&1)
expect_eq "only the init is left in the container" "1" "$(json "$OUTPUT" 'len(j)')"
ok_if "delete --force" runc delete --force "$ID"
ok_if "nothing left" nothing "$ID"

# ---- create failing after its state directory and cgroup were made
ID=$P-pidfile
expect_fail "create with an unwritable pid file fails" "PID file" \
    runc create --bundle "$B" --pid-file "$SCRATCH/no/such/dir/pid" "$ID"
ok_if "it leaves nothing behind" nothing "$ID"
TTY=$(bundle ttyfail '["true"]' 'c["process"]["terminal"] = True')
ID=$P-consock
expect_fail "create with a console socket nobody listens on fails" "console socket" \
    runc create --bundle "$TTY" --console-socket "$SCRATCH/no-such.sock" "$ID"
ok_if "it leaves nothing behind" nothing "$ID"
: >"$SCRATCH/not-a-socket"
expect_fail "create with a console socket that is a plain file fails" "console socket" \
    runc create --bundle "$TTY" --console-socket "$SCRATCH/not-a-socket" "$ID"
ok_if "it leaves nothing behind" nothing "$ID"
expect_fail "a bad --preserve-fds is refused" "invalid --preserve-fds" \
    runc create --bundle "$B" --preserve-fds 99999 "$ID"
ok_if "it leaves nothing behind" nothing "$ID"

# ---- a created init holds nothing of its caller's but stdio and --preserve-fds: no lock
# or pipe of the caller stays held until start
B=$(bundle fds '["sh", "-c", "ls /proc/self/fd >/out/fds; cat <&3 >/out/fd3"]')
ID=$P-fds
echo passed-on >"$SCRATCH/fd3"
(exec 3<"$SCRATCH/fd3" 7>"$SCRATCH/stray"; runc create --preserve-fds 1 --pid-file "$SCRATCH/fds.pid" --bundle "$B" "$ID")
PID=$(cat "$SCRATCH/fds.pid")
expect_eq "the created init keeps the --preserve-fds range" "$SCRATCH/fd3" "$(readlink "/proc/$PID/fd/3")"
expect_eq "the created init holds no other fd of its caller" "" \
    "$(find "/proc/$PID/fd" -lname "$SCRATCH/stray" 2>/dev/null)"
ok_if "start" runc start "$ID"
ok_if "it stops" wait_status "$ID" stopped
expect_eq "the program gets fd 3" "passed-on" "$(cat "$B/out/fd3" 2>&1)"
# (4 is ls's own, the directory it lists)
expect_eq "the program has stdio, fd 3 and nothing else of ours" "0 1 2 3" "$(grep -vx 4 "$B/out/fds" | paste -sd' ')"
ok_if "delete" runc delete "$ID"

# ---- an exec that fails after start (the file is no program): said on the container's
# stderr, as runc's init says it ("exec /notexec: exec format error"); on the old code run
# ended with status 1 and no word, the init's log line going to the launcher's socket
B=$(bundle notexec '["/notexec"]')
printf '\177ELF-not-a-program' >"$B/rootfs/notexec"
chmod +x "$B/rootfs/notexec"
ID=$P-notexec
OUTPUT=$(runc run --bundle "$B" "$ID" 2>&1 </dev/null)
expect_eq "run of a file that is no program: status 1, and the exec error said" \
    "1 berth-runc: Failed to execute '/notexec' inside the machine: Exec format error" "$? $OUTPUT"
ok_if "it leaves nothing behind" nothing "$ID"
# create and start: the init's stderr is the one create was given
ok_if "create" sh -c 'exec "$0" --root "$1" create --bundle "$2" "$3" 2>"$4" </dev/null' \
    "$BERTH_RUNC" "$ROOT" "$B" "$ID" "$SCRATCH/notexec.err"
ok_if "start" runc start "$ID"
ok_if "it stops" wait_status "$ID" stopped
expect_eq "create, start: the exec error on the init's stderr" \
    "berth-runc: Failed to execute '/notexec' inside the machine: Exec format error" "$(cat "$SCRATCH/notexec.err")"
ok_if "delete" runc delete "$ID"

# ---- nothing left
expect_eq "the state directory is empty" "" "$(ls -A "$ROOT" 2>&1)"
expect_eq "no cgroup of ours is left" "" "$(find /sys/fs/cgroup -name "*$P*" 2>/dev/null)"
