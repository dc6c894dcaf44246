#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthd's OpenRC script (units/berthd.openrc.in) with OpenRC as the service manager: the
# cached Debian tree with sysvinit-core as PID 1 and openrc in place of sysv-rc
# (make-debian-tree.sh --flavour=openrc; Debian's /etc/init.d/rc runs openrc for each
# runlevel), never modified (a tmpfs overlay on it), gets this build and the script
# installed. Then, driven through OpenRC's own tools:
#   - rc-service berthd start/status/stop: berthd, run by supervise-daemon, takes
#     org.freedesktop.machine1 on the guest's system bus after dbus (need dbus), is
#     started again when it dies, and lets the name go when stopped;
#   - berthctl enable inner (berthd's io.berth.Supervisor1: no systemd here) and
#     rc-update add berthd default, then a reboot of the outer machine: OpenRC starts
#     berthd at boot and berthd the enabled machine (what machines.target does under
#     systemd), a nested Debian booted with berth-spawn@.service's options;
#   - rc-service berthd stop leaves the machine running (berthd's SIGTERM), the next start
#     takes it over; berthctl poweroff ends it.
# The outer machine gets all capabilities (the nested berth-spawn makes a veth, a user
# namespace and idmapped mounts) and its own network namespace (--private-network).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/initrig-lib.sh"
setup

BERTH_TEST_TIMEOUT=120
initrig_root openrc units/berthd.openrc
if ! PLAIN_TREE=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path 2>"$SCRATCH/state/mkdeb.log"); then
    echo "Bail out! make-debian-tree.sh failed: $(tail -5 "$SCRATCH/state/mkdeb.log")"
    exit 1
fi
# the nested machine: a copy of the plain tree (booted -U: idmapped, so the copy's
# ownership stays)
cp -a "$PLAIN_TREE" "$SCRATCH/inner"

# ctl SCRIPT: a shell command line in the outer machine; stdout and stderr together
ctl() {
    in_guest sh -c "$1" 2>&1
}
# inner_leader: the nested machine's leader as berthd knows it (empty if not registered)
inner_leader() {
    ctl 'berthctl show inner -p Leader --value' | grep -x '[0-9]*'
}
# inner_state: the nested machine's systemd answers is-system-running (through the outer)
inner_state() {
    GUEST_TIMEOUT=90 ctl 'l=$(berthctl show inner -p Leader --value) &&
        nsenter -t "$l" -a -r -w systemctl is-system-running --wait'
}

# bus_up: the guest's system bus answers
bus_up() {
    in_guest dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.GetId >/dev/null 2>&1
}
# berthd_pid: berthd, the child of supervise-daemon (whose PID the pid file holds)
berthd_pid() {
    ctl 'pgrep -x -P "$(cat /run/berthd.pid)" berthd'
}

initrig_boot openrc --capability=all --bind="$SCRATCH/inner:/var/lib/machines/inner"
for i in $(seq 1 300); do
    bus_up && break
    sleep 0.1
done
expect_eq "OpenRC runs the default runlevel" default "$(in_guest cat /run/openrc/softlevel 2>&1)"
ok_if "OpenRC started dbus: the system bus answers" bus_up
if has_owner; then fail "berthd not started before it is added"; else pass "berthd not started before it is added"; fi

# ---- rc-service
ok_if "rc-service berthd start" in_guest rc-service berthd start
ok_if "berthd owns org.freedesktop.machine1 when rc-service returns" has_owner
expect_match "rc-service berthd status: started" 'status: started' "$(ctl 'rc-service berthd status')"
expect_eq "the pid file names supervise-daemon" supervise-daemon "$(ctl 'basename "$(readlink /proc/$(cat /run/berthd.pid)/exe)"')"
PID=$(berthd_pid)
ok_if "berthd runs as supervise-daemon's child" test -n "$PID"
expect_match "berthd writes its log" 'berthd' "$(ctl 'ls /var/log/berth')"
ok_if "berthctl list answers (from berthd)" in_guest berthctl list --no-legend
in_guest kill -KILL "$PID"
for i in $(seq 1 100); do
    NEW=$(berthd_pid)
    [ -n "$NEW" ] && [ "$NEW" != "$PID" ] && has_owner && break
    sleep 0.1
