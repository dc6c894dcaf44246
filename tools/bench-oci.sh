#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench-oci.sh — benchmark (not a test): pull-oci of a multi-layer image from a registry
# on loopback with berth-import (berth-importd's worker: every blob and diff_id checked,
# layers applied with whiteouts) against LXC's way, `skopeo copy` to an OCI layout and
# `umoci unpack` of it. The image is the cached Debian tree (or BENCH_TREE) split into
# four gzip layers by test/machined/make-oci-image.py; docker-registry serves it from a
# scratch directory on 127.0.0.1 of a network namespace of this script. Pool and
# bundle on the same file system (TMPDIR, default /var/tmp), alternating runs,
# BENCH_RUNS (5) each; the table shows the median wall time and the ratio. A pool off
# btrfs, so berth-import writes plain directories like umoci (no layer stacks kept).
#
# Environment: BERTH_IMPORT (default build/src/import/berth-import), BENCH_TREE,
# BENCH_RUNS, TMPDIR. Must run as root.

set -u
umask 022
export LC_ALL=C

if [ -z "${BENCH_OCI_NS:-}" ]; then
    export BENCH_OCI_NS=1
    exec unshare --net -- "$BASH" "$0" "$@"
fi

# shellcheck source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
bench_init bench-oci 5 0
# shellcheck source=oci-registry.sh
. "$here/oci-registry.sh"
: "${BERTH_IMPORT:=$repo/build/src/import/berth-import}"
: "${BENCH_TREE:=/var/cache/berth/debian-bookworm}"
[ -x "$BERTH_IMPORT" ] || die "berth-import not found at $BERTH_IMPORT"
[ -d "$BENCH_TREE/usr" ] || die "no tree at $BENCH_TREE (tools/make-debian-tree.sh)"
for t in docker-registry skopeo umoci python3 curl bc; do command -v $t >/dev/null || die "no $t (tools/install-deps.sh)"; done
ip link set lo up || die "cannot bring up lo in the network namespace"

TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-oci.XXXXXX") || die "mktemp failed"
cleanup() { oci_registry_stop; rm -rf "$TMP"; }
trap cleanup EXIT
REG=127.0.0.1:5000
mkdir -m 700 "$TMP/pool"

case $(uname -m) in x86_64) arch=amd64;; aarch64) arch=arm64;; *) die "add $(uname -m)'s GOARCH here";; esac
# four layers: libraries, shared data, programs, the rest
others=$(cd "$BENCH_TREE" && ls -A | grep -vx usr | tr '\n' ',')
usr_rest=$(cd "$BENCH_TREE/usr" && ls -A | grep -vx -e lib -e share | sed 's|^|usr/|' | tr '\n' ',')
cat >"$TMP/spec.json" <<JSON
{"tag": "v1", "images": [{"arch": "$arch", "layers": ["$BENCH_TREE:${others%,}", "$BENCH_TREE:usr/lib",
 "$BENCH_TREE:usr/share", "$BENCH_TREE:${usr_rest%,}"], "config": {"Cmd": ["/bin/sh"]}}]}
JSON
python3 "$repo/test/machined/make-oci-image.py" "$TMP/spec.json" "$TMP/layout" || die "make-oci-image.py failed"

oci_registry_start "$TMP" "$REG" || die "docker-registry did not start"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$TMP/policy.json"
skopeo --policy "$TMP/policy.json" copy -q --dest-tls-verify=false "oci:$TMP/layout:v1" "docker://$REG/bench/debian:v1" ||
    die "skopeo could not push the image"

now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
clean() { rm -rf "$TMP/pool/img" "$TMP/pool/img.nspawn" "$TMP/pool"/.oci-* "$TMP/lxc"; sync; }

run_berth() {
    local t0
    clean; t0=$(now)
    "$BERTH_IMPORT" --pool="$TMP/pool" pull-oci "$REG/bench/debian:v1" img >"$TMP/berth.log" 2>&1 ||
        { cat "$TMP/berth.log" >&2; die "berth-import pull-oci failed"; }
    echo "$(now) - $t0" | bc
}

run_lxc() {
    local t0
    clean; mkdir "$TMP/lxc"; t0=$(now)
    skopeo --policy "$TMP/policy.json" copy -q --src-tls-verify=false "docker://$REG/bench/debian:v1" \
        "oci:$TMP/lxc/layout:v1" || die "skopeo copy failed"
    umoci unpack --image "$TMP/lxc/layout:v1" "$TMP/lxc/bundle" >/dev/null || die "umoci unpack failed"
    echo "$(now) - $t0" | bc
}

blobs=$(du -sh "$TMP/layout/blobs" | cut -f1)
printf '# %s: %s as 4 gzip layers (%s of blobs), registry on loopback, pool on %s, %s runs each\n' \
    "$bench_name" "$BENCH_TREE" "$blobs" "$(stat -fc %T "$TMP/pool")" "$runs"
: >"$TMP/b"; : >"$TMP/l"
for _ in $(seq "$runs"); do
    run_berth >>"$TMP/b"
    run_lxc >>"$TMP/l"
done
b=$(median <"$TMP/b"); l=$(median <"$TMP/l")
printf '%-28s %10s\n' method "median"
printf '%-28s %9.3fs\n' "berth-import pull-oci" "$b"
printf '%-28s %9.3fs\n' "skopeo copy + umoci unpack" "$l"
printf '# ratio berth / (skopeo + umoci): %.2fx\n' "$(echo "$b / $l" | bc -l)"
# the same content: berth's tree and umoci's rootfs agree
run_lxc >/dev/null; "$BERTH_IMPORT" --pool="$TMP/pool" pull-oci "$REG/bench/debian:v1" img >/dev/null 2>&1
if diff -r -x dev --no-dereference "$TMP/pool/img" "$TMP/lxc/bundle/rootfs" >/dev/null 2>&1; then
    echo "# trees identical (diff -r, /dev left out)"
else
    echo "# WARNING: trees differ"
fi
