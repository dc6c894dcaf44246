#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn --property= and --slice=: limits land in the machine's cgroup (cgroup2, or
# the v1 controllers on hybrid hosts), an over-limit machine is OOM-killed inside its
# cgroup, TasksMax stops a fork bomb, and every cgroup is removed afterwards.
. "$(dirname "$0")/lib.sh"
setup

# cgfile NAME FILE: the machine NAME's cgroup file FILE, wherever the controller lives
cgfile() {
    find /sys/fs/cgroup -path "*machine-$1.scope/$2" 2>/dev/null | head -n1
}
scopes() {
    find /sys/fs/cgroup -type d -name "machine-$1.scope" 2>/dev/null
}

# ---- values reach the cgroup files
spawn_bg "$SCRATCH/state/l.out" "$SCRATCH/state/l.err" -P -D "$TREE" -M lim \
    --property=MemoryMax=48M --property=MemoryHigh=40M --property=TasksMax=33 \
    --property=CPUQuota=50% --property=CPUWeight=200 --property=IOWeight=300 /bin/sleep 3
for i in $(seq 1 100); do [ -n "$(cgfile lim cgroup.procs)" ] && break; sleep 0.05; done
F=$(cgfile lim memory.max); [ -n "$F" ] || F=$(cgfile lim memory.limit_in_bytes)
expect_eq "MemoryMax=48M is the machine's memory limit" $((48 << 20)) "$(cat "$F" 2>&1)"
F=$(cgfile lim memory.high); [ -n "$F" ] || F=$(cgfile lim memory.soft_limit_in_bytes)
expect_eq "MemoryHigh=40M (memory.high, or the v1 soft limit)" $((40 << 20)) "$(cat "$F" 2>&1)"
expect_eq "TasksMax=33 is pids.max" 33 "$(cat "$(cgfile lim pids.max)" 2>&1)"
F=$(cgfile lim cpu.max)
if [ -n "$F" ]; then
    expect_eq "CPUQuota=50% is cpu.max" "50000 100000" "$(cat "$F")"
    expect_eq "CPUWeight=200 is cpu.weight" 200 "$(cat "$(cgfile lim cpu.weight)")"
else
    expect_eq "CPUQuota=50% is cpu.cfs_quota_us over a 100 ms period" "50000/100000" \
        "$(cat "$(cgfile lim cpu.cfs_quota_us)")/$(cat "$(cgfile lim cpu.cfs_period_us)")"
    expect_eq "CPUWeight=200 is 2048 cpu.shares" 2048 "$(cat "$(cgfile lim cpu.shares)")"
fi
F=$(cgfile lim io.weight); [ -n "$F" ] || F=$(cgfile lim blkio.bfq.weight); [ -n "$F" ] || F=$(cgfile lim blkio.weight)
if [ -n "$F" ]; then
    expect_match "IOWeight=300 reaches the I/O weight (1500 clamped to blkio's 1000, or io.weight 300)" \
        '(^|default )(300|1000)$' "$(cat "$F")"
else
    skip "IOWeight" "no io or blkio weight file on this kernel"
fi
PID1=$(awk '{print $1}' /proc/"$BG_PID"/task/"$BG_PID"/children)
ok_if "the machine's PID 1 is in the machine's cgroup" grep -qx "$PID1" "$(cgfile lim cgroup.procs)"
wait_bg "$SCRATCH/state/l.out" "$SCRATCH/state/l.err" 10
expect_rc "the limited machine exits normally" 0
expect_eq "its cgroups are removed" "" "$(scopes lim)"
run_spawn -P -D "$TREE" -M lim --property=TasksMax=33 --property=MemoryMax=48M /bin/cat /proc/self/cgroup
expect_no_match "inside, every hierarchy is rooted at the machine's cgroup (cgroup namespace)" 'machine' "$OUTPUT"

