#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn -i/--image=: GPT images (Discoverable Partitions: root, usr, home, srv, var,
# tmp; read-only and no-auto flags; other architectures' partitions ignored), MBR images
# (first Linux partition), bare ext4/squashfs/erofs, btrfs and xfs roots, --read-only,
# --ephemeral, --volatile=overlay, -U, --bind, a 64 GiB sparse image, a Debian boot, and
# bad images: each refused with one line, exit status 1 and nothing left behind (loop
# devices, mounts, files in /run/berth, processes), also after SIGKILL of berth-spawn and
# when the set-up fails half-way. dm-verity and LUKS need device-mapper: where the kernel
# has none (checked here), berth-spawn must say so, and still tell a wrong passphrase.
#
# Every image is built here from the busybox tree, in the scratch directory. The kernel
# may lack partition-table parsers: berth-spawn adds the partitions itself (BLKPG).

case $(uname -m) in
    x86_64)
        ROOT_TYPE=4f68bce3-e8cd-4db1-96e7-fbcaf984b709 USR_TYPE=8484680c-9521-48c6-9c11-b0720656f69e
        ROOT_VERITY_TYPE=2c7357ed-ebd2-46d9-aec1-23d437ec2bf5
        OTHER_ROOT_TYPE=b921b045-1df0-41c3-af44-4c6f280d3fae OTHER_ARCH=arm64 ;;
    aarch64)
        ROOT_TYPE=b921b045-1df0-41c3-af44-4c6f280d3fae USR_TYPE=b0e01050-ee5f-4390-949a-9101b17104e9
        ROOT_VERITY_TYPE=df3300ce-d69f-4c92-978c-9bfb0f38d820
        OTHER_ROOT_TYPE=4f68bce3-e8cd-4db1-96e7-fbcaf984b709 OTHER_ARCH=x86-64 ;;
    *)
        echo "1..0 # SKIP this test knows the partition types of x86-64 and arm64 only, not $(uname -m)"
        exit 0 ;;
esac
HOME_TYPE=933ac7e1-2eb4-4f13-b844-0e14e2aef915 SRV_TYPE=3b8f8425-20e0-4f3b-907f-1a25a76f98e8
VAR_TYPE=4d21b016-b534-45c2-a9fb-5c16e091fd2d TMP_TYPE=7ec6f557-3bc5-4aca-b293-16ef5df639d1

. "$(dirname "$0")/lib.sh"
setup

for t in sfdisk mkfs.ext4 debugfs mksquashfs mkfs.erofs mkfs.btrfs mkfs.xfs cryptsetup veritysetup mkswap; do
    if ! command -v "$t" >/dev/null; then
        echo "Bail out! $t not found (tools/install-deps.sh installs it)"
        exit 1
    fi
done

IMAGE_ROOT=/run/berth/image-root
GPT_EDIT=$BERTH_TESTDIR/gpt-edit.py
I=$SCRATCH/images
W=$SCRATCH/work
mkdir -p "$I" "$W"

# Does this kernel have device-mapper? (libdevmapper creates /dev/mapper/control itself,
# so the node alone says nothing: open it.)
if "$PYTHON" -c 'import os; os.close(os.open("/dev/mapper/control", os.O_RDWR))' 2>/dev/null ||
    [ -e /sys/class/misc/device-mapper ]; then
    HAVE_DM=1
else
    HAVE_DM=
fi
MAPPER_CONTROL_BEFORE=$(test -e /dev/mapper/control && echo yes)
diag "device-mapper: ${HAVE_DM:-no}"

# ---------------------------------------------------------------- helpers

# mkfs_from TYPE DIR OUT: a file system image OUT of TYPE holding the files of DIR
mkfs_from() {
    local type=$1 dir=$2 out=$3
    rm -f "$out"
    case $type in
        ext4)
            truncate -s 16M "$out" && mkfs.ext4 -q -F -d "$dir" "$out" ;;
        squashfs)
            mksquashfs "$dir" "$out" -quiet -noappend >/dev/null ;;
        erofs)
            mkfs.erofs --quiet "$out" "$dir" ;;
        btrfs)
            truncate -s 128M "$out" && mkfs.btrfs -q --rootdir "$dir" "$out" >/dev/null ;;
        xfs)
            # no way to populate at mkfs time: mount it here (this test's private mount
            # namespace), copy, unmount (the loop device goes with it)
            truncate -s 300M "$out" && mkfs.xfs -q "$out" && mkdir -p "$W/xfs-mnt" &&
                mount -o loop "$out" "$W/xfs-mnt" && cp -a "$dir/." "$W/xfs-mnt/" && umount "$W/xfs-mnt" ;;
        *) return 1 ;;
    esac
}

# make_disk OUT gpt|dos SPEC... : a partitioned image. SPEC is "TYPE FILE [ATTRS [UUID]]":
# FILE's content goes into the partition (whole MiBs; "-" for 4 MiB left empty); ATTRS
# as sfdisk takes them (GUID:60), "-" for none.
make_disk() {
    local out=$1 label=$2 start=1 spec type file attrs uuid mb line script i
    local -a files=() starts=()
    shift 2
    script="label: $label"$'\n'
    for spec in "$@"; do
        read -r type file attrs uuid <<<"$spec"
        if [ "$file" = - ]; then
            mb=4
        else
            mb=$(( ($(stat -c %s "$file") + 1048575) / 1048576 ))
        fi
        line="start=$((start * 2048)), size=$((mb * 2048)), type=$type"
        [ -n "$attrs" ] && [ "$attrs" != - ] && line+=", attrs=\"$attrs\""
        [ -n "$uuid" ] && line+=", uuid=$uuid"
        script+=$line$'\n'
        files+=("$file")
        starts+=("$start")
        start=$((start + mb))
    done
    rm -f "$out"
    truncate -s $(( (start + 1) * 1048576 )) "$out"
    sfdisk -q --no-reread --no-tell-kernel "$out" <<<"$script" >/dev/null || return 1
    for i in "${!files[@]}"; do
        [ "${files[$i]}" = - ] && continue
        dd if="${files[$i]}" of="$out" bs=1M seek="${starts[$i]}" conv=notrunc,sparse status=none || return 1
    done
}

