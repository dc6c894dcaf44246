#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthd's shells and logins in a booted Debian guest (systemd inside, the cached tree of
# tools/make-debian-tree.sh, --ephemeral so it is never modified): the exit status of a
# command, a non-root user of the guest, the guest's own login prompt over the pty
# (util-linux login with PAM, inside), the real machinectl shell, and poweroff with
# systemd's signal.

source "$(dirname "$0")/lib.sh"
setup
[ -x "${BERTH_SPAWN:-}" ] || { echo "Bail out! berth-spawn not found at ${BERTH_SPAWN:-}"; exit 1; }
[ -x "${BERTHCTL:-}" ] || { echo "Bail out! berthctl not found at ${BERTHCTL:-}"; exit 1; }
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
PTY_DRIVER=$MD_SRCDIR/test/integration/pty-driver.py
DEB=$("$TOOLS/make-debian-tree.sh" --print-path 2>"$TMP/mkdeb.log") ||
    { echo "Bail out! make-debian-tree.sh failed: $(tail -3 "$TMP/mkdeb.log")"; exit 1; }

if start_berthd; then pass "berthd started"; else fail "berthd started"; finish; fi

NAME=$P-deb
timeout -k 5 240 "$BERTH_SPAWN" -q -b --ephemeral --register=yes -D "$DEB" -M "$NAME" --console=passive \
    </dev/null >"$TMP/spawn.out" 2>&1 &
SPAWN=$!
wait_until 30 mgr GetMachine s "$NAME"
LEADER=$(mprop "$NAME" Leader | awk '{ print $2 }')
# systemctl talks to the guest's manager on its private socket: wait for it first
wait_until 60 test -S "/proc/$LEADER/root/run/systemd/private"
STATE=$(timeout 120 env -u DBUS_SYSTEM_BUS_ADDRESS nsenter -t "$LEADER" -m -u -i -p -r -w systemctl is-system-running --wait 2>&1)
expect_eq "the Debian guest booted" running "$STATE"

in_shell "$NAME" /bin/sh -c 'exit 3' >/dev/null
expect_eq "berthctl shell NAME /bin/sh -c 'exit 3' in a systemd guest: 3" 3 "$?"
OUT=$(in_shell "nobody@$NAME" /bin/sh -c 'id -un; id -u')
expect_eq "a user of the guest (nobody, from its /etc/passwd)" "nobody
65534" "$OUT"

OUT=$(timeout 40 python3 "$PTY_DRIVER" --timeout 30 "expect:$NAME login: " 'send:\x1d\x1d\x1d' \
      -- "$BERTHCTL" login "$NAME" 2>&1)
RC=$?
expect_eq "login: the guest's own login prompt (with its hostname) over the pty" 0 "$RC"
[ "$RC" = 0 ] || diag "$(tail -5 <<<"$OUT")"

if command -v machinectl >/dev/null; then
    OUT=$(timeout 30 bash -c "$(declare -f mctl); mctl shell $NAME /bin/sh -c \"echo via-machinectl; id -u\"" </dev/null | tr -d '\r')
    expect_eq "the real machinectl shell in a systemd guest of berthd" "via-machinectl
0" "$OUT"
else
    skip "the real machinectl shell in a systemd guest of berthd" "no machinectl"
fi

timeout 10 "$BERTHCTL" poweroff "$NAME"
wait_until 60 machine_gone "$NAME"
ok_if "poweroff of a systemd guest: the machine is gone" machine_gone "$NAME"
wait "$SPAWN"
expect_eq "poweroff of a systemd guest: berth-spawn exits 0" 0 "$?"
ok_if "berthd sent systemd's signal unchanged" bash -c "! grep -q 'instead of' '$TMP/berthd.log'"
finish
