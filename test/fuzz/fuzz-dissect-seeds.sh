#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fuzz-dissect-seeds.sh DIR — write the seed corpus of fuzz-dissect into DIR: small disk
# images (tens of KiB) made with sfdisk, mkfs.ext4, mksquashfs, mkfs.vfat and veritysetup
# on plain files; no root, no loop devices. A seed whose tool is missing is left out.
#
# The partition UUIDs of the verity seeds are the halves of the hashes fuzz-dissect.c
# passes as DissectOptions (FUZZ_ROOT_HASH, FUZZ_USR_HASH): keep the two in sync.
set -eu

[ "$#" -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
out=$1
mkdir -p "$out"
PATH=$PATH:/usr/sbin:/sbin
export PATH

# FUZZ_ROOT_HASH = 11111111222233334444555555555501 66666666777788889999aaaaaaaaaa02
# FUZZ_USR_HASH  = 11111111222233334444555555555503 66666666777788889999aaaaaaaaaa04
root_uuid=11111111-2222-3333-4444-555555555501
root_verity_uuid=66666666-7777-8888-9999-aaaaaaaaaa02
usr_uuid=11111111-2222-3333-4444-555555555503
usr_verity_uuid=66666666-7777-8888-9999-aaaaaaaaaa04

root_x86_64=4f68bce3-e8cd-4db1-96e7-fbcaf984b709
root_verity_x86_64=2c7357ed-ebd2-46d9-aec1-23d437ec2bf5
usr_x86_64=8484680c-9521-48c6-9c11-b0720656f69e
usr_verity_x86_64=77ff5f63-e7b6-4633-acf4-1565b864c0e6
root_arm64=b921b045-1df0-41c3-af44-4c6f280d3fae
home=933ac7e1-2eb4-4f13-b844-0e14e2aef915
var=4d21b016-b534-45c2-a9fb-5c16e091fd2d
esp=c12a7328-f81f-11d2-ba4b-00a0c93ec93b
swap=0657fd6d-a4ab-43c4-84e5-0933c84b4f4f

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-dissect-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

have() { command -v "$1" >/dev/null 2>&1; }

# File system heads: the first few KiB are all libblkid looks at.
if have mkfs.ext4; then
    truncate -s 256K "$tmp/ext4"
    mkfs.ext4 -q -F -b 1024 -N 16 -O ^has_journal -U 0e0e0e0e-0000-4000-8000-000000000001 \
        -E hash_seed=0e0e0e0e-0000-4000-8000-000000000002 "$tmp/ext4" >/dev/null
fi
if have mksquashfs; then
    mkdir "$tmp/sqdir"
    echo seed >"$tmp/sqdir/file"
    mksquashfs "$tmp/sqdir" "$tmp/squashfs" -quiet -noappend -mkfs-time 0 -all-time 0 >/dev/null 2>&1 ||
        rm -f "$tmp/squashfs"
fi
if have mkfs.vfat; then
    truncate -s 64K "$tmp/vfat"
    mkfs.vfat -i 0e0e0e0e -n ESP "$tmp/vfat" >/dev/null 2>&1 || rm -f "$tmp/vfat"
fi
if have veritysetup && [ -f "$tmp/ext4" ]; then
    # salt and UUID fixed so the seed is the same on every run
    veritysetup format --salt=00 --uuid=0e0e0e0e-0000-4000-8000-000000000003 \
        "$tmp/ext4" "$tmp/verity" >/dev/null 2>&1 || rm -f "$tmp/verity"
fi

# put FILE IMAGE SECTOR [BYTES] — copy the head of FILE into IMAGE at SECTOR (if FILE exists)
put() {
    [ -f "$1" ] || return 0
    dd if="$1" of="$2" bs=512 seek="$3" count="${4:-8}" conv=notrunc status=none
}

# The bare file systems: just their heads, as the prober sees them.
for fs in ext4 squashfs vfat; do
    [ -f "$tmp/$fs" ] || continue
    truncate -s 8K "$out/bare-$fs.img"
    put "$tmp/$fs" "$out/bare-$fs.img" 0 16
done

if have sfdisk; then
    # GPT: two root candidates (only the second matches the root hash), root-verity, usr +
    # usr-verity, home read-only + growfs, var no-auto, an ESP, swap, another
    # architecture's root. Tiny partitions, no alignment: a seed should be small.
    img=$out/gpt-full.img
    truncate -s 160K "$img"
    sfdisk -q --no-reread --no-tell-kernel "$img" >/dev/null <<SFDISK
label: gpt
label-id: 0E0E0E0E-0000-4000-8000-000000000010
unit: sectors
first-lba: 34
sector-size: 512
start=34, size=24, type=$root_x86_64, uuid=0e0e0e0e-0000-4000-8000-000000000011, name="root-other"
start=58, size=24, type=$root_x86_64, uuid=$root_uuid, name="root", attrs="GUID:60"
start=82, size=16, type=$root_verity_x86_64, uuid=$root_verity_uuid, name="root-verity"
start=98, size=24, type=$usr_x86_64, uuid=$usr_uuid, name="usr"
start=122, size=16, type=$usr_verity_x86_64, uuid=$usr_verity_uuid, name="usr-verity"
start=138, size=24, type=$home, name="home", attrs="GUID:59,60"
start=162, size=16, type=$var, name="var", attrs="GUID:63"
start=178, size=24, type=$esp, name="esp"
start=202, size=8, type=$swap, name="swap"
start=210, size=16, type=$root_arm64, name="root-arm64"
SFDISK
    put "$tmp/ext4" "$img" 34 16
    put "$tmp/ext4" "$img" 58 16
    put "$tmp/verity" "$img" 82 8
    put "$tmp/squashfs" "$img" 98 8
    put "$tmp/verity" "$img" 122 8
    put "$tmp/ext4" "$img" 138 16
    put "$tmp/ext4" "$img" 162 16
    put "$tmp/vfat" "$img" 178 16
    put "$tmp/ext4" "$img" 210 16

    # GPT: one root, nothing else — the smallest valid image
    img=$out/gpt-root.img
    truncate -s 56K "$img"
    sfdisk -q --no-reread --no-tell-kernel "$img" >/dev/null <<SFDISK
label: gpt
label-id: 0E0E0E0E-0000-4000-8000-000000000020
unit: sectors
first-lba: 34
sector-size: 512
start=34, size=16, type=$root_x86_64, uuid=$root_uuid
SFDISK
    put "$tmp/ext4" "$img" 34 16

    # GPT without a root for this architecture
    img=$out/gpt-noroot.img
    truncate -s 56K "$img"
    sfdisk -q --no-reread --no-tell-kernel "$img" >/dev/null <<SFDISK
label: gpt
label-id: 0E0E0E0E-0000-4000-8000-000000000030
unit: sectors
first-lba: 34
sector-size: 512
start=34, size=16, type=$root_arm64
start=50, size=8, type=$home
SFDISK

    # MBR: swap, an extended partition with a logical Linux one, a primary Linux one
    img=$out/mbr.img
    truncate -s 64K "$img"
    sfdisk -q --no-reread --no-tell-kernel "$img" >/dev/null <<SFDISK
label: dos
label-id: 0x0e0e0e0e
unit: sectors
sector-size: 512
start=1, size=8, type=82
start=9, size=48, type=5
start=57, size=40, type=83
start=11, size=20, type=83
SFDISK
    put "$tmp/ext4" "$img" 57 16
    put "$tmp/squashfs" "$img" 11 8
fi

# MBR written byte by byte: a Linux partition and two extended partitions whose EBRs lie
# beyond the end (libfdisk 2.38 leaked a sector per extra extended partition read).
# le32 N — N as four little-endian octal escapes for printf
le32() {
    printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255))
}
# mbr_entry FILE SLOT TYPE START SIZE
mbr_entry() {
    # shellcheck disable=SC2059  # the format is the escaped bytes
    printf "\\000\\000\\000\\000\\$(printf '%03o' "$3")\\000\\000\\000$(le32 "$4")$(le32 "$5")" |
        dd of="$1" bs=1 seek=$((446 + 16 * $2)) conv=notrunc status=none
}
img=$out/mbr-two-extended.img
truncate -s 4K "$img"
mbr_entry "$img" 0 131 1 4
mbr_entry "$img" 1 5 9 48
mbr_entry "$img" 2 15 57 40
printf '\125\252' | dd of="$img" bs=1 seek=510 conv=notrunc status=none

[ -n "$(find "$out" -type f)" ] || { echo "$0: no seed could be made (sfdisk, mkfs.ext4 missing?)" >&2; exit 1; }
