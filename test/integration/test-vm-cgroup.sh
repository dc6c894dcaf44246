#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-vm-cgroup.sh — berth-spawn --property= on a pure cgroup2 host, in a qemu VM
# (tools/vm-run.sh) booting Debian's kernel with /sys/fs/cgroup as the one cgroup2
# hierarchy, as most users' hosts are (the CI host is hybrid: its controllers are v1).
#
# Checks: every property lands in its cgroup2 file with the controllers enabled down
# machine.slice; an I/O weight where the kernel offers one; a controller that cannot be
# enabled below the slice (a slice with a process of its own: the kernel's "no internal
# processes" rule, made on purpose) costs only its properties, one warning line each,
# and the machine starts; a value the kernel refuses is an error with nothing left
# behind; an OOM inside kills only the machine; no cgroup of a machine stays.
# Also, since this kernel (unlike the CI host's) runs IA32 code, and x32 code when booted
# with syscall.x32=y: the seccomp allow list on the i386 and x32 ABIs.
# And device rules (OCI linux.resources.devices) on cgroup2, where they are an eBPF
# program attached to the machine's cgroup: berth-runc and berth-spawn --oci-bundle.
set -u
export LC_ALL=C

BERTH_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BERTH_TOOLS:=$BERTH_SRCDIR/tools}"
export BERTH_TOOLS
# shellcheck source=test/integration/vm-lib.sh
. "$BERTH_SRCDIR/test/integration/vm-lib.sh"

if [ "${1:-}" = --in-vm ]; then
    cd /tmp || exit 99
    work=$(mktemp -d /tmp/vm-cgroup.XXXXXX)
    cd "$work" || exit 99
    echo "to stderr from the VM" >&2
    cg=/sys/fs/cgroup

    # spawn ARGS...: run berth-spawn; sets RC, OUT, ERR (messages of berth-spawn only)
    spawn() {
        OUT=$("$BERTH_SPAWN" --register=no --console=pipe -D "$work/tree" "$@" 2>"$work/err")
        RC=$?
        ERR=$(grep -v '^Spawning container\|^Container ' "$work/err")
    }
    # eq DESC EXPECTED ACTUAL
    eq() {
        if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: '$2'" "got:      '$3'" "stderr: $(cat "$work/err")"; fi
    }
    # scopes NAME: the machine's cgroups, wherever they are
    scopes() { find "$cg" -type d -name "machine-$1.scope" 2>/dev/null; }
    # wait_scope NAME: until the machine's payload runs in its scope
    wait_scope() {
        for _ in $(seq 1 200); do
            grep -q . "$cg/machine.slice/machine-$1.scope/cgroup.procs" 2>/dev/null && return 0
            sleep 0.05
        done
        return 1
    }

    ok_if "/sys/fs/cgroup is the only cgroup hierarchy, cgroup2" test "$(stat -f -c %T $cg)" = cgroup2fs
    echo "# controllers: $(cat $cg/cgroup.controllers)"
    if [ -z "${BERTH_SPAWN:-}" ] || ! [ -x "$BERTH_SPAWN" ]; then
        fail "BERTH_SPAWN is set and executable in the VM" "${BERTH_SPAWN:-unset}"
        exit 1
    fi
    sh "$BERTH_TOOLS/make-busybox-tree.sh" tree >/dev/null || { fail "make the busybox tree"; exit 1; }

    # ---- every property in its cgroup2 file
    "$BERTH_SPAWN" --register=no --console=pipe -D "$work/tree" -M lim \
        --property=MemoryMax=48M --property=MemoryHigh=40M --property=TasksMax=33 \
        --property=CPUQuota=50% --property=CPUWeight=200 --property=IOWeight=300 \
        /bin/sleep 3 >/dev/null 2>"$work/lim.err" &
    pid=$!
    ok_if "the limited machine's payload runs in machine.slice/machine-lim.scope" wait_scope lim
    d=$cg/machine.slice/machine-lim.scope
    eq "MemoryMax=48M is memory.max" $((48 << 20)) "$(cat $d/memory.max 2>&1)"
    eq "MemoryHigh=40M is memory.high" $((40 << 20)) "$(cat $d/memory.high 2>&1)"
    eq "TasksMax=33 is pids.max" 33 "$(cat $d/pids.max 2>&1)"
    eq "CPUQuota=50% is cpu.max" "50000 100000" "$(cat $d/cpu.max 2>&1)"
    eq "CPUWeight=200 is cpu.weight" 200 "$(cat $d/cpu.weight 2>&1)"
    for f in io.weight io.bfq.weight; do [ -e "$d/$f" ] && break; done
    if [ -e "$d/$f" ]; then
        eq "IOWeight=300 is $f" "default 300" "$(head -n1 $d/$f 2>&1)"
        iowarn=0
    else
        echo "# this kernel has no I/O weight file: IOWeight must be skipped with a warning"
        iowarn=1
    fi
    for c in memory pids cpu io; do
        ok_if "the $c controller is enabled in machine.slice" grep -qw "$c" $cg/machine.slice/cgroup.subtree_control
    done
    wait "$pid"
    eq "the limited machine exits normally" 0 "$?"
    eq "its only messages: a warning for IOWeight when the kernel has no weight file" "$iowarn" \
        "$(grep -v '^Spawning container\|^Container ' "$work/lim.err" | grep -c .)"
    eq "its cgroup is removed" "" "$(scopes lim)"

    # ---- a controller that cannot be enabled below the slice
    mkdir $cg/berthbusy.slice
    sleep 60 &
    holder=$!
    echo "$holder" >$cg/berthbusy.slice/cgroup.procs
    spawn -M busy --slice=berthbusy.slice --property=CPUWeight=200 --property=TasksMax=30 /bin/cat /proc/self/cgroup
    eq "CPUWeight/TasksMax in a slice with a process of its own: the machine runs" 0 "$RC"
    eq "... its payload ran in its scope (cgroup namespace root)" "0::/" "$OUT"
    eq "... one warning line for each property, naming the controller, the slice and the reason" \
        "berth-spawn: --property=TasksMax=30 is not applied: the pids controller cannot be enabled in $cg/berthbusy.slice (it holds processes of its own).
