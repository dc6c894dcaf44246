#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-runc under containerd (Debian's 1.6) and its io.containerd.runc.v2 shim: a private
# containerd (its own socket, root and state directories, /run/containerd a tmpfs of this
# test's mount namespace, in a network namespace of the test's own) runs containers with
# --runc-binary berth-runc (the shim's BinaryName option): exit status, a tty, exec, ps, pause/resume, kill, delete, resource limits in the cgroup,
# several containers in parallel, and nothing left behind.
. "$(dirname "$0")/lib.sh"
in_own_netns "$@"
setup

: "${BERTH_RUNC:=$BERTH_SRCDIR/build/src/oci/berth-runc}"
for p in containerd ctr containerd-shim-runc-v2; do
    if ! command -v "$p" >/dev/null; then
        skip "containerd tests" "$p not installed (tools/install-deps.sh installs containerd)"
        exit 0
    fi
done

# the ctr namespace is the first component of the cgroups containerd asks for: unique
NS=brt$$
CD=$SCRATCH/containerd
mkdir -p "$CD/root" "$CD/state"
mount -t tmpfs tmpfs /run/containerd 2>/dev/null || { mkdir -p /run/containerd && mount -t tmpfs tmpfs /run/containerd; }
cat >"$CD/config.toml" <<EOF
version = 2
root = "$CD/root"
state = "$CD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CD/containerd.sock"
[plugins."io.containerd.runtime.v2.task"]
  platforms = ["linux/amd64"]
EOF

containerd --config "$CD/config.toml" --log-level warn >"$CD/containerd.log" 2>&1 &
CD_PID=$!
_bg_pids+=("$CD_PID")
for i in $(seq 1 100); do [ -S "$CD/containerd.sock" ] && break; sleep 0.1; done

# an array, so that timeout can run it too
CTR=(ctr --address "$CD/containerd.sock" -n "$NS")

# a task's cgroup file, wherever the controller lives (containerd asks for /NS/ID)
cgfile() {
    find /sys/fs/cgroup -path "*/$NS/$1/$2" 2>/dev/null | head -n1
}

ROOTFS=$(new_tree rootfs)
# ctr run --rootfs [FLAGS] ROOTFS ID COMMAND...
RUN=("${CTR[@]}" run --runc-binary "$BERTH_RUNC" --rootfs)

if [ ! -S "$CD/containerd.sock" ]; then
    fail "containerd starts" "$(cat "$CD/containerd.log")"
    exit 1
fi
pass "a private containerd runs"

# ---- run to completion, exit status
OUTPUT=$(timeout 60 "${RUN[@]}" --rm "$ROOTFS" c1 sh -c 'echo hello from $(hostname); exit 7' 2>&1)
RC=$?
expect_eq "ctr run ends with the container's exit status" 7 "$RC"
expect_match "the container's output reaches ctr" '^hello from '
expect_eq "ctr run --rm removed the container" "" "$("${CTR[@]}" containers list -q 2>&1)"

# ---- a tty container
OUTPUT=$(timeout 60 script -qec "${RUN[*]} --rm -t $ROOTFS c2 sh -c 'tty; echo on-a-tty'" /dev/null </dev/null 2>&1 | tr -d '\r')
# (a NUL that reaches the terminal's input before the program runs is echoed as "^@")
expect_match "ctr run -t: the payload's stdio is a pty" '^(\^@)?/dev/pts/[0-9]+$'
expect_match "ctr run -t: output comes through the pty" '^on-a-tty$'

