# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034
#
# rig-lib.sh — the systemd rig: the cached Debian tree (make-debian-tree.sh --flavour=host)
# booted by berth-spawn with systemd as PID 1 and this build installed inside, as a package
# would be. Sourced after lib.sh (and its setup) by test-systemd-rig.sh (on the host) and
# test-vm-systemd-rig.sh (in a VM with a pure cgroup2 hierarchy).
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

# ---------------------------------------------------------------- pure cgroup v2
# What only a host whose controllers are in cgroup2 shows (test-vm-systemd-rig.sh; and
# test-systemd-rig.sh on such a host): --property= limits in the machine's scope, an OOM
# inside it, nested booted guests with delegated subtrees. The rig has the plain tree
# bound read-only at /srv/plain and its copy at /var/lib/machines/inner (berth-spawn@inner).
# Files of the rig's cgroup tree are read in the rig (its /sys/fs/cgroup is rooted there).

# rig_words: the words of stdin, sorted, on one line
rig_words() {
    tr ' ' '\n' | grep . | sort | tr '\n' ' ' | sed 's/ $//'
}
# rig_since T0: seconds since T0 (date +%s.%N), for the # lines with the wall times
rig_since() {
    awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}
# rig_controllers: the controllers the rig's systemd may delegate (cgroup.controllers of its root)
rig_controllers() {
    local c all
    all=$(rig_sh 'cat /sys/fs/cgroup/cgroup.controllers')
    for c in cpu cpuset io memory pids; do
        [[ " $all " == *" $c "* ]] && echo $c
    done | rig_words
}
# rig_enabled CGROUP: which of the rig's controllers CGROUP (of the rig's tree) enables below it
rig_enabled() {
    local c sc
    sc=$(rig_sh "cat /sys/fs/cgroup$1/cgroup.subtree_control")
    for c in $RIG_CTRL; do
        [[ " $sc " == *" $c "* ]] && echo $c
    done | rig_words
}
# rig_by_hand UNIT SCRIPT: SCRIPT in a transient service UNIT of the rig (it stands for a
# shell: berth-spawn run by hand, in the rig's systemd-managed cgroup tree)
rig_by_hand() {
    rig_sh "systemd-run --quiet --collect --unit=$1 sh -c '$2'" >/dev/null
}
# rig_wait COMMAND [SECONDS]: until COMMAND succeeds in the rig (default 30 s)
rig_wait() {
    local i
    for i in $(seq 1 $((${2:-30} * 5))); do
        rig_sh "$1" >/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# rig_v2_limits: every --property= in the v2 file of the machine's scope (systemd applied it:
# berth-spawn asks for the scope), the controllers enabled down the rig's tree, the payload
# in the scope's payload child. Sets RIG_CTRL.
rig_v2_limits() {
    local io_prop='' d=/machine.slice/machine-lim.scope f a
    RIG_CTRL=$(rig_controllers)
    [[ " $RIG_CTRL " == *" io "* ]] && io_prop=--property=IOWeight=300
    rig_by_hand lim-shell "berth-spawn -q -D /srv/plain --read-only -M lim \
        --property=MemoryMax=48M --property=TasksMax=77 --property=CPUQuota=50% --property=CPUWeight=42 $io_prop \
        /bin/sleep 60 >/run/lim.log 2>&1; echo \$? >/run/lim.rc"
    ok_if "limits: machine-lim.scope is active" rig_wait 'test "$(systemctl is-active machine-lim.scope)" = active'
    expect_eq "limits: MemoryMax=48M is memory.max of the machine's scope" $((48 << 20)) "$(rig_sh "cat /sys/fs/cgroup$d/memory.max")"
    expect_eq "limits: TasksMax=77 is pids.max" 77 "$(rig_sh "cat /sys/fs/cgroup$d/pids.max")"
    expect_eq "limits: CPUQuota=50% is cpu.max" "50000 100000" "$(rig_sh "cat /sys/fs/cgroup$d/cpu.max")"
    expect_eq "limits: CPUWeight=42 is cpu.weight" 42 "$(rig_sh "cat /sys/fs/cgroup$d/cpu.weight")"
    f=$(rig_sh "for f in io.weight io.bfq.weight; do [ -e /sys/fs/cgroup$d/\$f ] && echo \$f && break; done")
    if [ -z "$io_prop" ]; then
        skip "limits: IOWeight=300 is io.weight" "no io controller in the rig's cgroup2"
    elif [ -n "$f" ]; then
        expect_eq "limits: IOWeight=300 is $f" "default 300" "$(rig_sh "head -n1 /sys/fs/cgroup$d/$f")"
    else
        skip "limits: IOWeight=300 is io.weight" "this kernel has no I/O weight file (io.weight, io.bfq.weight)"
    fi
    for a in "" /machine.slice; do
        expect_eq "limits: the controllers are enabled in the rig's ${a:-/} (cgroup.subtree_control)" \
            "$RIG_CTRL" "$(rig_enabled "$a")"
    done
    expect_eq "limits: the payload runs in the scope's payload child" "0::$d/payload" \
        "$(rig_sh 'cat /proc/$(machinectl show lim -p Leader --value)/cgroup')"
    rig_sh 'machinectl terminate lim' >/dev/null
    rig_wait 'test -e /run/lim.rc'
    expect_eq "limits: the machine's scope is gone after it" inactive "$(rig_sh 'systemctl is-active machine-lim.scope')"
}

# rig_oom_kills: the OOM kills in the rig's machine.slice (nothing without a memory controller)
rig_oom_kills() {
    rig_sh 'cat /sys/fs/cgroup/machine.slice/memory.events' | awk '$1 == "oom_kill" { print $2 }'
}
# rig_v2_oom: a payload allocating past MemoryMax is OOM-killed, and only it
rig_v2_oom() {
    local k0 berthd_pid
    berthd_pid=$(rig_sh 'systemctl show -p MainPID --value berthd.service')
    k0=$(rig_oom_kills)
    rig_by_hand oom-shell "berth-spawn -D /srv/plain --read-only -M oom --property=MemoryMax=32M \
        /bin/dd if=/dev/zero of=/dev/null bs=256M count=1 >/run/oom.log 2>&1; echo \$? >/run/oom.rc"
    ok_if "OOM: berth-spawn ends" rig_wait 'test -e /run/oom.rc' 60
    expect_eq "OOM: a 256 MiB buffer under MemoryMax=32M: the machine's exit status is 137" 137 \
        "$(rig_sh 'cat /run/oom.rc')"
    expect_match "OOM: berth-spawn reports its payload killed by SIGKILL" 'terminated by signal SIGKILL' \
        "$(rig_sh 'cat /run/oom.log')"
    expect_eq "OOM: memory.events of the rig's machine.slice counts one oom_kill" $((k0 + 1)) \
        "$(rig_oom_kills)"
    expect_eq "OOM: the rig's systemd still runs (no failed unit: the scope ended)" "running" \
        "$(rig_sh 'systemctl is-system-running')"
    expect_eq "OOM: berthd still runs, the same process" "active $berthd_pid" \
        "$(rig_sh 'systemctl is-active berthd.service; systemctl show -p MainPID --value berthd.service' | tr '\n' ' ' | sed 's/ $//')"
}

# rig_v2_guest NAME DESC CGROUP T0: the booted guest NAME, its cgroup CGROUP in the rig's tree,
# started at T0, runs with a delegated, writable subtree: the controllers are there, its
# systemd enables them in its root, makes its cgroups and sets a unit's memory limit
rig_v2_guest() {
    local name=$1 desc=$2 g=/sys/fs/cgroup$3 st in
    st=$(INNER_TIMEOUT=240 inner_state "$name")
    diag "$desc: boot to running: $(rig_since "$4")s"
    expect_eq "$desc: its systemd reaches running" running "$st"
    in="nsenter -t \$(machinectl show $name -p Leader --value) -a -r -w"
    expect_eq "$desc: no failed units" "" "$(rig_sh "$in systemctl --failed --no-legend --plain")"
    expect_eq "$desc: its cgroup has the controllers" "$RIG_CTRL" "$(rig_sh "cat $g/cgroup.controllers" | rig_words)"
    expect_match "$desc: its systemd enabled memory and pids in its root" '(^| )memory( .*)? pids( |$)' \
        "$(rig_enabled "$3")"
    ok_if "$desc: its systemd made its cgroups (init.scope, system.slice)" in_rig test -d "$g/init.scope" -a -d "$g/system.slice"
    expect_eq "$desc: a unit of it gets MemoryMax=16M" $((16 << 20)) \
        "$(rig_sh "$in sh -c 'systemd-run --quiet --unit=capped -p MemoryMax=16M sleep 30 &&
                              cat /sys/fs/cgroup/system.slice/capped.service/memory.max'")"
    expect_eq "$desc: ... in the rig's view too" $((16 << 20)) "$(rig_sh "cat $g/system.slice/capped.service/memory.max")"
}

# rig_v2_guest_by_hand: berth-spawn -b --ephemeral of the plain tree by hand (a scope systemd makes)
rig_v2_guest_by_hand() {
    local t0
    t0=$(date +%s.%N)
    rig_by_hand boot-shell "berth-spawn -q -D /srv/plain --ephemeral -b -M plainboot \
        --console=read-only >/run/boot.log 2>&1; echo \$? >/run/boot.rc"
    ok_if "by hand, booted: machine-plainboot.scope is active" \
        rig_wait 'test "$(systemctl is-active machine-plainboot.scope)" = active'
    rig_v2_guest plainboot "by hand, booted (--ephemeral)" /machine.slice/machine-plainboot.scope/payload "$t0"
    rig_sh 'machinectl poweroff plainboot' >/dev/null
    ok_if "by hand, booted: poweroff ends berth-spawn" rig_wait 'test -e /run/boot.rc' 60
    expect_eq "by hand, booted: exit status 0" 0 "$(rig_sh 'cat /run/boot.rc')"
}

# rig_v2_guest_unit: berth-spawn@inner.service (--keep-unit, -U)
rig_v2_guest_unit() {
    local t0 g=/machine.slice/berth-spawn@inner.service/payload owner
    t0=$(date +%s.%N)
    RIG_TIMEOUT=240 rig_sh 'systemctl start berth-spawn@inner.service' >/dev/null
    expect_eq "berth-spawn@inner (-U): active" active "$(rig_sh 'systemctl is-active berth-spawn@inner.service')"
    rig_v2_guest inner "berth-spawn@inner (-U)" "$g" "$t0"
    owner=$(rig_sh "stat -c %u /sys/fs/cgroup$g/system.slice /sys/fs/cgroup$g/cgroup.procs" | sort -u)
    ok_if "berth-spawn@inner (-U): its cgroups belong to its root user (UID ${owner//$'\n'/ } in the rig)" \
        test "$owner" -gt 0
    rig_sh 'machinectl poweroff inner' >/dev/null
    ok_if "berth-spawn@inner: poweroff, the unit ends inactive" \
        rig_wait 'test "$(systemctl show -p ActiveState --value berth-spawn@inner.service)" = inactive' 60
}
