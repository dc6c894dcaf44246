#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-vm-systemd-rig.sh — the systemd rig (rig-lib.sh, as test-systemd-rig.sh boots it) on
# a pure cgroup2 host: in a qemu VM (tools/vm-run.sh) whose /sys/fs/cgroup is the one
# cgroup2 hierarchy with every controller, berth-spawn boots the Debian tree with systemd as
# PID 1 and this build installed, and under that systemd:
#   - the rig itself gets the VM's controllers delegated (its systemd manages them);
#   - berth-spawn --property=MemoryMax=,TasksMax=,CPUQuota=,CPUWeight=,IOWeight= land in the
#     v2 files of the machine's scope, with the controllers enabled in every ancestor's
#     cgroup.subtree_control, from the VM's root down;
#   - a payload allocating past MemoryMax is OOM-killed, and only it: memory.events counts
#     one oom_kill, the machine's exit status is 137, the rig's systemd and berthd run on;
#   - a nested booted guest gets a delegated, writable subtree (its systemd enables the
#     controllers in its own cgroup and creates its cgroups, a unit of it gets a memory
#     limit) and reaches running with no failed unit: by hand in a scope systemd makes
#     (--ephemeral on the plain tree) and as berth-spawn@inner.service (--keep-unit, -U, a
#     copy of the plain tree).
# The host (hybrid cgroups here) cannot show any of this: test-systemd-rig.sh skips it there.
# Under TCG (no KVM) the VM is slow; the wall times of the boots are reported as # lines.
set -u
export LC_ALL=C

BERTH_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BERTH_TOOLS:=$BERTH_SRCDIR/tools}"
export BERTH_TOOLS

