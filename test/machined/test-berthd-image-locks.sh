#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Images that machines use, and where images are found, as berthd and berth-spawn see them
# together (issue #11):
#
#  - a machine holds a shared lock on its image for its whole life, registered or not, for
#    a directory tree, a raw image, and the original of --ephemeral and --template;
#    RemoveImage, RenameImage, MarkImageReadOnly and CleanPool leave a busy image alone
#    (ImageInUse), and work again once the machine is gone;
#  - the locks are systemd-nspawn's (/run/systemd/nspawn/locks/inode-DEV:INO, OFD locks):
#    a POSIX lock held elsewhere keeps berth-spawn off an image, and, where systemd-nspawn
#    runs, nspawn and berth keep off each other's images;
#  - one search path, in systemd's order, for both programs: an image in /etc/machines or
#    /run/machines is listed by ListImages and boots with berth-spawn -M NAME, and the
#    same image wins in both when a name is in two places.
#
# Everything happens in a mount namespace of the test's own: /etc and /run get a writable
# overlay (so /etc/machines and /run/machines can exist without touching the host's), and
# /var/lib/machines a tmpfs. berthd runs with the default pool (no --pool=), since the
# search path is what is tested.

if [ -z "${BERTHD_LOCKS_NS:-}" ] && [ "$(id -u)" = 0 ]; then
    export BERTHD_LOCKS_NS=1
    exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
fi

source "$(dirname "$0")/lib.sh"
setup
[ -x "${BERTH_SPAWN:-}" ] || { echo "Bail out! berth-spawn not found at ${BERTH_SPAWN:-}"; exit 1; }
for tool in mkfs.ext4 python3; do
    command -v $tool >/dev/null || skip_all "no $tool"
done
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
IMG=org.freedesktop.machine1.Image
POOL=/var/lib/machines
LOCKS=/run/systemd/nspawn/locks

# --- the private view: writable /etc and /run over the host's, an empty pool
mkdir "$TMP/ovl"
mount -t tmpfs tmpfs "$TMP/ovl"
for d in etc run; do
    mkdir "$TMP/ovl/$d-up" "$TMP/ovl/$d-work"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$TMP/ovl/$d-up,workdir=$TMP/ovl/$d-work" "/$d" ||
        skip_all "cannot put an overlay over /$d"
done
mkdir -p "$POOL"
mount -t tmpfs -o mode=0700 tmpfs "$POOL"
mkdir -p /etc/machines /run/machines
rm -rf /run/systemd/nspawn     # only this namespace's view of it

finish_extra() {
    local l
    # berth-spawn -i uses autoclear loop devices: they go with the machine's mounts
    l=$(losetup -a | grep -E "\(($POOL|/run/machines)/" | cut -d: -f1)
    [ -n "$l" ] && leaks+=" loop:$l"
    umount -l /etc /run "$POOL" "$TMP/ovl" 2>/dev/null
}
emergency_extra() {
    umount -l /etc /run "$POOL" "$TMP/ovl" 2>/dev/null
}

# tree DIR MARKER: a busybox tree whose /etc/marker says MARKER
tree() {
    "$TOOLS/make-busybox-tree.sh" "$1" >/dev/null || { echo "Bail out! no busybox tree"; exit 1; }
    echo "$2" >"$1/etc/marker"
}
# raw FILE MARKER: a bare ext4 image of such a tree
raw() {
    rm -rf "$TMP/rawtree"
    tree "$TMP/rawtree" "$2"
    truncate -s 16M "$1" && mkfs.ext4 -q -F -d "$TMP/rawtree" "$1" || { echo "Bail out! mkfs.ext4 failed"; exit 1; }
}

tree "$POOL/busy" busy
raw "$POOL/disk.raw" disk
tree "$POOL/eph" eph
tree "$POOL/tmpl" tmpl

if start_berthd; then pass "berthd starts with the default pool"; else fail "berthd starts"; finish; fi

ipath() { mgr GetImage s "$1" | awk '{ print $2 }' | tr -d '"'; }
iprop() { busctl get-property "$DEST" "$(ipath "$1")" "$IMG" "$2"; }

# --- machines that use images, none of them registered
mkdir "$TMP/marks"
declare -A SPAWNS
# spawn_bg NAME ARGS...: berth-spawn --register=no in the background, until its payload runs
spawn_bg() {
    local name=$1
    shift
    "$BERTH_SPAWN" -q --register=no -M "$P-$name" --bind="$TMP/marks:/marks" "$@" \
        /bin/sh -c "touch /marks/$name; exec sleep 600" </dev/null >"$TMP/$name.out" 2>&1 &
    SPAWNS[$name]=$!
    LEADERS+=("$!")
    if wait_until 20 test -e "$TMP/marks/$name"; then
        pass "berth-spawn $* runs unregistered"
    else
        fail "berth-spawn $* runs unregistered"
        sed 's/^/# /' "$TMP/$name.out"
    fi
}
# spawn_stop NAME: stop it as a user would (SIGTERM), and wait for it
spawn_stop() {
    kill -TERM "${SPAWNS[$1]}" 2>/dev/null
    wait "${SPAWNS[$1]}" 2>/dev/null
}

