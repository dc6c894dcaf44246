#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthd's image pool: a btrfs pool on a loop file (mounted in this test's own mount
# namespace), with a subvolume image, a directory image, a raw image and a hidden one.
# Every Manager image method and Image member through busctl, O(1) snapshot clones and
# plain copies, temporaries that never show under the final name (also when berthd is
# SIGKILLed mid-copy), the daemon answering during a slow copy, image locks, read-only
# and in-use rules, quotas never enabled implicitly, hostile names, authorization, and
# the real machinectl. Nothing may leak: loop device, mount, workers, processes.

# A private mount namespace for the pool's mount; it goes away with the test.
if [ -z "${BERTHD_IMAGES_NS:-}" ] && [ "$(id -u)" = 0 ]; then
    export BERTHD_IMAGES_NS=1
    exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
fi

source "$(dirname "$0")/lib.sh"
setup
btrfs_pool
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
IMG=org.freedesktop.machine1.Image

# --- the images
btrfs -q subvolume create "$POOL/sub" >/dev/null
"$TOOLS/make-busybox-tree.sh" "$POOL/sub" >/dev/null || { echo "Bail out! no busybox tree"; exit 1; }
mkdir "$POOL/dir"
"$TOOLS/make-busybox-tree.sh" "$POOL/dir" >/dev/null
echo hello >"$POOL/dir/etc/marker"
head -c 3M /dev/urandom >"$POOL/disk.raw"
mkdir "$POOL/.hid"
mkdir "$POOL/bad name" "$POOL/.#stray"           # not valid image names: never listed
ln -s /etc "$POOL/link"                             # symlinks are not followed
# a tree that takes a while to copy: many small files
mkdir -p "$POOL/big/d"
(cd "$POOL/big/d" && seq 1 30000 | sed 's/^/f/' | xargs touch)
for i in 1 2 3 4; do cp -a "$POOL/big/d" "$POOL/big/d$i"; done

if start_berthd --pool="$POOL"; then pass "berthd starts with --pool=$POOL"; else fail "berthd starts"; finish; fi

esc() { sed 's/[][()[{}.]/\\&/g' <<<"$1"; }
ipath() { mgr GetImage s "$1" | awk '{ print $2 }' | tr -d '"'; }
iprop() { busctl get-property "$DEST" "$(ipath "$1")" "$IMG" "$2"; }
exists() { [ -e "$POOL/$1" ] || [ -e "$POOL/$1.raw" ]; }
gone() { ! mgr GetImage s "$1" >/dev/null 2>&1 && ! exists "$1"; }
temporaries() { find "$POOL" -maxdepth 1 -name '.#*' ! -name '.#stray' -printf '%f\n'; }

# --- introspection: exact signatures from machine1-api.md
intro=$(busctl introspect "$DEST" "$MGR_PATH" "$MGR")
for m in "ListImages - a(ssbttto)" "GetImage s o" "CloneImage ssb -" "RenameImage ss -" "RemoveImage s -" \
         "MarkImageReadOnly sb -" "GetImageOSRelease s a{ss}" "SetPoolLimit t -" "SetImageLimit st -" \
         "CleanPool s a(st)" "GetImageHostname s s" "GetImageMachineID s ay" "GetImageMachineInfo s a{ss}"; do
    set -- $m
    ok_if "Manager.$1 has signature $2 -> $3" grep -qE "^\.$1 +method +$(esc "$2") +$(esc "$3") " <<<"$intro"
