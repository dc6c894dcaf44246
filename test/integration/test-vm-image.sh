#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-vm-image.sh — berth-spawn -i where this host cannot show it: in a qemu VM with a
# Debian kernel (tools/vm-run.sh), which has device-mapper, the GPT and MBR partition
# parsers and vfat. dm-verity (a GPT root + root-verity pair found by the root hash's
# halves, IMAGE.roothash, --root-hash=, a bare image with IMAGE.verity; a corrupted block
# is an I/O error inside, a wrong hash a one-line failure), LUKS2 (--key-file=, a wrong
# key), the kernel's own partition scan, an ESP on /efi, and the release of every loop and
# dm device: at exit, after SIGKILL of berth-spawn, and stale devices of a killed run.
#
# The host part boots one VM running this script with --in-vm and numbers its results.
set -u
export LC_ALL=C

ROOT_TYPE=4f68bce3-e8cd-4db1-96e7-fbcaf984b709
ROOT_VERITY_TYPE=2c7357ed-ebd2-46d9-aec1-23d437ec2bf5
ESP_TYPE=c12a7328-f81f-11d2-ba4b-00a0c93ec93b

# ================================================================ in the VM

BERTH_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BERTH_TOOLS:=$BERTH_SRCDIR/tools}"
export BERTH_TOOLS
# shellcheck source=test/integration/vm-lib.sh
. "$BERTH_SRCDIR/test/integration/vm-lib.sh"

