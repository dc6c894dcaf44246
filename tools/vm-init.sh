#!/bin/busybox sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# vm-init.sh — PID 1 of the throwaway VM that tools/vm-run.sh boots. Not meant to be
# run on the host: vm-run.sh copies it into the VM's initramfs as /init, next to a
# static busybox (/bin/busybox) and the few modules needed to reach the host's file
# system (/lib/modules/*.ko, loaded in the order of /lib/modules/order).
#
# Stage 1 (in the initramfs): load those modules, mount the host's root (9p tag
# "root", read-only) on /newroot, mount the job (tag "job", written by vm-run.sh),
# the kernel modules (tag "modules") and the writable shares (tags "share<N>"), plus
# proc, sys, devtmpfs, devpts, /dev/shm, cgroup2 and tmpfs on /run, /tmp and
# /var/tmp; then switch_root into /newroot, running stage 2 from a copy of busybox
# and of this script in /run/berth-vm.
#
# Stage 2 (PID 1 on the host's root): point the kernel's module autoloader at the
# modules share, preload the job's modules, run the job's command with stdout and
# stderr on the virtio ports berth.stdout and berth.stderr and stdin from /dev/null,
# write its exit status to the port berth.status, and reboot (qemu runs with
# -no-reboot, so it exits).
#
# Busybox here prefers its own applets to the host's programs of the same name; the
# command of the job is therefore resolved to an absolute path before it is run.
#
# The job (/job/job, a sh fragment) sets cwd, kver, preload, modprobe, nshares,
# share_path_<N>, command, command_path and defines run_command.
# shellcheck disable=SC2154,SC1091

bb=/run/berth-vm/busybox
rt=/run/berth-vm

# Say something on the console and end the VM: vm-run.sh sees no exit status and
# shows the end of the console log.
die() {
    echo "vm-init: $*" >&2
    /bin/busybox sync
    /bin/busybox reboot -f
    /run/berth-vm/busybox reboot -f
    while :; do sleep 1; done
}

# step WHAT: with "berth.verbose" on the kernel command line, log progress on the console
step() {
    case " $(cat /proc/cmdline) " in
        *" berth.verbose "*) echo "vm-init: $(cut -d' ' -f1 /proc/uptime)s: $*" >/dev/console ;;
    esac
}