done
expect_eq "PoolPath is --pool" "s \"$POOL\"" "$(busctl get-property $DEST $MGR_PATH $MGR PoolPath)"
expect_eq "PoolUsage unknown without quotas" "t 18446744073709551615" "$(busctl get-property $DEST $MGR_PATH $MGR PoolUsage)"
iintro=$(busctl introspect "$DEST" "$(ipath sub)" "$IMG")
for m in "Clone sb -" "Remove - -" "Rename s -" "MarkReadOnly b -" "GetOSRelease - a{ss}" "SetLimit t -" \
         "Name s" "Path s" "Type s" "ReadOnly b" "CreationTimestamp t" "ModificationTimestamp t" "Usage t" "Limit t"; do
    set -- $m
    if [ $# = 3 ]; then
        ok_if "Image.$1 has signature $2 -> $3" grep -qE "^\.$1 +method +$(esc "$2") +$(esc "$3") " <<<"$iintro"
    else
        ok_if "Image.$1 is a property of type $2" grep -qE "^\.$1 +property +$2 " <<<"$iintro"
    fi
done

# --- discovery and properties
list=$(mgr ListImages)
ok_if "ListImages: .host is a read-only directory" grep -q '"\.host" "directory" true' <<<"$list"
ok_if "ListImages: sub is a subvolume" grep -q '"sub" "subvolume" false' <<<"$list"
ok_if "ListImages: dir is a directory" grep -q '"dir" "directory" false' <<<"$list"
ok_if "ListImages: disk.raw is raw image 'disk'" grep -q '"disk" "raw" false' <<<"$list"
ok_if "ListImages: hidden images are listed" grep -q '"\.hid" "directory"' <<<"$list"
ok_if "ListImages: invalid names, temporaries and symlinks are not" \
    bash -c '! grep -qE "bad name|stray|\"link\"" <<<"$1"' _ "$list"
expect_eq "ListImages count" 6 "$(grep -o '/org/freedesktop/machine1/image/' <<<"$list" | wc -l)"
expect_eq "GetImage path escaped like machined" "/org/freedesktop/machine1/image/_2ehid" "$(ipath .hid)"
expect_eq ".host path" "/org/freedesktop/machine1/image/_2ehost" "$(ipath .host)"
expect_eq "Name" 's "sub"' "$(iprop sub Name)"
expect_eq "Path" "s \"$POOL/sub\"" "$(iprop sub Path)"
expect_eq "Type subvolume" 's "subvolume"' "$(iprop sub Type)"
expect_eq "Type directory" 's "directory"' "$(iprop dir Type)"
expect_eq "Type raw" 's "raw"' "$(iprop disk Type)"
expect_eq "raw Path ends in .raw" "s \"$POOL/disk.raw\"" "$(iprop disk Path)"
expect_eq "ReadOnly" "b false" "$(iprop sub ReadOnly)"
expect_eq ".host ReadOnly" "b true" "$(iprop .host ReadOnly)"
ct=$(iprop sub CreationTimestamp | cut -d' ' -f2); now=$(( $(date +%s) * 1000000 ))
ok_if "CreationTimestamp is now (µs)" test $((now - ct)) -lt 600000000 -a $((ct - now)) -lt 60000000
mt=$(iprop dir ModificationTimestamp | cut -d' ' -f2)
ok_if "ModificationTimestamp is now (µs)" test $((now - mt)) -lt 600000000 -a $((mt - now)) -lt 60000000
expect_eq "Usage of a directory is unknown (too slow to compute)" "t 18446744073709551615" "$(iprop dir Usage)"
expect_eq "Usage of a raw image is its allocated size" "t $(( $(stat -c %b "$POOL/disk.raw") * 512 ))" "$(iprop disk Usage)"
expect_eq "Limit unknown without quotas" "t 18446744073709551615" "$(iprop sub Limit)"
ok_if "GetAll" bash -c "busctl call $DEST $(ipath sub) org.freedesktop.DBus.Properties GetAll s $IMG | grep -q CreationTimestamp"
ok_if "introspection lists image nodes" bash -c "busctl tree $DEST | grep -q /image/sub"
expect_fail "GetImage unknown -> NoSuchImage" "No image" mgr GetImage s nosuch
ok_if "GetImageOSRelease" bash -c "busctl call $DEST $MGR_PATH $MGR GetImageOSRelease s sub | grep -q '\"ID\"'"
ok_if "Image.GetOSRelease" bash -c "busctl call $DEST $(ipath dir) $IMG GetOSRelease | grep -q '\"ID\"'"
expect_fail "GetImageOSRelease of a raw file that is no image" "Failed to read OS release of image 'disk'" \
    mgr GetImageOSRelease s disk

# GetImageHostname, GetImageMachineID, GetImageMachineInfo of trees: read inside the tree
printf '# a comment\n\n  dirhost  \n' >"$POOL/dir/etc/hostname"
echo 0123456789abcdef0123456789abcdef >"$POOL/dir/etc/machine-id"
printf 'PRETTY_HOSTNAME="Dir Box"\nICON_NAME=computer-container\n' >"$POOL/dir/etc/machine-info"
echo hostleak >"$TMP/host-hostname"
rm -f "$POOL/sub/etc/hostname" "$POOL/sub/etc/machine-id" "$POOL/sub/etc/machine-info"
ln -s "$TMP/host-hostname" "$POOL/sub/etc/hostname"         # a host path: resolved in the tree
echo uninitialized >"$POOL/sub/etc/machine-id"
expect_eq "GetImageHostname (comments and blanks skipped)" 's "dirhost"' "$(mgr GetImageHostname s dir 2>&1)"
expect_eq "Image.GetHostname" 's "dirhost"' "$(busctl call $DEST "$(ipath dir)" $IMG GetHostname 2>&1)"
expect_eq "GetImageHostname of a tree whose /etc/hostname points at a host file: empty" 's ""' \
    "$(mgr GetImageHostname s sub 2>&1)"
expect_eq "GetImageMachineID" "ay 16 1 35 69 103 137 171 205 239 1 35 69 103 137 171 205 239" \
    "$(mgr GetImageMachineID s dir 2>&1)"
expect_eq "GetImageMachineID of an uninitialized one: empty" "ay 0" "$(mgr GetImageMachineID s sub 2>&1)"
expect_eq "GetImageMachineInfo" 'a{ss} 2 "PRETTY_HOSTNAME" "Dir Box" "ICON_NAME" "computer-container"' \
    "$(mgr GetImageMachineInfo s dir 2>&1)"
expect_eq "Image.GetMachineInfo without the file: empty" "a{ss} 0" \
    "$(busctl call $DEST "$(ipath sub)" $IMG GetMachineInfo 2>&1)"
expect_fail "GetImageHostname of an unknown image" "No image" mgr GetImageHostname s nosuch

# Raw images: berthd dissects them and mounts them read-only in a worker's own mount
# namespace. A bare ext4 whose /etc/os-release is a symlink to /usr/lib/os-release, and a
# GPT image whose os-release is on its /usr partition (this kernel has no partition
# parser: the partitions are added with BLKPG) and an ESP berthd need not mount. Added
# after the ListImages checks above.
if command -v mkfs.ext4 >/dev/null && command -v sfdisk >/dev/null; then
    case $(uname -m) in
        aarch64) ROOT_TYPE=b921b045-1df0-41c3-af44-4c6f280d3fae USR_TYPE=b0e01050-ee5f-4390-949a-9101b17104e9 ;;
        *) ROOT_TYPE=4f68bce3-e8cd-4db1-96e7-fbcaf984b709 USR_TYPE=8484680c-9521-48c6-9c11-b0720656f69e ;;
    esac
    R=$TMP/rawtree
    mkdir -p "$R/root/etc" "$R/root/usr" "$R/usr/lib"
    ln -s ../usr/lib/os-release "$R/root/etc/os-release"
    printf 'ID=berthtest\nPRETTY_NAME="Berth Test OS"\nVERSION_ID=42\n' >"$R/usr/lib/os-release"
    echo rawhost >"$R/root/etc/hostname"
    echo fedcba9876543210fedcba9876543210 >"$R/root/etc/machine-id"
    printf 'PRETTY_HOSTNAME="Raw Box"\n' >"$R/root/etc/machine-info"
    cp -a "$R/root" "$R/bare" && cp -a "$R/usr/." "$R/bare/usr/"
    truncate -s 8M "$TMP/root.ext4" "$TMP/usr.ext4" "$POOL/osbare.raw"
    mkfs.ext4 -q -F -d "$R/bare" "$POOL/osbare.raw" &&
        mkfs.ext4 -q -F -d "$R/root" "$TMP/root.ext4" && mkfs.ext4 -q -F -d "$R/usr" "$TMP/usr.ext4"
    # an ESP without a file system: reading os-release only mounts root and /usr
    truncate -s 22M "$POOL/osgpt.raw"
    sfdisk -q --no-reread --no-tell-kernel "$POOL/osgpt.raw" >/dev/null <<SFDISK
