#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-vm-dm.sh — device-mapper in a qemu VM (tools/vm-run.sh): dm-verity (format,
# open, mount, read; a corrupted block gives an I/O error) and LUKS2 (luksFormat with
# a key file, open, mkfs, mount, read back, wrong key refused), plus the VM harness
# itself: environment, exit status, stdout/stderr, cleanup on the host.
#
# The host part boots one VM running this script with --in-vm; the VM part prints
# "ok - ..." / "not ok - ..." lines that the host part numbers. Skips only if qemu is
# not available (vm-run.sh exit status 77).
set -u
export LC_ALL=C

# ================================================================ in the VM

BERTH_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BERTH_TOOLS:=$BERTH_SRCDIR/tools}"
export BERTH_TOOLS
# shellcheck source=test/integration/vm-lib.sh
. "$BERTH_SRCDIR/test/integration/vm-lib.sh"

if [ "${1:-}" = --in-vm ]; then
    cd /tmp || exit 99
    work=$(mktemp -d /tmp/vm-dm.XXXXXX)
    cd "$work" || exit 99
    echo "to stderr from the VM" >&2

    # ---- the VM's environment
    ok_if "BERTH_VM is set in the VM" test "${BERTH_VM:-}" = 1
    ok_if "/tmp is a writable tmpfs" test "$(stat -f -c %T /tmp)" = tmpfs -a -w /tmp
    ok_if "/sys/fs/cgroup is cgroup2" test "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs
    ok_if "/dev/pts is mounted" test "$(stat -f -c %T /dev/pts)" = devpts
    ok_if "/dev/loop-control and /dev/mapper/control exist" test -c /dev/loop-control -a -c /dev/mapper/control
    ok_if "dm_verity and dm_crypt are loaded" test -d /sys/module/dm_verity -a -d /sys/module/dm_crypt
    if [ -n "${BERTH_SPAWN:-}" ] && [ -x "$BERTH_SPAWN" ]; then
        ok_if "the host's berth-spawn runs in the VM" "$BERTH_SPAWN" --help
    fi

    # ---- dm-verity
    marker="berth-verity-marker-$RANDOM$RANDOM"
    mkdir src
    { echo "$marker"; head -c 12288 /dev/zero | tr '\0' x; echo; } >src/file
    expected=$(cat src/file)
    ok_if "mkfs.ext4 -d makes the data image" mkfs.ext4 -q -b 4096 -d src data.img 16M
    ok_if "veritysetup format" sh -c 'veritysetup format data.img hash.img >format.out'
    roothash=$(sed -n 's/^Root hash:[[:space:]]*//p' format.out 2>/dev/null)
    ok_if "veritysetup format printed a root hash" test "${#roothash}" -eq 64
    mkdir mnt
    ok_if "veritysetup open" veritysetup open data.img vdata hash.img "$roothash"
    ok_if "the verity device is verified" sh -c 'veritysetup status vdata | grep -q "status: *verified"'
    ok_if "mount the verity device read-only" mount -o ro /dev/mapper/vdata mnt
    if [ "$(cat mnt/file 2>&1)" = "$expected" ]; then
        pass "read a file through dm-verity"
    else
        fail "read a file through dm-verity" "$(head -c 300 mnt/file 2>&1)"
    fi
    ok_if "umount" umount mnt
    ok_if "veritysetup close" veritysetup close vdata

    # corrupt the first data block of the file
    off=$(grep -obUa "$marker" data.img | head -n1 | cut -d: -f1)
    if [ -n "$off" ]; then
        pass "found the file's data in the image (offset $off)"
        printf 'CORRUPTED' | dd of=data.img bs=1 seek="$off" conv=notrunc status=none
    else
        fail "found the file's data in the image"
    fi
    echo 3 >/proc/sys/vm/drop_caches
    ok_if "veritysetup open (corrupted data, same root hash)" veritysetup open data.img vdata hash.img "$roothash"
    ok_if "mount the corrupted verity device read-only" mount -o ro /dev/mapper/vdata mnt
    if out=$(cat mnt/file 2>&1); then
        fail "reading the corrupted block fails" "read succeeded: $(head -c 100 <<<"$out")"
    elif grep -q "Input/output error" <<<"$out"; then
        pass "reading the corrupted block fails with an I/O error"
    else
        fail "reading the corrupted block fails with an I/O error" "$out"
    fi
    ok_if "the kernel logged the verity corruption" sh -c 'dmesg | grep -q "verity.*data block.*is corrupted"'
    umount mnt 2>/dev/null
    ok_if "veritysetup close (corrupted)" veritysetup close vdata
    if veritysetup verify data.img hash.img "$roothash" >/dev/null 2>&1; then
        fail "veritysetup verify notices the corruption"
    else
        pass "veritysetup verify notices the corruption"
    fi

    # ---- LUKS2
    head -c 64 /dev/urandom >key
    head -c 64 /dev/urandom >wrongkey
    truncate -s 32M luks.img
    # (PBKDF2 with few iterations: key derivation is slow without KVM)
    ok_if "cryptsetup luksFormat --type luks2 with a key file" \
        cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
        --key-file key luks.img
    ok_if "luksDump says LUKS version 2" sh -c 'cryptsetup luksDump luks.img | grep -q "^Version:[[:space:]]*2$"'
    ok_if "cryptsetup open with the key file" cryptsetup open --key-file key luks.img cdata
    ok_if "the crypt device is active" sh -c 'cryptsetup status cdata | grep -q "type: *LUKS2"'
    ok_if "mkfs.ext4 on the crypt device" mkfs.ext4 -q /dev/mapper/cdata
    ok_if "mount the crypt device" mount /dev/mapper/cdata mnt
    secret="berth-luks-secret-$RANDOM$RANDOM"
    ok_if "write a file on the crypt device" sh -c "echo $secret >mnt/secret && sync"
    ok_if "umount" umount mnt
    ok_if "cryptsetup close" cryptsetup close cdata
    if grep -qa "$secret" luks.img; then
        fail "the image does not contain the plaintext"
    else
        pass "the image does not contain the plaintext"
    fi
    if cryptsetup open --key-file wrongkey luks.img cdata >/dev/null 2>&1; then
        fail "cryptsetup open with a wrong key fails"
        cryptsetup close cdata
    else
        pass "cryptsetup open with a wrong key fails"
    fi
    ok_if "cryptsetup open again" cryptsetup open --key-file key luks.img cdata
    ok_if "mount it again" mount /dev/mapper/cdata mnt
    ok_if "read the file back" test "$(cat mnt/secret 2>&1)" = "$secret"
    umount mnt
    ok_if "cryptsetup close" cryptsetup close cdata

    # ---- everything released
    ok_if "no device-mapper devices left" test -z "$(ls -d /sys/block/dm-* 2>/dev/null)"
    ok_if "no loop devices left" test -z "$(losetup -a)"
    cd /
    rm -rf "$work"
    pass "the VM part ran to its end"
    exit "$failures"
fi

# ================================================================ on the host

vm_host_main "$BERTH_SRCDIR/test/integration/${0##*/}" veritysetup cryptsetup mkfs.ext4