# marker_dir DIR NAME: DIR holds just a /.part file saying NAME
marker_dir() {
    mkdir -p "$1"
    echo "$2" >"$1/.part"
}

# What the machine shows: "H hostname", "P path content" for each /.part file found,
# "M mountpoint fstype rw|ro" for each mount.
PROBE='echo "H $(hostname)"
for f in /.part /usr/.part /home/.part /srv/.part /var/.part /var/tmp/.part; do [ -f $f ] && echo "P $f $(cat $f)"; done
while read -r _ _ _ _ mp opts rest; do set -- $rest; while [ "$1" != - ]; do shift; done; echo "M $mp $2 ${opts%%,*}"; done </proc/self/mountinfo'

part_of() { awk -v p="$1" '$1 == "P" && $2 == p { print $3 }' <<<"$OUTPUT"; }
mount_of() { awk -v p="$1" '$1 == "M" && $2 == p { m = $3 " " $4 } END { print m }' <<<"$OUTPUT"; }

# run_image ARGS..., spawn_image OUT ERR ARGS...: run_spawn and spawn_bg, with our marker
# in the machine's environment, so that leak_report finds its processes
run_image() { run_spawn -E "BERTH_TEST_MARKER=$BERTH_TEST_MARKER" "$@"; }
spawn_image() { spawn_bg "$1" "$2" -E "BERTH_TEST_MARKER=$BERTH_TEST_MARKER" "${@:3}"; }

# probe IMAGE [OPTIONS...]: run PROBE in a machine from IMAGE
probe() {
    local img=$1
    shift
    run_image -P -i "$img" "$@" /bin/sh -c "$PROBE"
}

# /run/berth, without its persistent directories and files and without network/ and
# machines/, which image runs never touch (other tests' runs at the same time may). A
# seccomp cache entry is persistent too: the first run of a new build writes one (its key
# has the build IDs), and counting it as a leak made every later check of the run fail
# and poll for its whole grace time, past the test's timeout. A temporary file of the
# cache (another name) still counts.
run_berth_state() {
    find /run/berth -mindepth 1 -maxdepth 2 2>/dev/null |
        grep -vxE '/run/berth/(image-root|dm\.lock|uid-ranges|ephemeral|network|machines|spawn|seccomp)' |
        grep -vxE '/run/berth/seccomp/[0-9a-f]{16}\.bpf' |
        grep -vE '^/run/berth/(network|machines)/' | sort
}
RUN_BERTH_BEFORE=$(run_berth_state)
SPAWN_EXE=$(readlink -f "$BERTH_SPAWN")

# leak_report: what our machines left behind now (empty: nothing)
leak_report() {
    local f p m ns
    for f in /sys/block/loop*/loop/backing_file; do
        [ -r "$f" ] || continue
        m=$(cat "$f" 2>/dev/null)
        case $m in "$SCRATCH"/*) f=${f#/sys/block/}; echo "loop device left: /dev/${f%%/*} ($m)" ;; esac
    done
    grep -hF "$IMAGE_ROOT" /proc/self/mountinfo | sed 's/^/mount left in the test'"'"'s namespace: /'
    grep -hF -e "$IMAGE_ROOT" -e "$SCRATCH" /proc/1/mountinfo | sed 's/^/mount left in the host namespace: /'
    [ -n "$(ls -A "$IMAGE_ROOT" 2>/dev/null)" ] && echo "files left in $IMAGE_ROOT: $(ls -A "$IMAGE_ROOT")"
    comm -13 <(echo "$RUN_BERTH_BEFORE") <(run_berth_state) | grep -vxE "${LEAK_IGNORE:-^$}" |
        sed 's/^/new in \/run\/berth: /'
    # processes: every run passes the marker into the machine (run_image, spawn_image);
    # berth-spawn has it from us. Ours (this shell, its subshells, greps) share our mount
    # namespace; berth-spawn after its image set-up and every machine process do not.
    ns=$(readlink /proc/self/ns/mnt)
    for p in $(grep -lzFx "BERTH_TEST_MARKER=$BERTH_TEST_MARKER" /proc/[0-9]*/environ 2>/dev/null); do
        p=${p%/environ}
        m=$(readlink "$p/ns/mnt" 2>/dev/null) || continue      # gone meanwhile
        if [ "$m" != "$ns" ] || [ "$(readlink "$p/exe" 2>/dev/null)" = "$SPAWN_EXE" ]; then
            echo "process left: ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
        fi
    done
}

# leaks [SECONDS]: leak_report, polled (a loop device goes when its last user is gone)
leaks() {
    local i n=$(( ${1:-2} * 10 )) out
    for ((i = 0; i <= n; i++)); do
        out=$(leak_report)
        [ -z "$out" ] && return 0
        sleep 0.1
    done
    printf '%s\n' "$out"
}

# expect_clean DESC: nothing of ours left behind
expect_clean() {
    local l
    l=$(leaks)
    if [ -z "$l" ]; then pass "$1: nothing left behind"; else fail "$1: nothing left behind" "$l"; fi
}

