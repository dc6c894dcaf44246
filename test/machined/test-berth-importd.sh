#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berth-importd end to end: a private bus, a btrfs pool on a loop file, files served by
# python3 -m http.server on 127.0.0.1 of a network namespace of this test. Every Manager
# method through busctl (tar in every compression, raw, fs, export in every format,
# pulls with --verify=no|checksum|signature), a hostile-archive suite, a wrong checksum,
# a bad signature (throwaway gpg keys made here), cancel mid-transfer, a full small pool,
# several transfers at once while the daemon keeps answering, and the real machinectl.
# After every failure nothing may be left under the final name or as a temporary.

# Own mount namespace (the pool's mount) and network namespace (the HTTP server).
if [ -z "${BERTH_IMPORTD_NS:-}" ] && [ "$(id -u)" = 0 ]; then
    export BERTH_IMPORTD_NS=1
    exec unshare --mount --propagation private --net -- "$BASH" "$0" "$@"
fi

source "$(dirname "$0")/lib.sh"
POLICY=$MD_SRCDIR/units/org.freedesktop.import1.conf
: "${BERTH_IMPORTD:=$MD_SRCDIR/build/src/importd/berth-importd}"
: "${BERTH_IMPORT:=$MD_SRCDIR/build/src/import/berth-import}"
setup
for tool in python3 zstd xz bzip2 gzip gpg gpgv; do
    command -v $tool >/dev/null || skip_all "no $tool"
done
ip link set lo up || skip_all "cannot bring up lo in the test's network namespace"
btrfs_pool
chmod 700 "$POOL"

IDEST=org.freedesktop.import1
IPATH=/org/freedesktop/import1
IMGR=org.freedesktop.import1.Manager
IMPORTD_PID=
HTTP_PID=

start_importd() {
    "$BERTH_IMPORTD" --state-dir="$TMP/istate" --pool="${1:-$POOL}" --name-lock-dir="$TMP/locks" \
        --worker="$BERTH_IMPORT" --keyring="$TMP/pubring.gpg" >>"$TMP/importd.log" 2>&1 &
    IMPORTD_PID=$!
    wait_until 5 busctl status $IDEST
}

stop_importd() {
    [ -n "$IMPORTD_PID" ] || return 0
    kill "$IMPORTD_PID" 2>/dev/null
    wait "$IMPORTD_PID" 2>/dev/null
    IMPORTD_PID=
}

