#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn --boot on a debootstrapped Debian tree (tools/make-debian-tree.sh, cached
# outside the repo): reaching "running" with no failed units, poweroff, reboot in place,
# SIGTERM and SIGKILL of berth-spawn, --notify-ready. The cached tree is never modified:
# every boot here is --volatile=overlay or --ephemeral.
. "$(dirname "$0")/lib.sh"
setup

BERTH_TEST_TIMEOUT=60
if ! DEB=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path 2>"$SCRATCH/state/mkdeb.log"); then
    echo "Bail out! make-debian-tree.sh failed: $(tail -5 "$SCRATCH/state/mkdeb.log")"
    exit 1
fi
diag "Debian tree: $DEB"
DEB_BEFORE=$(cd "$DEB" && find etc var -xdev -newer "$DEB/etc/os-release" -printf '%P %s\n' 2>/dev/null | sort | md5sum)
MID_BEFORE=$(cat "$DEB/etc/machine-id")
CGROOT=/sys/fs/cgroup/unified
[ -d "$CGROOT/machine.slice" ] || [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] || CGROOT=/sys/fs/cgroup

# in_machine LEADER CMD...: run CMD inside the machine's namespaces and root
in_machine() {
    local l=$1
    shift
    timeout -k 2 60 nsenter -t "$l" -m -u -i -p -C -r -w "$@"
}

# wait_systemd LEADER: until the guest's systemd is up far enough to answer systemctl
wait_systemd() {
    local i
    for i in $(seq 1 600); do
        [ -e /proc/"$1"/root/run/systemd/system ] && [ -S /proc/"$1"/root/run/systemd/private ] && return 0
        sleep 0.05
    done
    return 1
}

# boot NAME ARGS...: boot the Debian tree in the background, wait for "running"
boot() {
    local name=$1
    shift
    OUT=$SCRATCH/state/$name.out ERR=$SCRATCH/state/$name.err
    spawn_bg "$OUT" "$ERR" -D "$DEB" -b -M "$name" --console=read-only "$@"
    LEADER=$(leader_of "$BG_PID")
    wait_systemd "$LEADER"
    STATE=$(in_machine "$LEADER" systemctl is-system-running --wait 2>&1)
    FAILED=$(in_machine "$LEADER" systemctl --failed --no-legend --plain 2>&1)
}

expect_booted() {
    expect_eq "$1: systemctl is-system-running" running "$STATE"
    expect_eq "$1: no failed units" "" "$FAILED"
}

# ---- boot, look around, power off from inside
UUID=0b8c6d1ef6f44a4c9b4f1f2e3d4c5b6a
boot deb-a --volatile=overlay --uuid=$UUID
expect_booted "--volatile=overlay boot"
expect_eq "hostname is the machine name" deb-a "$(in_machine "$LEADER" hostname)"
expect_eq "machine-id comes from --uuid" "$UUID" "$(in_machine "$LEADER" cat /etc/machine-id)"
expect_eq "systemd sees a container" container-other "$(in_machine "$LEADER" systemd-detect-virt 2>&1)"
expect_eq "/run/host/container-manager" berth "$(in_machine "$LEADER" cat /run/host/container-manager)"
expect_eq "/sys/fs/cgroup is a cgroup2 of the machine's own" cgroup2fs "$(in_machine "$LEADER" stat -fc %T /sys/fs/cgroup)"
ok_if "the guest's systemd manages its cgroup subtree (init.scope, system.slice)" \
    in_machine "$LEADER" test -d /sys/fs/cgroup/init.scope -a -d /sys/fs/cgroup/system.slice
ok_if "the machine's cgroup exists on the host" test -d "$CGROOT/machine.slice/machine-deb\\x2da.scope"
JOURNAL_ERRORS=$(in_machine "$LEADER" journalctl -b -p err --no-pager -q 2>&1 | grep -iE 'cgroup|/sys|/dev' || true)
expect_eq "no errors about cgroups, /sys or /dev in the guest's journal" "" "$JOURNAL_ERRORS"
in_machine "$LEADER" systemctl poweroff >/dev/null 2>&1
wait_bg "$OUT" "$ERR" 30
expect_rc "systemctl poweroff inside ends berth-spawn with status 0" 0
ok_if "the machine's cgroup is removed" test ! -e "$CGROOT/machine.slice/machine-deb\\x2da.scope"
ok_if "boot messages reach the console (read-only console)" grep -q "Reached target" "$OUT"

# ---- SIGTERM to berth-spawn powers the machine off cleanly (SIGRTMIN+3)
boot deb-b --ephemeral
expect_booted "--ephemeral boot"
kill -TERM "$BG_PID"
wait_bg "$OUT" "$ERR" 30
expect_rc "SIGTERM to berth-spawn: clean poweroff, status 0" 0
ok_if "the guest shut down (systemd reached the shutdown target)" grep -qE "^(Halting system|Powering off)" "$OUT"