# ---- a long-running container: exec, ps, pause/resume, limits, kill, delete
ok_if "ctr run -d starts a container with a memory limit" timeout 60 "${RUN[@]}" -d --memory-limit 67108864 "$ROOTFS" c3 sleep 1000
OUTPUT=$(timeout 30 "${CTR[@]}" task exec --exec-id e1 c3 sh -c 'cat /proc/1/comm; exit 5' 2>&1)
RC=$?
expect_eq "ctr task exec ends with the process's exit status" 5 "$RC"
expect_match "ctr task exec runs in the container's PID namespace" '^sleep$'
OUTPUT=$(timeout 30 "${CTR[@]}" task ps c3 2>&1)
expect_match "ctr task ps lists the container's init" '^[0-9]+ '
F=$(cgfile c3 memory.max); [ -n "$F" ] || F=$(cgfile c3 memory.limit_in_bytes)
expect_eq "the memory limit is in the container's cgroup" 67108864 "$(cat "$F" 2>&1)"
ok_if "ctr task pause" timeout 30 "${CTR[@]}" task pause c3
expect_eq "paused: the container's cgroup is frozen" "frozen 1" "$(grep frozen "$(cgfile c3 cgroup.events)" 2>&1)"
OUTPUT=$("${CTR[@]}" task list 2>&1)
expect_match "ctr task list: PAUSED" 'c3 +[0-9]+ +PAUSED'
ok_if "ctr task resume" timeout 30 "${CTR[@]}" task resume c3
expect_eq "resumed: thawed" "frozen 0" "$(grep frozen "$(cgfile c3 cgroup.events)" 2>&1)"
ok_if "ctr task kill -s KILL" timeout 30 "${CTR[@]}" task kill -s KILL c3
for i in $(seq 1 100); do "${CTR[@]}" task list 2>/dev/null | grep -qE 'c3 .*STOPPED' && break; sleep 0.1; done
OUTPUT=$("${CTR[@]}" task list 2>&1)
expect_match "the killed task is STOPPED" 'c3 +[0-9]+ +STOPPED'
ok_if "ctr task delete" timeout 30 "${CTR[@]}" task delete c3
ok_if "ctr container delete" timeout 30 "${CTR[@]}" container delete c3
expect_eq "no cgroup of c3 is left" "" "$(find /sys/fs/cgroup -path "*/$NS/c3" 2>/dev/null)"

# ---- several in parallel
for n in 1 2 3 4; do
    timeout 90 "${RUN[@]}" --rm "$ROOTFS" "p$n" sh -c "exit $n" >"$SCRATCH/state/p$n.out" 2>&1 &
    eval "PP$n=\$!"
done
codes=
for n in 1 2 3 4; do
    eval "wait \$PP$n"
    codes="$codes $?"
done
expect_eq "four containers in parallel, each with its own exit status" " 1 2 3 4" "$codes"

# ---- a killed shim: containerd cleans up through berth-runc delete
ok_if "ctr run -d c5" timeout 60 "${RUN[@]}" -d "$ROOTFS" c5 sleep 1000
SHIM=$(pgrep -f "containerd-shim-runc-v2 -namespace $NS -id c5" | head -n1)
if [ -n "$SHIM" ]; then
    kill -KILL "$SHIM"
    for i in $(seq 1 100); do "${CTR[@]}" task list 2>/dev/null | grep -q 'c5 ' || break; "${CTR[@]}" task list 2>/dev/null | grep -qE 'c5 .*(STOPPED|UNKNOWN)' && break; sleep 0.1; done
    timeout 30 "${CTR[@]}" task delete --force c5 >/dev/null 2>&1
    timeout 30 "${CTR[@]}" container delete c5 >/dev/null 2>&1
    pass "the shim of c5 was killed"
else
    fail "the shim of c5 is found" "$(pgrep -af containerd-shim)"
fi
ok_if "the container's init is gone after the shim's death and cleanup" \
    bash -c "! pgrep -f 'sleep 1000' >/dev/null || ! grep -q . \$(find /sys/fs/cgroup -path '*/$NS/c5/cgroup.procs' | head -n1) 2>/dev/null"

# ---- tear down containerd, check nothing is left
kill "$CD_PID"
wait "$CD_PID" 2>/dev/null
sleep 0.2
expect_eq "no containerd shim is left" "" "$(pgrep -af "containerd-shim-runc-v2 -namespace $NS")"
expect_eq "no cgroup of the test's containers is left" "" \
    "$(find /sys/fs/cgroup -mindepth 1 -path "*/$NS/*" -type d 2>/dev/null)"
# the namespace's own cgroup directories are containerd's parents: removed when empty
find /sys/fs/cgroup -depth -type d -name "$NS" -exec rmdir {} + 2>/dev/null
expect_eq "berth-runc's state under the shim's root is gone" "" "$(ls -A "/run/containerd/runc/$NS" 2>/dev/null)"
umount -l "$CD/root/io.containerd.snapshotter.v1.native" 2>/dev/null
umount -l /run/containerd