# expect_ok DESC: the last run exited with 0 (and left nothing behind)
expect_ok() {
    expect_rc "$1: runs" 0
    expect_clean "$1"
}

# bad ERE DESC ARGS... : berth-spawn ARGS fails cleanly: exit status 1, exactly one line on
# stderr, starting with "berth-spawn: " and matching ERE, and nothing left behind.
bad() {
    local ere=$1 desc=$2 problems=() n l
    shift 2
    run_image "$@"
    [ "$RC" = 1 ] || problems+=("exit status is $RC, not 1")
    n=$(grep -c '' <<<"$ERROUT")
    [ -z "$ERROUT" ] && n=0
    [ "$n" = 1 ] || problems+=("$n lines on stderr, not exactly 1")
    grep -q '^berth-spawn: ' <<<"$ERROUT" || problems+=("the error line does not start with 'berth-spawn: '")
    grep -qE -e "$ere" <<<"$ERROUT" || problems+=("no line matches: $ere")
    l=$(leaks)
    [ -z "$l" ] || problems+=("$l")
    if [ "${#problems[@]}" -eq 0 ]; then
        pass "$desc: $(head -n1 <<<"$ERROUT")"
    else
        fail "$desc" "$(printf '%s\n' "${problems[@]}")
$(last_run)"
    fi
}

# on_disk IMAGE OFFSET_MB PATH: "uid gid" of PATH in the ext4 file system at OFFSET_MB MiB
# of IMAGE, read with debugfs from a copy (nothing is mounted)
on_disk() {
    dd if="$1" of="$W/fs-copy" bs=1M skip="$2" status=none
    debugfs -R "stat $3" "$W/fs-copy" 2>/dev/null | awk '/^User:/ { print $2, $4; exit }'
    rm -f "$W/fs-copy"
}

# ---------------------------------------------------------------- building the images

# full tree with a marker; split trees for the partitions
cp -a "$TREE" "$W/full"
echo root >"$W/full/.part"
mkdir -p "$W/full/home" "$W/full/srv" "$W/full/var" "$W/full/mnt"
cp -a "$W/full" "$W/rootonly"
find "$W/rootonly/usr" -mindepth 1 -delete
mkdir -p "$W/usr" && cp -a "$TREE/usr/." "$W/usr/" && echo usr >"$W/usr/.part"
marker_dir "$W/home" home
marker_dir "$W/srv" srv
marker_dir "$W/var" var && mkdir -p "$W/var/tmp"
marker_dir "$W/tmp" tmp
cp -a "$W/full" "$W/other" && echo "$OTHER_ARCH" >"$W/other/.part"

mkfs_from ext4 "$W/full" "$W/root.ext4" &&
    mkfs_from ext4 "$W/rootonly" "$W/rootonly.ext4" &&
    mkfs_from ext4 "$W/usr" "$W/usr.ext4" &&
    mkfs_from ext4 "$W/home" "$W/home.ext4" &&
    mkfs_from ext4 "$W/srv" "$W/srv.ext4" &&
    mkfs_from ext4 "$W/var" "$W/var.ext4" &&
    mkfs_from ext4 "$W/tmp" "$W/tmp.ext4" &&
    mkfs_from ext4 "$W/other" "$W/other.ext4" || { echo "Bail out! could not make the ext4 file systems"; exit 1; }

# ---------------------------------------------------------------- good images

# ---- GPT, root only; the machine's name is the image's, without .raw
make_disk "$I/imgpt.raw" gpt "$ROOT_TYPE $W/root.ext4"
probe "$I/imgpt.raw"
expect_ok "GPT with a root partition"
expect_eq "GPT root: / is the root partition, ext4, writable" "ext4 rw" "$(mount_of /)"
expect_eq "GPT root: its files are there" root "$(part_of /.part)"
expect_line "the machine name (and hostname) defaults to the image's name without .raw" "H imgpt"
expect_match "the start line names the machine and the image" "^Spawning container imgpt on .*imgpt.raw" "$ERROUT"

# ---- GPT, root + usr + home + srv + var + tmp
make_disk "$I/imparts.raw" gpt "$ROOT_TYPE $W/rootonly.ext4" "$USR_TYPE $W/usr.ext4" "$HOME_TYPE $W/home.ext4" \
    "$SRV_TYPE $W/srv.ext4" "$VAR_TYPE $W/var.ext4" "$TMP_TYPE $W/tmp.ext4"
probe "$I/imparts.raw"
expect_ok "GPT with root, usr, home, srv, var, tmp"
ok_if "GPT parts: each partition is mounted where the specification says (/, /usr, /home, /srv, /var, /var/tmp)" \
    test "$(part_of /.part) $(part_of /usr/.part) $(part_of /home/.part) $(part_of /srv/.part) $(part_of /var/.part) $(part_of /var/tmp/.part)" \
    = "root usr home srv var tmp"
ok_if "GPT parts: each of them is an ext4 mount of its own" test "$(mount_of /usr)" = "ext4 rw" -a \
    "$(mount_of /home)" = "ext4 rw" -a "$(mount_of /srv)" = "ext4 rw" -a "$(mount_of /var)" = "ext4 rw" -a \
    "$(mount_of /var/tmp)" = "ext4 rw"

# ---- GPT flags, and a root partition of another architecture (first in the table)
make_disk "$I/imflags.raw" gpt "$OTHER_ROOT_TYPE $W/other.ext4" "$ROOT_TYPE $W/root.ext4 GUID:60" \
    "$HOME_TYPE $W/home.ext4 GUID:63"