spawn_bg busy -D "$POOL/busy"
spawn_bg disk -i "$POOL/disk.raw"
spawn_bg eph -D "$POOL/eph" --ephemeral
spawn_bg fromtmpl -D "$POOL/fromtmpl" --template="$POOL/tmpl"
ok_if "none of them is registered" bash -c "! busctl call $DEST $MGR_PATH $MGR ListMachines | grep -q '$P-'"

for i in busy disk eph fromtmpl tmpl; do
    expect_fail "RemoveImage $i while a machine uses it: ImageInUse" "is being used" mgr RemoveImage s "$i"
    expect_fail "RenameImage $i while a machine uses it: ImageInUse" "is being used" mgr RenameImage ss "$i" "$i-2"
    expect_fail "MarkImageReadOnly $i while a machine uses it: ImageInUse" "is being used" \
        mgr MarkImageReadOnly sb "$i" true
    expect_eq "$i is still writable" "b false" "$(iprop "$i" ReadOnly)"
done
expect_fail "Image.Remove of a busy raw image: ImageInUse" "ImageInUse|is being used" \
    busctl call "$DEST" "$(ipath disk)" "$IMG" Remove
out=$(mgr CleanPool s all 2>&1)
ok_if "CleanPool all removes none of the busy images" bash -c "! grep -qE '\"(busy|disk|eph|fromtmpl|tmpl)\"' <<<'$out'"
ok_if "busy images are all still there" test -f "$POOL/busy/etc/marker" -a -f "$POOL/disk.raw" \
    -a -f "$POOL/eph/etc/marker" -a -f "$POOL/fromtmpl/etc/marker" -a -f "$POOL/tmpl/etc/marker"
ok_if "no rename happened" test ! -e "$POOL/busy-2" -a ! -e "$POOL/disk-2.raw" -a ! -e "$POOL/eph-2"
list=$(mgr ListImages)
ok_if "ListImages still lists them" grep -q '"busy".*"disk".*"eph"' <<<"$(tr '\n' ' ' <<<"$list")"

# the lock is systemd-nspawn's: a POSIX lock held elsewhere conflicts with it
lockfile() { echo "$LOCKS/inode-$(stat -Lc %d "$1"):$(stat -Lc %i "$1")"; }
ok_if "the shared lock of -D is $(lockfile "$POOL/busy")" test -f "$(lockfile "$POOL/busy")"
ok_if "the shared lock of -i is $(lockfile "$POOL/disk.raw")" test -f "$(lockfile "$POOL/disk.raw")"
# descendants PID: every process below PID
descendants() {
    local c
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        echo "$c"
        descendants "$c"
    done
}
# holds_fd PID FILE: PID has an open fd on FILE
holds_fd() {
    find /proc/"$1"/fd -lname "$2" 2>/dev/null | grep -q .
}
ok_if "the supervisor of -D holds the lock" holds_fd "${SPAWNS[busy]}" "$(lockfile "$POOL/busy")"
kids=$(descendants "${SPAWNS[busy]}")
ok_if "the machine's processes are found ($(echo $kids))" test -n "$kids"
ok_if "none of the machine's processes has the lock's fd" \
    bash -c "$(declare -f holds_fd); for k in $(echo $kids); do holds_fd \$k '$(lockfile "$POOL/busy")' && exit 1; done; exit 0"
ok_if "--ephemeral locks the original" test -f "$(lockfile "$POOL/eph")"
ok_if "--template locks the template" test -f "$(lockfile "$POOL/tmpl")"
tree "$POOL/held" held
mkdir -p "$LOCKS"
python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(600)' "$(lockfile "$POOL/held")" "$TMP/held-ready" &
HOLDER=$!
LEADERS+=("$HOLDER")
wait_until 5 test -e "$TMP/held-ready"
expect_fail "berth-spawn refuses an image someone holds exclusively" "busy" \
    timeout 20 "$BERTH_SPAWN" -q --register=no -D "$POOL/held" /bin/true
expect_fail "RemoveImage of an image someone holds exclusively: ImageInUse" "is being used" mgr RemoveImage s held
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
ok_if "after the holder is gone, berth-spawn runs on it" timeout 20 "$BERTH_SPAWN" -q --register=no -D "$POOL/held" /bin/true

# --- the machines end: the images can be changed again
for i in busy disk eph fromtmpl; do
    spawn_stop "$i"
