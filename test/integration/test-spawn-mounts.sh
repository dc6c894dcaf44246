#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn mounts: the API file systems inside, /proc masks, --read-only, --bind,
# --bind-ro, --tmpfs, --overlay, --overlay-ro, --inaccessible, and symlinks in the
# tree that point outside it.
. "$(dirname "$0")/lib.sh"
setup

# mount_of MOUNTPOINT: the (last, i.e. topmost) line of `berth-payload mounts` for it:
# "MOUNTPOINT FSTYPE MAJ:MIN MOUNT-OPTIONS SUPER-OPTIONS"
mount_of() {
    awk -v mp="$1" '$1 == mp { l = $0 } END { if (l != "") print l }' <<<"$MOUNTS"
}

# expect_mount DESC MOUNTPOINT FSTYPE [ro|rw]
expect_mount() {
    local l
    l=$(mount_of "$2")
    if [ -z "$l" ]; then
        fail "$1" "no mount at $2 inside; mounts:
$MOUNTS"
        return
    fi
    set -- "$1" "$2" "$3" "${4:-}" $l
    if [ -n "$3" ] && [ "$6" != "$3" ]; then
        fail "$1" "$2 is $6, expected $3: $l"
    elif [ -n "$4" ] && [[ ",$8," != *",$4,"* ]]; then
        fail "$1" "$2 is not mounted $4: $l"
    else
        pass "$1"
    fi
}

# ---- API file systems
run_payload -- mounts
MOUNTS=$OUTPUT
expect_rc "payload 'mounts' runs" 0
expect_mount "/proc is procfs" /proc proc rw
expect_mount "/sys is a read-only sysfs" /sys sysfs ro
expect_mount "/dev is a tmpfs" /dev tmpfs
expect_mount "/dev/pts is devpts" /dev/pts devpts
expect_mount "/dev/shm is a tmpfs" /dev/shm tmpfs
expect_mount "/dev/mqueue is mqueue" /dev/mqueue mqueue
expect_mount "/run is a tmpfs" /run tmpfs
expect_mount "/tmp is a tmpfs" /tmp tmpfs
expect_mount "/ is writable without --read-only" / "" rw

host_pts_dev=$(awk '$5 == "/dev/pts" { d = $3 } END { print d }' /proc/self/mountinfo)
inner_pts_dev=$(mount_of /dev/pts | awk '{print $3}')
if [ -z "$host_pts_dev" ]; then
    skip "/dev/pts is a new devpts instance" "the host has no /dev/pts"
elif [ -n "$inner_pts_dev" ] && [ "$inner_pts_dev" != "$host_pts_dev" ]; then
    pass "/dev/pts is a new devpts instance (dev $inner_pts_dev, host $host_pts_dev)"
else
    fail "/dev/pts is a new devpts instance" "inside: '$inner_pts_dev', host: '$host_pts_dev'"
fi

run_payload -- stat /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/ptmx /dev/pts/ptmx \
    /dev/fd /dev/stdin /dev/stdout /dev/stderr