stage1() {
    PATH=/bin
    export PATH
    /bin/busybox mount -t proc proc /proc || die "cannot mount /proc"
    /bin/busybox mount -t sysfs sysfs /sys || die "cannot mount /sys"
    /bin/busybox mount -t devtmpfs devtmpfs /dev || die "cannot mount /dev"
    exec </dev/console >/dev/console 2>&1
    step "loading modules"

    while read -r m; do
        insmod "/lib/modules/$m" || die "insmod $m failed"
    done </lib/modules/order

    step "mounting"
    o9p=trans=virtio,version=9p2000.L,msize=262144
    mount -t 9p -o "$o9p,cache=loose,ro" root /newroot || die "cannot mount the host's root (9p tag 'root')"
    mkdir -p /job
    mount -t 9p -o "$o9p,ro" job /job || die "cannot mount the job (9p tag 'job')"
    [ -f /job/job ] || die "no job file"
    . /job/job

    n=/newroot
    mount -t proc proc $n/proc || die "cannot mount $n/proc"
    mount -t sysfs sysfs $n/sys || die "cannot mount $n/sys"
    mount -t devtmpfs devtmpfs $n/dev || die "cannot mount $n/dev"
    mkdir -p $n/dev/pts $n/dev/shm $n/dev/mqueue
    mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $n/dev/pts || die "cannot mount devpts"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $n/dev/shm || die "cannot mount /dev/shm"
    mount -t mqueue mqueue $n/dev/mqueue 2>/dev/null
    ln -sf /proc/self/fd $n/dev/fd
    ln -sf /proc/self/fd/0 $n/dev/stdin
    ln -sf /proc/self/fd/1 $n/dev/stdout
    ln -sf /proc/self/fd/2 $n/dev/stderr
    ln -sf /proc/kcore $n/dev/core
    mount -t cgroup2 -o nsdelegate cgroup2 $n/sys/fs/cgroup || die "cannot mount cgroup2"
    mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs $n/run || die "cannot mount /run"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $n/tmp || die "cannot mount /tmp"
    if [ -d $n/var/tmp ]; then
        mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $n/var/tmp || die "cannot mount /var/tmp"
    fi

    mkdir -p $n$rt/job $n$rt/modules
    mount --move /job $n$rt/job || die "cannot move the job mount"
    mount -t 9p -o "$o9p,cache=loose,ro" modules $n$rt/modules || die "cannot mount the modules (9p tag 'modules')"
    # With a /lib/modules on the host, plain "modprobe" works in the VM too.
    if [ -d $n/lib/modules ]; then
        mount --bind $n$rt/modules/lib/modules $n/lib/modules
    fi

    i=0
    while [ "$i" -lt "${nshares:-0}" ]; do
        eval "p=\$share_path_$i"
        [ -d "$n$p" ] || mkdir -p "$n$p" ||
            die "cannot create the mount point $p for a share (its parent is read-only in the VM)"
        mount -t 9p -o "$o9p,cache=mmap" "share$i" "$n$p" || die "cannot mount the share $p"
        i=$((i + 1))
    done

    cp /bin/busybox $n$rt/busybox || die "cannot copy busybox to $rt"
    cp /init $n$rt/init || die "cannot copy /init to $rt"
    # The kernel's module autoloader (request_module) runs this with "-q -- NAME".
    printf '#!%s sh\nexec %s -d %s "$@"\n' "$bb" "$modprobe" "$rt/modules" >$n$rt/modprobe
    chmod 0755 $n$rt/modprobe
    mkdir $n$rt/bin
    ln -s ../modprobe $n$rt/bin/modprobe

    # Device nodes that load their module when opened (as "kmod static-nodes" makes
    # them on a systemd host): /dev/loop-control, /dev/mapper/control, /dev/net/tun, ...
    while read -r _ name dev; do
        case $dev in [cb][0-9]*:[0-9]*) ;; *) continue ;; esac
        [ -e "$n/dev/$name" ] && continue
        mkdir -p "$(dirname "$n/dev/$name")"
        mj=${dev#?}
        mknod -m 0600 "$n/dev/$name" "${dev%"${dev#?}"}" "${mj%:*}" "${mj#*:}"
    done <"$n$rt/modules/lib/modules/$kver/modules.devname"

    hostname berth-vm
    ip link set lo up 2>/dev/null

    step "switching root"
    # shellcheck disable=SC2093
    exec switch_root $n $bb sh $rt/init stage2
    die "switch_root failed"
}

# find_port NAME: print the device node of the virtio port NAME (waiting for it)
find_port() {
    i=0
    while [ "$i" -lt 500 ]; do
        for p in /sys/class/virtio-ports/*; do
            [ -f "$p/name" ] || continue
            if [ "$(cat "$p/name")" = "$1" ]; then
                if [ -c "/dev/${p##*/}" ]; then
                    echo "/dev/${p##*/}"
                    return 0
                fi
            fi
        done
        usleep 10000
        i=$((i + 1))
    done
    return 1
}

# resolve NAME PATHVALUE: print the absolute path of the program NAME
resolve() {
    case $1 in
        */*)
            echo "$1"
            return 0
            ;;
    esac
    IFS_save=$IFS
    IFS=:
    for d in $2; do
        [ -n "$d" ] || d=.
        if [ -f "$d/$1" ] && [ -x "$d/$1" ]; then
            IFS=$IFS_save
            echo "$d/$1"
            return 0
        fi
    done
    IFS=$IFS_save
    return 1
}

stage2() {
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    export PATH
    . $rt/job/job

    step "stage 2"
    out=$(find_port berth.stdout) || die "virtio port berth.stdout not found"
    err=$(find_port berth.stderr) || die "virtio port berth.stderr not found"
    status=$(find_port berth.status) || die "virtio port berth.status not found"

    step "loading modules"
    echo "$rt/modprobe" >/proc/sys/kernel/modprobe
    for m in $preload; do
        # (an already loaded module is fine: the autoloader may have been quicker)
        [ -d "/sys/module/$(basename "$m" .ko | tr - _)" ] && continue
        insmod "$rt/modules/lib/modules/$kver/$m" 2>>"$err" ||
            echo "vm-run.sh: warning: could not load the module $m" >>"$err"
    done

    if ! cd "$cwd" 2>/dev/null; then
        echo "vm-run.sh: warning: $cwd does not exist in the VM; running in /" >>"$err"
        cd /
    fi
    umask 022
    step "running the command"
    if prog=$(resolve "$command" "$command_path"); then
        # (run_command, from the job, execs busybox env in a subshell: this shell is PID 1)
        run_command "$prog" </dev/null >>"$out" 2>>"$err"
        rc=$?
    else
        echo "vm-run.sh: $command: command not found in the VM" >>"$err"
        rc=127
    fi
    step "the command exited with status $rc"
    echo "$rc" >>"$status"
    sync
    reboot -f
    die "reboot failed"
}

case ${1:-} in
    stage2) stage2 ;;
    *) stage1 ;;
esac