label: gpt
start=2048, size=16384, type=$ROOT_TYPE
start=18432, size=16384, type=$USR_TYPE
start=34816, size=8192, type=c12a7328-f81f-11d2-ba4b-00a0c93ec93b
SFDISK
    dd if="$TMP/root.ext4" of="$POOL/osgpt.raw" bs=1M seek=1 conv=notrunc status=none
    dd if="$TMP/usr.ext4" of="$POOL/osgpt.raw" bs=1M seek=9 conv=notrunc status=none

    sums=$(md5sum "$POOL"/os*.raw)
    for img in osbare osgpt; do
        out=$(mgr GetImageOSRelease s $img 2>&1)
        ok_if "GetImageOSRelease of raw image $img: ID" grep -q '"ID" "berthtest"' <<<"$out"
        ok_if "GetImageOSRelease of raw image $img: quoted PRETTY_NAME" grep -q '"PRETTY_NAME" "Berth Test OS"' <<<"$out"
        ok_if "GetImageOSRelease of raw image $img: three fields" grep -q '^a{ss} 3 ' <<<"$out"
        expect_eq "GetImageHostname of raw image $img" 's "rawhost"' "$(mgr GetImageHostname s $img 2>&1)"
        expect_eq "GetImageMachineID of raw image $img" \
            "ay 16 254 220 186 152 118 84 50 16 254 220 186 152 118 84 50 16" "$(mgr GetImageMachineID s $img 2>&1)"
        expect_eq "GetImageMachineInfo of raw image $img" 'a{ss} 1 "PRETTY_HOSTNAME" "Raw Box"' \
            "$(mgr GetImageMachineInfo s $img 2>&1)"
        [ $img = osgpt ] || continue
        ok_if "Image.GetOSRelease of raw image $img" bash -c \
            "busctl call $DEST $(ipath $img) $IMG GetOSRelease | grep -q '\"VERSION_ID\" \"42\"'"
    done
    # the worker's mounts died with its namespace; autoclear took the loop devices
    no_raw_loops() { [ -z "$(losetup -j "$POOL/osbare.raw"; losetup -j "$POOL/osgpt.raw")" ]; }
    ok_if "raw images: no loop device left" wait_until 2 no_raw_loops
    ok_if "raw images: nothing mounted on the host" bash -c "! grep -q ' /run/berth/image-root ' /proc/self/mountinfo"
    expect_eq "raw images: the image files are unchanged (checksums)" "$sums" "$(md5sum "$POOL"/os*.raw)"
    rm -f "$POOL/osbare.raw" "$POOL/osgpt.raw"
    rm -rf "$R" "$TMP/root.ext4" "$TMP/usr.ext4"