done
ok_if "berthd SIGKILLed: supervise-daemon starts it again, it owns the name" \
    sh -c '[ -n "$1" ] && [ "$1" != "$2" ]' sh "$NEW" "$PID"
ok_if "berthd SIGKILLed: owns the name again" has_owner
PID=$NEW
ok_if "rc-service berthd stop" in_guest rc-service berthd stop
if has_owner; then fail "stopped: the bus name is free"; else pass "stopped: the bus name is free"; fi
ok_if "stopped: berthd is gone" in_guest sh -c "! kill -0 $PID"
expect_fail "rc-service berthd status after stop: stopped" "stopped" in_guest rc-service berthd status

# ---- enable inner, add berthd to the default runlevel, reboot the outer machine
ok_if "rc-service berthd start (again)" in_guest rc-service berthd start
ok_if "berthctl enable inner (io.berth.Supervisor1)" in_guest berthctl enable inner
ok_if "berthctl enable: /etc/berth/machines.d/inner" in_guest test -e /etc/berth/machines.d/inner
ok_if "rc-update add berthd default" in_guest rc-update add berthd default
ok_if "rc-update: /etc/runlevels/default/berthd" in_guest test -L /etc/runlevels/default/berthd
OLD_LEADER=$LEADER
T0=$(date +%s)
in_guest /sbin/reboot >/dev/null 2>&1
LEADER=
for i in $(seq 1 1200); do
    for l in $(cat /proc/"$BG_PID"/task/"$BG_PID"/children 2>/dev/null); do
        [ "$l" != "$OLD_LEADER" ] && [ "$(cat /proc/"$l"/comm 2>/dev/null)" = init ] && LEADER=$l
    done
    [ -n "$LEADER" ] && break
    sleep 0.1
done
if [ -z "$LEADER" ]; then
    fail "reboot: the outer machine boots again in place (new PID 1)" "$(tail -5 "$INIT_ERR")"
    exit 1
fi
pass "reboot: the outer machine boots again in place (new PID 1)"
ok_if "after the reboot, OpenRC started berthd (it owns the name)" wait_owner 600
# OpenRC marks the service started only once its start() has returned, which can be a
# moment after supervise-daemon's berthd owns the name: poll for up to 10 s
for i in $(seq 1 100); do
    STATUS=$(ctl 'rc-service berthd status')
    [[ $STATUS == *"status: started"* ]] && break
    sleep 0.1
done
expect_match "after the reboot: rc-service berthd status: started" 'status: started' "$STATUS"
for i in $(seq 1 600); do
    [ -n "$(inner_leader)" ] && break
    sleep 0.1
done
expect_match "after the reboot: berthd started the enabled inner (berthctl list)" '^inner +container +berth' \
    "$(ctl 'berthctl list --no-legend')"
[ -n "$(inner_leader)" ] || diag "$(ctl 'tail -5 /var/log/berth/berthd.log /var/log/berth/inner.log')"
expect_eq "after the reboot: inner's systemd reaches running" running "$(inner_state)"
diag "reboot to inner running: $(( $(date +%s) - T0 )) s"
INNER=$(inner_leader)

# ---- rc-service berthd stop leaves the machine running; start takes it over
ok_if "rc-service berthd stop (inner running)" in_guest rc-service berthd stop
if has_owner; then fail "stopped: the bus name is free"; else pass "stopped: the bus name is free"; fi
ok_if "stopped: inner still runs (berthd's SIGTERM leaves machines alone)" in_guest sh -c "kill -0 $INNER"
ok_if "rc-service berthd start (inner running)" in_guest rc-service berthd start
expect_eq "started: berthd took inner over (same leader)" "$INNER" "$(inner_leader)"
ok_if "berthctl poweroff inner" in_guest berthctl poweroff inner
for i in $(seq 1 300); do
    [ -z "$(inner_leader)" ] && break
    sleep 0.1
done
expect_eq "inner powered off: berthd no longer lists it" "" "$(ctl 'berthctl list --no-legend | grep "^inner "')"
ok_if "inner powered off: its leader is gone" in_guest sh -c "! kill -0 $INNER"

initrig_poweroff
