# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034
#
# rig-lib.sh — the systemd rig: the cached Debian tree (make-debian-tree.sh --flavour=host)
# booted by berth-spawn with systemd as PID 1 and this build installed inside, as a package
# would be. Sourced after lib.sh (and its setup) by test-systemd-rig.sh.
#
#   rig_trees                HOST_TREE, PLAIN_TREE: the cached trees (built if needed)
#   rig_inner_tree DIR       a copy of PLAIN_TREE with systemd-networkd enabled
#   rig_boot OUTER ARGS...   OUTER: an overlay of HOST_TREE; boots it (machine "rig", plus
#                            ARGS), sets BG_PID and LEADER; false if it did not start
#   rig_install              unpacks the stage (bound at /mnt/berth-stage) in the rig
#   in_rig CMD...            CMD in the rig (under timeout ${RIG_TIMEOUT:-60})
#   rig_sh SCRIPT            a shell command line in the rig; stdout and stderr together
#   inner_state [NAME]       is-system-running --wait of the rig's machine NAME (inner)

# rig_trees: the outer machine's tree and the plain one of the nested machines; bails out
rig_trees() {
    if ! HOST_TREE=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path --flavour=host 2>"$SCRATCH/state/mkdeb.log") ||
       ! PLAIN_TREE=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path 2>>"$SCRATCH/state/mkdeb.log"); then
        echo "Bail out! make-debian-tree.sh failed: $(tail -5 "$SCRATCH/state/mkdeb.log")"
        exit 1
    fi
}

# rig_inner_tree DIR: the nested machine's tree, a copy of the plain tree (booted -U it is
# idmapped or shifted, so the copy's ownership is its own), with systemd-networkd enabled so
# that host0 gets an address (nss-mymachines)
rig_inner_tree() {
    mkdir -p "$1" && cp -a "$PLAIN_TREE/." "$1/" &&
        ln -s /lib/systemd/system/systemd-networkd.service \
            "$1/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
}

in_rig() {
    GUEST_TIMEOUT=${RIG_TIMEOUT:-60} in_guest "$@"
}
rig_sh() {
    in_rig sh -c "$1" 2>&1
}

# rig_boot OUTER [SPAWN-ARGS...]: the outer root is an overlay of the cached tree with its
# writes in a tmpfs of this test, not --ephemeral: berth-spawn's --ephemeral on a plain
# directory (not btrfs) keeps the writes in a tmpfs of the machine's mount namespace, which
# a reboot in place starts afresh, and a reboot must find the package and the enable links
# again. The outer machine gets all capabilities (the inner berth-spawn creates veths, user
# namespaces and idmapped mounts, mounts file systems, loads seccomp filters) and its own
# network namespace, so that a nested machine's veth never reaches the host's network.
# Returns when its systemd has its private socket (not yet running).
rig_boot() {
    local outer=$1 i
    shift
    OUT=$SCRATCH/state/rig.out ERR=$SCRATCH/state/rig.err
    overlay_tree "$HOST_TREE" "$outer" || { echo "Bail out! no overlay of $HOST_TREE"; exit 1; }
    spawn_bg "$OUT" "$ERR" -D "$outer" -b -M rig --console=read-only \
        --private-network --capability=all "$@"
    LEADER=$(leader_of "$BG_PID") || return 1
    for i in $(seq 1 "${RIG_BOOT_TICKS:-600}"); do
        [ -S /proc/"$LEADER"/root/run/systemd/private ] && return 0
        sleep 0.05
    done
    return 0
}

# rig_install: unpack the stage, mask systemd-machined (one bus name, one unit), and make
# the real machinectl's start and enable (StartUnit, machines.target.wants of
# systemd-nspawn@NAME.service, a name compiled into machinectl) reach berth-spawn@.service.
# Prints what went wrong, nothing on success.
rig_install() {
    rig_sh 'tar -C /mnt/berth-stage -c . | tar -C / -x --keep-directory-symlink &&
        systemctl mask --quiet systemd-machined.service &&
        ln -s /lib/systemd/system/berth-spawn@.service /etc/systemd/system/systemd-nspawn@.service &&
        systemctl daemon-reload &&
        systemctl reload dbus.service'
}

# inner_state [NAME]: the nested machine's systemd answers is-system-running (through the
# outer), once it is up (its private socket is there)
inner_state() {
    RIG_TIMEOUT=${INNER_TIMEOUT:-90} rig_sh "l=\$(machinectl show ${1:-inner} -p Leader --value) &&
        for i in \$(seq 1 600); do [ -S /proc/\$l/root/run/systemd/private ] && break; sleep 0.1; done &&
        nsenter -t \"\$l\" -a -r -w systemctl is-system-running --wait"
}