run_image -P -i "$I/imflags.raw" /bin/sh -c "$PROBE; touch /x 2>/dev/null && echo root-written; true"
expect_ok "GPT with flags and another architecture's root"
expect_eq "the $OTHER_ARCH root partition is ignored: / is this architecture's" root "$(part_of /.part)"
expect_eq "read-only flag (60): / is mounted read-only" "ext4 ro" "$(mount_of /)"
expect_no_line "read-only flag: / cannot be written" root-written
ok_if "no-auto flag (63): the home partition is not mounted" test -z "$(mount_of /home)" -a -z "$(part_of /home/.part)"
expect_eq "an image that is read-only as a whole runs as with --read-only: no warnings" \
    "Spawning container imflags on $I/imflags.raw." "$(grep -v '^Container ' <<<"$ERROUT")"

make_disk "$I/imflags2.raw" gpt "$ROOT_TYPE $W/root.ext4 GUID:60" "$HOME_TYPE $W/home.ext4"
run_image -P -i "$I/imflags2.raw" /bin/sh -c "$PROBE; touch /home/x && echo home-written; true"
expect_ok "GPT with a read-only root and a writable home"
ok_if "read-only root, writable home: each partition keeps its own flag" \
    test "$(mount_of /)" = "ext4 ro" -a "$(mount_of /home)" = "ext4 rw"
expect_line "read-only root, writable home: /home can be written" home-written

# ---- MBR: the first Linux (0x83) partition, not a non-Linux one before it
echo ntfs-slot >"$W/full/.part" && mkfs_from ext4 "$W/full" "$W/mbr1.ext4"
echo first-linux >"$W/full/.part" && mkfs_from ext4 "$W/full" "$W/mbr2.ext4"
echo second-linux >"$W/full/.part" && mkfs_from ext4 "$W/full" "$W/mbr3.ext4"
echo root >"$W/full/.part"
make_disk "$I/immbr.raw" dos "7 $W/mbr1.ext4" "83 $W/mbr2.ext4" "83 $W/mbr3.ext4"
probe "$I/immbr.raw"
expect_ok "MBR image"
expect_eq "MBR: / is the first Linux (0x83) partition, not the type 0x07 one before it nor the next Linux one" \
    first-linux "$(part_of /.part)"

# ---- bare file systems
cp "$W/root.ext4" "$I/imbare.raw"
probe "$I/imbare.raw"
expect_ok "bare ext4 image"
expect_eq "bare ext4: / is the image's file system" "ext4 rw" "$(mount_of /)"
for fs in squashfs erofs; do
    if ! mkfs_from "$fs" "$W/full" "$I/im$fs.raw" 2>"$W/mkfs.err"; then
        fail "bare $fs image" "mkfs failed: $(cat "$W/mkfs.err")"
        continue
    fi
    probe "$I/im$fs.raw"
    expect_ok "bare $fs image"
    expect_eq "bare $fs: / is $fs, read-only" "$fs ro" "$(mount_of /)"
    expect_eq "bare $fs: its files are there" root "$(part_of /.part)"
    expect_no_match "bare $fs: no warnings (runs as with --read-only)" "^berth-spawn: " "$ERROUT"
done

# ---- btrfs and xfs root partitions
for fs in btrfs xfs; do
    if ! mkfs_from "$fs" "$W/full" "$W/root.$fs" 2>"$W/mkfs.err"; then
        fail "GPT with a $fs root" "mkfs failed: $(cat "$W/mkfs.err")"
        continue
    fi
    make_disk "$I/im$fs.raw" gpt "$ROOT_TYPE $W/root.$fs"
    rm -f "$W/root.$fs"
    probe "$I/im$fs.raw"
    expect_ok "GPT with a $fs root"
    expect_eq "$fs root: / is $fs, writable" "$fs rw" "$(mount_of /)"
    expect_eq "$fs root: its files are there" root "$(part_of /.part)"
done

# ---------------------------------------------------------------- options

# ---- --read-only
SUM=$(md5sum <"$I/imparts.raw")
run_image -P -i "$I/imparts.raw" --read-only /bin/sh -c "$PROBE; for d in / /usr /home /var; do touch \$d/x 2>/dev/null && echo wrote \$d; done; true"
expect_ok "--read-only"
ok_if "--read-only: every partition is mounted read-only" test "$(mount_of /)" = "ext4 ro" -a \
    "$(mount_of /usr)" = "ext4 ro" -a "$(mount_of /home)" = "ext4 ro" -a "$(mount_of /var/tmp)" = "ext4 ro"
expect_no_match "--read-only: nothing can be written" "^wrote"
expect_eq "--read-only: the image file is unchanged" "$SUM" "$(md5sum <"$I/imparts.raw")"

# ---- --ephemeral, root only and with several partitions
SUM=$(md5sum <"$I/imgpt.raw")
run_image -P -x -i "$I/imgpt.raw" /bin/sh -c "echo e >/eph && echo changed >/.part && rm /etc/passwd && echo wrote; $PROBE"
expect_ok "--ephemeral"
expect_line "--ephemeral: the machine can write" wrote
expect_eq "--ephemeral: / is a throwaway overlay" "overlay rw" "$(mount_of /)"
expect_eq "--ephemeral: the image file is unchanged (checksum)" "$SUM" "$(md5sum <"$I/imgpt.raw")"
run_image -P -i "$I/imgpt.raw" --read-only /bin/sh -c 'ls /eph 2>/dev/null; cat /.part; test -f /etc/passwd && echo passwd'
expect_eq "--ephemeral: the writes are gone at the next start" "root
passwd" "$OUTPUT"