else
    skip "raw image os-release" "no mkfs.ext4 or sfdisk"
fi
expect_fail "GetImageOSRelease without os-release" "does not contain OS release" mgr GetImageOSRelease s .hid

# --- clones
t0=$(date +%s%N)
ok_if "CloneImage subvolume" mgr CloneImage ssb sub snap false
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "clone of a subvolume is a subvolume (O(1) snapshot, ${ms} ms)" 's "subvolume"' "$(iprop snap Type)"
ok_if "snapshot is a btrfs subvolume of the same file system" btrfs subvolume show "$POOL/snap"
ok_if "snapshot has the tree" cmp "$POOL/sub/usr/bin/busybox" "$POOL/snap/usr/bin/busybox"
ok_if "CloneImage directory" mgr CloneImage ssb dir dcopy false
expect_eq "clone of a directory is a directory (copy)" 's "directory"' "$(iprop dcopy Type)"
ok_if "copy is identical" diff -r "$POOL/dir" "$POOL/dcopy"
expect_eq "copy keeps modes" "$(stat -c %a "$POOL/dir/usr/bin/busybox")" "$(stat -c %a "$POOL/dcopy/usr/bin/busybox")"
ok_if "CloneImage raw" mgr CloneImage ssb disk disk2 false
ok_if "raw copy is identical" cmp "$POOL/disk.raw" "$POOL/disk2.raw"
ok_if "Image.Clone read-only subvolume" busctl call $DEST "$(ipath sub)" $IMG Clone sb snapro true
expect_eq "read-only clone: ReadOnly" "b true" "$(iprop snapro ReadOnly)"
ok_if "read-only clone: btrfs ro flag" bash -c "btrfs property get -ts '$POOL/snapro' ro | grep -q true"
ok_if "CloneImage read-only directory" mgr CloneImage ssb dir dirro true
expect_eq "read-only directory clone: ReadOnly" "b true" "$(iprop dirro ReadOnly)"
ok_if "read-only directory clone is immutable" bash -c "lsattr -d '$POOL/dirro' | cut -d' ' -f1 | grep -q i"
expect_fail "clone onto an existing name" "already exists" mgr CloneImage ssb sub dir false
expect_fail "clone onto .host" "Invalid new image name" mgr CloneImage ssb sub .host false
expect_fail "clone of the host" "Cloning the host is not supported" mgr CloneImage ssb .host hostcopy false
expect_fail "clone of an unknown image" "No image" mgr CloneImage ssb nosuch x false
ok_if "CloneImage to a hidden name" mgr CloneImage ssb dir .hclone false
expect_eq "no temporaries left after clones" "" "$(temporaries)"