if [ "${1:-}" = --in-vm ]; then
    # shellcheck source=test/integration/lib.sh
    . "$BERTH_SRCDIR/test/integration/lib.sh"
    # shellcheck source=test/integration/rig-lib.sh
    . "$BERTH_SRCDIR/test/integration/rig-lib.sh"
    setup "$@"
    # (a failure's diagnostics are its own: lib.sh would add the rig's berth-spawn command line)
    tap_context() { :; }
    echo "to stderr from the VM" >&2
    # (the cached trees, found by the host part: make-debian-tree.sh locks its read-only cache)
    HOST_TREE=$BERTH_RIG_HOST_TREE PLAIN_TREE=$BERTH_RIG_PLAIN_TREE
    T0=$(date +%s.%N)

    CG=/sys/fs/cgroup
    expect_eq "the VM's /sys/fs/cgroup is one cgroup2 hierarchy" cgroup2fs "$(stat -fc %T $CG)"
    WANT=$(for c in cpu cpuset io memory pids; do grep -qw $c $CG/cgroup.controllers && echo $c; done | rig_words)
    expect_match "the VM offers the cpu, memory and pids controllers in cgroup2" '^cpu .*memory pids$' "$WANT"

    # the -U guest's tree, a copy (berth-spawn takes no overlay root with a user namespace),
    # made while the rig boots: through 9p under TCG it takes a minute
    mkdir "$SCRATCH/inner"
    T=$(date +%s.%N)
    (rig_inner_tree "$SCRATCH/inner" && diag "copy of the plain tree (in the background): $(rig_since "$T")s") \
        >"$SCRATCH/state/copy.out" 2>&1 &
    COPY_PID=$!
    if ! rig_boot "$SCRATCH/outer" --bind-ro="$BERTH_RIG_STAGE:/mnt/berth-stage" \
            --bind="$SCRATCH/inner:/var/lib/machines/inner" --bind-ro="$PLAIN_TREE:/srv/plain"; then
        fail "the outer machine starts" "$(cat "$ERR")"
        exit 1
    fi
    STATE=$(RIG_TIMEOUT=240 in_rig systemctl is-system-running --wait 2>&1)
    diag "the rig's boot to running: $(rig_since "$T")s"
    expect_eq "rig: systemd as PID 1 reaches running" running "$STATE"
    expect_eq "rig: no failed units" "" "$(rig_sh 'systemctl --failed --no-legend --plain')"
    # the rig in berth-spawn's own scope (no systemd in the VM), booted: the VM's controllers
    # are delegated to it, its systemd enables them in its root
    RIG=$CG/machine.slice/machine-rig.scope
    expect_eq "rig: its scope has the VM's controllers (delegated by berth-spawn)" "$WANT" \
        "$(rig_words <"$RIG/cgroup.controllers")"
    expect_match "rig: its systemd enabled memory and pids in its root (a writable subtree)" \
        '(^| )memory( .*)? pids( |$)' "$(rig_words <"$RIG/cgroup.subtree_control")"
    for a in "" /machine.slice; do
        expect_eq "the controllers are enabled in the VM's ${a:-/} (cgroup.subtree_control)" "$WANT" \
            "$(for c in $WANT; do grep -qw $c "$CG$a/cgroup.subtree_control" && echo $c; done | rig_words)"
    done

    T=$(date +%s.%N)
    expect_eq "berth installed into the rig" "" "$(rig_install)"
    ok_if "rig: berthd starts" in_rig systemctl start berthd.service
    diag "install, daemon-reload, berthd: $(rig_since "$T")s"

    T=$(date +%s.%N)
    rig_v2_limits
    expect_eq "limits: the rig has the VM's controllers" "$WANT" "$RIG_CTRL"
    diag "limits: $(rig_since "$T")s"
    T=$(date +%s.%N)
    rig_v2_oom
    ok_if "OOM: the rig's PID 1 is still there" kill -0 "$LEADER"
    diag "OOM: $(rig_since "$T")s"
    rig_v2_guest_by_hand
    ok_if "the copy of the plain tree for the -U guest is made" wait "$COPY_PID"
    cat "$SCRATCH/state/copy.out"
    rig_v2_guest_unit

    expect_eq "rig: still no failed units" "" "$(rig_sh 'systemctl --failed --no-legend --plain')"
    T=$(date +%s.%N)
    in_rig systemctl poweroff >/dev/null 2>&1
    wait_bg "$OUT" "$ERR" 90
    expect_rc "rig: systemctl poweroff ends berth-spawn with status 0" 0
    diag "rig's poweroff: $(rig_since "$T")s"
    umount "$SCRATCH/outer" "$SCRATCH/outer.ov"
    diag "the VM part took $(rig_since "$T0")s"
    pass "the VM part ran to its end"
    exit 0
fi

# ================================================================ on the host

# shellcheck source=test/integration/vm-lib.sh
. "$BERTH_SRCDIR/test/integration/vm-lib.sh"
if [ -z "${BERTH_SPAWN:-}" ] || [ -z "${BERTH_BUILD_ROOT:-}" ]; then
    echo "Bail out! BERTH_SPAWN and BERTH_BUILD_ROOT must be set (meson test sets them)"
    exit 1
fi

# The cached trees (built here if needed: in the VM their cache is read-only) and this
# build staged as a package, shared with the VM.
vm_host_prepare() {
    local log=$1/prepare.log
    BERTH_RIG_HOST_TREE=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path --flavour=host 2>"$log") &&
        BERTH_RIG_PLAIN_TREE=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path 2>>"$log") &&
        meson install -C "$BERTH_BUILD_ROOT" --destdir "$1/stage" --no-rebuild --quiet >>"$log" 2>&1 ||
        { echo "# $(tail -n 5 "$log")"; return 1; }
    export BERTH_RIG_HOST_TREE BERTH_RIG_PLAIN_TREE BERTH_RIG_STAGE=$1/stage
    VM_SHARES=("$1/stage")
}
VM_TIMEOUT=900
vm_host_main "$BERTH_SRCDIR/test/integration/${0##*/}" busybox