SUM=$(md5sum <"$I/imparts.raw")
run_image -P -x -i "$I/imparts.raw" /bin/sh -c "for d in / /usr /home /srv /var /var/tmp; do echo e >\$d/eph && echo wrote \$d; done; $PROBE"
expect_ok "--ephemeral with several partitions"
expect_eq "--ephemeral: /, /usr, /home, /srv, /var and /var/tmp are writable" 6 "$(grep -c '^wrote' <<<"$OUTPUT")"
ok_if "--ephemeral: each partition has its own throwaway layer" test "$(mount_of /usr)" = "overlay rw" -a \
    "$(mount_of /home)" = "overlay rw" -a "$(mount_of /var/tmp)" = "overlay rw"
expect_eq "--ephemeral: the multi-partition image file is unchanged (checksum)" "$SUM" "$(md5sum <"$I/imparts.raw")"
run_image -P -i "$I/imparts.raw" --read-only /bin/sh -c 'ls /eph /usr/eph /home/eph /srv/eph /var/eph /var/tmp/eph 2>/dev/null; echo done'
expect_eq "--ephemeral: the writes to /usr and /home (and all others) are gone at the next start" done "$OUTPUT"

# ---- --volatile=overlay
SUM=$(md5sum <"$I/imgpt.raw")
run_image -P --volatile=overlay -i "$I/imgpt.raw" /bin/sh -c "echo v >/vol && echo wrote; $PROBE"
expect_ok "--volatile=overlay"
expect_eq "--volatile=overlay: / is an overlay" "overlay rw" "$(mount_of /)"
expect_line "--volatile=overlay: the machine can write" wrote
expect_eq "--volatile=overlay: the image file is unchanged" "$SUM" "$(md5sum <"$I/imgpt.raw")"

# ---- -U: the image's root-owned files are root's inside, nothing chowned on disk
SUM=$(md5sum <"$I/imgpt.raw")
run_image -P -U --private-users-ownership=map --read-only -i "$I/imgpt.raw" /bin/sh -c 'cat /proc/self/uid_map; stat -c "%u %g" /etc/passwd /'
expect_ok "-U --read-only"
read -r _ BASE _ <<<"$(head -n1 <<<"$OUTPUT")"
ok_if "-U: a user namespace with a shifted range (base $BASE)" test "${BASE:-0}" -ge 65536
expect_eq "-U: the image's root-owned files appear owned by root inside" "0 0
0 0" "$(tail -n2 <<<"$OUTPUT")"
expect_eq "-U (map) --read-only: the image file is unchanged (checksum)" "$SUM" "$(md5sum <"$I/imgpt.raw")"
run_image -P -U -i "$I/imgpt.raw" /bin/sh -c 'touch /made-by-root && stat -c "%u %g" /made-by-root /etc/passwd'
expect_ok "-U, writable"
expect_eq "-U: a file made by the machine's root is root's inside, and so are the image's" "0 0
0 0" "$OUTPUT"
expect_eq "-U: on disk, /etc/passwd still belongs to 0:0 (no chown)" "0 0" "$(on_disk "$I/imgpt.raw" 1 /etc/passwd)"
expect_eq "-U: on disk, the machine root's new file belongs to 0:0 (idmapped)" "0 0" "$(on_disk "$I/imgpt.raw" 1 /made-by-root)"

# ---- --bind into an image's tree
mkdir -p "$W/hostdir" && echo from-host >"$W/hostdir/hostfile"
run_image -P -i "$I/imgpt.raw" --bind="$W/hostdir:/mnt" /bin/sh -c 'cat /mnt/hostfile; echo back >/mnt/back'
expect_ok "--bind=HOSTDIR:/mnt"
expect_eq "--bind: the host directory is seen inside" from-host "$OUTPUT"
expect_eq "--bind: and written through" back "$(cat "$W/hostdir/back" 2>/dev/null)"

# ---- an image far larger than RAM: 64 GiB sparse, its root partition spans nearly all of it
truncate -s 64G "$I/imbig.raw"
sfdisk -q --no-reread --no-tell-kernel "$I/imbig.raw" <<<"label: gpt
start=2048, type=$ROOT_TYPE" >/dev/null
SECTORS=$(sfdisk -d "$I/imbig.raw" | sed -n 's/.*size= *\([0-9]*\),.*/\1/p')
mkfs.ext4 -q -F -E offset=1048576,lazy_itable_init=1,lazy_journal_init=1 -d "$W/full" "$I/imbig.raw" "$((SECTORS / 2))k"
KB_BEFORE=$(du -k "$I/imbig.raw" | cut -f1)
T0=$(date +%s%N)
run_image -P -i "$I/imbig.raw" /bin/sh -c "echo big >/big && cat /big && df -k / | tail -n1; $PROBE"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
expect_ok "64 GiB sparse image"
expect_eq "64 GiB image: / is its 64 GiB ext4 root" "ext4 rw" "$(mount_of /)"
ok_if "64 GiB image: the file system is that large ($(awk '/^\/dev/ { print $2 }' <<<"$OUTPUT") KiB)" \
    test "$(awk '/^\/dev/ { print $2 }' <<<"$OUTPUT")" -gt $((60 * 1024 * 1024))
ok_if "64 GiB image: started and stopped in ${MS} ms (< 10 s)" test "$MS" -lt 10000
KB_AFTER=$(du -k "$I/imbig.raw" | cut -f1)
ok_if "64 GiB image: still sparse, nothing much written (${KB_BEFORE} KiB allocated before, ${KB_AFTER} KiB after)" \
    test "$KB_AFTER" -lt $(( KB_BEFORE + 64 * 1024 ))
rm -f "$I/imbig.raw"

