#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The closed device policy of a plain machine (no -U: its root keeps CAP_MKNOD in the
# host's user namespace). A loop device over a file of this test stands for the host's
# disks: the machine makes a node for it and must not read it (EPERM at mknod, nothing
# read). /dev/null still works, and so does a device given with --bind (read and write)
# or --bind-ro (read only). Once with the v1 devices controller of this hybrid host, once
# with it hidden under a tmpfs (cgroup2 only for the machine: an eBPF device program).
# On the old code a plain machine had no device policy at all: the probe read the secret.
. "$(dirname "$0")/lib.sh"
setup

SECRET_FILE=$SCRATCH/secret.img
BOUND_FILE=$SCRATCH/bound.img
LOOPS=()
# detach the loop devices this test made (only those), before lib.sh checks for leaks
devpol_cleanup() {
    local rc=$? l
    for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
    (exit "$rc")
    cleanup
}
trap devpol_cleanup EXIT

# new_loop VAR FILE: attach a loop device over FILE (padded to 1 MiB), its path into VAR
new_loop() {
    local l
    truncate -s 1M "$2"
    l=$(losetup -f --show "$2") || { echo "Bail out! losetup $2 failed"; exit 1; }
    LOOPS+=("$l")
    printf -v "$1" '%s' "$l"
}
printf 'SECRET-HOST-DATA' >"$SECRET_FILE"
printf 'BOUND-DEVICE-OK!' >"$BOUND_FILE"
new_loop SECRET_LOOP "$SECRET_FILE"
new_loop BOUND_LOOP "$BOUND_FILE"
SECRET_NUM=$(stat -c '%t %T' "$SECRET_LOOP" | { read -r ma mi; echo "$((16#$ma)) $((16#$mi))"; })

# inside the machine: mknod the secret's loop device and read it; /dev/null; the bound
# device read, and opened for writing
PROBE="P=/usr/bin/berth-payload
echo mknod=\$(\$P mknod /dev/dd b $SECRET_NUM)
echo dd=\$(head -c 16 /dev/dd 2>/dev/null || echo unreadable)
echo null=\$(\$P devopen /dev/null rw)
echo bound=\$(head -c 16 /dev/bound 2>/dev/null || echo unreadable)
echo bound-w=\$(\$P devopen /dev/bound w)"

check_plain() {
    local what=$1
    run_spawn -q --register=no -D "$TREE" -M "devpol$$" --bind-ro="$BOUND_LOOP:/dev/bound" sh -c "$PROBE"
    expect_rc "$what: the plain machine runs" 0
    expect_line "$what: mknod of the host's loop device is refused (EPERM)" "mknod=EPERM"
    expect_line "$what: ... and nothing of it is read" "dd=unreadable"
    expect_no_match "$what: the secret never shows" 'SECRET-HOST-DATA' "$OUTPUT"
    expect_line "$what: /dev/null opens for reading and writing" "null=ok"
    expect_line "$what: a device given with --bind-ro is readable" "bound=BOUND-DEVICE-OK!"
    expect_line "$what: ... but not writable (the bind's access)" "bound-w=EPERM"
    run_spawn -q --register=no -D "$TREE" -M "devpol$$" --bind="$BOUND_LOOP:/dev/bound" sh -c "$PROBE"
    expect_line "$what: a device given with --bind is writable" "bound-w=ok"
    expect_line "$what: ... the secret still refused" "mknod=EPERM"
    expect_eq "$what: the machine's cgroup is gone" "" \
        "$(find /sys/fs/cgroup -name "*devpol$$*" 2>/dev/null)"
}

