# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# lib.sh — helpers for the berthd integration tests (TAP producers).
#
# Each test gets its own dbus-daemon (a system-type bus on a socket in a scratch
# directory, with the project's D-Bus policy), its own berthd with --state-dir in the
# scratch directory, and its own leader processes. `finish` kills exactly those by PID,
# checks that nothing leaked (processes, cgroups under machine.slice, state files) and
# prints the plan.
#
# Environment: BERTHD (default build/src/machined/berthd).

set -u
umask 022
export LC_ALL=C

MD_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BERTHD:=$MD_SRCDIR/build/src/machined/berthd}"
POLICY=$MD_SRCDIR/units/org.freedesktop.machine1.conf

DEST=org.freedesktop.machine1
MGR_PATH=/org/freedesktop/machine1
MGR=org.freedesktop.machine1.Manager
MACH=org.freedesktop.machine1.Machine

LEADERS=()
DBUS_PID=
BERTHD_PID=
TMP=
FINISHED=
# Names are unique per test run so leak checks only look at what this run made.
P=bt$$

# pass, fail, skip, diag, ok_if, expect_eq, expect_fail, ...: the one vocabulary of all
# shell tests
# shellcheck source=../tap.sh
. "$MD_SRCDIR/test/tap.sh"

skip_all() {
    echo "1..0 # SKIP $*"
    exit 0
}

# The cgroup2 hierarchy berthd uses when systemd is not PID 1.
cgroup_unified() {
    if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
        echo /sys/fs/cgroup
    elif [ -d /sys/fs/cgroup/unified ] && [ "$(stat -fc %T /sys/fs/cgroup/unified)" = cgroup2fs ]; then
        echo /sys/fs/cgroup/unified
    fi
}

setup() {
    [ "$(id -u)" = 0 ] || skip_all "not root"
    command -v dbus-daemon >/dev/null || skip_all "no dbus-daemon"
    command -v busctl >/dev/null || skip_all "no busctl"
    [ -x "$BERTHD" ] || { echo "Bail out! berthd not found at $BERTHD"; exit 1; }

    CGROOT=$(cgroup_unified)
    SLICE_EXISTED=
    [ -n "$CGROOT" ] && [ -d "$CGROOT/machine.slice" ] && SLICE_EXISTED=1

    TMP=$(mktemp -d /tmp/berthd-test.XXXXXX)
    chmod 755 "$TMP"
    TAP_SCRATCH=$TMP
    trap emergency_cleanup EXIT

    # shellcheck source=../../tools/private-bus.sh
    source "$MD_SRCDIR/tools/private-bus.sh"
    private_bus_start "$TMP" "$POLICY" || { echo "Bail out! dbus-daemon did not start"; cat "$TMP/dbus.log"; exit 1; }
    STATE=$TMP/state
}

# start_berthd [ARGS...]: start berthd and wait until it owns its name
start_berthd() {
    "$BERTHD" --state-dir="$STATE" "$@" >>"$TMP/berthd.log" 2>&1 &
    BERTHD_PID=$!
    for _ in $(seq 200); do
        busctl status "$DEST" >/dev/null 2>&1 && return 0
        kill -0 "$BERTHD_PID" 2>/dev/null || break
        sleep 0.02
    done
    echo "# berthd did not come up:"
    sed 's/^/# /' "$TMP/berthd.log" | tail -20
    return 1
}

stop_berthd() {
    local sig=${1:-TERM}
    [ -n "$BERTHD_PID" ] || return 0
    kill "-$sig" "$BERTHD_PID" 2>/dev/null
    wait "$BERTHD_PID" 2>/dev/null
    BERTHD_PID=
}