# --- rename
ok_if "RenameImage" mgr RenameImage ss snap snap2
ok_if "old name gone" gone snap
expect_eq "new name has the tree" 's "subvolume"' "$(iprop snap2 Type)"
ok_if "Image.Rename of a raw image" busctl call $DEST "$(ipath disk2)" $IMG Rename s disk3
ok_if "raw rename keeps .raw" test -f "$POOL/disk3.raw"
expect_fail "rename onto an existing image" "already exists" mgr RenameImage ss snap2 dir
expect_fail "rename to .host" "Invalid new image name" mgr RenameImage ss snap2 .host
expect_fail "rename of the host" "host image cannot be" mgr RenameImage ss .host foo

# --- read-only rules
ok_if "MarkImageReadOnly subvolume" mgr MarkImageReadOnly sb snap2 true
expect_eq "ReadOnly after marking" "b true" "$(iprop snap2 ReadOnly)"
expect_fail "read-only image cannot be removed" "is read-only and cannot be" mgr RemoveImage s snap2
expect_fail "read-only image cannot be renamed" "is read-only and cannot be" mgr RenameImage ss snap2 snap3
expect_fail "read-only image: SetImageLimit still refuses without quotas" "quotas are not enabled" mgr SetImageLimit st snap2 1000000
ok_if "Image.MarkReadOnly false" busctl call $DEST "$(ipath snap2)" $IMG MarkReadOnly b false
expect_eq "writable again" "b false" "$(iprop snap2 ReadOnly)"
ok_if "MarkImageReadOnly directory (immutable flag)" mgr MarkImageReadOnly sb dcopy true
ok_if "directory marked read-only is immutable" bash -c "lsattr -d '$POOL/dcopy' | cut -d' ' -f1 | grep -q i"
expect_fail "immutable directory cannot be removed" "is read-only and cannot be removed" mgr RemoveImage s dcopy
ok_if "MarkImageReadOnly directory false" mgr MarkImageReadOnly sb dcopy false
ok_if "MarkImageReadOnly raw" mgr MarkImageReadOnly sb disk3 true
expect_eq "raw marked read-only loses its write bits" "444" "$(stat -c %a "$POOL/disk3.raw")"
expect_eq "raw ReadOnly" "b true" "$(iprop disk3 ReadOnly)"
ok_if "MarkImageReadOnly raw false" mgr MarkImageReadOnly sb disk3 false
expect_fail "the host cannot be marked" "host image cannot be changed" mgr MarkImageReadOnly sb .host false

# --- remove
ok_if "RemoveImage subvolume" mgr RemoveImage s snap2
ok_if "removed subvolume gone" gone snap2
ok_if "Image.Remove directory" busctl call $DEST "$(ipath dcopy)" $IMG Remove
ok_if "removed directory gone" gone dcopy
ok_if "RemoveImage raw" mgr RemoveImage s disk3
ok_if "removed raw gone" gone disk3
ok_if "read-only clones can be removed once writable" \
    bash -c "busctl call $DEST $MGR_PATH $MGR MarkImageReadOnly sb snapro false && busctl call $DEST $MGR_PATH $MGR RemoveImage s snapro"