# ---- SIGTERM in the guest's first moments, before systemd has a handler for SIGRTMIN+3
# (a PID 1 drops signals it does not handle yet): berth-spawn sends it again until it takes
OUT=$SCRATCH/state/deb-t.out ERR=$SCRATCH/state/deb-t.err
spawn_bg "$OUT" "$ERR" -D "$DEB" -b -M deb-t --console=read-only --volatile=overlay
LEADER=$(leader_of "$BG_PID")
kill -TERM "$BG_PID"
wait_bg "$OUT" "$ERR" 40
expect_rc "SIGTERM as the guest starts: clean poweroff, status 0" 0

# ---- reboot in place
boot deb-c --volatile=overlay
expect_booted "boot before reboot"
OLD_LEADER=$LEADER
in_machine "$LEADER" systemctl reboot >/dev/null 2>&1
NEW_LEADER=
for i in $(seq 1 200); do
    NEW_LEADER=$(awk '{print $1}' /proc/"$BG_PID"/task/"$BG_PID"/children 2>/dev/null)
    [ -n "$NEW_LEADER" ] && [ "$NEW_LEADER" != "$OLD_LEADER" ] && break
    sleep 0.05
done
ok_if "systemctl reboot: the same berth-spawn starts a new PID 1" test -n "$NEW_LEADER" -a "$NEW_LEADER" != "$OLD_LEADER"
wait_systemd "$NEW_LEADER"
STATE=$(in_machine "$NEW_LEADER" systemctl is-system-running --wait 2>&1)
expect_eq "after reboot: running again" running "$STATE"
in_machine "$NEW_LEADER" systemctl poweroff >/dev/null 2>&1
wait_bg "$OUT" "$ERR" 30
expect_rc "poweroff after reboot: status 0" 0

# ---- SIGKILL of berth-spawn: the machine dies with it
boot deb-d --volatile=overlay
expect_booted "boot before SIGKILL"
kill -KILL "$BG_PID"
wait_bg "$OUT" "$ERR" 10
for i in $(seq 1 100); do kill -0 "$LEADER" 2>/dev/null || break; sleep 0.05; done
ok_if "SIGKILL of berth-spawn: the machine's PID 1 is gone" test ! -e /proc/"$LEADER"
# the stale cgroup is reclaimed by the next start of a machine of that name
boot deb-d --volatile=overlay
expect_booted "a machine of the same name boots again after a SIGKILL"
kill -TERM "$BG_PID"
wait_bg "$OUT" "$ERR" 30
expect_rc "and powers off" 0
ok_if "no cgroup left for deb-d" test ! -e "$CGROOT/machine.slice/machine-deb\\x2dd.scope"

# ---- --notify-ready: READY=1 is relayed only once the guest is up
notify_listen() {
    # a private supervisor socket; prints the first READY=1 line it receives
    "$PYTHON" - "$1" >/dev/null <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
while True:
    m = s.recv(4096).decode()
    if "READY=1" in m.split("\n"):
        print("READY", flush=True)
        break
PY
    NOTIFY_PID=$!
    for i in $(seq 1 100); do [ -S "$1" ] && break; sleep 0.02; done
}
notify_listen "$SCRATCH/state/notify.sock"
NOTIFY_SOCKET=$SCRATCH/state/notify.sock boot deb-e --volatile=overlay --notify-ready=yes
wait "$NOTIFY_PID"
expect_eq "--notify-ready=yes: READY=1 reaches our supervisor" 0 "$?"
expect_booted "--notify-ready=yes boot"
kill -TERM "$BG_PID"
wait_bg "$OUT" "$ERR" 30
expect_rc "--notify-ready machine powers off" 0

# ---- arguments after the tree go to init
boot deb-g --volatile=overlay systemd.show_status=no
expect_booted "boot with an init argument"
expect_eq "init received the argument" "/usr/lib/systemd/systemd systemd.show_status=no" \
    "$(tr '\0' ' ' </proc/"$LEADER"/cmdline | sed 's/ $//')"
kill -TERM "$BG_PID"
wait_bg "$OUT" "$ERR" 30
expect_rc "and powers off" 0

# ---- interactive console: the guest's getty shows a login prompt; ^]^]^] kills it
SPAWN_TIMEOUT=60 run_pty --rows 30 --cols 100 "expect:deb-f login: " "sleep:0.2" "send:\\x1d\\x1d\\x1d" -- \
    "$BERTH_SPAWN" -q -D "$DEB" -b -M deb-f --volatile=overlay
ok_if "interactive boot: the console getty prints a login prompt" grep -q "deb-f login:" <<<"$OUTPUT"
expect_rc "interactive boot: ^]^]^] kills the machine (128+SIGKILL)" 137
ok_if "no cgroup left for deb-f" test ! -e "$CGROOT/machine.slice/machine-deb\\x2df.scope"

# ---- the cached tree was not touched
DEB_AFTER=$(cd "$DEB" && find etc var -xdev -newer "$DEB/etc/os-release" -printf '%P %s\n' 2>/dev/null | sort | md5sum)
expect_eq "the Debian tree is unchanged (machine-id)" "$MID_BEFORE" "$(cat "$DEB/etc/machine-id")"
expect_eq "the Debian tree is unchanged (/etc, /var)" "$DEB_BEFORE" "$DEB_AFTER"
ok_if "no ephemeral snapshot or overlay work dir left next to the tree" \
    test -z "$(find "$(dirname "$DEB")" -maxdepth 1 -name '.#*berth*' 2>/dev/null)"