# ---- an image grown after it was made (truncate -s +N, to give the guest room): its backup
# GPT header is no longer in the last sector, which is not an error
cp "$I/imgpt.raw" "$I/imgrown.raw" && truncate -s +64M "$I/imgrown.raw"
probe "$I/imgrown.raw"
expect_ok "GPT image grown by 64 MiB"
expect_eq "grown image: / is its root partition" "ext4 rw" "$(mount_of /)"
rm -f "$I/imgrown.raw"

# ---------------------------------------------------------------- SIGKILL, half-way failures

spawn_image "$W/kill.out" "$W/kill.err" -P -i "$I/imgpt.raw" -M imkill /bin/sleep 60
wait_for "$W/kill.err" '^Spawning container imkill' 10
ok_if "SIGKILL: the machine runs, on a loop device of its image" \
    grep -qF "$I/imgpt.raw" /sys/block/loop*/loop/backing_file
LOOP=$(sed -n 's/^DEVICES=\([^ ]*\).*/\1/p' /run/berth/spawn/imkill 2>/dev/null)
ok_if "the state file names that loop device (${LOOP:-none})" \
    grep -qF "$I/imgpt.raw" "/sys/block/${LOOP#/dev/}/loop/backing_file"
expect_eq "the state file's ROOT is the image's mount point" "ROOT=$IMAGE_ROOT" "$(grep '^ROOT=' /run/berth/spawn/imkill 2>/dev/null)"
kill -KILL "$BG_PID"
wait_bg "$W/kill.out" "$W/kill.err" 10
T0=$(date +%s%N)
# the state file stays (nobody is left to remove it); the next start of imkill replaces it
L=$(LEAK_IGNORE='/run/berth/spawn/(imkill|\.imkill\.lock)' leaks 3)
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
if [ -z "$L" ]; then
    pass "SIGKILL of berth-spawn: machine, mounts and loop device are gone (after ${MS} ms)"
else
    fail "SIGKILL of berth-spawn: machine, mounts and loop device are gone" "$L"
fi
run_image -P -i "$I/imgpt.raw" -M imkill /bin/true
expect_ok "SIGKILL: the same machine starts again"

head -c 4M /dev/urandom >"$W/random.4m"
make_disk "$W/half.raw" gpt "$ROOT_TYPE $W/root.ext4" "$HOME_TYPE $W/random.4m"
cp "$W/half.raw" "$I/imhalf.raw"
bad "partition 2 \(home\) has no file system" "half-way failure: a home partition without a file system (root already mounted)" \
    -P -i "$I/imhalf.raw" /bin/true
truncate -s 4M "$W/swap.4m" && mkswap -q "$W/swap.4m" >/dev/null
make_disk "$I/imhalf2.raw" gpt "$ROOT_TYPE $W/root.ext4" "$USR_TYPE $W/usr.ext4" "$HOME_TYPE $W/swap.4m"
bad "the home file system is 'swap'" "half-way failure: a swap signature on the home partition (root and usr already mounted)" \
    -P -i "$I/imhalf2.raw" /bin/true

# ---------------------------------------------------------------- bad images

head -c 8M /dev/urandom >"$I/imrandom.raw"
bad "no partition table and no file system" "random bytes" -P -i "$I/imrandom.raw" /bin/true
: >"$I/imempty.raw"
bad "too small" "an empty file" -P -i "$I/imempty.raw" /bin/true

cp "$I/imgpt.raw" "$I/imtrunc.raw" && truncate -s -512 "$I/imtrunc.raw"
bad "backup GPT header lies beyond the end of the image" "GPT cut short by its backup header" -P -i "$I/imtrunc.raw" /bin/true
cp "$I/imgpt.raw" "$I/imtrunc2.raw" && truncate -s -4M "$I/imtrunc2.raw"
bad "GPT is invalid|partition table" "GPT cut short into its last partition" -P -i "$I/imtrunc2.raw" /bin/true

# flip_byte FILE OFFSET: invert one byte (writing a fixed value would change nothing when
# the byte, here part of a random GUID, already has it)
flip_byte() {
    "$PYTHON" -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))' "$1" "$2"
}
cp "$I/imgpt.raw" "$I/imhdrcrc.raw"
flip_byte "$I/imhdrcrc.raw" $((512 + 60))   # a byte of the disk GUID
bad "primary GPT table is corrupt" "bad primary GPT header CRC" -P -i "$I/imhdrcrc.raw" /bin/true

cp "$I/imgpt.raw" "$I/imentcrc.raw"
flip_byte "$I/imentcrc.raw" $((1024 + 60))   # entry 1's name
bad "primary GPT table is corrupt" "bad primary partition entries CRC" -P -i "$I/imentcrc.raw" /bin/true

make_disk "$I/imoverlap.raw" gpt "$ROOT_TYPE $W/root.ext4" "$HOME_TYPE $W/home.ext4"
"$GPT_EDIT" "$I/imoverlap.raw" 2 first=$((8 * 2048))
bad "partitions 1 and 2 overlap" "overlapping partitions" -P -i "$I/imoverlap.raw" /bin/true

make_disk "$I/imrange.raw" gpt "$ROOT_TYPE $W/root.ext4" "$HOME_TYPE $W/home.ext4"
"$GPT_EDIT" "$I/imrange.raw" 2 last=$((1000 * 2048))
bad "Partition 2 is too big for the disk" "a partition ending beyond the disk" -P -i "$I/imrange.raw" /bin/true

make_disk "$I/immismatch.raw" gpt "$ROOT_TYPE $W/root.ext4" "$HOME_TYPE $W/home.ext4"
"$GPT_EDIT" --table=backup "$I/immismatch.raw" 2 attrs=0x8000000000000000
bad "primary and backup GPT disagree" "primary and backup GPT disagree (each valid)" -P -i "$I/immismatch.raw" /bin/true