ok_if "MarkImageReadOnly false + RemoveImage of the immutable directory copy" \
    bash -c "busctl call $DEST $MGR_PATH $MGR MarkImageReadOnly sb dirro false && busctl call $DEST $MGR_PATH $MGR RemoveImage s dirro"
expect_fail "the host cannot be removed" "host image cannot be" mgr RemoveImage s .host
expect_fail "RemoveImage unknown" "No image" mgr RemoveImage s nosuch

# --- an image a running machine uses
mgr CloneImage ssb dir inuse false >/dev/null
start_leader
LI=$LEADER
ok_if "RegisterMachine with RootDirectory=image" register "$P-img" "$LI" container "$POOL/inuse"
expect_fail "image in use cannot be removed" "is being used by machine .$P-img." mgr RemoveImage s inuse
expect_fail "image in use cannot be renamed" "is being used by machine" mgr RenameImage ss inuse inuse2
ok_if "image in use can be cloned" mgr CloneImage ssb inuse inusecopy false
ok_if "image still there" exists inuse
kill "$LI"
ok_if "machine gone with its leader" wait_until 2 machine_gone "$P-img"
ok_if "image removable once the machine is gone" mgr RemoveImage s inuse
mgr RemoveImage s inusecopy >/dev/null

# --- quotas: never enabled implicitly
expect_fail "SetPoolLimit without quotas fails" "quotas are not enabled" mgr SetPoolLimit t 500000000
expect_fail "SetImageLimit without quotas fails" "quotas are not enabled" mgr SetImageLimit st sub 100000000
expect_fail "Image.SetLimit without quotas fails" "quotas are not enabled" busctl call $DEST "$(ipath sub)" $IMG SetLimit t 100000000
ok_if "quotas still off afterwards" bash -c "! btrfs qgroup show '$POOL' >/dev/null 2>&1"
expect_fail "SetImageLimit on a directory: NotSupported" "need a btrfs subvolume" mgr SetImageLimit st dir 1
if btrfs quota enable "$POOL" 2>/dev/null; then
    btrfs quota rescan -w "$POOL" >/dev/null 2>&1
    ok_if "SetImageLimit with quotas enabled (by the admin)" mgr SetImageLimit st sub 104857600
    expect_eq "Limit reads back" "t 104857600" "$(iprop sub Limit)"
    u=$(iprop sub Usage | cut -d' ' -f2)
    ok_if "Usage of a subvolume known with quotas ($u)" test "$u" -gt 0 -a "$u" != 18446744073709551615
    ok_if "SetPoolLimit with quotas" mgr SetPoolLimit t 900000000
    expect_eq "PoolLimit reads back" "t 900000000" "$(busctl get-property $DEST $MGR_PATH $MGR PoolLimit)"
    mgr SetImageLimit st sub 18446744073709551615 >/dev/null
    expect_eq "limit removed" "t 18446744073709551615" "$(iprop sub Limit)"
    btrfs quota disable "$POOL"
else
    skip "quota limits" "btrfs quota enable failed"
fi

# --- hostile names: proper errors, never a path
long=$(printf 'a%.0s' $(seq 65))
for n in "" ".." "." "/x" "a/b" "../etc" "$long" ".#stray" "bad name" "a..b" ".host." "é" "link"; do
    expect_fail "GetImage '${n:0:20}' rejected" "Invalid image name|No image" mgr GetImage s "$n"
    expect_fail "RemoveImage '${n:0:20}' rejected" "Invalid image name|No image" mgr RemoveImage s "$n"
done
for n in "" ".." "/x" "a/b" "$long" ".#x.abcdef" ".host" "../pool2" "-x" "--" "x-" ".-x" "a.-b"; do
    expect_fail "CloneImage to '${n:0:20}' rejected" "Invalid new image name" mgr CloneImage ssb dir "$n" false
    expect_fail "RenameImage to '${n:0:20}' rejected" "Invalid new image name" mgr RenameImage ss dir "$n"
