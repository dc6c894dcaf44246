#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthd's LSB init script (units/berthd.init.in) on a host without systemd: the cached
# Debian tree with sysvinit-core as PID 1 (make-debian-tree.sh --flavour=sysvinit, never
# modified: a tmpfs overlay on it) gets this build installed (meson install --destdir) and
# the script enabled with update-rc.d before it boots; then berthd must be up after boot,
# owning org.freedesktop.machine1 on the guest's system bus, and the script's status, stop
# and start must do what they say.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/initrig-lib.sh"
setup

BERTH_TEST_TIMEOUT=90
# ---- the root: an overlay with berth installed and its init script enabled
initrig_root sysvinit units/berthd.init
ok_if "update-rc.d berthd defaults" chroot "$SCRATCH/root" update-rc.d berthd defaults
ok_if "berthd starts in runlevel 2 after dbus" \
    sh -c 'ls "$1"/etc/rc2.d | grep -n "dbus$\|berthd$" | awk -F: "NR==1 && /dbus/ {d=1} NR==2 && /berthd/ && d {ok=1} END {exit !ok}"' \
    sh "$SCRATCH/root"

initrig_boot sysv
ok_if "after boot, berthd owns org.freedesktop.machine1 on the guest's bus" wait_owner
ok_if "/etc/init.d/berthd status: running" in_guest /etc/init.d/berthd status
ok_if "berthd answers ListMachines (the host entry)" sh -c "
    timeout 10 nsenter -t $LEADER -m -u -i -n -p -C -r -w dbus-send --system --print-reply \
        --dest=org.freedesktop.machine1 /org/freedesktop/machine1 \
        org.freedesktop.machine1.Manager.ListMachines | grep -q '\".host\"'"
PID=$(in_guest cat /run/berthd.pid)
expect_eq "the pid file names berthd" berthd "$(in_guest cat /proc/"$PID"/comm 2>&1)"
ok_if "/etc/init.d/berthd stop" in_guest /etc/init.d/berthd stop
if has_owner; then fail "stopped: the bus name is free"; else pass "stopped: the bus name is free"; fi
expect_fail "status after stop: not running" "not running" in_guest /etc/init.d/berthd status
ok_if "/etc/init.d/berthd start" in_guest /etc/init.d/berthd start
ok_if "started again: berthd owns the name" has_owner

initrig_poweroff
