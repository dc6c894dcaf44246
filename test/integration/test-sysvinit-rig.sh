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
setup

BERTH_TEST_TIMEOUT=90
if ! SYSV_TREE=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path --flavour=sysvinit 2>"$SCRATCH/state/mkdeb.log"); then
    echo "Bail out! make-debian-tree.sh --flavour=sysvinit failed: $(tail -5 "$SCRATCH/state/mkdeb.log")"
    exit 1
fi
diag "tree: $SYSV_TREE"
STAMP_BEFORE=$(stat -c %Y "$SYSV_TREE" "$SYSV_TREE/etc" "$SYSV_TREE/etc/init.d")

# ---- the root: an overlay with berth installed and its init script enabled
overlay_tree "$SYSV_TREE" "$SCRATCH/root" || { echo "Bail out! no overlay of $SYSV_TREE"; exit 1; }
if ! stage_berth "$SCRATCH/stage"; then
    echo "Bail out! meson install --destdir failed: $(tail -3 "$SCRATCH/state/install.log")"
    exit 1
fi
tar -C "$SCRATCH/stage" -c . | tar -C "$SCRATCH/root" -x --keep-directory-symlink
install -m 0755 "$BERTH_BUILD_ROOT/units/berthd.init" "$SCRATCH/root/etc/init.d/berthd"
ok_if "update-rc.d berthd defaults" chroot "$SCRATCH/root" update-rc.d berthd defaults
ok_if "berthd starts in runlevel 2 after dbus" \
    sh -c 'ls "$1"/etc/rc2.d | grep -n "dbus$\|berthd$" | awk -F: "NR==1 && /dbus/ {d=1} NR==2 && /berthd/ && d {ok=1} END {exit !ok}"' \
    sh "$SCRATCH/root"

has_owner() {
    in_guest dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.machine1 2>&1 | grep -q 'boolean true'
}

OUT=$SCRATCH/state/sysv.out ERR=$SCRATCH/state/sysv.err
spawn_bg "$OUT" "$ERR" -D "$SCRATCH/root" -b -M sysv --console=read-only --private-network
if ! LEADER=$(leader_of "$BG_PID"); then
    fail "the sysvinit machine starts" "$(cat "$ERR")"
    exit 1
fi
expect_eq "PID 1 is sysvinit's init" init "$(cat /proc/"$LEADER"/comm)"
for i in $(seq 1 400); do
    has_owner && break
    sleep 0.1
done
ok_if "after boot, berthd owns org.freedesktop.machine1 on the guest's bus" has_owner
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

in_guest /sbin/poweroff >/dev/null 2>&1 || in_guest /sbin/init 0 >/dev/null 2>&1
wait_bg "$OUT" "$ERR" 60
expect_rc "poweroff inside ends berth-spawn with status 0" 0
umount "$SCRATCH/root" "$SCRATCH/root.ov"
expect_eq "the cached tree is unchanged" "$STAMP_BEFORE" "$(stat -c %Y "$SYSV_TREE" "$SYSV_TREE/etc" "$SYSV_TREE/etc/init.d")"