DEVS=$OUTPUT
for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0 pts/ptmx:5:2; do
    node=/dev/${n%%:*}
    rdev=${n#*:}
    expect_match "$node is a character device $rdev" "^$node type=chr mode=[0-7]+ .*rdev=$rdev " "$DEVS"
done
expect_match "/dev/ptmx is a symlink to pts/ptmx" '^/dev/ptmx type=lnk .* target=pts/ptmx$' "$DEVS"
expect_match "/dev/fd -> /proc/self/fd" '^/dev/fd type=lnk .* target=/proc/self/fd$' "$DEVS"
expect_match "/dev/stdin -> /proc/self/fd/0" '^/dev/stdin type=lnk .* target=/proc/self/fd/0$' "$DEVS"
expect_match "/dev/stdout -> /proc/self/fd/1" '^/dev/stdout type=lnk .* target=/proc/self/fd/1$' "$DEVS"
expect_match "/dev/stderr -> /proc/self/fd/2" '^/dev/stderr type=lnk .* target=/proc/self/fd/2$' "$DEVS"
expect_match "/dev/null is world read-writable" '^/dev/null type=chr mode=0666 ' "$DEVS"

run_payload -- stat /dev/mem /dev/kmem /dev/port /dev/sda /dev/vda /dev/loop-control
expect_eq "no host device nodes in /dev (mem, kmem, port, disks, loop-control)" 6 \
    "$(grep -cE '^/dev/[a-z-]+ ENOENT$' <<<"$OUTPUT")"

run_payload -- ls /dev/pts
expect_eq "/dev/pts of a pipe-mode machine has only ptmx" "entry=ptmx count=1" "$(echo $OUTPUT)"

run_payload -- write /dev/null
expect_eq "/dev/null is writable" ok "$OUTPUT"

run_payload -- read /dev/zero
expect_match "/dev/zero is readable" '^len=[0-9]+$'

run_spawn --console=read-only -D "$TREE" "$PAYLOAD" stat /dev/console
expect_match "/dev/console exists when the machine has a console (read-only mode)" '^/dev/console type=(chr|lnk) '

# ---- /proc masks
for f in kcore kallsyms keys timer_list sched_debug; do
    if [ ! -e "/proc/$f" ]; then
        skip "/proc/$f is masked with an empty file" "the host kernel has no /proc/$f"
        continue
    fi
    run_payload -- read "/proc/$f"
    expect_eq "/proc/$f is masked with an empty file" len=0 "$OUTPUT"
done
for d in acpi scsi asound; do
    if [ ! -d "/proc/$d" ]; then
        skip "/proc/$d is masked with an empty read-only tmpfs" "the host kernel has no /proc/$d"
        continue
    fi
    run_payload -- ls "/proc/$d"
    expect_eq "/proc/$d is masked (empty)" count=0 "$OUTPUT"
    run_payload -- mounts
    MOUNTS=$OUTPUT
    expect_mount "/proc/$d is masked with a read-only tmpfs" "/proc/$d" tmpfs ro
done
for p in sys sysrq-trigger bus fs irq; do
    if [ ! -e "/proc/$p" ]; then
        skip "/proc/$p is read-only" "the host kernel has no /proc/$p"
        continue
    fi
    expect_mount "/proc/$p is mounted read-only" "/proc/$p" proc ro
done
# writing nothing: open(O_WRONLY) is where EROFS shows, and an empty write changes nothing
run_payload -- write /proc/sys/kernel/hostname ""
expect_eq "writing to /proc/sys fails with EROFS" EROFS "$OUTPUT"
run_payload -- write /proc/sys/kernel/domainname ""
expect_eq "writing to /proc/sys/kernel/domainname fails with EROFS" EROFS "$OUTPUT"
if [ -e /proc/sysrq-trigger ]; then
    run_payload -- write /proc/sysrq-trigger ""
    expect_eq "writing to /proc/sysrq-trigger fails with EROFS" EROFS "$OUTPUT"
fi
run_payload -- write /sys/kernel/berth-test ""
expect_eq "creating a file in /sys fails with EROFS" EROFS "$OUTPUT"
run_payload -- write /proc/self/comm "x"
expect_eq "/proc itself (e.g. /proc/self/comm) stays writable" ok "$OUTPUT"

# ---- --read-only
before=$(tree_state "$TREE")
run_payload --read-only -- write /etc/berth-ro-test
expect_eq "--read-only: writing to /etc fails with EROFS" EROFS "$OUTPUT"
run_payload --read-only -- write /usr/berth-ro-test
expect_eq "--read-only: writing to /usr fails with EROFS" EROFS "$OUTPUT"
run_payload --read-only -- write /tmp/berth-ro-test
expect_eq "--read-only: /tmp is still writable" ok "$OUTPUT"
run_payload --read-only -- write /run/berth-ro-test
expect_eq "--read-only: /run is still writable" ok "$OUTPUT"
run_payload --read-only -- mounts
MOUNTS=$OUTPUT
expect_mount "--read-only: / is mounted read-only" / "" ro
expect_eq "--read-only: the tree is unchanged" "$before" "$(tree_state "$TREE")"

run_payload -- write /etc/berth-rw-test "rw-content"
expect_eq "without --read-only: writing to /etc works" ok "$OUTPUT"
expect_eq "without --read-only: the write reaches the tree" rw-content "$(cat "$TREE/etc/berth-rw-test" 2>&1)"
rm -f "$TREE/etc/berth-rw-test"
run_payload -- write /tmp/berth-tmp-test
expect_eq "/tmp is writable" ok "$OUTPUT"
if [ ! -e "$TREE/tmp/berth-tmp-test" ]; then pass "/tmp writes stay in the tmpfs, not in the tree"
else fail "/tmp writes stay in the tmpfs, not in the tree"; fi

# ---- --bind / --bind-ro
hostdir=$SCRATCH/hostdir
mkdir -p "$hostdir"
printf 'hello\n' >"$hostdir/file"

run_payload --bind="$hostdir" -- read "$hostdir/file"
expect_eq "--bind=SRC: DST defaults to SRC" len=6 "$OUTPUT"
run_payload --bind="$hostdir" -- write "$hostdir/new" "from-inside"
expect_eq "--bind=SRC: writable" ok "$OUTPUT"
expect_eq "--bind=SRC: the write reaches the host directory" from-inside "$(cat "$hostdir/new" 2>&1)"
rm -f "$hostdir/new"

run_payload --bind="$hostdir:/mnt/bound" -- read /mnt/bound/file
expect_eq "--bind=SRC:DST" len=6 "$OUTPUT"

run_payload --bind-ro="$hostdir:/mnt/ro" -- read /mnt/ro/file
expect_eq "--bind-ro=SRC:DST: readable" len=6 "$OUTPUT"
run_payload --bind-ro="$hostdir:/mnt/ro" -- write /mnt/ro/x
expect_eq "--bind-ro=SRC:DST: writing fails with EROFS" EROFS "$OUTPUT"
if [ ! -e "$hostdir/x" ]; then pass "--bind-ro: host directory unchanged"; else fail "--bind-ro: host directory unchanged"; fi
run_payload --bind-ro="$hostdir" -- write "$hostdir/x"
expect_eq "--bind-ro=SRC (DST defaults to SRC): writing fails with EROFS" EROFS "$OUTPUT"

mkdir -p "$TREE/srv/data"
printf 'abc' >"$TREE/srv/data/file"
run_payload --bind="+/srv/data:/mnt/plus" -- read /mnt/plus/file
expect_eq "--bind=+PATH:DST: source relative to the tree" len=3 "$OUTPUT"
run_payload --bind-ro="+/srv/data" -- write /srv/data/y
expect_eq "--bind-ro=+PATH: DST defaults to PATH, read-only" EROFS "$OUTPUT"
if [ ! -e "$TREE/srv/data/y" ]; then pass "--bind-ro=+PATH: tree unchanged"; else fail "--bind-ro=+PATH: tree unchanged"; fi

printf '12345678' >"$SCRATCH/hostfile"
run_payload --bind="$SCRATCH/hostfile:/etc/bound-file" -- read /etc/bound-file
expect_eq "--bind of a regular file" len=8 "$OUTPUT"

mkdir -p "$SCRATCH/co:lon"
printf 'colon!' >"$SCRATCH/co:lon/file"
run_payload --bind="$SCRATCH/co\\:lon:/mnt/colon" -- read /mnt/colon/file
expect_eq "--bind with '\\:' in the source path" len=6 "$OUTPUT"

run_payload --bind="$hostdir:/mnt/opt:rbind" -- read /mnt/opt/file
expect_eq "--bind=SRC:DST:rbind" len=6 "$OUTPUT"

# rbind (default) vs norbind: a mount below SRC
mkdir -p "$hostdir/sub"
if mount -t tmpfs -o size=1m berth-test "$hostdir/sub"; then
    printf 'sub' >"$hostdir/sub/subfile"
    run_payload --bind="$hostdir:/mnt/r" -- read /mnt/r/sub/subfile
    expect_eq "--bind is recursive by default (submounts visible)" len=3 "$OUTPUT"
    run_payload --bind="$hostdir:/mnt/n:norbind" -- read /mnt/n/sub/subfile
    expect_eq "--bind=...:norbind does not take submounts" ENOENT "$OUTPUT"
    umount "$hostdir/sub"
else
    skip "--bind is recursive by default" "could not mount a tmpfs"
    skip "--bind=...:norbind" "could not mount a tmpfs"
fi

# ---- --tmpfs
run_payload --tmpfs=/mnt/t -- mounts
MOUNTS=$OUTPUT
expect_mount "--tmpfs=PATH mounts a tmpfs" /mnt/t tmpfs rw
run_payload --tmpfs=/mnt/t -- stat /mnt/t
expect_match "--tmpfs=PATH: mode 0755" '^/mnt/t type=dir mode=0755 uid=0 gid=0 '
run_payload --tmpfs=/mnt/t -- write /mnt/t/file
expect_eq "--tmpfs=PATH: writable" ok "$OUTPUT"
if [ ! -e "$TREE/mnt/t/file" ]; then pass "--tmpfs: writes do not reach the tree"; else fail "--tmpfs: writes do not reach the tree"; fi
run_payload --tmpfs=/mnt/t2:mode=0700 -- stat /mnt/t2
expect_match "--tmpfs=PATH:mode=0700" '^/mnt/t2 type=dir mode=0700 '
run_payload --tmpfs=/mnt/t3:mode=0750,size=1m -- mounts
MOUNTS=$OUTPUT
expect_match "--tmpfs=PATH:OPTS passes the options (size=1m)" '^/mnt/t3 tmpfs .*size=1024k' "$MOUNTS"

# ---- --overlay / --overlay-ro
lower=$SCRATCH/lower
upper=$SCRATCH/upper
mkdir -p "$lower" "$upper"
printf 'lower\n' >"$lower/base"
before_lower=$(tree_state "$lower")
run_spawn -P -D "$TREE" --overlay="$lower:$upper:/mnt/ov" /bin/sh -c "
    $PAYLOAD read /mnt/ov/base
    $PAYLOAD write /mnt/ov/new new-content
    $PAYLOAD write /mnt/ov/base changed"
expect_rc "--overlay: runs" 0
expect_eq "--overlay: lower file visible, new file and modification writable" "len=6 ok ok" "$(echo $OUTPUT)"
expect_eq "--overlay: new file goes to the upper dir" new-content "$(cat "$upper/new" 2>&1)"
expect_eq "--overlay: modified file is copied up to the upper dir" changed "$(cat "$upper/base" 2>&1)"
expect_eq "--overlay: the lower dir is unchanged" "$before_lower" "$(tree_state "$lower")"

l1=$SCRATCH/l1
l2=$SCRATCH/l2
mkdir -p "$l1" "$l2"
printf 'one' >"$l1/shared"
printf 'two' >"$l2/shared"
printf '1' >"$l1/only1"
printf '22' >"$l2/only2"
before_l=$(tree_state "$SCRATCH/l1")$(tree_state "$SCRATCH/l2")
run_spawn -P -D "$TREE" --overlay-ro="$l1:$l2:/mnt/ovro" /bin/sh -c "
    $PAYLOAD read /mnt/ovro/only1
    $PAYLOAD read /mnt/ovro/only2
    echo shared=\$(cat /mnt/ovro/shared)
    $PAYLOAD write /mnt/ovro/x
    true"
expect_rc "--overlay-ro: runs" 0
expect_eq "--overlay-ro: files of all layers visible, leftmost path lowest, read-only" \
    "len=1 len=2 shared=two EROFS" "$(echo $OUTPUT)"
expect_eq "--overlay-ro: layers unchanged" "$before_l" "$(tree_state "$SCRATCH/l1")$(tree_state "$SCRATCH/l2")"

# ---- --inaccessible
printf 'topsecret\n' >"$TREE/etc/secret"
mkdir -p "$TREE/srv/secretdir"
printf 'x' >"$TREE/srv/secretdir/file"
run_payload --inaccessible=/etc/secret -- read /etc/secret
if [ "$OUTPUT" = len=0 ] || [ "$OUTPUT" = EACCES ]; then
    pass "--inaccessible=FILE: content is hidden ($OUTPUT)"
else
    fail "--inaccessible=FILE: content is hidden" "$(last_run)"
fi
run_payload --inaccessible=/etc/secret -- stat /etc/secret
expect_match "--inaccessible=FILE: mode 0000 regular file" '^/etc/secret type=reg mode=0000 '
run_payload --inaccessible=/etc/secret --user=berthtest -- read /etc/secret
expect_eq "--inaccessible=FILE: unreadable for an unprivileged user" EACCES "$OUTPUT"
run_payload --inaccessible=/etc/secret -- write /etc/secret "overwritten"
if [ "$RC" != 124 ] && [ -n "$OUTPUT" ] && [ "$OUTPUT" != ok ]; then pass "--inaccessible=FILE: not writable ($OUTPUT)"; else fail "--inaccessible=FILE: not writable" "$(last_run)"; fi
expect_eq "--inaccessible=FILE: the file in the tree is unchanged" topsecret "$(cat "$TREE/etc/secret")"
run_payload --inaccessible=/srv/secretdir -- ls /srv/secretdir
if [ "$OUTPUT" = count=0 ] || [ "$OUTPUT" = EACCES ]; then
    pass "--inaccessible=DIR: content is hidden ($OUTPUT)"
else
    fail "--inaccessible=DIR: content is hidden" "$(last_run)"
fi
run_payload --inaccessible=/srv/secretdir -- stat /srv/secretdir
expect_match "--inaccessible=DIR: mode 0000 directory" '^/srv/secretdir type=dir mode=0000 '

# ---- symlinks in the tree that point outside it must not redirect to the host
# symlink_case DESC TREE-NAME PATH-IN-TREE LINK-TARGET VICTIM [SPAWN-OPTIONS...]
symlink_case() {
    local desc=$1 name=$2 path=$3 target=$4 victim=$5 t mounts_before victim_before
    shift 5
    t=$(new_tree "$name")
    mkdir -p "$victim"
    printf 'keep' >"$victim/keep"
    rm -rf "${t:?}$path"
    mkdir -p "$(dirname "$t$path")"
    ln -s "$target" "$t$path"
    victim_before=$(tree_state "$victim")
    mounts_before=$(host_mounts)
    RUN_TREE=$t run_payload "$@" -- pid
    local m v
    m=$(diff <(echo "$mounts_before") <(host_mounts))
    v=$(diff <(echo "$victim_before") <(tree_state "$victim"))
    if [ -z "$m" ] && [ -z "$v" ] && [ "$RC" != 124 ]; then
        pass "$desc (exit status $RC)"
    else
        fail "$desc" "host mounts diff:
$m
host directory $victim diff:
$v
$(last_run)"
    fi
}

symlink_case "tree /dev -> absolute host path: nothing mounted or written there" \
    devlink /dev "$SCRATCH/victim-dev" "$SCRATCH/victim-dev"
symlink_case "tree /dev -> ../victim (relative, escaping the tree): nothing mounted or written there" \
    devrel /dev "../victim-devrel" "$SCRATCH/victim-devrel"
symlink_case "tree /proc -> absolute host path: nothing mounted or written there" \
    proclink /proc "$SCRATCH/victim-proc" "$SCRATCH/victim-proc"
symlink_case "tree /sys -> absolute host path: nothing mounted or written there" \
    syslink /sys "$SCRATCH/victim-sys" "$SCRATCH/victim-sys"
symlink_case "tree /run -> absolute host path: nothing mounted or written there" \
    runlink /run "$SCRATCH/victim-run" "$SCRATCH/victim-run"
symlink_case "tree /tmp -> ../../victim (relative, escaping the tree): nothing mounted or written there" \
    tmprel /tmp "../../victim-tmp" "$SCRATCH/victim-tmp"
symlink_case "--bind target that is a symlink to a host path does not redirect to the host" \
    bindlink /mnt/link "$SCRATCH/victim-bind" "$SCRATCH/victim-bind" --bind="$hostdir:/mnt/link"
symlink_case "--bind target below a symlink to a host path does not redirect to the host" \
    bindsub /mnt/link "$SCRATCH/victim-bindsub" "$SCRATCH/victim-bindsub" --bind="$hostdir:/mnt/link/sub"
symlink_case "--bind target that is a relative symlink escaping the tree does not redirect to the host" \
    bindrel /mnt/link "../../victim-bindrel" "$SCRATCH/victim-bindrel" --bind-ro="$hostdir:/mnt/link"
symlink_case "--tmpfs target that is a symlink to a host path does not redirect to the host" \
    tmpfslink /mnt/link "$SCRATCH/victim-tmpfs" "$SCRATCH/victim-tmpfs" --tmpfs=/mnt/link
symlink_case "--overlay target that is a symlink to a host path does not redirect to the host" \
    ovlink /mnt/link "$SCRATCH/victim-ov" "$SCRATCH/victim-ov" --overlay="$l1:$l2:/mnt/link"
symlink_case "--inaccessible target that is a symlink to a host path does not redirect to the host" \
    inalink /etc/link "$SCRATCH/victim-inacc/keep" "$SCRATCH/victim-inacc" --inaccessible=/etc/link

# the bind lands inside the tree when the symlink is resolved within it
t=$SCRATCH/bindlink
run_spawn -P -D "$t" --bind="$hostdir:/mnt/link" "$PAYLOAD" read /mnt/link/file
if [ "$RC" = 0 ]; then
    expect_eq "--bind onto a symlink resolves it inside the tree" len=6 "$OUTPUT"
elif [ "$RC" = 1 ] && [ "$(grep -v '^Spawning container ' <<<"$ERROUT" | grep -c '^berth-spawn: ')" = 1 ] &&
    [ "$(grep -v '^Spawning container ' <<<"$ERROUT" | wc -l)" = 1 ]; then
    pass "--bind onto a symlink pointing outside the tree is refused ($(grep '^berth-spawn: ' <<<"$ERROUT"))"
else
    fail "--bind onto a symlink: works inside the tree or is refused with one error line" "$(last_run)"
fi