# ---- memory: an over-limit machine is killed inside its cgroup
run_spawn -P -D "$TREE" -M oom --property=MemoryMax=32M /bin/dd if=/dev/zero of=/dev/null bs=16M count=1
expect_rc "under MemoryMax=32M a 16 MiB buffer is fine" 0
run_spawn -D "$TREE" -M oom --property=MemoryMax=32M --console=pipe /bin/dd if=/dev/zero of=/dev/null bs=256M count=1
expect_rc "a 256 MiB buffer under MemoryMax=32M: OOM-killed (128+SIGKILL)" 137
expect_match "... and reported as death by SIGKILL" "terminated by signal SIGKILL" "$ERROUT"
ok_if "berth-spawn itself survived the OOM kill (its own process is fine)" kill -0 $$
expect_eq "the OOM machine's cgroups are removed" "" "$(scopes oom)"

# ---- TasksMax stops a fork bomb
run_payload -M bomb --property=TasksMax=20 -- forkbomb 1000
expect_rc "fork bomb under TasksMax=20 runs to its end" 0
FORKED=$(value forked) FAILED=$(value failed)
ok_if "fork bomb: at most 19 children besides PID 1 (got ${FORKED:-?})" test -n "$FORKED" -a "${FORKED:-99}" -le 19
ok_if "fork bomb: the kernel refused further forks (${FAILED:-?} refused)" test "${FAILED:-0}" -gt 0
run_payload -M bomb -- forkbomb 200
ok_if "without TasksMax the same loop forks more than 20 children (${OUTPUT})" test "$(value forked)" -gt 20
expect_eq "the fork bomb machine's cgroups are removed" "" "$(scopes bomb)"

# ---- --slice
run_spawn -P -D "$TREE" -M sl --slice=berthtest-inner.slice --property=TasksMax=10 /bin/cat /proc/self/cgroup
expect_rc "--slice=berthtest-inner.slice runs" 0
spawn_bg "$SCRATCH/state/s.out" "$SCRATCH/state/s.err" -P -D "$TREE" -M sl --slice=berthtest-inner.slice \
    --property=TasksMax=10 /bin/sleep 2
for i in $(seq 1 100); do [ -n "$(scopes sl)" ] && break; sleep 0.05; done
expect_match "--slice: the scope sits in berthtest.slice/berthtest-inner.slice" \
    'berthtest\.slice/berthtest-inner\.slice/machine-sl\.scope' "$(scopes sl)"
wait_bg "$SCRATCH/state/s.out" "$SCRATCH/state/s.err" 10
for d in $(find /sys/fs/cgroup -depth -type d -name 'berthtest*.slice' 2>/dev/null); do rmdir "$d"; done

# ---- --keep-unit: the machine's cgroup is a "payload" child of berth-spawn's own
OWN=$(sed -n 's/^0:://p' /proc/self/cgroup)
spawn_bg "$SCRATCH/state/k.out" "$SCRATCH/state/k.err" -P -D "$TREE" -M keep --keep-unit /bin/sleep 2
for i in $(seq 1 100); do
    L=$(awk '{print $1}' /proc/"$BG_PID"/task/"$BG_PID"/children 2>/dev/null)
    [ -n "$L" ] && grep -q payload /proc/"$L"/cgroup 2>/dev/null && break
    sleep 0.05
done
expect_eq "--keep-unit: the machine runs in <own cgroup>/payload" "0::${OWN%/}/payload" "$(grep '^0::' /proc/"$L"/cgroup)"
expect_eq "--keep-unit: no scope in machine.slice" "" "$(scopes keep)"
wait_bg "$SCRATCH/state/k.out" "$SCRATCH/state/k.err" 10
expect_rc "--keep-unit machine exits normally" 0
ok_if "--keep-unit: the payload cgroup is removed" test ! -e "$(stat -fc %T /sys/fs/cgroup | grep -q cgroup2 && echo /sys/fs/cgroup || echo /sys/fs/cgroup/unified)${OWN%/}/payload"

# ---- bad values
run_spawn -P -D "$TREE" --property=MemoryMax=lots /bin/true
expect_rc "--property=MemoryMax=lots is refused" 1
expect_match "... naming the bad value" "lots" "$ERROUT"
run_spawn -P -D "$TREE" --property=Bogus=1 /bin/true
expect_rc "an unsupported property is refused" 1
expect_match "... naming it" "Bogus" "$ERROUT"
run_spawn -P -D "$TREE" --slice=nope /bin/true
expect_rc "--slice=nope (not a .slice) is refused" 1
