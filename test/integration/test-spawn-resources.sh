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
warnings=0
F=$(cgfile lim memory.high)
if [ -n "$F" ]; then
    expect_eq "MemoryHigh=40M is memory.high" $((40 << 20)) "$(cat "$F" 2>&1)"
else
    # v1 has no memory.high: skipped with a warning, as systemd does
    expect_eq "MemoryHigh on v1 memory: no soft limit set in its place" "$(cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes)" \
        "$(cat "$(cgfile lim memory.soft_limit_in_bytes)" 2>&1)"
    warnings=$((warnings + 1))
fi
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
F=$(cgfile lim io.weight); [ -n "$F" ] || F=$(cgfile lim io.bfq.weight); [ -n "$F" ] || F=$(cgfile lim blkio.bfq.weight)
[ -n "$F" ] || F=$(cgfile lim blkio.weight)
if [ -n "$F" ]; then
    expect_match "IOWeight=300 reaches the I/O weight (1500 clamped to blkio's 1000, or io.weight 300)" \
        '(^|default )(300|1000)$' "$(cat "$F")"
else
    diag "this kernel has no I/O weight file: IOWeight must be skipped with a warning"
    warnings=$((warnings + 1))
fi
PID1=$(awk '{print $1}' /proc/"$BG_PID"/task/"$BG_PID"/children)
ok_if "the machine's PID 1 is in the machine's cgroup" grep -qx "$PID1" "$(cgfile lim cgroup.procs)"
wait_bg "$SCRATCH/state/l.out" "$SCRATCH/state/l.err" 10
expect_rc "the limited machine exits normally" 0
expect_eq "one warning line per property the kernel cannot apply, no other message" "$warnings" \
    "$(grep -v '^Spawning container\|^Container ' <<<"$ERROUT" | grep -c .)"
if [ -z "$(cgfile lim memory.high)" ] && [ -n "$(find /sys/fs/cgroup/memory -maxdepth 0 2>/dev/null)" ]; then
    expect_match "... MemoryHigh's says why" '^berth-spawn: --property=MemoryHigh=41943040 is not applied: the v1 memory controller has no such limit\.$' "$ERROUT"
fi
expect_eq "its cgroups are removed" "" "$(scopes lim)"
run_spawn -P -D "$TREE" -M lim --property=TasksMax=33 --property=MemoryMax=48M /bin/cat /proc/self/cgroup
expect_no_match "inside, every hierarchy is rooted at the machine's cgroup (cgroup namespace)" 'machine' "$OUTPUT"

# ---- what the kernel lacks, made on purpose: the machine starts, with one warning line
# per property naming it and why, and none of its cgroups stays behind in any hierarchy.
# mounts are made in this test's own mount namespace and undone below.
all_scopes() {   # every machine-NAME.scope in every hierarchy, also ones mounted by this test
    find /sys/fs/cgroup "$SCRATCH/cg" -type d -name "machine-$1.scope" 2>/dev/null
}
mkdir -p "$SCRATCH/cg"
if [ "$(stat -fc %T /sys/fs/cgroup/blkio 2>/dev/null)" = cgroupfs ]; then
    # v1 blkio with no weight file: a controller-less named hierarchy stands in for
    # blkio, as on kernels whose schedulers support no weights (no BFQ, no CFQ)
    mount -t cgroup -o none,name=berthtest-noweight berthtest "$SCRATCH/cg" &&
        mount --bind "$SCRATCH/cg" /sys/fs/cgroup/blkio
    run_spawn -P -D "$TREE" -M noweight --property=IOWeight=300 --property=TasksMax=40 /bin/cat /proc/self/cgroup
    expect_rc "IOWeight without a weight file: the machine runs" 0
    expect_match "... and its payload ran (its cgroups listed)" '^[0-9]+:pids:/$' "$OUTPUT"
    expect_eq "... with exactly one warning line, naming IOWeight and the missing files" \
        "berth-spawn: --property=IOWeight=300 is not applied: this kernel offers neither blkio.bfq.weight nor blkio.weight in /sys/fs/cgroup/blkio/machine.slice/machine-noweight.scope." \
        "$(grep '^berth-spawn:' <<<"$ERROUT")"
    expect_eq "... no cgroup of the machine left in any hierarchy" "" "$(all_scopes noweight)"
    umount /sys/fs/cgroup/blkio
    find "$SCRATCH/cg" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null
    umount "$SCRATCH/cg"
