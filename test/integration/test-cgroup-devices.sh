#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Device rules (OCI linux.resources.devices) where the v1 devices controller is not there
# for the machine, as on every pure cgroup2 host: berth-runc and berth-spawn --oci-bundle
# attach an eBPF program (BPF_CGROUP_DEVICE) to the machine's cgroup2 directory. This host
# is hybrid, so the case is made on purpose: /sys/fs/cgroup/devices is hidden under a
# tmpfs in this test's mount namespace. The container then makes device nodes and opens
# them (cgroup-devices-lib.sh): EPERM for what the rules deny, per access and with the
# last matching rule winning, success for what they allow. Also: the rules the same
# with the v1 controller (no program then), an update adding a program, a kernel that
# refuses bpf() (strace fault injection) costing the rules with one warning, and the
# programs gone with the cgroup.
# On the old code (rules skipped with a warning on cgroup2) every denied access passed.
. "$(dirname "$0")/lib.sh"
# shellcheck source=test/integration/cgroup-devices-lib.sh
. "$BERTH_TESTDIR/cgroup-devices-lib.sh"
setup

: "${BERTH_RUNC:=$BERTH_SRCDIR/build/src/oci/berth-runc}"
ROOT=$SCRATCH/runc-state
P=brd$$
runc() { "$BERTH_RUNC" --root "$ROOT" "$@"; }
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then CG=/sys/fs/cgroup; else CG=/sys/fs/cgroup/unified; fi
PROBE_ARGS=$("$PYTHON" -c 'import json, sys; print(json.dumps(["sh", "-c", sys.argv[1]]))' "$DEVICES_PROBE")
SLEEP_ARGS='["sleep", "1000"]'

# progs DIR: the IDs of the device programs attached to the cgroup2 directory DIR
progs() {
    bpftool cgroup list "$1" 2>/dev/null | awk '$2 == "cgroup_device" { print $1 }' | sort -n | paste -sd' '
}
# progs_gone IDS...: wait until none of the programs exists any more (the kernel frees
# a removed cgroup's programs from a work queue, a little later)
progs_gone() {
    local id left
    for _ in $(seq 1 100); do
        left=
        for id in "$@"; do bpftool prog show id "$id" >/dev/null 2>&1 && left+="$id "; done
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    echo "still loaded: $left"
    return 1
}
if ! command -v bpftool >/dev/null; then
    echo "Bail out! bpftool not found (tools/install-deps.sh installs it)"
    exit 1
fi
if [ "$(stat -fc %T /sys/fs/cgroup/devices 2>/dev/null)" = cgroupfs ]; then
    V1=1
else
    V1=0
fi
TREE=$(new_tree tree)