# --property=DeviceAllow= (as systemd-nspawn passes it to the machine's scope): a class
# or a node, with its access; --property=DevicePolicy=auto drops the policy. The probe
# makes nodes for the secret's loop device and for the bound one's (same major, another
# minor), reads the first and opens it for writing.
BOUND_NUM=$(stat -c '%t %T' "$BOUND_LOOP" | { read -r ma mi; echo "$((16#$ma)) $((16#$mi))"; })
ALLOW_PROBE="P=/usr/bin/berth-payload
echo mknod=\$(\$P mknod /dev/dd b $SECRET_NUM)
echo dd=\$(head -c 16 /dev/dd 2>/dev/null || echo unreadable)
echo dd-w=\$(\$P devopen /dev/dd w)
echo other=\$(\$P mknod /dev/other b $BOUND_NUM)"
allow_run() { run_spawn -q --register=no -D "$TREE" -M "devpol$$" "$@" sh -c "$ALLOW_PROBE"; }
check_allow() {
    local what=$1
    allow_run --property="DeviceAllow=block-loop r"
    expect_rc "$what: DeviceAllow=block-loop r: runs" 0
    expect_line "$what: DeviceAllow=block-loop r: no mknod without m" "mknod=EPERM"
    allow_run --property="DeviceAllow=block-loop rm"
    expect_line "$what: DeviceAllow=block-loop rm: mknod of a loop device" "mknod=ok"
    expect_line "$what: DeviceAllow=block-loop rm: ... it reads" "dd=SECRET-HOST-DATA"
    expect_line "$what: DeviceAllow=block-loop rm: ... but does not open for writing" "dd-w=EPERM"
    expect_line "$what: DeviceAllow=block-loop rm: ... any minor of the class" "other=ok"
    allow_run --property="DeviceAllow=$SECRET_LOOP"
    expect_line "$what: DeviceAllow=$SECRET_LOOP: rwm by default, mknod" "mknod=ok"
    expect_line "$what: DeviceAllow=$SECRET_LOOP: ... writable" "dd-w=ok"
    expect_line "$what: DeviceAllow=$SECRET_LOOP: ... only that minor" "other=EPERM"
    allow_run --property="DeviceAllow=$SECRET_LOOP" --property=DeviceAllow=
    expect_line "$what: an empty DeviceAllow= drops the earlier ones" "mknod=EPERM"
    allow_run --property=DevicePolicy=auto
    expect_line "$what: DevicePolicy=auto: no policy, mknod" "mknod=ok"
    expect_line "$what: DevicePolicy=auto: ... it reads" "dd=SECRET-HOST-DATA"
    allow_run --property=DevicePolicy=strict
    expect_line "$what: DevicePolicy=strict: closed" "mknod=EPERM"
    expect_eq "$what: DeviceAllow=: the machine's cgroup is gone" "" \
        "$(find /sys/fs/cgroup -name "*devpol$$*" 2>/dev/null)"
}

if [ "$(stat -fc %T /sys/fs/cgroup/devices 2>/dev/null)" = cgroupfs ]; then
    check_plain "v1 devices controller"
    check_allow "v1 devices controller"
    mount -t tmpfs -o size=1M nodevices /sys/fs/cgroup/devices
    check_plain "cgroup2 only (eBPF)"
    check_allow "cgroup2 only (eBPF)"
    umount /sys/fs/cgroup/devices
else
    skip "v1 devices controller" "no v1 devices hierarchy on this host"
    check_plain "cgroup2 only (eBPF)"
    check_allow "cgroup2 only (eBPF)"
fi

bad_property() {
    run_spawn -q --register=no -D "$TREE" --property="$1" true
    expect_rc "--property=$1 is refused" 1
    expect_match "--property=$1: the error names it" "$2" "$ERROUT"
}
bad_property "DeviceAllow=/etc/passwd" "a device node under /dev/"
bad_property "DeviceAllow=block-loop rwx" "Invalid access 'rwx'"
bad_property "DevicePolicy=open" "auto, closed or strict"
run_spawn -q --register=no -D "$TREE" --property="DeviceAllow=/dev/no-such-node" true
expect_rc "DeviceAllow= of a missing node: the machine runs" 0
expect_match "DeviceAllow= of a missing node: warned about, as systemd does" "no-such-node: cannot find the device node, ignored" "$ERROUT"

# with -U the kernel refuses device nodes made in the machine's user namespace anyway
run_spawn -q --register=no -U -D "$(new_tree usertree)" sh -c "$PROBE"
expect_line "-U: mknod of the host's loop device is refused" "mknod=EPERM"
expect_no_match "-U: the secret never shows" 'SECRET-HOST-DATA' "$OUTPUT"

for l in "${LOOPS[@]}"; do losetup -d "$l"; done
LEFT=$(losetup -j "$SECRET_FILE"; losetup -j "$BOUND_FILE")
expect_eq "the test's loop devices are detached" "" "$LEFT"
LOOPS=()