finish_extra() {
    stop_importd
    [ -n "$HTTP_PID" ] && { kill "$HTTP_PID"; wait "$HTTP_PID" 2>/dev/null; }
    [ -n "${SMALL_MOUNTED:-}" ] && umount "$TMP/small"
    # every worker of this test is gone
    pgrep -f -- "--name-lock-dir=$TMP/locks" >/dev/null && leaks+=" worker"
    [ "$_tap_failed" -gt 0 ] && { echo "# importd log:"; sed 's/^/# /' "$TMP/importd.log" | tail -60; echo "# berthctl log:"; sed 's/^/# /' "$TMP/bctl.log" | tail -20; }
    return 0
}
emergency_extra() {
    [ -n "$IMPORTD_PID" ] && kill -KILL "$IMPORTD_PID" 2>/dev/null
    [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null
    [ -n "${SMALL_MOUNTED:-}" ] && umount -l "$TMP/small"
}

imgr() { busctl call -- $IDEST $IPATH $IMGR "$@"; }
# corrupt_sums FILE: every checksum in a SHA256SUMS file made wrong, by flipping its first
# digit (0 to 1, anything else to 0: a sum that began with 0 must change too)
corrupt_sums() { sed -i 's/^0/g/; s/^[1-9a-f]/0/; s/^g/1/' "$1"; }
bctl() { "$BERTHCTL" --no-pager "$@"; }

# result_for KEY [FROM-LINE]: how the last transfer of KEY (local name, or URL of a pull)
# ended, looking only at the daemon's log from line FROM-LINE on
result_for() {
    tail -n +"${2:-1}" "$TMP/importd.log" |
        sed -n "s#^Transfer [0-9]* ([a-z-]* $1) \(done\|failed\|canceled\)\.\$#\1#p" | tail -1
}

# run_verb VERB ARGS... KEY: berthctl VERB (waits for the end), print the result for KEY
run_verb() {
    local key=${*: -1} from
    from=$(($(wc -l <"$TMP/importd.log") + 1))
    bctl "${@:1:$#-1}" >>"$TMP/bctl.log" 2>&1
    result_for "$key" "$from"
}

# import_via VERB FILE NAME [OPTIONS]: berthctl VERB [OPTIONS] FILE NAME
import_via() {
    local verb=$1 file=$2 name=$3
    shift 3
    run_verb "$verb" "$@" "$file" "$name" "$name"
}

# running_id NAME: the id of the transfer to NAME while it runs
running_id() {
    local i
    for i in $(seq 250); do
        id=$(imgr ListTransfers | grep -o "[0-9]* \"import-tar\" \"\" \"$1\"" | cut -d' ' -f1)
        [ -n "$id" ] && { echo "$id"; return 0; }
        sleep 0.02
    done
    return 1
}

# wait_gone ID: until the transfer is no longer listed
wait_gone() {
    wait_until 60 bash -c "! busctl call $IDEST $IPATH $IMGR ListTransfers | grep -q '\"/org/freedesktop/import1/transfer/_$1\"'"
}

no_leftovers() {
    [ -z "$(find "$POOL" -maxdepth 1 -name '.#*' -print -quit)" ]
}

# --- the payload: a small tree with the file types an image has
SRC=$TMP/src
mkdir -p "$SRC/etc" "$SRC/usr/bin" "$SRC/dev" "$SRC/var/empty"
echo "ID=berthtest" >"$SRC/etc/os-release"
head -c 300K /dev/urandom >"$SRC/usr/bin/blob"
ln "$SRC/usr/bin/blob" "$SRC/usr/bin/blob-link"
ln -s ../usr/bin/blob "$SRC/etc/blob-sym"
echo secret >"$SRC/etc/shadow"; chown 1234:5678 "$SRC/etc/shadow"; chmod 0640 "$SRC/etc/shadow"
cp /bin/true "$SRC/usr/bin/suid"; chmod 4755 "$SRC/usr/bin/suid"
mknod "$SRC/dev/null" c 1 3; mkfifo "$SRC/dev/fifo"
tar -C "$SRC" --numeric-owner -cf "$TMP/img.tar" .
gzip -c "$TMP/img.tar" >"$TMP/img.tar.gz"
xz -T1 -c "$TMP/img.tar" >"$TMP/img.tar.xz"
bzip2 -c "$TMP/img.tar" >"$TMP/img.tar.bz2"
zstd -q -c "$TMP/img.tar" >"$TMP/img.tar.zst"

if start_importd; then pass "berth-importd owns $IDEST"; else fail "berth-importd starts"; finish; fi

# --- ImportTar in every compression, detected from the content (no suffix hint)
for c in tar tar.gz tar.xz tar.bz2 tar.zst; do
    n=t-${c//./-}
    cp "$TMP/img.$c" "$TMP/payload"
    expect_eq "import-tar $c: done" done "$(import_via import-tar "$TMP/payload" "$n")"
done
T=$POOL/t-tar-zst
ok_if "imported tree is a btrfs subvolume" btrfs subvolume show "$T"
ok_if "file contents intact" cmp "$SRC/usr/bin/blob" "$T/usr/bin/blob"
expect_eq "hard link kept" "$(stat -c %i "$T/usr/bin/blob")" "$(stat -c %i "$T/usr/bin/blob-link")"
expect_eq "symlink kept" "../usr/bin/blob" "$(readlink "$T/etc/blob-sym")"
expect_eq "numeric owner and mode kept" "1234:5678 640" "$(stat -c '%u:%g %a' "$T/etc/shadow")"
expect_eq "setuid kept (pool is 0700)" 4755 "$(stat -c %a "$T/usr/bin/suid")"
expect_eq "/dev/null kept" "character special file 1:3" "$(stat -c '%F %t:%T' "$T/dev/null")"
ok_if "fifo kept" test -p "$T/dev/fifo"
ok_if "no btrfs quotas enabled" bash -c "! btrfs qgroup show '$POOL' >/dev/null 2>&1"
expect_eq "existing name refused without force" failed "$(import_via import-tar "$TMP/img.tar" t-tar)"
expect_match "  ... with a message as LogMessage" "already exists" "$(cat "$TMP/importd.log")"
echo marker >"$POOL/t-tar/old"
expect_eq "--force replaces" done "$(import_via import-tar "$TMP/img.tar" t-tar --force)"
ok_if "  ... the old tree is gone" test ! -e "$POOL/t-tar/old"
expect_fail "invalid local name refused" "invalid" bctl import-tar "$TMP/img.tar" "../x"
ok_if "no temporaries left" no_leftovers

# --- ImportRaw, every compression
head -c 2M /dev/urandom >"$TMP/disk.raw"
truncate -s 8M "$TMP/disk.raw"     # a trailing hole
for c in raw raw.gz raw.xz raw.zst; do
    case $c in raw) cp "$TMP/disk.raw" "$TMP/payload";; raw.gz) gzip -c "$TMP/disk.raw" >"$TMP/payload";;
               raw.xz) xz -c "$TMP/disk.raw" >"$TMP/payload";; raw.zst) zstd -q -c "$TMP/disk.raw" >"$TMP/payload";; esac
    expect_eq "import-raw $c: done" done "$(import_via import-raw "$TMP/payload" "r-${c//./-}")"
    ok_if "  ... content identical" cmp "$TMP/disk.raw" "$POOL/r-${c//./-}.raw"
done
ok_if "raw image written sparse" test "$(du -k "$POOL/r-raw-zst.raw" | cut -f1)" -lt 4096
# --- qcow2, converted to raw (by qemu-img in a box, after berth checked the header)
if command -v qemu-img >/dev/null; then
    qemu-img convert -f raw -O qcow2 "$TMP/disk.raw" "$TMP/disk.qcow2"
    qemu-img convert -c -f raw -O qcow2 -o compat=0.10 "$TMP/disk.raw" "$TMP/disk-v2c.qcow2"   # v2, zlib clusters
    for c in qcow2 qcow2.xz qcow2.zst v2c.qcow2; do
        case $c in qcow2) cp "$TMP/disk.qcow2" "$TMP/payload";; v2c.qcow2) cp "$TMP/disk-v2c.qcow2" "$TMP/payload";;
                   qcow2.xz) xz -c "$TMP/disk.qcow2" >"$TMP/payload";; qcow2.zst) zstd -q -c "$TMP/disk.qcow2" >"$TMP/payload";; esac
        n=q-${c//./-}
        expect_eq "import-raw $c: done" done "$(import_via import-raw "$TMP/payload" "$n")"
        ok_if "  ... converted to the raw image" cmp "$TMP/disk.raw" "$POOL/$n.raw"
    done
    ok_if "converted image written sparse" test "$(du -k "$POOL/q-qcow2-xz.raw" | cut -f1)" -lt 4096
    echo "host secret" >"$TMP/secret"; truncate -s 8M "$TMP/secret"
    qemu-img create -q -f raw "$TMP/ext.data" 8M
    qemu-img create -q -f qcow2 -b "$TMP/secret" -F raw "$TMP/backing.qcow2"
    qemu-img create -q -f qcow2 -o data_file="$TMP/ext.data" "$TMP/datafile.qcow2" 8M
    qemu-img create -q -f qcow2 "$TMP/huge.qcow2" 17T
    printf 'QFI\xfb\0\0\0\3' >"$TMP/trunc.qcow2"
    for h in backing:"backing file" datafile:"external file" huge:"more than" trunc:"truncated header"; do
        expect_eq "hostile qcow2 '${h%%:*}' refused" failed "$(import_via import-raw "$TMP/${h%%:*}.qcow2" "qh-${h%%:*}")"
        expect_match "  ... says why" "${h#*:}" "$(tail -5 "$TMP/importd.log")"
        ok_if "  ... nothing under the name, no temporary" bash -c "test ! -e '$POOL/qh-${h%%:*}.raw' && test -z \"\$(find '$POOL' -maxdepth 1 -name '.#*')\""
    done
    # cancelled while qemu-img converts (400 MiB of text: about two seconds of work)
    yes berth | head -c 400M >"$TMP/text.raw"
    qemu-img convert -c -f raw -O qcow2 "$TMP/text.raw" "$TMP/slow.qcow2"; rm -f "$TMP/text.raw"
    from=$(($(wc -l <"$TMP/importd.log") + 1))
    bctl -q import-raw "$TMP/slow.qcow2" qconv >>"$TMP/bctl.log" 2>&1 & BCTL=$!
    wait_until 20 bash -c "tail -n +$from '$TMP/importd.log' | grep -q 'Converting the qcow2 image'"
    id=$(imgr ListTransfers | grep -o '[0-9]* "import-raw" "" "qconv"' | cut -d' ' -f1)
    ok_if "cancel during the qcow2 conversion" imgr CancelTransfer u "$id"
    wait_gone "$id"; wait $BCTL 2>/dev/null
    expect_eq "  ... ends as canceled" canceled "$(result_for qconv "$from")"
    ok_if "  ... nothing left, qemu-img gone" bash -c "test ! -e '$POOL/qconv.raw' && test -z \"\$(find '$POOL' -maxdepth 1 -name '.#*')\" && ! pgrep -f '[q]emu-img convert -n --target-is-zero' >/dev/null"
    rm -f "$TMP/slow.qcow2"
else
    skip "qcow2 conversion" "no qemu-img (Debian package qemu-utils)"
fi

# --- ImportFileSystem: a copy of a directory, a snapshot of a subvolume
expect_eq "import-fs --read-only of a directory: done" done "$(import_via import-fs "$SRC" fs-copy --read-only)"
ok_if "  ... copied" cmp "$SRC/usr/bin/blob" "$POOL/fs-copy/usr/bin/blob"
ok_if "  ... read-only as asked" bash -c "lsattr -d '$POOL/fs-copy' | cut -d' ' -f1 | grep -q i"
chattr -i "$POOL/fs-copy"
expect_eq "import-fs of a subvolume: done" done "$(import_via import-fs "$T" fs-snap)"
expect_match "  ... as a snapshot" "Snapshotted" "$(cat "$TMP/importd.log")"

# --- ExportTar in every format, ExportRaw
for f in uncompressed gzip xz bzip2 zstd; do
    expect_eq "export-tar --format=$f: done" done "$(run_verb export-tar --format="$f" t-tar-zst "$TMP/export.$f" t-tar-zst)"
    rm -rf "$TMP/x"; mkdir "$TMP/x"
    ok_if "  ... unpacks with tar to the same content" bash -c "tar -C '$TMP/x' -xaf '$TMP/export.$f' 2>&1 && cmp '$SRC/usr/bin/blob' '$TMP/x/usr/bin/blob' && test \"\$(stat -c %u:%g '$TMP/x/etc/shadow')\" = 1234:5678"
done
ok_if "export-tar xz output is xz" bash -c "file -b '$TMP/export.xz' | grep -qi xz || xz -t '$TMP/export.xz'"
expect_eq "export-raw (zstd from the suffix): done" done "$(run_verb export-raw r-raw "$TMP/export.raw.zst" r-raw)"
ok_if "  ... decompresses to the image" bash -c "zstd -q -d -c '$TMP/export.raw.zst' | cmp - '$TMP/disk.raw'"
expect_eq "export-raw of a tree fails" failed "$(run_verb export-raw t-tar "$TMP/nope" t-tar)"

# --- hostile archives (made with python's tarfile, which writes what it is told)
python3 - "$TMP/hostile" <<'PY'
import io, sys, tarfile, os
d = sys.argv[1]; os.makedirs(d)
def mk(name, entries):
    with tarfile.open(os.path.join(d, name + ".tar"), "w") as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"]); data = e.get("data", b"")
            ti.type = e.get("type", tarfile.REGTYPE); ti.linkname = e.get("link", "")
            ti.mode = e.get("mode", 0o644); ti.size = len(data) if ti.type == tarfile.REGTYPE else 0
            ti.devmajor, ti.devminor = e.get("dev", (0, 0))
            t.addfile(ti, io.BytesIO(data) if ti.size else None)
mk("dotdot", [{"name": "../escape", "data": b"x"}])
mk("dotdot-deep", [{"name": "a/../../escape", "data": b"x"}])
mk("absolute", [{"name": "/tmp/berth-escape", "data": b"x"}])
mk("symlink-then-entry", [{"name": "evil", "type": tarfile.SYMTYPE, "link": "/tmp"},
                          {"name": "evil/berth-escape", "data": b"x"}])
mk("symlink-dir-rel", [{"name": "up", "type": tarfile.SYMTYPE, "link": "../.."},
                       {"name": "up/berth-escape", "data": b"x"}])
mk("hardlink-outside", [{"name": "pw", "type": tarfile.LNKTYPE, "link": "../../../../etc/passwd"}])
mk("hardlink-abs", [{"name": "pw", "type": tarfile.LNKTYPE, "link": "/etc/passwd"}])
mk("hardlink-via-symlink", [{"name": "etc", "type": tarfile.SYMTYPE, "link": "/etc"},
                            {"name": "pw", "type": tarfile.LNKTYPE, "link": "etc/passwd"}])
mk("longpath", [{"name": "a/" * 2100 + "f", "data": b"x"}])
mk("longname", [{"name": "n" * 300, "data": b"x"}])
mk("devices", [{"name": "dev", "type": tarfile.DIRTYPE, "mode": 0o755},
               {"name": "dev/sda", "type": tarfile.BLKTYPE, "dev": (8, 0)},
               {"name": "dev/mem", "type": tarfile.CHRTYPE, "dev": (1, 1)},
               {"name": "dev/zero", "type": tarfile.CHRTYPE, "dev": (1, 5)},
               {"name": "etc/ok", "data": b"fine"}])
PY
for h in dotdot dotdot-deep absolute symlink-then-entry symlink-dir-rel hardlink-outside hardlink-abs hardlink-via-symlink longpath longname; do
    expect_eq "hostile '$h' refused" failed "$(import_via import-tar "$TMP/hostile/$h.tar" "h-$h")"
    ok_if "  ... nothing under the name, no temporary" bash -c "test ! -e '$POOL/h-$h' && test -z \"\$(find '$POOL' -maxdepth 1 -name '.#*')\""
done
ok_if "nothing escaped to /tmp or the pool's parent" bash -c "test ! -e /tmp/berth-escape && test ! -e '$TMP/escape' && test ! -e '$POOL/escape'"
ok_if "/etc/passwd not linked" test "$(stat -c %h /etc/passwd)" = 1
expect_eq "device archive imported" done "$(import_via import-tar "$TMP/hostile/devices.tar" h-dev)"
ok_if "  ... block device and /dev/mem skipped, /dev/zero kept" bash -c "test ! -e '$POOL/h-dev/dev/sda' && test ! -e '$POOL/h-dev/dev/mem' && test -c '$POOL/h-dev/dev/zero' && test -f '$POOL/h-dev/etc/ok'"
# a decompression bomb: 300 MiB of zeros in a few hundred KiB
truncate -s 300M "$TMP/zeros"
tar -C "$TMP" -cf - zeros | zstd -q -19 -c >"$TMP/bomb.tar.zst"; rm -f "$TMP/zeros"
expect_eq "decompression bomb refused" failed "$(import_via import-tar "$TMP/bomb.tar.zst" h-bomb)"
expect_match "  ... as a bomb" "decompression bomb" "$(cat "$TMP/importd.log")"
ok_if "  ... nothing left" bash -c "test ! -e '$POOL/h-bomb' && test -z \"\$(find '$POOL' -maxdepth 1 -name '.#*')\""

# --- cancel mid-transfer: a pipe that delivers half an archive, then stalls
mkfifo "$TMP/slow"
( head -c 200K "$TMP/img.tar"; sleep 30 ) >"$TMP/slow" &
SLOW=$!
bctl -q import-tar "$TMP/slow" slow >>"$TMP/bctl.log" 2>&1 &
BCTL=$!
id=$(running_id slow)
ok_if "transfer listed while it runs" bash -c "busctl call $IDEST $IPATH $IMGR ListTransfers | grep -q '\"import-tar\" \"\" \"slow\"'"
expect_eq "Transfer object: Type" 's "import-tar"' "$(busctl get-property $IDEST $IPATH/transfer/_$id org.freedesktop.import1.Transfer Type)"
expect_eq "Transfer object: Local" 's "slow"' "$(busctl get-property $IDEST $IPATH/transfer/_$id org.freedesktop.import1.Transfer Local)"
ok_if "daemon answers while a transfer runs" imgr ListTransfers
ok_if "berthctl list-transfers shows it" bash -c "'$BERTHCTL' --no-pager list-transfers | grep -q '^ *$id .*import-tar *slow'"
ok_if "CancelTransfer" imgr CancelTransfer u "$id"
wait_gone "$id"
expect_eq "  ... ends as canceled" canceled "$(result_for slow)"
wait $BCTL; expect_eq "  ... berthctl import-tar exits non-zero" 1 "$?"
kill $SLOW 2>/dev/null; wait $SLOW 2>/dev/null
ok_if "  ... nothing left" bash -c "test ! -e '$POOL/slow' && test -z \"\$(find '$POOL' -maxdepth 1 -name '.#*')\""
# Ctrl-C without a terminal: berthctl leaves, the transfer goes on (machinectl's way)
( head -c 100K "$TMP/img.tar"; sleep 30 ) >"$TMP/slow" & SLOW=$!
"$BERTHCTL" import-tar "$TMP/slow" int >>"$TMP/bctl.log" 2>&1 & BCTL=$!   # its own PID for kill -INT
id=$(running_id int)
kill -INT $BCTL; wait $BCTL
expect_eq "SIGINT without a terminal: berthctl exits 0" 0 "$?"
ok_if "  ... and the transfer continues" bash -c "busctl call $IDEST $IPATH $IMGR ListTransfers | grep -q '\"int\"'"
ok_if "berthctl cancel-transfer" bctl cancel-transfer "$id"
wait_gone "$id"; expect_eq "  ... canceled" canceled "$(result_for int)"
kill $SLOW 2>/dev/null; wait $SLOW 2>/dev/null
expect_fail "CancelTransfer of an unknown id" "NoSuchTransfer|No transfer" imgr CancelTransfer u 99999

# --- several at once, each cancellable through its object
for k in 1 2 3; do
    mkfifo "$TMP/slow$k"; ( head -c 100K "$TMP/img.tar"; sleep 30 ) >"$TMP/slow$k" & eval SLOW$k=$!
    bctl -q import-tar "$TMP/slow$k" "par$k" >>"$TMP/bctl.log" 2>&1 & eval BC$k=$!; eval ID$k="$(running_id "par$k")"
done
expect_eq "three transfers at once" 3 "$(imgr ListTransfers | awk '{ print $2 }')"
for k in 1 2 3; do
    eval id=\$ID$k
    ok_if "Transfer.Cancel() of transfer $k" busctl call $IDEST $IPATH/transfer/_$id org.freedesktop.import1.Transfer Cancel
done
for k in 1 2 3; do eval id=\$ID$k; eval s=\$SLOW$k; eval b=\$BC$k; wait_gone "$id"; expect_eq "  ... $k canceled" canceled "$(result_for "par$k")"; kill $s 2>/dev/null; wait $s $b 2>/dev/null; done
ok_if "  ... nothing left" no_leftovers

# --- pulls over HTTP on the namespace's loopback
WWW=$TMP/www
mkdir -p "$WWW/good" "$WWW/badsum" "$WWW/badsig"
export GNUPGHOME=$TMP/gnupg; mkdir -m 700 "$GNUPGHOME"
gpg -q --batch --passphrase '' --quick-gen-key "berth test <test@invalid>" ed25519 sign never 2>/dev/null
gpg -q --batch --export >"$TMP/pubring.gpg"
GNUPGHOME=$TMP/gnupg2; mkdir -m 700 "$GNUPGHOME"; export GNUPGHOME
gpg -q --batch --passphrase '' --quick-gen-key "evil <evil@invalid>" ed25519 sign never 2>/dev/null
for d in good badsum badsig; do
    cp "$TMP/img.tar.xz" "$WWW/$d/image.tar.xz"
    xz -c "$TMP/disk.raw" >"$WWW/$d/disk.raw.xz"
    printf '[Exec]\nBoot=yes\n' >"$WWW/$d/image.nspawn"
    if [ -f "$TMP/disk.qcow2" ]; then xz -c "$TMP/disk.qcow2" >"$WWW/$d/vm.qcow2.xz"; else touch "$WWW/$d/vm.qcow2.xz"; fi
    (cd "$WWW/$d" && sha256sum image.tar.xz disk.raw.xz image.nspawn vm.qcow2.xz >SHA256SUMS)
done
(cd "$WWW/good" && sha256sum image.tar.xz | cut -d' ' -f1 >image.tar.xz.sha256)
GNUPGHOME=$TMP/gnupg gpg -q --batch --detach-sign -o "$WWW/good/SHA256SUMS.gpg" "$WWW/good/SHA256SUMS"
GNUPGHOME=$TMP/gnupg2 gpg -q --batch --detach-sign -o "$WWW/badsig/SHA256SUMS.gpg" "$WWW/badsig/SHA256SUMS"
corrupt_sums "$WWW/badsum/SHA256SUMS"
python3 "$MD_SRCDIR/test/machined/etag-http.py" "$WWW" 18080 >"$TMP/http.log" 2>&1 &
HTTP_PID=$!
wait_until 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/18080"
U=http://127.0.0.1:18080

pull() {   # pull VERB URL NAME VERIFY [OPTIONS...]
    run_verb "$1" --verify="$4" "${@:5}" "$2" ${3:+"$3"} "$2"
}
expect_eq "pull-tar --verify=no" done "$(pull pull-tar $U/good/image.tar.xz p-no no)"
ok_if "  ... unpacked" cmp "$SRC/usr/bin/blob" "$POOL/p-no/usr/bin/blob"
ok_if "  ... .nspawn fetched next to it" grep -q Boot=yes "$POOL/p-no.nspawn"
expect_eq "pull-tar --verify=checksum (FILE.sha256)" done "$(pull pull-tar $U/good/image.tar.xz p-sum checksum)"
expect_eq "pull-tar --verify=signature" done "$(pull pull-tar $U/good/image.tar.xz p-sig signature)"
expect_match "  ... signature checked" "Signature of SHA256SUMS verified" "$(cat "$TMP/importd.log")"
expect_eq "pull-raw --verify=signature" done "$(pull pull-raw $U/good/disk.raw.xz p-raw signature)"
ok_if "  ... content identical" cmp "$TMP/disk.raw" "$POOL/p-raw.raw"
if [ -f "$TMP/disk.qcow2" ]; then
    expect_eq "pull-raw of a qcow2.xz --verify=signature" done "$(pull pull-raw $U/good/vm.qcow2.xz p-qcow2 signature)"
    ok_if "  ... converted to the raw image" cmp "$TMP/disk.raw" "$POOL/p-qcow2.raw"
else
    skip "pull-raw of a qcow2 image" "no qemu-img"
fi
expect_eq "pull-tar with a wrong checksum fails" failed "$(pull pull-tar $U/badsum/image.tar.xz p-badsum checksum)"
expect_match "  ... says why" "Checksum of .* does not match" "$(cat "$TMP/importd.log")"
ok_if "  ... nothing left" bash -c "test ! -e '$POOL/p-badsum' && test ! -e '$POOL/p-badsum.nspawn' && test -z \"\$(find '$POOL' -maxdepth 1 -name '.#*')\""
expect_eq "pull-tar with a signature by another key fails" failed "$(pull pull-tar $U/badsig/image.tar.xz p-badsig signature)"
ok_if "  ... nothing left" bash -c "test ! -e '$POOL/p-badsig' && test -z \"\$(find '$POOL' -maxdepth 1 -name '.#*')\""
expect_eq "pull-tar of a missing file fails" failed "$(pull pull-tar $U/good/nope.tar.xz p-404 no)"
expect_eq "pull-tar without a name derives it" done "$(pull pull-tar $U/good/image.tar.xz '' no)"
ok_if "  ... as 'image'" test -d "$POOL/image"
expect_fail "PullTar of a file:// URL refused" "invalid" imgr PullTar sssb file:///etc/passwd x no false
expect_fail "unknown verify mode refused" "verification mode" imgr PullTar sssb $U/good/image.tar.xz x maybe false

# --- the ETag cache: the server (etag-http.py) sends ETags and answers If-None-Match
mkdir "$WWW/etag"
cp "$TMP/img.tar.xz" "$WWW/etag/image.tar.xz"; xz -c "$TMP/disk.raw" >"$WWW/etag/disk.raw.xz"
(cd "$WWW/etag" && sha256sum image.tar.xz disk.raw.xz >SHA256SUMS)
# http_count PATH STATUS FROM-LINE: requests for PATH answered with STATUS since FROM-LINE
http_count() { tail -n +"$3" "$TMP/http.log" | grep -c "\"GET $1 HTTP/1.[01]\" $2 "; }
# cache_of KIND URL: the pool's cached copies of URL (named by the URL's SHA-256)
cache_of() { find "$POOL" -maxdepth 1 -name ".cache-$1-$(printf %s "$2" | sha256sum | cut -d' ' -f1)*"; }
h0=$(($(wc -l <"$TMP/http.log") + 1))
expect_eq "pull-tar with an ETag: done" done "$(pull pull-tar $U/etag/image.tar.xz e1 checksum)"
c=$(cache_of tar $U/etag/image.tar.xz)
ok_if "  ... a hidden read-only copy kept" bash -c "test -n '$c' && btrfs property get '$c' ro | grep -q true"
h1=$(($(wc -l <"$TMP/http.log") + 1))
expect_eq "second pull of the same URL: done" done "$(pull pull-tar $U/etag/image.tar.xz e2 checksum)"
expect_eq "  ... the server answered 304" 1 "$(http_count /etag/image.tar.xz 304 "$h1")"
expect_eq "  ... and sent the image no second time" 1 "$(http_count /etag/image.tar.xz 200 "$h0")"
ok_if "  ... same content, and a tree of its own" bash -c "cmp '$SRC/usr/bin/blob' '$POOL/e2/usr/bin/blob' && touch '$POOL/e2/new'"
expect_match "  ... made from the cached copy" "Unchanged on the server" "$(tail -20 "$TMP/importd.log")"
touch "$WWW/.ignore-inm"
expect_eq "a server that ignores If-None-Match, same ETag: done" done "$(pull pull-tar $U/etag/image.tar.xz e3 checksum)"
ok_if "  ... content from the cached copy" cmp "$SRC/usr/bin/blob" "$POOL/e3/usr/bin/blob"
expect_match "  ... without downloading it" "Unchanged on the server" "$(tail -20 "$TMP/importd.log")"
rm "$WWW/.ignore-inm"
# SHA256SUMS no longer vouches for the cached copy: downloaded again (and then refused)
cp "$WWW/etag/SHA256SUMS" "$TMP/sums.bak"; corrupt_sums "$WWW/etag/SHA256SUMS"
h2=$(($(wc -l <"$TMP/http.log") + 1))
expect_eq "cached copy whose checksum the sums no longer list: failed" failed "$(pull pull-tar $U/etag/image.tar.xz e-stale checksum)"
expect_eq "  ... after downloading it again" 1 "$(http_count /etag/image.tar.xz 200 "$h2")"
cp "$TMP/sums.bak" "$WWW/etag/SHA256SUMS"
# a changed file: a new ETag, a new download, the old copy replaced
echo changed >"$TMP/changed"; tar -C "$TMP" -cf - changed | xz -c >"$WWW/etag/image.tar.xz"
(cd "$WWW/etag" && sha256sum image.tar.xz disk.raw.xz >SHA256SUMS)
h3=$(($(wc -l <"$TMP/http.log") + 1))
expect_eq "pull after the file changed: done" done "$(pull pull-tar $U/etag/image.tar.xz e4 checksum)"
expect_eq "  ... downloaded again" 1 "$(http_count /etag/image.tar.xz 200 "$h3")"
ok_if "  ... the new content" bash -c "grep -q changed '$POOL/e4/changed' && test ! -e '$POOL/e4/usr'"
expect_eq "  ... one cached copy for the URL" 1 "$(cache_of tar $U/etag/image.tar.xz | wc -l)"
expect_eq "pull-raw with an ETag, twice: done" "done done" "$(pull pull-raw $U/etag/disk.raw.xz er1 checksum) $(pull pull-raw $U/etag/disk.raw.xz er2 checksum)"
ok_if "  ... the second from the cache (304), identical" bash -c "test \$(tail -n +$h3 '$TMP/http.log' | grep -c '/etag/disk.raw.xz HTTP/1.[01]\" 304') = 1 && cmp '$TMP/disk.raw' '$POOL/er2.raw'"
expect_eq "  ... the cached raw copy is read-only" 444 "$(stat -c %a "$(cache_of raw $U/etag/disk.raw.xz)")"

# --- .roothash, .roothash.p7s and .verity of a raw image fetched with it; berth-spawn -i uses them
if command -v veritysetup >/dev/null && command -v mkfs.ext4 >/dev/null &&
    "$MD_SRCDIR/tools/make-busybox-tree.sh" "$TMP/bbtree" >/dev/null 2>&1; then
    mkdir "$WWW/verity" "$WWW/verity2" "$WWW/verity-bad"
    truncate -s 16M "$TMP/vfs.ext4" && mkfs.ext4 -q -F -d "$TMP/bbtree" "$TMP/vfs.ext4"
    VHASH=$(veritysetup format "$TMP/vfs.ext4" "$TMP/vfs.verity" | awk '/^Root hash:/ { print $3 }')
    xz -T1 -c "$TMP/vfs.ext4" >"$WWW/verity/vfs.raw.xz"
    echo "$VHASH" >"$WWW/verity/vfs.roothash"; cp "$TMP/vfs.verity" "$WWW/verity/vfs.verity"
    head -c 300 /dev/urandom >"$WWW/verity/vfs.roothash.p7s"
    (cd "$WWW/verity" && sha256sum vfs.* >SHA256SUMS)
    cp "$WWW/verity/"* "$WWW/verity-bad/"; echo 0 >"$WWW/verity-bad/vfs.roothash"   # not what the sums say
    cp "$WWW/etag/disk.raw.xz" "$WWW/verity2/vfs.raw.xz"; (cd "$WWW/verity2" && sha256sum vfs.raw.xz >SHA256SUMS)
    expect_eq "pull-raw of an image with verity files: done" done "$(pull pull-raw $U/verity/vfs.raw.xz vfs checksum)"
    expect_eq "  ... NAME.roothash saved" "$VHASH" "$(cat "$POOL/vfs.roothash" 2>&1)"
    ok_if "  ... NAME.verity and NAME.roothash.p7s saved" bash -c "cmp '$TMP/vfs.verity' '$POOL/vfs.verity' && cmp '$WWW/verity/vfs.roothash.p7s' '$POOL/vfs.roothash.p7s'"
    timeout 30 "$BERTH_SPAWN" -q -P -i "$POOL/vfs.raw" /bin/sh -c 'grep " / " /proc/self/mounts' >"$TMP/vspawn.out" 2>&1
    vrc=$?
    if [ -e /sys/class/misc/device-mapper ]; then
        expect_eq "berth-spawn -i runs it on dm-verity (the pulled root hash and tree)" "0 ro" \
            "$vrc $(grep -o ' ro[ ,]' "$TMP/vspawn.out" | tr -d ' ,')"
    else
        expect_match "berth-spawn -i finds the pulled root hash (this kernel has no device-mapper)" \
            "verity-protected, but this kernel has no device-mapper" "$vrc $(cat "$TMP/vspawn.out")"
    fi
    expect_eq "a verity file that does not match the sums fails the pull" failed "$(pull pull-raw $U/verity-bad/vfs.raw.xz vfs-bad checksum)"
    ok_if "  ... nothing left" bash -c "test ! -e '$POOL/vfs-bad.raw' && test ! -e '$POOL/vfs-bad.roothash' && test ! -e '$POOL/vfs-bad.verity'"
    expect_eq "replacing it (--force) with an image without verity files: done" done "$(pull pull-raw $U/verity2/vfs.raw.xz vfs checksum --force)"
    ok_if "  ... the old image's verity files are gone" bash -c "test ! -e '$POOL/vfs.roothash' && test ! -e '$POOL/vfs.verity' && test ! -e '$POOL/vfs.roothash.p7s'"
    rm -rf "$TMP/bbtree"
else
    skip "verity files of a pulled raw image" "no veritysetup, mkfs.ext4 or busybox tree"
fi

# --- berthctl on a terminal (test/integration/pty-driver.py): a progress bar with bytes,
# rate and ETA for a pull (the size comes from berth-importd's BerthBytes), and Ctrl-C asks
mkdir "$TMP/bigsrc" "$WWW/slow"; head -c 4M /dev/urandom >"$TMP/bigsrc/data"
tar -C "$TMP/bigsrc" -cf "$WWW/slow/big.tar" .; rm -rf "$TMP/bigsrc"
touch "$WWW/.throttle"
PTY="$MD_SRCDIR/test/integration/pty-driver.py"
BAR='\] +[0-9]+%  [0-9.]+[BKMG]/[0-9.]+[BKMG]  [0-9.]+[BKMG]/s  ETA [0-9]+s'
from=$(($(wc -l <"$TMP/importd.log") + 1))
python3 "$PTY" --timeout 40 "expect:$BAR" 'send:\x03' 'expect:Cancel transfer [0-9]+\? \[y/N\]' 'send:y\r' -- \
    "$BERTHCTL" --no-pager pull-tar --verify=no $U/slow/big.tar pty-cancel >"$TMP/pty1.out" 2>&1
expect_eq "terminal: progress bar, Ctrl-C, answer y: berthctl exits 1" 1 "$?"
wait_until 20 bash -c "tail -n +$from '$TMP/importd.log' | grep -q 'slow/big.tar) canceled'"
expect_eq "  ... the transfer was cancelled" canceled "$(result_for "$U/slow/big.tar" "$from")"
ok_if "  ... nothing left" bash -c "test ! -e '$POOL/pty-cancel' && test -z \"\$(find '$POOL' -maxdepth 1 -name '.#*')\""
from=$(($(wc -l <"$TMP/importd.log") + 1))
python3 "$PTY" --timeout 40 "expect:$BAR" 'send:\x03' 'expect:\[y/N\]' 'send:n\r' 'expect:continues in the background' -- \
    "$BERTHCTL" --no-pager pull-tar --verify=no $U/slow/big.tar pty-keep >"$TMP/pty2.out" 2>&1
expect_eq "terminal: Ctrl-C, answer n: berthctl exits 0" 0 "$?"
wait_until 30 bash -c "tail -n +$from '$TMP/importd.log' | grep -q 'slow/big.tar) done'"
expect_eq "  ... and the transfer runs to its end" done "$(result_for "$U/slow/big.tar" "$from")"
ok_if "  ... the image is complete" bash -c "tar -xOf '$WWW/slow/big.tar' ./data | cmp - '$POOL/pty-keep/data'"
rm "$WWW/.throttle"
out=$("$BERTHCTL" --no-pager pull-tar --verify=no $U/slow/big.tar nontty 2>&1 </dev/null)
expect_match "no terminal: a line per stage (download)" "^Downloading http" "$out"
expect_match "  ... (made from the ETag cache: pulled just before)" "^Unchanged on the server .*making nontty" "$out"
expect_match "  ... (done)" "^Transfer [0-9]+ done" "$out"
expect_no_match "  ... (no carriage returns)" $'\r' "$out"

# --- the real machinectl against berth-importd (it wants /run/systemd/system)
if command -v machinectl >/dev/null; then
    mctl() {
        unshare -m sh -c 'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system &&
                          exec machinectl --no-pager "$@"' mctl "$@"
    }
    ok_if "machinectl import-tar" bash -c "$(declare -f mctl); mctl import-tar '$TMP/img.tar.gz' mc-img"
    ok_if "  ... image there" cmp "$SRC/usr/bin/blob" "$POOL/mc-img/usr/bin/blob"
    ok_if "machinectl export-tar" bash -c "$(declare -f mctl); mctl export-tar mc-img '$TMP/mc.tar.xz' && xz -t '$TMP/mc.tar.xz'"
    ok_if "machinectl list-transfers" bash -c "$(declare -f mctl); mctl list-transfers 2>&1 | grep -qi 'no transfers'"
    ok_if "machinectl import-raw" bash -c "$(declare -f mctl); mctl import-raw '$TMP/disk.raw' mc-raw"
    ok_if "  ... image there" cmp "$TMP/disk.raw" "$POOL/mc-raw.raw"
    ok_if "machinectl export-raw" bash -c "$(declare -f mctl); mctl export-raw mc-raw '$TMP/mc.raw.xz' && xz -dc '$TMP/mc.raw.xz' | cmp - '$TMP/disk.raw'"
    ok_if "machinectl import-fs" bash -c "$(declare -f mctl); mctl import-fs '$SRC' mc-fs"
    ok_if "  ... tree there" cmp "$SRC/usr/bin/blob" "$POOL/mc-fs/usr/bin/blob"
    ok_if "machinectl pull-tar (signature)" bash -c "$(declare -f mctl); mctl pull-tar $U/good/image.tar.xz mc-pull"
    ok_if "  ... image there" cmp "$SRC/usr/bin/blob" "$POOL/mc-pull/usr/bin/blob"
    ok_if "machinectl pull-raw --verify=checksum" bash -c "$(declare -f mctl); mctl pull-raw --verify=checksum $U/good/disk.raw.xz mc-praw"
    ok_if "  ... image there" cmp "$TMP/disk.raw" "$POOL/mc-praw.raw"
    expect_fail "machinectl pull-tar with a bad signature fails" "does not verify" bash -c "$(declare -f mctl); mctl pull-tar $U/badsig/image.tar.xz mc-badsig"
    ok_if "  ... nothing left" test ! -e "$POOL/mc-badsig"
    ( head -c 100K "$TMP/img.tar"; sleep 30 ) >"$TMP/slow" & SLOW=$!
    bctl -q import-tar "$TMP/slow" mc-slow >>"$TMP/bctl.log" 2>&1 & BCTL=$!; id=$(running_id mc-slow)
    ok_if "machinectl list-transfers shows a running one" bash -c "$(declare -f mctl); mctl list-transfers | grep -q 'import-tar.*mc-slow'"
    ok_if "machinectl cancel-transfer" bash -c "$(declare -f mctl); mctl cancel-transfer $id"
    wait_gone "$id"; expect_eq "  ... canceled" canceled "$(result_for mc-slow)"
    kill $SLOW 2>/dev/null; wait $SLOW $BCTL 2>/dev/null
else
    skip "machinectl against berth-importd" "no machinectl"
fi

# --- disk full: a 24 MiB pool, a 40 MiB archive of random data
stop_importd
mkdir "$TMP/small"
mount -t tmpfs -o size=24M,mode=0700 tmpfs "$TMP/small" && SMALL_MOUNTED=1
mkdir "$TMP/big"; head -c 40M /dev/urandom >"$TMP/big/data"
tar -C "$TMP/big" -cf "$TMP/big.tar" .; rm -rf "$TMP/big"
start_importd "$TMP/small"
expect_eq "import into a full pool fails" failed "$(import_via import-tar "$TMP/big.tar" full)"
ok_if "  ... nothing under the name, no temporary, space back" bash -c "test -z \"\$(ls -A '$TMP/small')\" && test \$(df --output=used -k '$TMP/small' | tail -1) -lt 1024"
head -c 40M /dev/urandom >"$TMP/big.raw"
expect_eq "import-raw into a full pool fails" failed "$(import_via import-raw "$TMP/big.raw" fullraw)"
ok_if "  ... nothing left, space back" bash -c "test -z \"\$(ls -A '$TMP/small')\" && test \$(df --output=used -k '$TMP/small' | tail -1) -lt 1024"
if command -v qemu-img >/dev/null; then
    # a small qcow2 (compressed clusters of text) whose 40 MiB of raw output does not fit
    yes berth | head -c 40M >"$TMP/text.raw"
    qemu-img convert -c -f raw -O qcow2 "$TMP/text.raw" "$TMP/big.qcow2"; rm -f "$TMP/text.raw"
    expect_eq "qcow2 conversion into a full pool fails" failed "$(import_via import-raw "$TMP/big.qcow2" fullq)"
    ok_if "  ... nothing left, space back" bash -c "test -z \"\$(ls -A '$TMP/small')\" && test \$(df --output=used -k '$TMP/small' | tail -1) -lt 1024"
    expect_match "  ... in qemu-img" "qemu-img" "$(tail -5 "$TMP/importd.log")"
    rm -f "$TMP/big.qcow2"
fi
rm -f "$TMP/big.raw" "$TMP/big.tar"
stop_importd
umount "$TMP/small" && SMALL_MOUNTED=

finish