# A config without linux.resources.devices: runc denies all but its defaults then, and so
# must berth (on the old code nothing was restricted: the probe read a host loop device).
# A loop device over a file of this test stands for the host's disks.
SECRET_FILE=$SCRATCH/secret.img
printf 'SECRET-HOST-DATA' >"$SECRET_FILE"
truncate -s 1M "$SECRET_FILE"
SECRET_LOOP=$(losetup -f --show "$SECRET_FILE") || { echo "Bail out! losetup failed"; exit 1; }
devtest_cleanup() {
    find /sys/fs/cgroup -depth -type d -name berth-devtest -exec rmdir {} + 2>/dev/null
}
trap 'rc=$?; losetup -d "$SECRET_LOOP" 2>/dev/null; (exit $rc); cleanup' EXIT
SECRET_NUM=$(stat -c '%t %T' "$SECRET_LOOP" | { read -r ma mi; echo "$((16#$ma)) $((16#$mi))"; })
NONE_PROBE="$DEVICES_PROBE
echo mknod-secret=\$(v \"\$(\$P mknod /dev/p-secret b $SECRET_NUM)\")
echo secret=\$(head -c 16 /dev/p-secret 2>/dev/null || echo unreadable)"
NONE_ARGS=$("$PYTHON" -c 'import json, sys; print(json.dumps(["sh", "-c", sys.argv[1]]))' "$NONE_PROBE")
NONE_EXPECTED="$DEVICES_EXPECTED_NONE
mknod-secret=allowed
secret=unreadable"
# check_none WHAT: berth-runc run and berth-spawn --oci-bundle of a config without rules
check_none() {
    devices_bundle "$SCRATCH/none-$2" "$TREE" "$NONE_ARGS" none
    OUTPUT=$(runc run --bundle "$SCRATCH/none-$2" "$P-none-$2" 2>"$SCRATCH/state/err")
    expect_eq "$1: no linux.resources.devices: berth-runc denies all but the defaults" "$NONE_EXPECTED" "$OUTPUT"
    expect_no_match "$1: ... the host's loop device is never read" SECRET-HOST-DATA "$OUTPUT"
    expect_eq "$1: ... without a message" "" "$(cat "$SCRATCH/state/err")"
    OUTPUT=$(timeout 30 "$BERTH_SPAWN" -q --register=no --oci-bundle="$SCRATCH/none-$2" sh -c "$NONE_PROBE" 2>"$SCRATCH/state/err")
    expect_eq "$1: no linux.resources.devices: berth-spawn --oci-bundle the same" "$NONE_EXPECTED" "$OUTPUT"
    devtest_cleanup
}

# ---- with the v1 devices controller (this hybrid host as it is): the rules go there
if [ "$V1" = 1 ]; then
    devices_bundle "$SCRATCH/v1" "$TREE" "$PROBE_ARGS"
    OUTPUT=$(runc run --bundle "$SCRATCH/v1" "$P-v1" 2>"$SCRATCH/state/err")
    expect_eq "v1 devices controller: the probe finds the rules applied" "$DEVICES_EXPECTED" "$OUTPUT"
    expect_eq "... without a message" "" "$(cat "$SCRATCH/state/err")"
    devtest_cleanup
    check_none "v1 devices controller" v1
else
    skip "rules in the v1 devices controller" "no v1 devices hierarchy on this host"
fi

# ---- the v1 controller hidden: cgroup2 only, for the machine
[ "$V1" = 1 ] && mount -t tmpfs -o size=1M nodevices /sys/fs/cgroup/devices
devices_bundle "$SCRATCH/run" "$TREE" "$PROBE_ARGS"
OUTPUT=$(runc run --bundle "$SCRATCH/run" "$P-run" 2>"$SCRATCH/state/err")
expect_eq "cgroup2: berth-runc run: the probe finds every access as the rules say (EPERM for the denied)" \
    "$DEVICES_EXPECTED" "$OUTPUT"
expect_eq "... without a message" "" "$(cat "$SCRATCH/state/err")"
check_none "cgroup2" v2

# create, exec the probe, update, exec again; the programs as bpftool lists them
devices_bundle "$SCRATCH/upd" "$TREE" "$SLEEP_ARGS"
ID=$P-upd
ok_if "cgroup2: berth-runc create with device rules" runc create --bundle "$SCRATCH/upd" "$ID"
D=$CG/berth-devtest/upd
IDS1=$(progs "$D")
expect_match "... one device program is attached to its cgroup2 directory" '^[0-9]+$' "$IDS1"
expect_match "... named berth_devices" 'berth_devices' "$(bpftool prog show id "${IDS1:-0}" 2>&1)"
ok_if "... start it" runc start "$ID"
OUTPUT=$(runc exec "$ID" sh -c "$DEVICES_PROBE" 2>&1)
expect_eq "... exec: the probe finds the rules applied" "$DEVICES_EXPECTED" "$OUTPUT"
ok_if "... update with two more device rules" runc update --resources=- "$ID" <<<"$DEVICES_UPDATE"
IDS2=$(progs "$D")
expect_match "... the update attached a second program beside the first" "^${IDS1:-x} [0-9]+$|^[0-9]+ ${IDS1:-x}$" "$IDS2"
OUTPUT=$(runc exec "$ID" sh -c "$DEVICES_PROBE" 2>&1)
expect_line "... its deny rule holds: /dev/fuse is no longer readable" "$DEVICES_UPDATED_FUSE"
expect_line "... its allow rule cannot reopen what creation denied (both programs must allow)" \
    "loopctl=denied denied denied"
expect_line "... the rest as before" "tun=allowed denied denied"
ok_if "... delete --force" runc delete --force "$ID"
expect_eq "... its cgroup is gone" "" "$(find /sys/fs/cgroup -path "*berth-devtest/upd" 2>/dev/null)"
# shellcheck disable=SC2086
ok_if "... and with it both programs" progs_gone $IDS2

# berth-spawn --oci-bundle: the same reader and cgroup code, berth-spawn's supervision
devices_bundle "$SCRATCH/spawn" "$TREE" "$SLEEP_ARGS"
OUTPUT=$(timeout 30 "$BERTH_SPAWN" -q --register=no --oci-bundle="$SCRATCH/spawn" sh -c "$DEVICES_PROBE" 2>"$SCRATCH/state/err")
expect_eq "cgroup2: berth-spawn --oci-bundle: the probe finds the rules applied" "$DEVICES_EXPECTED" "$OUTPUT"
expect_eq "... without a message" "" "$(cat "$SCRATCH/state/err")"

# a kernel that refuses bpf() to berth (as without CONFIG_CGROUP_BPF, or unprivileged in
# a user namespace): one warning, and the container runs without the rules
if command -v strace >/dev/null; then
    devices_bundle "$SCRATCH/refused" "$TREE" "$PROBE_ARGS"
    OUTPUT=$(strace -f -qq -o /dev/null -e trace=bpf -e inject=bpf:error=EPERM \
        "$BERTH_RUNC" --root "$ROOT" run --bundle "$SCRATCH/refused" "$P-refused" 2>"$SCRATCH/state/err")
    expect_eq "bpf() refused: the container runs, one warning line naming the cause" \
        "linux.resources.devices is not applied: this host has no v1 devices controller for the machine, and the kernel refuses cgroup device programs (eBPF) to berth: Operation not permitted" \
        "$(cat "$SCRATCH/state/err")"
    expect_line "... and its devices are not restricted" "tun=allowed allowed allowed"
else
    skip "bpf() refused" "no strace"
fi
[ "$V1" = 1 ] && umount /sys/fs/cgroup/devices
devtest_cleanup
losetup -d "$SECRET_LOOP"
expect_eq "the test's loop device is detached" "" "$(losetup -j "$SECRET_FILE")"
expect_eq "no cgroup of the tests is left" "" "$(find /sys/fs/cgroup -name "berth-devtest" -o -name "*$P*" 2>/dev/null)"
