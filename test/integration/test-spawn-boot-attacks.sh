#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-spawn-security's hostile payload, as root in a booted (-b) guest (issue #17): a
# busybox init is PID 1 and runs the attacks from its inittab, so they come from the
# guest's own process tree with everything a booted machine gets (its init's file
# descriptors, its console, the filter, capabilities and masks), then powers off. Once
# without and once with a user namespace (-U), where mounting a fresh /proc or /sys (to
# get around the read-only masks) must be refused too.
# Each check fails on a berth-spawn that lacks the defence (see test-spawn-security,
# test-spawn-mounts, test-spawn-basic for the ones that do on the non-booted path).
. "$(dirname "$0")/lib.sh"
setup

# the guest: busybox init, whose only job is the attacks, then poweroff
ln -s ../bin/busybox "$TREE/usr/sbin/init" 2>/dev/null || ln -sf busybox "$TREE/usr/sbin/init"
printf '::sysinit:/bin/sh /etc/attacks.sh\n::sysinit:/bin/poweroff\n::shutdown:/bin/true\n' >"$TREE/etc/inittab"
cat >"$TREE/etc/attacks.sh" <<'GUEST'
# runs as root, a child of the guest's PID 1 (busybox init); one "key=value" line each
P=/usr/bin/berth-payload
echo "pid1=$(cat /proc/1/comm) $(readlink /proc/1/exe)"
echo "uid=$(id -u)"
# the guest's init holds only what a console init opens: no fd of berth-spawn's
echo "init-fds=$(ls /proc/1/fd | sort -n | tr '\n' ' ')"
con=$(stat -c %t:%T /dev/console)
echo "init-fds-on-console=$(for f in /proc/1/fd/*; do [ "$(stat -L -c %t:%T "$f")" = "$con" ] && echo "${f##*/}"; done | sort -n | tr '\n' ' ')"
# the console berth-spawn gives the guest: no input can be pushed into it
echo "tiocsti=$($P tiocsti </dev/console)"
echo "tioclinux=$($P tioclinux </dev/console)"
# the allow list: fanotify, keyrings, handles, bpf; the x32 numbers of a denied call
echo "syscalls=$($P syscall fanotify_init keyctl add_key request_key open_by_handle_at bpf x32_fanotify_init getpid | tr '\n' ' ')"
# read-only kernel interfaces
echo "sys=$($P write /sys/kernel/berth-test '')"
echo "sysrq=$($P write /proc/sysrq-trigger '')"
echo "procsys=$($P write /proc/sys/kernel/hostname '')"
# a fresh proc or sysfs would not have the read-only masks
mkdir -p /tmp/m
if mount -t proc proc /tmp/m 2>/dev/null; then echo "mount-proc=mounted"; umount /tmp/m; else echo "mount-proc=refused"; fi
if mount -t sysfs sysfs /tmp/m 2>/dev/null; then echo "mount-sysfs=mounted"; umount /tmp/m; else echo "mount-sysfs=refused"; fi
# the host's disks through a device node made in the guest
mknod /tmp/disk b 8 0 2>/dev/null
if head -c 1 /tmp/disk >/dev/null 2>&1; then echo "blockdev=read"; else echo "blockdev=refused"; fi
echo "attacks-done"
GUEST

# boot ARGS...: boot the guest, which runs the attacks and powers off; GUEST holds its lines
boot() {
    SPAWN_TIMEOUT=30 run_spawn -D "$TREE" -b --console=read-only "$@"
    GUEST=$OUTPUT
}
# v KEY: the value of the guest's line KEY=...
v() { sed -n "s/^$1=//p" <<<"$GUEST" | head -n1 | sed 's/ *$//'; }

for mode in plain userns; do
    if [ "$mode" = userns ]; then boot -U; else boot; fi
    expect_rc "$mode: the booted guest ran its attacks and powered off" 0
    ok_if "$mode: ... to their end" grep -qx attacks-done <<<"$GUEST"
    expect_match "$mode: PID 1 is the guest's busybox init" '^pid1=init .*busybox$' "$GUEST"
    expect_eq "$mode: the attacks run as root in the guest" 0 "$(v uid)"
    expect_eq "$mode: the guest's init holds fds 0-2 only" "0 1 2" "$(v init-fds)"
    expect_eq "$mode: ... all of them its console" "0 1 2" "$(v init-fds-on-console)"
    expect_eq "$mode: TIOCSTI on the guest's console fails with EPERM" "blocked errno=1" "$(v tiocsti)"
    expect_eq "$mode: TIOCLINUX on it fails with EPERM" "tioclinux blocked errno=1 EPERM" "$(v tioclinux)"
    expect_eq "$mode: fanotify, keyrings, handles, bpf and x32 numbers are denied; getpid is not" \
        "fanotify_init=EPERM keyctl=EPERM add_key=EPERM request_key=EPERM open_by_handle_at=EPERM bpf=EPERM x32_fanotify_init=EPERM getpid=ok" \
        "$(v syscalls)"
    expect_eq "$mode: creating a file in /sys fails with EROFS" EROFS "$(v sys)"
    [ -e /proc/sysrq-trigger ] && expect_eq "$mode: writing to /proc/sysrq-trigger fails with EROFS" EROFS "$(v sysrq)"
    expect_eq "$mode: writing to /proc/sys fails with EROFS" EROFS "$(v procsys)"
    expect_eq "$mode: reading a host disk through a device node made in the guest is refused" refused "$(v blockdev)"
    if [ "$mode" = userns ]; then
        expect_eq "$mode: mounting a fresh /proc (without the masks) is refused" refused "$(v mount-proc)"
        expect_eq "$mode: mounting a fresh sysfs is refused" refused "$(v mount-sysfs)"
    else
        diag "$mode: a fresh /proc: $(v mount-proc), sysfs: $(v mount-sysfs) (root without -U is not a boundary: SECURITY.md)"
    fi
done