done
ok_if "RenameImage busy after its machine ended" mgr RenameImage ss busy busy-2
ok_if "MarkImageReadOnly busy-2" mgr MarkImageReadOnly sb busy-2 true
expect_eq "busy-2 is read-only" "b true" "$(iprop busy-2 ReadOnly)"
ok_if "MarkImageReadOnly busy-2 false" mgr MarkImageReadOnly sb busy-2 false
ok_if "RemoveImage busy-2" mgr RemoveImage s busy-2
ok_if "busy-2 is gone" test ! -e "$POOL/busy-2" -a ! -e "$POOL/busy"
ok_if "RemoveImage of the raw image" mgr RemoveImage s disk
ok_if "disk.raw is gone" test ! -e "$POOL/disk.raw"
out=$(mgr CleanPool s all 2>&1)
ok_if "CleanPool all now removes the others" bash -c "grep -q '\"eph\"' <<<'$out' && grep -q '\"fromtmpl\"' <<<'$out' && grep -q '\"tmpl\"' <<<'$out' && grep -q '\"held\"' <<<'$out'"
ok_if "... and they are gone" test ! -e "$POOL/eph" -a ! -e "$POOL/fromtmpl" -a ! -e "$POOL/tmpl" -a ! -e "$POOL/held"
expect_eq "every lock file was removed by its last holder" "" "$(ls -A "$LOCKS" 2>/dev/null)"

# --- systemd-nspawn and berth keep off each other's images (where nspawn runs here)
nspawn() {
    # no system bus and no systemd as PID 1 needed with these options
    timeout 20 systemd-nspawn -q --register=no --keep-unit "$@" </dev/null
}
tree "$POOL/shared" shared
if command -v systemd-nspawn >/dev/null && nspawn -D "$POOL/shared" /bin/true >/dev/null 2>&1; then
    spawn_bg shared -D "$POOL/shared"
    expect_fail "systemd-nspawn refuses a tree berth-spawn runs (its writable machines lock exclusively)" \
        "busy" nspawn -D "$POOL/shared" /bin/true
    spawn_stop shared
    timeout 60 systemd-nspawn -q --register=no --keep-unit -D "$POOL/shared" \
        /bin/sh -c "touch /nspawn-running; exec sleep 600" </dev/null >/dev/null 2>&1 &
    NSPAWN=$!
    LEADERS+=("$NSPAWN")
    wait_until 10 test -e "$POOL/shared/nspawn-running"
    expect_fail "berth-spawn refuses a tree systemd-nspawn runs" "busy" \
        timeout 20 "$BERTH_SPAWN" -q --register=no -D "$POOL/shared" /bin/true
    expect_fail "RemoveImage of a tree systemd-nspawn runs: ImageInUse" "is being used" mgr RemoveImage s shared
    kill -TERM "$NSPAWN"
    wait "$NSPAWN" 2>/dev/null
    ok_if "RemoveImage once systemd-nspawn is gone" mgr RemoveImage s shared
else
    skip "systemd-nspawn interplay" "systemd-nspawn does not run here"
    rm -rf "$POOL/shared"
fi

# --- one search path for both programs, in systemd's order
tree /etc/machines/etcimg etc
raw /run/machines/runimg.raw run
tree "$TMP/linked" linked
ln -s "$TMP/linked" /etc/machines/linked
tree "$POOL/etcimg" pool                     # the same name later in the search path
tree /run/machines/.hidden hidden
list=$(mgr ListImages)
ok_if "ListImages lists a directory in /etc/machines" grep -q '"etcimg" "directory"' <<<"$list"
ok_if "ListImages lists a raw image in /run/machines" grep -q '"runimg" "raw"' <<<"$list"
ok_if "ListImages lists a symlink in /etc/machines (where systemd wants them)" grep -q '"linked" "directory"' <<<"$list"
ok_if "ListImages lists a hidden image in /run/machines" grep -q '"\.hidden" "directory"' <<<"$list"
expect_eq "a name in /etc/machines hides the pool's" "s \"/etc/machines/etcimg\"" "$(iprop etcimg Path)"
expect_eq "... and is listed once" 1 "$(grep -o '"etcimg"' <<<"$list" | wc -l)"
expect_eq "runimg's path" "s \"/run/machines/runimg.raw\"" "$(iprop runimg Path)"
expect_eq "images outside the pool are read-only to berthd" "b true" "$(iprop runimg ReadOnly)"
expect_fail "RemoveImage of an image in /etc/machines: read-only" "read-only" mgr RemoveImage s etcimg
ok_if "... it is still there" test -f /etc/machines/etcimg/etc/marker
ok_if "... and so is the pool's image of that name" test -f "$POOL/etcimg/etc/marker"
for i in etcimg:etc runimg:run linked:linked; do
    out=$(timeout 30 "$BERTH_SPAWN" -q --register=no -M "${i%%:*}" /bin/cat /etc/marker 2>&1)
    expect_eq "berth-spawn -M ${i%%:*} boots the image ListImages shows" "${i#*:}" "$out"
done

ok_if "berthd still running" kill -0 "$BERTHD_PID"
finish