berth-spawn: --property=CPUWeight=200 is not applied: the cpu controller cannot be enabled in $cg/berthbusy.slice (it holds processes of its own)." \
        "$ERR"
    eq "... its cgroup is removed" "" "$(scopes busy)"
    kill "$holder"
    wait "$holder" 2>/dev/null
    rmdir $cg/berthbusy.slice

    # ---- a value the kernel refuses
    spawn -M badval --property=TasksMax=99999999 /bin/true
    eq "TasksMax=99999999 is refused with exit status 1" 1 "$RC"
    case $ERR in
        "berth-spawn: Failed to set --property=TasksMax=99999999 (pids.max in $cg/machine.slice/machine-badval.scope): Invalid argument")
            pass "... in one line naming the property, the file and the kernel's reason" ;;
        *) fail "... in one line naming the property, the file and the kernel's reason" "$ERR" ;;
    esac
    eq "... its cgroup is removed" "" "$(scopes badval)"

    # ---- an OOM kills only the machine
    spawn -M oom --property=MemoryMax=32M /bin/dd if=/dev/zero of=/dev/null bs=256M count=1
    eq "a 256 MiB buffer under MemoryMax=32M: the machine is OOM-killed (137)" 137 "$RC"
    ok_if "... berth-spawn reports it" grep -q "terminated by signal SIGKILL" "$work/err"
    eq "... its cgroup is removed" "" "$(scopes oom)"

    # ---- device rules (OCI linux.resources.devices): cgroup2 has no devices controller,
    # so berth-runc and berth-spawn --oci-bundle attach an eBPF program to the machine's
    # cgroup2 directory; the probe (cgroup-devices-lib.sh) gets EPERM for what they deny
    . "$BERTH_SRCDIR/test/integration/cgroup-devices-lib.sh"
    install -m 0755 "$BERTH_PAYLOAD" "$work/tree/usr/bin/berth-payload"
    probe=$(python3 -c 'import json, sys; print(json.dumps(["sh", "-c", sys.argv[1]]))' "$DEVICES_PROBE")
    devices_bundle "$work/devrun" "$work/tree" "$probe"
    OUT=$("$BERTH_RUNC" --root "$work/runc" run --bundle "$work/devrun" devrun 2>"$work/err")
    eq "berth-runc run: every device access as the rules say (EPERM for the denied)" "$DEVICES_EXPECTED" "$OUT"
    eq "... without a message" "" "$(cat "$work/err")"
    devices_bundle "$work/devspawn" "$work/tree" '["true"]'
    "$BERTH_SPAWN" -q --register=no --oci-bundle="$work/devspawn" sh -c "$DEVICES_PROBE; sleep 2" \
        >"$work/devspawn.out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 1 100); do
        grep -q . $cg/machine.slice/machine-devspawn.scope/cgroup.procs 2>/dev/null && break
        sleep 0.05
    done
    ids=$(bpftool cgroup list $cg/machine.slice/machine-devspawn.scope 2>/dev/null | awk '$2 == "cgroup_device" { print $1 }')
    wait "$pid"
    eq "berth-spawn --oci-bundle: every device access as the rules say" "$DEVICES_EXPECTED" "$(cat "$work/devspawn.out")"
    eq "... without a message" "" "$(cat "$work/err")"
    eq "... one device program was attached to its cgroup" 1 "$(echo "$ids" | grep -c '^[0-9]')"
    for _ in $(seq 1 100); do
        bpftool prog show id "${ids:-0}" >/dev/null 2>&1 || break
        sleep 0.1
    done
    eq "... and is gone with the cgroup" "gone" "$(bpftool prog show id "${ids:-0}" >/dev/null 2>&1 || echo gone)"
    rmdir $cg/berth-devtest
    eq "no cgroup of the device tests is left" "" "$(find $cg -name 'berth-devtest' -o -name '*devrun*' -o -name '*devspawn*')"

    # ---- the seccomp allow list on the i386 ABI: this kernel runs IA32 code, the CI
    # host's does not (test-spawn-security skips it there). int 0x80 from the payload.
    if [ -x "${BERTH_PAYLOAD:-}" ] && "$BERTH_PAYLOAD" syscall i386_getpid >/dev/null 2>&1; then
        install -m 0755 "$BERTH_PAYLOAD" "$work/tree/usr/bin/berth-payload"
        spawn -M i386 /usr/bin/berth-payload syscall i386_fanotify_init i386_getpid
        eq "i386 ABI (int 0x80): fanotify_init is denied, getpid is allowed" \
            "i386_fanotify_init=EPERM i386_getpid=ok" "$(echo $OUT)"
    else
        fail "the VM's kernel runs i386 code (int 0x80), for the i386 seccomp check" "BERTH_PAYLOAD=${BERTH_PAYLOAD:-unset}"
    fi

    # ---- and on the x32 ABI (system call numbers with __X32_SYSCALL_BIT), which Debian's
    # kernel has but runs only with syscall.x32=y (the host part boots it so). getpid
    # allowed shows the filter lists x32: without it, every x32 number is refused.
    if [ -x "${BERTH_PAYLOAD:-}" ] && [ "$("$BERTH_PAYLOAD" syscall x32_getpid)" = x32_getpid=ok ]; then
        eq "x32 ABI outside a machine: fanotify_init runs (EINVAL for its bad flags), getpid works" \
            "x32_fanotify_init=EINVAL x32_getpid=ok" "$(echo $("$BERTH_PAYLOAD" syscall x32_fanotify_init x32_getpid))"
        spawn -M x32 /usr/bin/berth-payload syscall x32_fanotify_init x32_getpid
        eq "x32 ABI in a machine: fanotify_init is denied, getpid is allowed" \
            "x32_fanotify_init=EPERM x32_getpid=ok" "$(echo $OUT)"
    else
        fail "the VM's kernel runs x32 code (syscall.x32=y), for the x32 seccomp check" \
            "$(cat /proc/cmdline)" "$("$BERTH_PAYLOAD" syscall x32_getpid 2>&1)"
    fi

    cd /
    rm -rf "$work"
    pass "the VM part ran to its end"
    exit "$failures"
fi

# ================================================================ on the host

if [ -z "${BERTH_SPAWN:-}" ]; then
    echo "Bail out! BERTH_SPAWN is not set"
    exit 1
fi
# Debian's kernel runs x32 code only when asked to
export BERTH_VM_CMDLINE="${BERTH_VM_CMDLINE:+$BERTH_VM_CMDLINE }syscall.x32=y"
vm_host_main "$BERTH_SRCDIR/test/integration/${0##*/}" busybox bpftool