make_disk "$I/imnoroot.raw" gpt "$OTHER_ROOT_TYPE $W/other.ext4" "$HOME_TYPE $W/home.ext4"
bad "no root partition for this architecture" "GPT with only another architecture's root partition" \
    -P -i "$I/imnoroot.raw" /bin/true

make_disk "$I/imnolinux.raw" dos "7 $W/root.ext4" "c $W/home.ext4"
bad "no Linux \(0x83\) partition" "MBR without a Linux partition" -P -i "$I/imnolinux.raw" /bin/true

make_disk "$I/imunknownfs.raw" gpt "$ROOT_TYPE $W/random.4m"
bad "partition 1 \(root\) has no file system" "root partition of random bytes (no signature: blkid finds nothing)" \
    -P -i "$I/imunknownfs.raw" /bin/true
make_disk "$I/imswaproot.raw" gpt "$ROOT_TYPE $W/swap.4m"
bad "the root file system is 'swap'" "root partition with a swap signature" -P -i "$I/imswaproot.raw" /bin/true

bad "Image '$I/imgpt.raw': no root and root-verity partitions match the root hash" \
    "--root-hash= with no verity partition" -P -i "$I/imgpt.raw" --root-hash="$(printf '%064d' 7)" /bin/true
bad "a bare file system needs --verity-data= or IMAGE.verity" "bare image with --root-hash= and no .verity file" \
    -P -i "$I/imbare.raw" --root-hash="$(printf '%064d' 7)" /bin/true
bad "verity-data= needs --root-hash=" "--verity-data= without a root hash" \
    -P -i "$I/imbare.raw" --verity-data="$W/root.ext4" /bin/true