# start_leader [COMMAND...]: start a leader process (default: sleep), PID in $LEADER
start_leader() {
    if [ $# -eq 0 ]; then
        sleep 1000 &
    else
        "$@" &
    fi
    LEADER=$!
    LEADERS+=("$LEADER")
}

mgr() {
    # "--": arguments such as the machine name "-x" are values, not busctl options
    busctl call -- "$DEST" "$MGR_PATH" "$MGR" "$@"
}

mpath() {
    # the object path of machine $1, as the daemon reports it
    mgr GetMachine s "$1" | awk '{ print $2 }' | tr -d '"'
}

mprop() {
    busctl get-property "$DEST" "$(mpath "$1")" "$MACH" "$2"
}

# register NAME PID [CLASS] [ROOT]
register() {
    mgr RegisterMachine sayssus "$1" 16 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 berth-test "${3:-container}" "$2" "${4:-/}"
}

# create NAME PID
create() {
    mgr CreateMachine sayssusa\(sv\) "$1" 0 berth-test container "$2" / 0
}

# wait_until SECONDS COMMAND...: poll every 20 ms
wait_until() {
    local t=$1 i
    shift
    for i in $(seq $((t * 50))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.02
    done
    return 1
}

# dead PID...: each process is gone or a zombie (PID 1 of a container may not reap)
dead() {
    local p
    for p in "$@"; do
        [ -e "/proc/$p/stat" ] && [ "$(sed 's/.*) //' "/proc/$p/stat" | cut -d' ' -f1)" != Z ] && return 1
    done
    return 0
}

# scope NAME: the scope unit of machine NAME, escaped as systemd escapes unit names
scope() {
    printf 'machine-%s.scope\n' "$(sed 's/-/\\x2d/g' <<<"$1")"
}

# btrfs_pool: make $POOL, a 1 GiB btrfs loop file in $TMP mounted at $TMP/pool (skips the
# test without btrfs); finish unmounts it and reports a mount or loop device left behind
btrfs_pool() {
    local tool
    for tool in mkfs.btrfs btrfs losetup lsattr; do
        command -v $tool >/dev/null || skip_all "no $tool"
    done
    grep -qw btrfs /proc/filesystems || modprobe btrfs 2>/dev/null || skip_all "no btrfs in the kernel"
    POOL=$TMP/pool
    truncate -s 1G "$TMP/pool.img"
    mkfs.btrfs -q "$TMP/pool.img" >/dev/null 2>&1 || skip_all "mkfs.btrfs failed"
    mkdir "$POOL"
    mount -o loop "$TMP/pool.img" "$POOL" || skip_all "cannot mount a btrfs loop file"
    POOL_MOUNTED=1
}

# for finish and emergency_cleanup: unmount the btrfs pool, adding what stays to $leaks
_btrfs_pool_release() {
    local i
    [ -n "${POOL_MOUNTED:-}" ] || return 0
    for i in $(seq 50); do umount "$POOL" 2>/dev/null && break; sleep 0.1; done
    mountpoint -q "$POOL" && { leaks+=" mount:$POOL"; umount -l "$POOL" 2>/dev/null; }
    POOL_MOUNTED=
    # mount -o loop sets autoclear: the loop device goes with the mount
    # (a machine's mount namespace may hold the pool a moment after its last process)
    wait_until 10 test -z "$(losetup -j "$TMP/pool.img")"
    [ -n "$(losetup -j "$TMP/pool.img")" ] && leaks+=" loop:$(losetup -j "$TMP/pool.img" | cut -d: -f1)"
    return 0
}

# mctl ARGS...: the real machinectl on our bus; it refuses to run without
# /run/systemd/system, which it gets in a private mount namespace
mctl() {
    unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system &&
                                           exec machinectl --no-pager -q "$@"' mctl "$@"
}

# in_shell [USER@]NAME COMMAND...: berthctl shell, its output without the pty's \r, and
# the command's exit status
in_shell() {
    local name=$1
    shift
    timeout 30 "$BERTHCTL" -q shell "$name" "$@" </dev/null | tr -d '\r'
    return "${PIPESTATUS[0]}"
}

machine_gone() {
    ! mgr GetMachine s "$1" >/dev/null 2>&1
}

# monitor_start FILE: record the daemon's signals until monitor_stop
monitor_start() {
    MON_FILE=$1
    timeout 20 busctl monitor "$DEST" >"$MON_FILE" 2>&1 &
    MON_PID=$!
    wait_until 2 grep -q "Monitoring" "$MON_FILE" || sleep 0.3
}

monitor_stop() {
    sleep 0.1
    kill "$MON_PID" 2>/dev/null
    wait "$MON_PID" 2>/dev/null
    MON_PID=
}

kill_leaders() {
    local p
    for p in "${LEADERS[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    for p in "${LEADERS[@]}"; do
        wait "$p" 2>/dev/null
    done
}

leaked_scopes() {
    local h
    for h in "$CGROOT" /sys/fs/cgroup/systemd; do
        [ -n "$h" ] && [ -d "$h/machine.slice" ] || continue
        find "$h/machine.slice" -maxdepth 1 -name "machine-$P\\x2d*" -o -name "machine-$P-*" 2>/dev/null
    done
}

# finish: kill what we started, verify that nothing leaked, print the plan
finish() {
    local leaks="" p

    # leaders first, while berthd runs, so that it removes the scopes it made
    kill_leaders
    [ -n "${MON_PID:-}" ] && kill "$MON_PID" 2>/dev/null
    [ -n "$BERTHD_PID" ] && wait_until 2 bash -c "[ \"\$(busctl call $DEST $MGR_PATH $MGR ListMachines)\" = 'a(ssso) 1 \".host\" \"host\" \"\" \"/org/freedesktop/machine1/machine/_2ehost\"' ]"
    stop_berthd TERM
    # a test's own teardown (unmounting a pool...), which may add to $leaks
    if declare -F finish_extra >/dev/null; then finish_extra; fi
    _btrfs_pool_release

    # every berthd of this test (also one a check started by mistake) must be gone
    for p in $(pgrep -f -- "--state-dir=$TMP/" 2>/dev/null); do
        leaks+=" berthd:$p"
    done
    for p in "${LEADERS[@]}"; do
        dead "$p" || leaks+=" process:$p"
    done
    # scopes berthd made for our machines must be gone once their leaders are
    wait_until 2 test -z "$(leaked_scopes)"
    for p in $(leaked_scopes); do
        leaks+=" cgroup:$p"
        rmdir "$p" 2>/dev/null
    done
    # machine.slice is shared (berthd leaves it, like systemd); remove it if it was not
    # there before and nobody else uses it now
    if [ -z "$SLICE_EXISTED" ] && [ -n "$CGROOT" ]; then
        rmdir "$CGROOT/machine.slice" /sys/fs/cgroup/systemd/machine.slice 2>/dev/null
    fi
    if [ -z "$leaks" ]; then
        pass "nothing leaked (processes, cgroups)"
    else
        fail "nothing leaked:$leaks"
    fi

    kill "$DBUS_PID" 2>/dev/null
    wait "$DBUS_PID" 2>/dev/null
    DBUS_PID=
    if [ "$_tap_failed" -gt 0 ]; then
        echo "# berthd log:"
        sed 's/^/# /' "$TMP/berthd.log" | tail -40
    fi
    rm -rf "$TMP"
    FINISHED=1
    tap_plan
    exit $?
}

emergency_cleanup() {
    [ -n "$FINISHED" ] && return
    [ -n "$BERTHD_PID" ] && kill -KILL "$BERTHD_PID" 2>/dev/null
    kill_leaders
    if declare -F emergency_extra >/dev/null; then emergency_extra; fi
    [ -n "${POOL_MOUNTED:-}" ] && umount -l "$POOL" 2>/dev/null
    [ -n "${MON_PID:-}" ] && kill "$MON_PID" 2>/dev/null
    [ -n "$DBUS_PID" ] && kill "$DBUS_PID" 2>/dev/null
    for p in $(leaked_scopes); do rmdir "$p" 2>/dev/null; done
    [ -n "$TMP" ] && rm -rf "$TMP"
    fail "test script aborted"
    tap_plan
}
