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

if [ "${1:-}" = --in-vm ]; then
    failures=0
    ok() { echo "ok - $1"; }
    not_ok() {
        echo "not ok - $1"
        shift
        [ "$#" -eq 0 ] || printf '%s\n' "$@" | sed 's/^/# /'
        failures=$((failures + 1))
    }
    # check DESC COMMAND...: ok if COMMAND succeeds (its output is shown otherwise)
    check() {
        local desc=$1 out
        shift
        if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "command: $*" "$out"; fi
    }

    cd /tmp || exit 99
    work=$(mktemp -d /tmp/vm-dm.XXXXXX)
    cd "$work" || exit 99
    echo "to stderr from the VM" >&2

    # ---- the VM's environment
    check "BERTH_VM is set in the VM" test "${BERTH_VM:-}" = 1
    check "/tmp is a writable tmpfs" test "$(stat -f -c %T /tmp)" = tmpfs -a -w /tmp
    check "/sys/fs/cgroup is cgroup2" test "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs
    check "/dev/pts is mounted" test "$(stat -f -c %T /dev/pts)" = devpts
    check "/dev/loop-control and /dev/mapper/control exist" test -c /dev/loop-control -a -c /dev/mapper/control
    check "dm_verity and dm_crypt are loaded" test -d /sys/module/dm_verity -a -d /sys/module/dm_crypt
    if [ -n "${BERTH_SPAWN:-}" ] && [ -x "$BERTH_SPAWN" ]; then
        check "the host's berth-spawn runs in the VM" "$BERTH_SPAWN" --help
    fi

    # ---- dm-verity
    marker="berth-verity-marker-$RANDOM$RANDOM"
    mkdir src
    { echo "$marker"; head -c 12288 /dev/zero | tr '\0' x; echo; } >src/file
    expected=$(cat src/file)
    check "mkfs.ext4 -d makes the data image" mkfs.ext4 -q -b 4096 -d src data.img 16M
    check "veritysetup format" sh -c 'veritysetup format data.img hash.img >format.out'
    roothash=$(sed -n 's/^Root hash:[[:space:]]*//p' format.out 2>/dev/null)
    check "veritysetup format printed a root hash" test "${#roothash}" -eq 64
    mkdir mnt
    check "veritysetup open" veritysetup open data.img vdata hash.img "$roothash"
    check "the verity device is verified" sh -c 'veritysetup status vdata | grep -q "status: *verified"'
    check "mount the verity device read-only" mount -o ro /dev/mapper/vdata mnt
    if [ "$(cat mnt/file 2>&1)" = "$expected" ]; then
        ok "read a file through dm-verity"
    else
        not_ok "read a file through dm-verity" "$(head -c 300 mnt/file 2>&1)"
    fi
    check "umount" umount mnt
    check "veritysetup close" veritysetup close vdata

    # corrupt the first data block of the file
    off=$(grep -obUa "$marker" data.img | head -n1 | cut -d: -f1)
    if [ -n "$off" ]; then
        ok "found the file's data in the image (offset $off)"
        printf 'CORRUPTED' | dd of=data.img bs=1 seek="$off" conv=notrunc status=none
    else
        not_ok "found the file's data in the image"
    fi
    echo 3 >/proc/sys/vm/drop_caches
    check "veritysetup open (corrupted data, same root hash)" veritysetup open data.img vdata hash.img "$roothash"
    check "mount the corrupted verity device read-only" mount -o ro /dev/mapper/vdata mnt
    if out=$(cat mnt/file 2>&1); then
        not_ok "reading the corrupted block fails" "read succeeded: $(head -c 100 <<<"$out")"
    elif grep -q "Input/output error" <<<"$out"; then
        ok "reading the corrupted block fails with an I/O error"
    else
        not_ok "reading the corrupted block fails with an I/O error" "$out"
    fi
    check "the kernel logged the verity corruption" sh -c 'dmesg | grep -q "verity.*data block.*is corrupted"'
    umount mnt 2>/dev/null
    check "veritysetup close (corrupted)" veritysetup close vdata
    if veritysetup verify data.img hash.img "$roothash" >/dev/null 2>&1; then
        not_ok "veritysetup verify notices the corruption"
    else
        ok "veritysetup verify notices the corruption"
    fi

    # ---- LUKS2
    head -c 64 /dev/urandom >key
    head -c 64 /dev/urandom >wrongkey
    truncate -s 32M luks.img
    # (PBKDF2 with few iterations: key derivation is slow without KVM)
    check "cryptsetup luksFormat --type luks2 with a key file" \
        cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
        --key-file key luks.img
    check "luksDump says LUKS version 2" sh -c 'cryptsetup luksDump luks.img | grep -q "^Version:[[:space:]]*2$"'
    check "cryptsetup open with the key file" cryptsetup open --key-file key luks.img cdata
    check "the crypt device is active" sh -c 'cryptsetup status cdata | grep -q "type: *LUKS2"'
    check "mkfs.ext4 on the crypt device" mkfs.ext4 -q /dev/mapper/cdata
    check "mount the crypt device" mount /dev/mapper/cdata mnt
    secret="berth-luks-secret-$RANDOM$RANDOM"
    check "write a file on the crypt device" sh -c "echo $secret >mnt/secret && sync"
    check "umount" umount mnt
    check "cryptsetup close" cryptsetup close cdata
    if grep -qa "$secret" luks.img; then
        not_ok "the image does not contain the plaintext"
    else
        ok "the image does not contain the plaintext"
    fi
    if cryptsetup open --key-file wrongkey luks.img cdata >/dev/null 2>&1; then
        not_ok "cryptsetup open with a wrong key fails"
        cryptsetup close cdata
    else
        ok "cryptsetup open with a wrong key fails"
    fi
    check "cryptsetup open again" cryptsetup open --key-file key luks.img cdata
    check "mount it again" mount /dev/mapper/cdata mnt
    check "read the file back" test "$(cat mnt/secret 2>&1)" = "$secret"
    umount mnt
    check "cryptsetup close" cryptsetup close cdata

    # ---- everything released
    check "no device-mapper devices left" test -z "$(ls -d /sys/block/dm-* 2>/dev/null)"
    check "no loop devices left" test -z "$(losetup -a)"
    cd /
    rm -rf "$work"
    ok "the VM part ran to its end"
    exit "$failures"