# ---- dm-verity and LUKS2: the images (veritysetup format and cryptsetup luksFormat work on
# plain files, without device-mapper)
cp "$W/root.ext4" "$W/vdata.ext4"
HASH=
if veritysetup format "$W/vdata.ext4" "$W/vhash" >"$W/verity.out" 2>&1; then
    HASH=$(awk '/^Root hash:/ { print $3 }' "$W/verity.out")
    U1=$(sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/' <<<"${HASH:0:32}")
    U2=$(sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/' <<<"${HASH:32:32}")
    make_disk "$I/imverity.raw" gpt "$ROOT_TYPE $W/vdata.ext4 - $U1" "$ROOT_VERITY_TYPE $W/vhash - $U2"
    cp "$W/vdata.ext4" "$I/imbareverity.raw" && cp "$W/vhash" "$I/imbareverity.verity"
    cp "$I/imverity.raw" "$I/imsidecar.raw" && echo "$HASH" >"$I/imsidecar.roothash"
else
    fail "veritysetup format" "$(cat "$W/verity.out")"
fi
printf 'right passphrase' >"$W/key"
printf 'wrong passphrase' >"$W/badkey"
truncate -s 24M "$W/luks"
LUKS=
if cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --key-file "$W/key" "$W/luks" >"$W/luks.out" 2>&1; then
    LUKS=1
    make_disk "$I/imluks.raw" gpt "$ROOT_TYPE $W/luks"
    make_disk "$I/imlukshome.raw" gpt "$ROOT_TYPE $W/root.ext4" "$HOME_TYPE $W/luks"
else
    fail "cryptsetup luksFormat" "$(cat "$W/luks.out")"
fi
# Those tools make /dev/mapper/control through libdevmapper, also where it cannot work:
# remove it again where it was not there before, so that what berth-spawn does shows.
if [ -z "$HAVE_DM" ] && [ -z "$MAPPER_CONTROL_BEFORE" ] && [ -c /dev/mapper/control ]; then
    rm -f /dev/mapper/control
    rmdir /dev/mapper 2>/dev/null
fi

# ---- dm-verity
if [ -n "$HASH" ]; then
    if [ -n "$HAVE_DM" ]; then
        for args in "-i $I/imverity.raw --root-hash=$HASH" "-i $I/imsidecar.raw" \
            "-i $I/imbareverity.raw --root-hash=$HASH" "-i $I/imbareverity.raw --root-hash=$HASH --verity-data=$W/vhash"; do
            # shellcheck disable=SC2086
            run_image -P $args /bin/sh -c "$PROBE"
            expect_ok "verity: $args"
            expect_eq "verity ($args): / is the verified root, read-only" "ext4 ro" "$(mount_of /)"
        done
    else
        NODM="verity-protected, but this kernel has no device-mapper"
        bad "$NODM" "GPT root + root-verity with --root-hash=, no device-mapper" \
            -P -i "$I/imverity.raw" --root-hash="$HASH" /bin/true
        bad "$NODM" "GPT root + root-verity with IMAGE.roothash, no device-mapper" -P -i "$I/imsidecar.raw" /bin/true
        bad "$NODM" "bare image with --root-hash= and IMAGE.verity, no device-mapper" \
            -P -i "$I/imbareverity.raw" --root-hash="$HASH" /bin/true
        bad "$NODM" "bare image with --root-hash= and --verity-data=, no device-mapper" \
            -P -i "$I/imbareverity.raw" --root-hash="$HASH" --verity-data="$W/vhash" /bin/true
    fi
    bad "no root and root-verity partitions match the root hash" "verity partitions, but a root hash that does not match" \
        -P -i "$I/imverity.raw" --root-hash="$(printf '%064d' 7)" /bin/true
fi

# ---- LUKS2
if [ -n "$LUKS" ]; then
    bad "wrong passphrase for partition 1 \(root\)" "LUKS2 root, wrong --key-file" \
        -P -i "$I/imluks.raw" --key-file="$W/badkey" /bin/true
    bad "partition 1 \(root\) is encrypted; give --key-file" "LUKS2 root, not interactive, no --key-file" \
        -P -i "$I/imluks.raw" /bin/true
    bad "wrong passphrase for partition 2 \(home\)" "LUKS2 home, wrong --key-file (root already mounted)" \
        -P -i "$I/imlukshome.raw" --key-file="$W/badkey" /bin/true
    # on a terminal: asked again after a wrong passphrase (three times at most)
    printf 'wrong one\nright passphrase\n' >"$W/answers"
    SPAWN_STDIN=$W/answers run_tty "$(printf '%q ' "$BERTH_SPAWN" -E "BERTH_TEST_MARKER=$BERTH_TEST_MARKER" -P -i "$I/imluks.raw" /bin/true)"
    expect_match "LUKS2 on a terminal: a wrong passphrase is asked again" \
        "Wrong passphrase\. Passphrase for partition 1 \(root\) of .*imluks.raw"
    if [ -n "$HAVE_DM" ]; then
        expect_match "LUKS2 on a terminal: the right one opens it (the volume is empty)" "has no file system"
    else
        expect_match "LUKS2 on a terminal: the right one is accepted (then: no device-mapper)" \
            "^berth-spawn: .*partition 1 \(root\) is encrypted, but this kernel has no device-mapper"
    fi
    expect_clean "LUKS2 on a terminal"
    printf 'one\ntwo\nthree\nright passphrase\n' >"$W/answers"
    SPAWN_STDIN=$W/answers run_tty "$(printf '%q ' "$BERTH_SPAWN" -E "BERTH_TEST_MARKER=$BERTH_TEST_MARKER" -P -i "$I/imluks.raw" /bin/true)"
    expect_rc "LUKS2 on a terminal: three wrong passphrases fail" 1
    expect_match "... with the wrong-passphrase message" "^berth-spawn: .*wrong passphrase for partition 1 \(root\)"
    if [ -n "$HAVE_DM" ]; then
        bad "has no file system" "LUKS2 root, right --key-file (the volume is empty)" \
            -P -i "$I/imluks.raw" --key-file="$W/key" /bin/true
    else
        bad "partition 1 \(root\) is encrypted, but this kernel has no device-mapper" \
            "LUKS2 root, right --key-file, no device-mapper" -P -i "$I/imluks.raw" --key-file="$W/key" /bin/true
        bad "partition 2 \(home\) is encrypted, but this kernel has no device-mapper" \
            "LUKS2 home, right --key-file, no device-mapper (root already mounted)" \
            -P -i "$I/imlukshome.raw" --key-file="$W/key" /bin/true
    fi
fi
if [ -z "$HAVE_DM" ] && [ -z "$MAPPER_CONTROL_BEFORE" ]; then
    ok_if "without device-mapper, berth-spawn made no /dev/mapper/control node" test ! -e /dev/mapper/control
    rm -f /dev/mapper/control
    rmdir /dev/mapper 2>/dev/null
fi

# ---------------------------------------------------------------- option errors

bad "cannot be combined" "-D and -i together" -P -D "$TREE" -i "$I/imgpt.raw" /bin/true
bad "template=.*cannot be combined with -i" "--template= with -i" -P --template="$TREE" -i "$I/imgpt.raw" /bin/true
bad "Invalid --root-hash= 'xyz'" "--root-hash= with bad hex" -P -i "$I/imgpt.raw" --root-hash=xyz /bin/true
bad "Invalid --root-hash= 'abcd'" "--root-hash= too short" -P -i "$I/imgpt.raw" --root-hash=abcd /bin/true
bad "need -i/--image=" "--key-file= without -i" -P -D "$TREE" --key-file="$W/key" /bin/true
bad "$I/no-such.raw" "-i of a missing file" -P -i "$I/no-such.raw" /bin/true
bad "neither a regular file nor a block device" "-i of a directory" -P -i "$W" /bin/true

# ---------------------------------------------------------------- booting Debian from an image

if DEB=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path 2>/dev/null); then
    gpt_root_image "$I/imdebian.raw" "$DEB" 1536M
    spawn_image "$W/deb.out" "$W/deb.err" -i "$I/imdebian.raw" -b --console=read-only
    L=
    for i in $(seq 1 400); do
        L=$(awk '{print $1}' /proc/"$BG_PID"/task/"$BG_PID"/children 2>/dev/null)
        [ -n "$L" ] && [ -S /proc/"$L"/root/run/systemd/private ] && break
        sleep 0.05
    done
    STATE=$(timeout 60 nsenter -t "$L" -m -u -i -p -C -r -w systemctl is-system-running --wait 2>&1)
    FAILED=$(timeout 20 nsenter -t "$L" -m -u -i -p -C -r -w systemctl --failed --no-legend --plain 2>&1)
    ROOTSRC=$(timeout 20 nsenter -t "$L" -m -u -i -p -C -r -w findmnt -no FSTYPE / 2>&1)
    expect_eq "boot from a GPT image: running" running "$STATE"
    expect_eq "boot from a GPT image: no failed units" "" "$FAILED"
    expect_eq "boot from a GPT image: / is the image's ext4" ext4 "$ROOTSRC"
    kill -TERM "$BG_PID"
    wait_bg "$W/deb.out" "$W/deb.err" 30
    expect_rc "boot from a GPT image: SIGTERM powers it off with status 0" 0
    expect_clean "boot from a GPT image"
    rm -f "$I/imdebian.raw"
else
    skip "boot from a GPT image" "no Debian tree (tools/make-debian-tree.sh failed)"
fi
