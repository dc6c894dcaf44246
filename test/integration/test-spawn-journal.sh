#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn --link-journal=: the host side is a tmpfs over /var/log in this test's
# private mount namespace, so the host's real journal directory is never touched.
. "$(dirname "$0")/lib.sh"
setup

mount -t tmpfs berth-test-varlog /var/log
mkdir /var/log/journal
mkdir -p "$TREE/var/log"
ID1=11111111222233334444555555555555
ID2=aaaaaaaa222233334444555555555555

run_payload --uuid=$ID1 --link-journal=host -- mounts
expect_rc "--link-journal=host runs" 0
ok_if "host: the host directory /var/log/journal/ID is created" test -d /var/log/journal/$ID1
expect_match "host: it is bind-mounted into the machine at the same place" "/var/log/journal/$ID1" "$OUTPUT"

echo marker >/var/log/journal/$ID1/from-host
run_spawn -P -D "$TREE" --uuid=$ID1 /bin/cat /var/log/journal/$ID1/from-host
expect_eq "auto: an existing host directory is bound again" marker "$OUTPUT"

run_payload --uuid=$ID2 --link-journal=guest -- status
expect_rc "--link-journal=guest runs" 0
expect_eq "guest: the host gets a symlink to the tree's directory" "$TREE/var/log/journal/$ID2" \
    "$(readlink /var/log/journal/$ID2)"
ok_if "guest: the directory exists in the tree" test -d "$TREE/var/log/journal/$ID2"
run_payload --uuid=$ID2 --link-journal=guest -- status
expect_rc "guest: a second start with the link in place is fine" 0
run_payload --uuid=$ID2 --link-journal=host -- status
expect_rc "host where a guest link exists: refused" 1
run_payload --uuid=$ID2 --link-journal=try-host -- mounts
expect_rc "try-host where a guest link exists: runs" 0
expect_no_match "... without linking: no journal bind mount inside" "/var/log/journal" "$OUTPUT"
expect_eq "... and the guest link on the host is left as it was" "$TREE/var/log/journal/$ID2" \
    "$(readlink /var/log/journal/$ID2)"

echo 0123456789abcdef0123456789abcdef >"$TREE/etc/machine-id"
run_payload --link-journal=guest -- status
ok_if "the tree's own /etc/machine-id names the directory" test -L /var/log/journal/0123456789abcdef0123456789abcdef
rm -f "$TREE/etc/machine-id"

rmdir /var/log/journal 2>/dev/null || rm -rf /var/log/journal
run_payload --link-journal=guest -- status
expect_rc "guest without a persistent journal on the host: refused" 1
expect_match "... saying why" "no persistent journal" "$ERROUT"
run_payload --link-journal=try-guest -- status
expect_rc "try-guest without a persistent journal: runs" 0
run_payload -j -- status
expect_rc "-j (try-guest) without a persistent journal: runs" 0
run_payload --link-journal=sometimes -- status
expect_rc "an unknown mode is refused" 1

# ---- a booted guest writes its journal into the host's directory
mkdir /var/log/journal
if DEB=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path 2>/dev/null); then
    ID3=0b8c6d1ef6f44a4c9b4f1f2e3d4c5b6b
    spawn_bg "$SCRATCH/state/j.out" "$SCRATCH/state/j.err" -D "$DEB" -b -M jdeb --volatile=overlay \
        --uuid=$ID3 --link-journal=host --console=passive
    for i in $(seq 1 400); do
        L=$(awk '{print $1}' /proc/"$BG_PID"/task/"$BG_PID"/children 2>/dev/null)
        [ -n "$L" ] && [ -S /proc/"$L"/root/run/systemd/private ] && break
        sleep 0.05
    done
    timeout 60 nsenter -t "$L" -a -r -w systemctl is-system-running --wait >/dev/null 2>&1
    timeout 20 nsenter -t "$L" -a -r -w journalctl --flush >/dev/null 2>&1
    ok_if "host: the booted guest's journal files land on the host" test -e /var/log/journal/$ID3/system.journal
    kill -TERM "$BG_PID"
    wait_bg "$SCRATCH/state/j.out" "$SCRATCH/state/j.err" 30
    expect_rc "the guest powers off" 0
else
    skip "journal of a booted guest" "no Debian tree"
fi

umount /var/log
