#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench-clone.sh — benchmark (not a test): `berthctl clone` of the Debian image in a btrfs
# pool (a snapshot) against a reflink copy of the same tree (cp -a --reflink=always, the
# fastest copy that is not a snapshot), as the image grows: the tree as
# tools/make-debian-tree.sh makes it, then with BENCH_GROW (20000) more small files twice.
# A snapshot should take the same time at every size; a reflink copy grows with the number
# of files. Each clone is removed before the next; the table shows medians.
#
# The pool is a btrfs file system on a loop file in a scratch directory, with a private
# dbus-daemon and berthd. Environment: BERTHD, BERTHCTL, BENCH_RUNS (5), BENCH_GROW.

set -u
umask 022
export LC_ALL=C

# shellcheck source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_init bench-clone 5 0
: "${BERTHD:=$repo/build/src/machined/berthd}"
: "${BERTHCTL:=$repo/build/src/berthctl/berthctl}"
: "${BENCH_GROW:=20000}"
DEST=org.freedesktop.machine1
[ -x "$BERTHD" ] || die "berthd not found at $BERTHD"
[ -x "$BERTHCTL" ] || die "berthctl not found at $BERTHCTL"
for t in mkfs.btrfs btrfs; do command -v $t >/dev/null || die "$t is needed"; done
DEB=$("$here/make-debian-tree.sh" --print-path) || die "no Debian tree (tools/make-debian-tree.sh)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-clone.XXXXXX") || die "mktemp failed"
chmod 755 "$TMP"
DBUS_PID=
BERTHD_PID=
POOL=$TMP/pool

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    trap '' INT TERM
    [ -n "$BERTHD_PID" ] && kill -TERM "$BERTHD_PID" 2>/dev/null && wait "$BERTHD_PID" 2>/dev/null
    [ -n "$DBUS_PID" ] && kill "$DBUS_PID" 2>/dev/null && wait "$DBUS_PID" 2>/dev/null
    mountpoint -q "$POOL" && umount "$POOL"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

truncate -s 3G "$TMP/pool.img"
mkfs.btrfs -q "$TMP/pool.img" >/dev/null 2>&1 || die "mkfs.btrfs failed"
mkdir "$POOL"
mount -o loop "$TMP/pool.img" "$POOL" || die "cannot mount the btrfs loop file"

# shellcheck source=private-bus.sh
source "$here/private-bus.sh"
private_bus_start "$TMP" "$repo/units/org.freedesktop.machine1.conf" || die "dbus-daemon did not start"
"$BERTHD" --state-dir="$TMP/state" --pool="$POOL" >"$TMP/berthd.log" 2>&1 &
BERTHD_PID=$!
for _ in $(seq 200); do
    busctl status "$DEST" >/dev/null 2>&1 && break
    sleep 0.02
done
busctl status "$DEST" >/dev/null 2>&1 || die "berthd did not come up"

btrfs subvolume create "$POOL/deb" >/dev/null
cp -a "$DEB/." "$POOL/deb/"

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'; }
median() {
    sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

measure() {
    local r t0 t1
    : >"$TMP/snap"
    : >"$TMP/reflink"
    for ((r = 0; r < runs; r++)); do
        sync
        t0=$EPOCHREALTIME
        "$BERTHCTL" clone deb copy || die "berthctl clone failed"
        t1=$EPOCHREALTIME
        ms "$t0" "$t1" >>"$TMP/snap"
        "$BERTHCTL" remove copy || die "berthctl remove failed"
        sync
        t0=$EPOCHREALTIME
        cp -a --reflink=always "$POOL/deb" "$POOL/reflink" || die "reflink copy failed"
        t1=$EPOCHREALTIME
        ms "$t0" "$t1" >>"$TMP/reflink"
        rm -rf "$POOL/reflink"
    done
    echo "| $(find "$POOL/deb" | wc -l) | $(du -sm "$POOL/deb" | cut -f1) | $(median <"$TMP/snap") | $(median <"$TMP/reflink") |"
}

grow() {
    local d=$POOL/deb/var/tmp/grow$1
    mkdir -p "$d"
    # small files, each with its own data (reflink copies clone every extent)
    for ((i = 0; i < BENCH_GROW; i++)); do
        printf '%d %s\n' "$i" "$d" >"$d/f$i"
    done
}

echo "bench-clone: $runs runs per size..." >&2
{
    echo
    echo "Clone of the Debian image in a btrfs pool, median of $runs runs ($(nproc) CPUs)"
    echo
    echo "| files | MiB | berthctl clone ms (snapshot) | cp --reflink=always ms |"
    echo "|---:|---:|---:|---:|"
    measure
    grow 1
    measure
    grow 2
    measure
}