fi

# ================================================================ on the host

BERTH_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BERTH_TOOLS:=$BERTH_SRCDIR/tools}"
self=$BERTH_SRCDIR/test/integration/${0##*/}
vm_run=$BERTH_TOOLS/vm-run.sh

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP not root"
    exit 0
fi

for p in veritysetup cryptsetup mkfs.ext4; do
    if ! command -v "$p" >/dev/null 2>&1; then
        echo "Bail out! $p not found (tools/install-deps.sh installs cryptsetup-bin and e2fsprogs)"
        exit 1
    fi
done

n=0
failed=0
pass() {
    n=$((n + 1))
    echo "ok $n - $1"
}
fail() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    [ "$#" -eq 0 ] || printf '%s\n' "$@" | sed 's/^/# /'
}

scratch=$(mktemp -d /tmp/berth-test-vm.XXXXXX) || { echo "Bail out! mktemp failed"; exit 1; }
cleanup() {
    rm -rf --one-file-system "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if "$vm_run" --prepare >"$scratch/prepare.out" 2>"$scratch/prepare.err"; then
    :
else
    rc=$?
    if [ "$rc" = 77 ]; then
        echo "1..0 # SKIP $(tail -n1 "$scratch/prepare.err")"
        exit 0
    fi
    echo "Bail out! vm-run.sh --prepare failed (exit status $rc): $(tail -n 20 "$scratch/prepare.err" | tr '\n' ' ')"
    exit 1
fi

# The VM sees the host's files, except under /tmp, /var/tmp and /run (fresh tmpfs there).
share_args=()
for p in "$self" "${BERTH_SPAWN:-}"; do
    case $p in
        /tmp/* | /var/tmp/* | /run/*) share_args+=("--share=$(dirname "$p")") ;;
    esac
done

# vm-run.sh makes its temporary directory in $TMPDIR: a private one shows leftovers.
mkdir "$scratch/tmp"
start=$(date +%s.%N)
TMPDIR=$scratch/tmp "$vm_run" --timeout=600 "${share_args[@]}" -- bash "$self" --in-vm \
    >"$scratch/out" 2>"$scratch/err"
rc=$?
end=$(date +%s.%N)
echo "# the VM ran for $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')s"

# renumber the VM's results
while IFS= read -r line; do
    case $line in
        "ok - "*) pass "${line#ok - }" ;;
        "not ok - "*)
            n=$((n + 1))
            failed=$((failed + 1))
            echo "not ok $n - ${line#not ok - }"
            ;;
        *) echo "# $line" ;;
    esac
done <"$scratch/out"

vm_failures=$(grep -c '^not ok - ' "$scratch/out")
if [ "$rc" = "$vm_failures" ]; then
    pass "vm-run.sh exits with the command's exit status ($rc)"
else
    fail "vm-run.sh exits with the command's exit status" \
        "exit status $rc, $vm_failures failures reported" "stderr:" "$(tail -n 40 "$scratch/err")"
fi
if ! grep -qx 'ok - the VM part ran to its end' "$scratch/out"; then
    fail "the VM part ran to its end" "stderr:" "$(tail -n 40 "$scratch/err")"
fi
if grep -qx "to stderr from the VM" "$scratch/err" && ! grep -q "to stderr from the VM" "$scratch/out"; then
    pass "the command's stderr comes out on stderr, apart from stdout"
else
    fail "the command's stderr comes out on stderr, apart from stdout" "$(head -c 2000 "$scratch/err")"
fi
left=$(ls -A "$scratch/tmp")
if [ -z "$left" ]; then
    pass "vm-run.sh removed its temporary directory"
else
    fail "vm-run.sh removed its temporary directory" "left: $left"
fi
procs=
for f in /proc/[0-9]*/cmdline; do
    { c=$(tr '\0' ' ' <"$f"); } 2>/dev/null
    case $c in *"$scratch/tmp"*) procs+="${f%/cmdline}: $c"$'\n' ;; esac
done
if [ -z "$procs" ]; then
    pass "no qemu (or other) process of the VM is left"
else
    fail "no qemu (or other) process of the VM is left" "$procs"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
