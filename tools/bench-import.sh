#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench-import.sh — benchmark (not a test): unpacking the cached Debian tree
# (/var/cache/berth/debian-bookworm, made by tools/make-debian-tree.sh) from a zstd and
# an xz tar archive with berth-import (berth-importd's worker: libarchive with every
# entry checked) against `tar -x` of the same archive (GNU tar with the same external
# decompressor: the floor). Same target directory on the same file system, alternating
# runs, BENCH_RUNS (5) each; the table shows the median wall time and the ratio.
# systemd-importd is not compared: it needs systemd as PID 1, which this machine lacks.
#
# Environment: BERTH_IMPORT (default build/src/import/berth-import), BENCH_TREE,
# BENCH_RUNS, TMPDIR (default /var/tmp: on disk, not tmpfs). Must run as root.

set -u
umask 022
export LC_ALL=C

# shellcheck source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_init bench-import 5 0
: "${BERTH_IMPORT:=$repo/build/src/import/berth-import}"
: "${BENCH_TREE:=/var/cache/berth/debian-bookworm}"
[ -x "$BERTH_IMPORT" ] || die "berth-import not found at $BERTH_IMPORT"
[ -d "$BENCH_TREE/usr" ] || die "no tree at $BENCH_TREE (tools/make-debian-tree.sh)"
for t in zstd xz tar; do command -v $t >/dev/null || die "no $t"; done

TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-import.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
mkdir -m 700 "$TMP/pool"

tar -C "$BENCH_TREE" --numeric-owner -cf "$TMP/tree.tar" .
zstd -q -T0 -c "$TMP/tree.tar" >"$TMP/tree.tar.zst"
xz -T0 -c "$TMP/tree.tar" >"$TMP/tree.tar.xz"
rm -f "$TMP/tree.tar"

now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

clean() { rm -rf "$TMP/pool/img" "$TMP/pool/tarx"; sync; }

run_berth() {   # run_berth ARCHIVE
    local t0
    clean; t0=$(now)
    "$BERTH_IMPORT" --pool="$TMP/pool" tar img <"$1" >/dev/null 2>&1 || die "berth-import failed on $1"
    echo "$(now) - $t0" | bc
}

run_tar() {     # run_tar ARCHIVE DECOMPRESSOR
    local t0
    clean; mkdir "$TMP/pool/tarx"; t0=$(now)
    tar -C "$TMP/pool/tarx" --numeric-owner -xpf "$1" -I "$2" || die "tar -x failed on $1"
    echo "$(now) - $t0" | bc
}

printf '# %s: %s, %s runs each, archives: zstd %s, xz %s\n' "$bench_name" "$BENCH_TREE" "$runs" \
    "$(du -h "$TMP/tree.tar.zst" | cut -f1)" "$(du -h "$TMP/tree.tar.xz" | cut -f1)"
printf '%-6s %12s %12s %8s\n' format berth-import "tar -x" ratio
for fmt in zst xz; do
    dec=zstd; [ $fmt = xz ] && dec=xz
    : >"$TMP/b"; : >"$TMP/t"
    for _ in $(seq "$runs"); do
        run_berth "$TMP/tree.tar.$fmt" >>"$TMP/b"
        run_tar "$TMP/tree.tar.$fmt" "$dec" >>"$TMP/t"
    done
    b=$(median <"$TMP/b"); t=$(median <"$TMP/t")
    printf '%-6s %11.3fs %11.3fs %7.2fx\n' "$fmt" "$b" "$t" "$(echo "$b / $t" | bc -l)"
done
# the same content: berth-import's tree and tar's agree
clean
"$BERTH_IMPORT" --pool="$TMP/pool" tar img <"$TMP/tree.tar.zst" >/dev/null 2>&1
mkdir "$TMP/pool/tarx"; tar -C "$TMP/pool/tarx" --numeric-owner -xpf "$TMP/tree.tar.zst" -I zstd
# (diff -r compares file contents; device nodes it only reports, so their numbers,
# modes and owners come from the listing)
listing() { (cd "$1" && find . -exec stat -c '%n %F %a %u %g %s %t:%T %N' {} + | sort); }
if diff -r -x dev --no-dereference "$TMP/pool/img" "$TMP/pool/tarx" >/dev/null 2>&1 &&
   [ "$(listing "$TMP/pool/img")" = "$(listing "$TMP/pool/tarx")" ]; then
    echo "# trees identical (contents, types, modes, owners, sizes, link targets, device numbers)"
else
    echo "# WARNING: trees differ"
fi
