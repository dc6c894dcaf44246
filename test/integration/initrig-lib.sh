# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# initrig-lib.sh — what the rigs of berthd's init scripts share (test-sysvinit-rig.sh,
# test-openrc-rig.sh): a cached Debian tree booted without systemd (make-debian-tree.sh
# --flavour=FLAVOUR, never modified: a tmpfs overlay on it), with this build installed
# (meson install --destdir) and one of berthd's init scripts as /etc/init.d/berthd.
# Source it after lib.sh's setup.

# initrig_root FLAVOUR SCRIPT: the tree of FLAVOUR (INIT_TREE) under an overlay at
# $SCRATCH/root with the build staged into it and SCRIPT (a file of the build directory,
# units/berthd.init or units/berthd.openrc) as /etc/init.d/berthd; bails out if it cannot
initrig_root() {
    if ! INIT_TREE=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path --flavour="$1" 2>"$SCRATCH/state/mkdeb.log"); then
        echo "Bail out! make-debian-tree.sh --flavour=$1 failed: $(tail -5 "$SCRATCH/state/mkdeb.log")"
        exit 1
    fi
    diag "tree: $INIT_TREE"
    _initrig_stamp=$(stat -c %Y "$INIT_TREE" "$INIT_TREE/etc" "$INIT_TREE/etc/init.d")
    overlay_tree "$INIT_TREE" "$SCRATCH/root" || { echo "Bail out! no overlay of $INIT_TREE"; exit 1; }
    if ! stage_berth "$SCRATCH/stage"; then
        echo "Bail out! meson install --destdir failed: $(tail -3 "$SCRATCH/state/install.log")"
        exit 1
    fi
    tar -C "$SCRATCH/stage" -c . | tar -C "$SCRATCH/root" -x --keep-directory-symlink
    install -m 0755 "$BERTH_BUILD_ROOT/$2" "$SCRATCH/root/etc/init.d/berthd"
}

# initrig_boot NAME BERTH-SPAWN-OPTIONS...: boot $SCRATCH/root as machine NAME in the
# background (BG_PID, output in $SCRATCH/state/NAME.out and .err); sets LEADER to its PID 1
# and checks that this is sysvinit's init
initrig_boot() {
    local name=$1
    shift
    INIT_OUT=$SCRATCH/state/$name.out INIT_ERR=$SCRATCH/state/$name.err
    spawn_bg "$INIT_OUT" "$INIT_ERR" -D "$SCRATCH/root" -b -M "$name" --console=read-only --private-network "$@"
    if ! LEADER=$(leader_of "$BG_PID"); then
        fail "the $name machine starts" "$(cat "$INIT_ERR")"
        exit 1
    fi
    expect_eq "PID 1 is sysvinit's init" init "$(cat /proc/"$LEADER"/comm)"
}

# has_owner: org.freedesktop.machine1 has an owner on the guest's system bus
has_owner() {
    in_guest dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.machine1 2>&1 | grep -q 'boolean true'
}

# wait_owner [TENTHS]: wait until has_owner (at most TENTHS tenths of a second, 400)
wait_owner() {
    local i
    for i in $(seq 1 "${1:-400}"); do
        has_owner && return 0
        sleep 0.1
    done
    return 1
}

# initrig_poweroff: power the guest off from inside; berth-spawn must end with status 0,
# and the cached tree be unchanged
initrig_poweroff() {
    in_guest /sbin/poweroff >/dev/null 2>&1 || in_guest /sbin/init 0 >/dev/null 2>&1
    wait_bg "$INIT_OUT" "$INIT_ERR" 60
    expect_rc "poweroff inside ends berth-spawn with status 0" 0
    umount "$SCRATCH/root" "$SCRATCH/root.ov"
    expect_eq "the cached tree is unchanged" "$_initrig_stamp" \
        "$(stat -c %Y "$INIT_TREE" "$INIT_TREE/etc" "$INIT_TREE/etc/init.d")"
}