done
expect_fail "CleanPool bad mode" "Invalid mode" mgr CleanPool s everything
ok_if "stray entries untouched" test -d "$POOL/bad name" -a -d "$POOL/.#stray" -a -L "$POOL/link"
ok_if "nothing escaped the pool" test ! -e "$TMP/pool2" -a ! -e "$TMP/x"
ok_if "berthd still serving" mgr ListImages

# --- authorization: an unprivileged user may read, not change
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
ok_if "unprivileged ListImages" nobody busctl call $DEST $MGR_PATH $MGR ListImages
ok_if "unprivileged GetImage" nobody busctl call $DEST $MGR_PATH $MGR GetImage s sub
ok_if "unprivileged properties" nobody busctl get-property $DEST "$(ipath sub)" $IMG Type
ok_if "unprivileged GetImageOSRelease" nobody busctl call $DEST $MGR_PATH $MGR GetImageOSRelease s sub
# dbus-send, as in test-berthd-api.sh: the bus lets these through, berthd refuses
for c in "CloneImage string:sub string:evil boolean:false" "RenameImage string:sub string:evil" \
         "RemoveImage string:sub" "MarkImageReadOnly string:sub boolean:true" "SetImageLimit string:sub uint64:1" \
         "SetPoolLimit uint64:1" "CleanPool string:all"; do
    set -- $c
    m=$1; shift
    expect_fail "unprivileged $m denied by berthd" "Only root may change images" \
        nobody dbus-send --system --print-reply --dest=$DEST $MGR_PATH $MGR.$m "$@"
done
expect_fail "unprivileged Image.Remove denied by berthd" "Only root may change images" \
    nobody dbus-send --system --print-reply --dest=$DEST "$(ipath sub)" $IMG.Remove
ok_if "images untouched" bash -c "test -d '$POOL/sub' && ! test -e '$POOL/evil'"

# --- a slow copy: the daemon keeps serving, the name appears only when complete, locks
busctl --timeout=600 call $DEST $MGR_PATH $MGR CloneImage ssb big bigc false >"$TMP/slow.out" 2>&1 &
SLOW=$!
ok_if "slow copy: the temporary appears" wait_until 10 bash -c "find '$POOL' -maxdepth 1 -name '.#bigc.*' | grep -q ."
t0=$(date +%s%N)
out=$(mgr ListImages)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ -n "$out" ] && [ $ms -lt 1000 ] && kill -0 $SLOW 2>/dev/null; then
    pass "ListImages answers during the copy (${ms} ms)"
else
    fail "ListImages answers during the copy (${ms} ms, copy running: $(kill -0 $SLOW 2>/dev/null && echo yes || echo no))"
fi
ok_if "the final name does not exist during the copy" bash -c "! test -e '$POOL/bigc' && ! grep -q '\"bigc\"' <<<'$out'"
ok_if "hidden temporary is not listed" bash -c "! grep -q '#' <<<'$out'"
expect_fail "removing the source during the copy: ImageBusy" "is busy" mgr RemoveImage s big
expect_fail "renaming the source during the copy: ImageBusy" "is busy" mgr RenameImage ss big big2
expect_fail "a second clone to the same name: ImageBusy" "is busy" mgr CloneImage ssb dir bigc false
ok_if "a second clone of the same source is fine" busctl --timeout=600 call "$DEST" "$MGR_PATH" "$MGR" CloneImage ssb big big-snap false
wait $SLOW
expect_eq "slow copy completes" "" "$(cat "$TMP/slow.out")"
expect_eq "copy has every file" 150000 "$(find "$POOL/bigc" -type f | wc -l)"
expect_eq "no temporaries left" "" "$(temporaries)"
mgr RemoveImage s big-snap >/dev/null