else
    skip "IOWeight with no weight file" "no v1 blkio hierarchy on this host; the cgroup2 case is in test-vm-cgroup"
fi
if [ "$(stat -fc %T /sys/fs/cgroup/pids 2>/dev/null)" = cgroupfs ]; then
    # no pids controller anywhere: hide the v1 pids hierarchy (cgroup2 has none here)
    mount -t tmpfs -o size=1M nopids /sys/fs/cgroup/pids
    run_payload -M nopids --property=TasksMax=20 -- forkbomb 200
    expect_rc "TasksMax without a pids controller: the machine runs" 0
    ok_if "... unlimited: more than 20 children forked ($OUTPUT)" test "$(value forked)" -gt 20
    expect_eq "... with one warning line naming TasksMax and why" \
        "berth-spawn: --property=TasksMax=20 is not applied: this host offers the pids controller neither in cgroup2 nor in cgroup v1." \
        "$(grep '^berth-spawn:' <<<"$ERROUT")"
    umount /sys/fs/cgroup/pids
    expect_eq "... no cgroup of the machine left in any hierarchy" "" "$(all_scopes nopids)"
else
    skip "TasksMax without a pids controller" "no v1 pids hierarchy on this host; the cgroup2 case is in test-vm-cgroup"
fi

# ---- a value the kernel refuses stays an error: exit 1, one line, nothing left
run_spawn -P -D "$TREE" -M badval --property=TasksMax=99999999 --property=MemoryMax=48M /bin/true
expect_rc "TasksMax=99999999 (above the kernel's PID_MAX_LIMIT) is refused" 1
expect_match "... in one line naming the property, the value and the kernel's reason" \
    '^berth-spawn: Failed to set --property=TasksMax=99999999 \(pids\.max in /sys/fs/cgroup/.*machine-badval\.scope\): Invalid argument$' "$ERROUT"
expect_eq "... and only that line" 1 "$(grep -c . <<<"$ERROUT")"
expect_eq "... no cgroup of the machine left in any hierarchy" "" "$(all_scopes badval)"

# ---- memory: an over-limit machine is killed inside its cgroup
run_spawn -P -D "$TREE" -M oom --property=MemoryMax=32M /bin/dd if=/dev/zero of=/dev/null bs=16M count=1
expect_rc "under MemoryMax=32M a 16 MiB buffer is fine" 0
# (run under python, whose returncode tells exit(137) from death by SIGKILL, which a
# shell reports alike)
LAST_CMD="berth-spawn -D $TREE -M oom --property=MemoryMax=32M --console=pipe /bin/dd ... bs=256M"
RC=$(timeout -k 3 20 "$PYTHON" -c 'import subprocess, sys; print(subprocess.run(sys.argv[1:]).returncode)' \
    "$BERTH_SPAWN" -D "$TREE" -M oom --property=MemoryMax=32M --console=pipe \
    /bin/dd if=/dev/zero of=/dev/null bs=256M count=1 </dev/null 2>"$SCRATCH/state/err")
ERROUT=$(cat "$SCRATCH/state/err")
expect_rc "a 256 MiB buffer under MemoryMax=32M: OOM-killed, berth-spawn itself exits with 137 (it was not killed: that would be -9)" 137
expect_match "... and reports the death by SIGKILL" "terminated by signal SIGKILL" "$ERROUT"
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