if [ "${1:-}" = --in-vm ]; then
    # spawn ARGS...: run berth-spawn, OUT/ERR/RC set
    spawn() {
        OUT=$("$BERTH_SPAWN" -q --register=no --console=pipe "$@" 2>"$work/err")
        RC=$?
        ERR=$(cat "$work/err")
    }
    expect_run() {
        if [ "$RC" = 0 ]; then pass "$1"; else fail "$1" "exit status $RC" "$ERR" "$OUT"; fi
    }
    # expect_fail ERE DESC: exit status 1, one line on stderr matching ERE
    expect_fail() {
        local n
        n=$(grep -c '' <<<"$ERR")
        if [ "$RC" = 1 ] && [ "$n" = 1 ] && grep -qE "$1" <<<"$ERR"; then
            pass "$2: $ERR"
        else
            fail "$2" "exit status $RC, $n lines on stderr, expected /$1/" "$ERR"
        fi
    }
    # released DESC: no berth dm device and no loop device left (polled: both go with the
    # last mount, which goes with the machine's last process)
    released() {
        local i left
        for i in $(seq 30); do
            left=$(ls /dev/mapper 2>/dev/null | grep '^berth-'; losetup -a)
            [ -z "$left" ] && break
            sleep 0.1
        done
        if [ -z "$left" ]; then pass "$1: no loop or dm device left"; else fail "$1: no loop or dm device left" "$left"; fi
    }
    # "FSTYPE SOURCE rw|ro" of the machine's /, from its mountinfo
    mountinfo_root() {
        awk '$5 == "/" { for (i = 7; i < NF; i++) if ($i == "-") { split($6, o, ","); print $(i + 1), $(i + 2), o[1]; exit } }' <<<"$OUT"
    }
    # uuid HEX32: 8-4-4-4-12
    uuid() { echo "${1:0:8}-${1:8:4}-${1:12:4}-${1:16:4}-${1:20:12}"; }
    # gpt OUT PART...: a GPT image of the files PART ("FILE:TYPE[:UUID]"), 1 MiB aligned
    gpt() {
        local out=$1 start=2048 spec="label: gpt" p f t u sectors
        shift
        for p in "$@"; do
            IFS=: read -r f t u <<<"$p"
            sectors=$(( ($(stat -c %s "$f") + 1048575) / 1048576 * 2048 ))
            spec+=$'\n'"start=$start, size=$sectors, type=$t${u:+, uuid=$u}"
            start=$((start + sectors))
        done
        truncate -s $(( (start + 2048) * 512 )) "$out"
        sfdisk -q "$out" <<<"$spec" >/dev/null || return 1
        start=2048
        for p in "$@"; do
            IFS=: read -r f t u <<<"$p"
            dd if="$f" of="$out" bs=512 seek="$start" conv=notrunc status=none
            start=$((start + ( $(stat -c %s "$f") + 1048575) / 1048576 * 2048 ))
        done
    }

    work=$(mktemp -d /tmp/vm-image.XXXXXX)
    cd "$work" || exit 99
    echo "to stderr from the VM" >&2
    if [ -z "${BERTH_SPAWN:-}" ] || ! [ -x "$BERTH_SPAWN" ]; then
        fail "BERTH_SPAWN is set and executable in the VM" "${BERTH_SPAWN:-unset}"
        exit 1
    fi

    sh "$BERTH_TOOLS/make-busybox-tree.sh" tree >/dev/null || { fail "make the busybox tree"; exit 1; }
    marker="berth-vm-image-marker-$RANDOM$RANDOM"
    { echo "$marker"; head -c 16384 /dev/zero | tr '\0' v; echo; } >tree/file
    mkdir -p tree/efi
    PROBE='cat /proc/self/mountinfo; echo "FILE $(head -n1 /file)"'

    # ---- plain GPT: the kernel finds the partition itself (this kernel has the parser)
    ok_if "mkfs.ext4 the root file system" mkfs.ext4 -q -b 4096 -d tree root.ext4 24M
    ok_if "a GPT image with a root partition" gpt plain.raw "root.ext4:$ROOT_TYPE"
    spawn -i plain.raw /bin/sh -c "$PROBE"
    expect_run "plain GPT image runs"
    if grep -q "^FILE $marker" <<<"$OUT" && [[ "$(mountinfo_root)" == "ext4 /dev/loop"*"p1 rw" ]]; then
        pass "plain GPT: / is the root partition as the kernel's scan found it ($(mountinfo_root))"
    else
        fail "plain GPT: / is the root partition" "$(mountinfo_root)" "$OUT"
    fi
    released "plain GPT"

    # ---- an ESP (vfat: this host's own kernel has none) goes to /efi
    if command -v mkfs.vfat >/dev/null; then
        truncate -s 8M esp.vfat && mkfs.vfat -n ESP esp.vfat >/dev/null
        ok_if "a GPT image with root and an ESP" gpt esp.raw "root.ext4:$ROOT_TYPE" "esp.vfat:$ESP_TYPE"
        spawn -i esp.raw /bin/sh -c "$PROBE"
        expect_run "GPT image with an ESP runs"
        if grep -qE '^[0-9]+ [0-9]+ [0-9:]+ / /efi .* - vfat ' <<<"$OUT"; then
            pass "the ESP is mounted on /efi (vfat)"
        else
            fail "the ESP is mounted on /efi (vfat)" "$OUT"
        fi
        released "ESP"
    fi

    # ---- dm-verity: a GPT with root + root-verity, found by the root hash
    cp root.ext4 vroot.ext4
    ok_if "veritysetup format" sh -c 'veritysetup format vroot.ext4 vhash.img >vformat.out'
    roothash=$(sed -n 's/^Root hash:[[:space:]]*//p' vformat.out)
    ok_if "a GPT image with root and root-verity named by the root hash" \
        gpt verity.raw "vroot.ext4:$ROOT_TYPE:$(uuid "${roothash:0:32}")" "vhash.img:$ROOT_VERITY_TYPE:$(uuid "${roothash:32:32}")"
    echo "$roothash" >verity.roothash
    spawn -i verity.raw /bin/sh -c "$PROBE; touch /x 2>/dev/null && echo WRITABLE || echo READONLY"
    if [ "$RC" = 0 ] && grep -q "^FILE $marker" <<<"$OUT" && grep -qx READONLY <<<"$OUT"; then
        pass "verity image (IMAGE.roothash) runs, reads its files, cannot write them"
    else
        fail "verity image (IMAGE.roothash) runs and reads its files" "exit status $RC" "$ERR" "$OUT"
    fi
    if [[ "$(mountinfo_root)" == "ext4 /dev/mapper/berth-verity-root-verity-"*" ro" ]]; then
        pass "verity: / is read-only on the dm-verity device ($(mountinfo_root))"
    else
        fail "verity: / is read-only on the dm-verity device" "$(mountinfo_root)"
    fi
    released "verity"

    cp verity.raw verity2.raw
    spawn -i verity2.raw --root-hash="$roothash" /bin/sh -c "$PROBE"
    if [ "$RC" = 0 ] && [[ "$(mountinfo_root)" == "ext4 /dev/mapper/berth-"* ]]; then
        pass "verity with --root-hash= (no IMAGE.roothash)"
    else
        fail "verity with --root-hash= (no IMAGE.roothash)" "exit status $RC" "$ERR" "$(mountinfo_root)"
    fi
    released "verity --root-hash="

    # ---- --root-hash-sig=: the kernel verifies the PKCS#7 signature of the root hash (hex)
    # against its trusted keyrings (builtin, secondary). A throwaway key cannot be put there
    # (the secondary keyring only takes keys signed by a trusted one; Debian's 6.1 kernel has
    # no dm-verity platform keyring), so what is tested is that a signature the kernel cannot
    # trust, or one that is not PKCS#7 at all, is refused and nothing runs. A signature that
    # is accepted needs a kernel built with the signer's certificate.
    if openssl req -x509 -newkey rsa:2048 -nodes -keyout sig.key -out sig.crt -subj /CN=berth-test -days 1 \
            >/dev/null 2>&1 &&
        printf %s "$roothash" | openssl smime -sign -nocerts -noattr -binary -inkey sig.key -signer sig.crt \
            -outform der -out sig.p7s 2>/dev/null &&
        printf %s "$roothash" | openssl smime -verify -binary -inform der -in sig.p7s -content /dev/stdin \
            -certfile sig.crt -CAfile sig.crt -purpose any >/dev/null 2>&1; then
        pass "openssl signs the root hash with a throwaway key (and verifies it)"
        spawn -i verity2.raw --root-hash="$roothash" --root-hash-sig="$work/sig.p7s" /bin/sh -c 'echo RAN'
        expect_fail "refused dm-verity with the root hash signature" "--root-hash-sig=PATH by an untrusted key: refused"
        if grep -q RAN <<<"$OUT"; then fail "--root-hash-sig=PATH: nothing ran" "$OUT"; else pass "--root-hash-sig=PATH: nothing ran"; fi
        # the refusal is the kernel's signature check (libcryptsetup reports it as ENODEV)
        if dmesg | grep -q 'verity: Root hash verification failed (-ENOKEY)'; then
            pass "the kernel checked the signature: no trusted key for its signer (ENOKEY)"
        else
            fail "the kernel checked the signature: no trusted key for its signer (ENOKEY)" "$(dmesg | grep -i verity | tail -n 5)"
        fi
        released "--root-hash-sig=PATH"
        spawn -i verity2.raw --root-hash="$roothash" --root-hash-sig="base64:$(base64 -w0 sig.p7s)" /bin/true
        expect_fail "refused dm-verity with the root hash signature" "--root-hash-sig=base64: by an untrusted key: refused"
        cp sig.p7s verity2.roothash.p7s
        spawn -i verity2.raw --root-hash="$roothash" /bin/true
        expect_fail "refused dm-verity with the root hash signature" "IMAGE.roothash.p7s is used: refused"
        rm -f verity2.roothash.p7s
        released "IMAGE.roothash.p7s"
    else
        fail "openssl signs the root hash with a throwaway key (and verifies it)"
    fi
    nfail=$(dmesg | grep -c 'verity: Root hash verification failed')
    spawn -i verity2.raw --root-hash="$roothash" --root-hash-sig=base64:bm90IGEgc2lnbmF0dXJl /bin/true
    expect_fail "refused dm-verity with the root hash signature" "--root-hash-sig= that is not PKCS#7: refused"
    if [ "$(dmesg | grep -c 'verity: Root hash verification failed')" -gt "$nfail" ]; then
        pass "... by the kernel's check: $(dmesg | grep 'verity: Root hash verification failed' | tail -n 1 | sed 's/^\[[^]]*\] //')"
    else
        fail "... by the kernel's check" "$(dmesg | grep -i verity | tail -n 5)"
    fi
    released "--root-hash-sig= not PKCS#7"
    spawn -i verity2.raw --root-hash="$roothash" /bin/sh -c 'echo RAN'
    if [ "$RC" = 0 ] && [ "$OUT" = RAN ]; then
        pass "the same image without a signature still runs"
    else
        fail "the same image without a signature still runs" "$RC" "$ERR" "$OUT"
    fi
    released "verity, no signature"

    spawn -i verity2.raw -x /bin/sh -c 'echo w >/written && cat /written'
    if [ "$RC" = 0 ] && [ "$OUT" = w ]; then pass "verity image with --ephemeral: writable overlay"; else fail "verity image with --ephemeral" "$RC" "$ERR" "$OUT"; fi
    released "verity --ephemeral"

    spawn -i verity2.raw --root-hash="$(printf '%064d' 7)" /bin/true
    expect_fail "no root and root-verity partitions match the root hash" "verity: a root hash of another image"

    # a corrupted block of /file: an I/O error inside, never the unverified data
    off=$(grep -obUa "$marker" verity2.raw | head -n1 | cut -d: -f1)
    if [ -n "$off" ]; then
        printf 'CORRUPTED' | dd of=verity2.raw bs=1 seek="$off" conv=notrunc status=none
        echo 3 >/proc/sys/vm/drop_caches
        spawn -i verity2.raw --root-hash="$roothash" /bin/sh -c 'cat /file; echo "cat: $?"'
        if grep -q "Input/output error" <<<"$OUT$ERR" && ! grep -q CORRUPTED <<<"$OUT" && grep -q 'cat: 1' <<<"$OUT"; then
            pass "verity: a corrupted block reads as an I/O error inside the machine"
        else
            fail "verity: a corrupted block reads as an I/O error inside the machine" "$OUT" "$ERR"
        fi
        released "verity, corrupted"
    else
        fail "found /file's data in the verity image"
    fi

    # ---- a bare file system with its hash tree beside it (IMAGE.verity)
    cp root.ext4 bare.raw
    ok_if "veritysetup format a bare image" sh -c 'veritysetup format bare.raw bare.verity >bformat.out'
    bhash=$(sed -n 's/^Root hash:[[:space:]]*//p' bformat.out)
    echo "$bhash" >bare.roothash
    spawn -i bare.raw /bin/sh -c "$PROBE"
    if [ "$RC" = 0 ] && [[ "$(mountinfo_root)" == "ext4 /dev/mapper/berth-"*" ro" ]]; then
        pass "bare image with IMAGE.verity and IMAGE.roothash runs on dm-verity"
    else
        fail "bare image with IMAGE.verity and IMAGE.roothash runs on dm-verity" "exit status $RC" "$ERR" "$(mountinfo_root)"
    fi
    released "bare verity"
    rm -f bare.roothash
    spawn -i bare.raw --root-hash="$(printf '%064d' 9)" /bin/true
    expect_fail "fails verification|wrong root hash" "bare image with a wrong root hash"
    released "bare verity, wrong root hash"

    # ---- LUKS2 root partition
    head -c 64 /dev/urandom >key
    head -c 64 /dev/urandom >wrongkey
    truncate -s 40M luks.part
    ok_if "luksFormat a LUKS2 root partition" cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 \
        --pbkdf-force-iterations 1000 --key-file key luks.part
    ok_if "open it" cryptsetup open --key-file key luks.part mkluks
    ok_if "mkfs.ext4 -d the tree inside" mkfs.ext4 -q -d tree /dev/mapper/mkluks
    ok_if "close it" cryptsetup close mkluks
    ok_if "a GPT image with the LUKS2 root partition" gpt luks.raw "luks.part:$ROOT_TYPE"
    spawn -i luks.raw --key-file=key /bin/sh -c "$PROBE"
    if [ "$RC" = 0 ] && grep -q "^FILE $marker" <<<"$OUT" && [[ "$(mountinfo_root)" == "ext4 /dev/mapper/berth-luks-root-crypt-"*" rw" ]]; then
        pass "LUKS2 root with --key-file= runs on dm-crypt ($(mountinfo_root))"
    else
        fail "LUKS2 root with --key-file= runs on dm-crypt" "exit status $RC" "$ERR" "$(mountinfo_root)"
    fi
    released "LUKS2"
    spawn -i luks.raw --key-file=wrongkey /bin/true
    expect_fail "wrong passphrase for partition 1 \(root\)" "LUKS2 with a wrong key"
    released "LUKS2, wrong key"

    # ---- SIGKILL of berth-spawn: the machine dies, loop and dm devices go with the mounts
    "$BERTH_SPAWN" -q --register=no --console=pipe -i luks.raw --key-file=key /bin/sleep 600 >/dev/null 2>&1 &
    pid=$!
    for i in $(seq 100); do
        ls /dev/mapper 2>/dev/null | grep -q '^berth-luks-' && break
        sleep 0.1
    done
    sleep 0.5
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    released "SIGKILL of berth-spawn"

    # ---- a stale dm device of a killed run is removed by the next start that uses dm
    ok_if "a stale berth verity device" veritysetup open vroot.ext4 berth-stale-root-verity-00000000 vhash.img "$roothash"
    spawn -i verity.raw /bin/true
    expect_run "a verity image runs next to a stale device"
    if ! [ -e /dev/mapper/berth-stale-root-verity-00000000 ]; then
        pass "the next start removed the stale device"
    else
        fail "the next start removed the stale device" "$(ls /dev/mapper)"
        veritysetup close berth-stale-root-verity-00000000
    fi
    released "stale device sweep"

    cd /
    rm -rf "$work"
    pass "the VM part ran to its end"
    exit "$failures"
fi

# ================================================================ on the host

if [ -z "${BERTH_SPAWN:-}" ]; then
    echo "Bail out! BERTH_SPAWN is not set"
    exit 1
fi
vm_host_main "$BERTH_SRCDIR/test/integration/${0##*/}" veritysetup cryptsetup mkfs.ext4 sfdisk openssl