# --- SIGKILL berthd mid-copy: no half image under the final name, temporary cleaned at start
busctl --timeout=600 call $DEST $MGR_PATH $MGR CloneImage ssb big bigk false >/dev/null 2>&1 &
KC=$!
wait_until 10 bash -c "find '$POOL' -maxdepth 1 -name '.#bigk.*' | grep -q ."
worker=$(pgrep -P "$BERTHD_PID" | head -1)
ok_if "a worker process copies" test -n "$worker"
stop_berthd KILL
wait $KC 2>/dev/null
ok_if "the worker dies with berthd" wait_until 5 dead "$worker"
ok_if "no half image under the final name" test ! -e "$POOL/bigk"
if start_berthd --pool="$POOL"; then pass "berthd restarted"; else fail "berthd restarted"; fi
expect_eq "stale temporary removed at startup" "" "$(temporaries)"
ok_if "startup logged the removal" grep -q "Removed stale temporary.*bigk" "$TMP/berthd.log"
ok_if "bigk never appeared" gone bigk

# --- ENOSPC mid-copy: an image whose data really has to be copied (from another file
# system mounted in the pool) and does not fit: a clear error, no half image, no temporary
mkdir "$POOL/fat"
mount -t tmpfs -o size=2G tmpfs "$POOL/fat"
"$TOOLS/make-busybox-tree.sh" "$POOL/fat" >/dev/null
# dense: a sparse file would be copied sparse (copy_file_data() keeps holes) and fit
head -c 1200M /dev/zero >"$POOL/fat/zeros"
out=$(busctl --timeout=120 call $DEST $MGR_PATH $MGR CloneImage ssb fat fatc false 2>&1)
ok_if "clone that does not fit fails with ENOSPC" grep -q "No space left" <<<"$out"
echo "# $out"
ok_if "no half image under the final name" gone fatc
expect_eq "its temporary is gone" "" "$(temporaries)"
ok_if "berthd still serving after ENOSPC" mgr ListImages
umount "$POOL/fat"
rmdir "$POOL/fat"

# --- CleanPool
mkdir "$POOL/.#gone.Abc123"
mgr CloneImage ssb dir .hid2 false >/dev/null
out=$(mgr CleanPool s hidden)
ok_if "CleanPool hidden returns the hidden images" bash -c "grep -q '\"\.hid\"' <<<'$out' && grep -q '\"\.hid2\"' <<<'$out' && grep -q '\"\.hclone\"' <<<'$out'"
ok_if "CleanPool hidden removed them" bash -c "! test -e '$POOL/.hid' && ! test -e '$POOL/.hid2'"
ok_if "CleanPool hidden kept the others" test -d "$POOL/sub" -a -d "$POOL/dir"
ok_if "CleanPool removed a stale temporary" test ! -e "$POOL/.#gone.Abc123"
ok_if "CleanPool left non-temporaries alone" test -d "$POOL/.#stray"

# --- the real machinectl
if command -v machinectl >/dev/null; then
    mctl() {
        unshare -m sh -c 'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system &&
                          exec machinectl --no-pager "$@"' mctl "$@"
    }
    out=$(mctl list-images 2>&1)
    ok_if "machinectl list-images" bash -c "grep -qE '^sub +subvolume' <<<'$out' && grep -qE '^disk +raw' <<<'$out' && grep -qE '^dir +directory' <<<'$out'"
    ok_if "machinectl clone" mctl clone sub mc1
    expect_eq "machinectl clone made a snapshot" 's "subvolume"' "$(iprop mc1 Type)"
    ok_if "machinectl rename" mctl rename mc1 mc2
    ok_if "machinectl read-only" mctl read-only mc2 yes
    expect_eq "read-only via machinectl" "b true" "$(iprop mc2 ReadOnly)"
    expect_fail "machinectl remove of a read-only image fails" "read-only" mctl remove mc2
    ok_if "machinectl read-only no" mctl read-only mc2 no
    ok_if "machinectl image-status" bash -c "$(declare -f mctl); mctl image-status mc2 | grep -q 'Type: subvolume'"
    ok_if "machinectl remove" mctl remove mc2
    ok_if "removed via machinectl" gone mc2
    ok_if "machinectl clean (hidden)" mctl clean
else
    skip "machinectl checks" "machinectl not installed"
fi

ok_if "berthd still running" kill -0 "$BERTHD_PID"
expect_eq "no temporaries left at the end" "" "$(temporaries)"
finish
