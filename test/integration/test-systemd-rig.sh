#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berth on a systemd host for real: the cached Debian tree (make-debian-tree.sh
# --flavour=host, never modified: booted from an overlay with its writes in a tmpfs) boots under berth-spawn with systemd
# as PID 1 on a pure cgroup2 hierarchy (the machine's own cgroup2 mount, rooted at its
# cgroup by the cgroup namespace) and its own system bus. This build is installed into it
# like a package (meson install --destdir, unpacked inside), systemd-machined is masked,
# and the tests drive the guest's systemctl, busctl and the real machinectl:
#   - the units verify clean, berthd starts by D-Bus activation and by systemctl, writes its
#     pool under its hardening, survives a restart with a machine running;
#   - systemctl start berth-spawn@inner and machinectl start inner boot a nested machine
#     (a copy of the plain Debian tree), machinectl poweroff leaves the unit
#     inactive, not failed;
#   - the same for rawinner, a GPT raw image of the plain tree in the outer machine's
#     /var/lib/machines: it boots from a loop device and leaves none behind;
#   - berthctl start/enable/disable (--now) go through systemd: StartUnit of
#     berth-spawn@inner.service, EnableUnitFiles with machines.target, kept over a
#     daemon-reload;
#   - machinectl enable inner + systemctl reboot of the outer machine brings inner up
#     (with systemd-nspawn@.service a unit file: systemd does not enable through an alias);
#   - systemd-analyze security for berthd.service and systemd-machined.service, side by side.
#
# What the outer machine gets beyond berth-spawn's defaults, for nesting: all capabilities
# and its own network namespace (rig-lib.sh, shared with test-vm-systemd-rig.sh, which runs
# the rig on a pure cgroup2 host for the resource-limit and delegation checks), and
# /dev/loop-control (--bind=/dev/loop-control) for the raw image. Its /dev is a tmpfs that
# nothing fills with loop nodes (no devtmpfs, no udev): the inner berth-spawn asks
# loop-control for a free device and, finding no /dev/loopN (nor /dev/loopNpM for the
# partition), opens it through a private node it makes in /dev and unlinks at once. That
# takes CAP_MKNOD and, under berth-spawn@.service's DevicePolicy=closed, "m" in
# DeviceAllow=block-loop and block-blkext (the partition's major). The outer machine, which
# has no -U and so berth-spawn's closed device policy, gets the same two classes with
# --property=DeviceAllow= (otherwise the inner mknod fails with EPERM). No
# device-mapper: a plain GPT image needs none (verity and LUKS would need
# /dev/mapper/control too).
. "$(dirname "$0")/lib.sh"
# shellcheck source=test/integration/rig-lib.sh
. "$(dirname "$0")/rig-lib.sh"
setup

BERTH_TEST_TIMEOUT=120
rig_trees
diag "outer tree: $HOST_TREE; inner: an overlay of $PLAIN_TREE"
STAMP_BEFORE=$(stat -c %Y "$HOST_TREE" "$HOST_TREE/etc" "$HOST_TREE/var/lib" "$PLAIN_TREE/etc")

# ---- the package: this build, staged
STAGE=$SCRATCH/stage
if ! stage_berth "$STAGE"; then
    echo "Bail out! meson install --destdir failed: $(tail -3 "$SCRATCH/state/install.log")"
    exit 1
fi
rig_inner_tree "$SCRATCH/inner"
# ---- the nested raw image: the plain tree as ext4 in a GPT root partition
RAW=$SCRATCH/rawinner.raw
if ! gpt_root_image "$RAW" "$PLAIN_TREE" 640M >"$SCRATCH/state/raw.log" 2>&1; then
    echo "Bail out! no raw image: $(tail -3 "$SCRATCH/state/raw.log")"
    exit 1
fi

if ! rig_boot "$SCRATCH/outer" --bind-ro="$STAGE:/mnt/berth-stage" --bind="$SCRATCH/inner:/var/lib/machines/inner" \
        --bind-ro="$PLAIN_TREE:/srv/plain" --bind=/dev/loop-control --bind="$RAW:/var/lib/machines/rawinner.raw" \
        --property="DeviceAllow=block-loop rwm" --property="DeviceAllow=block-blkext rwm"; then
    fail "the outer machine starts" "$(cat "$ERR")"
    exit 1
fi

STATE=$(in_rig systemctl is-system-running --wait 2>&1)
expect_eq "outer: systemd as PID 1 reaches running" running "$STATE"
expect_eq "outer: no failed units" "" "$(in_rig systemctl --failed --no-legend --plain 2>&1)"
expect_eq "outer: /sys/fs/cgroup is one cgroup2 hierarchy (unified)" cgroup2fs "$(in_rig stat -fc %T /sys/fs/cgroup)"
ok_if "outer: the system bus is up" in_rig busctl --system status org.freedesktop.DBus
ok_if "outer: systemd's cgroup tree is writable (init.scope, system.slice)" \
    in_rig test -w /sys/fs/cgroup/system.slice -a -d /sys/fs/cgroup/init.scope

# ---- install the package
OUTPUT=$(rig_install)
expect_eq "berth installed into the outer machine" "" "$OUTPUT"

for u in berthd.service berth-spawn@inner.service machines.target; do
    # (--man=no: minbase has no man; test-units checks the man pages of the build)
    expect_eq "outer: systemd-analyze verify $u is clean" "" "$(rig_sh "systemd-analyze verify --man=no $u")"
done

# ---- berthd: D-Bus activation, then systemctl
expect_eq "berthd inactive before the first call" inactive "$(rig_sh 'systemctl is-active berthd.service')"
ok_if "a call to org.freedesktop.machine1 activates berthd (busctl ListMachines)" \
    in_rig busctl --system call org.freedesktop.machine1 /org/freedesktop/machine1 \
        org.freedesktop.machine1.Manager ListMachines
expect_eq "berthd.service active after D-Bus activation" active "$(rig_sh 'systemctl is-active berthd.service')"
expect_eq "systemd-machined.service not running" inactive "$(rig_sh 'systemctl is-active systemd-machined.service')"
rig_sh 'systemctl stop berthd.service' >/dev/null
ok_if "systemctl start berthd" in_rig systemctl start berthd.service
expect_eq "berthd.service active after systemctl start" active "$(rig_sh 'systemctl is-active berthd.service')"

# ---- the pool is writable under the unit's hardening (ProtectSystem=strict)
rig_sh 'mkdir -p /var/lib/machines/small/etc && echo small >/var/lib/machines/small/etc/hostname' >/dev/null
ok_if "machinectl clone small small2 (writes the pool)" in_rig machinectl clone small small2
expect_eq "the clone has the image's files" small "$(rig_sh 'cat /var/lib/machines/small2/etc/hostname')"
expect_match "machinectl list-images: small is writable" '^small +directory +no' \
    "$(rig_sh 'machinectl list-images --no-legend')"
ok_if "machinectl rename small2 small3" in_rig machinectl rename small2 small3
ok_if "machinectl remove small3 small" in_rig machinectl remove small3 small
expect_eq "the pool holds only inner and rawinner.raw again" "inner rawinner.raw" \
    "$(rig_sh 'ls /var/lib/machines' | tr '\n' ' ' | sed 's/ $//')"

# ---- security exposure, side by side (the same analysis for both units, from their files)
SEC_BERTHD=$(rig_sh 'systemd-analyze security --no-pager berthd.service | tail -1')
SEC_MACHINED=$(rig_sh 'systemd-analyze security --no-pager --offline=yes /lib/systemd/system/systemd-machined.service | tail -1')
SEC_BERTHD_OFF=$(rig_sh 'systemd-analyze security --no-pager --offline=yes /lib/systemd/system/berthd.service | tail -1')
diag "systemd-analyze security berthd.service: $SEC_BERTHD"
diag "offline, berthd.service: $SEC_BERTHD_OFF; systemd-machined.service: $SEC_MACHINED"
score() { sed -n 's/.*exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$1"; }
B=$(score "$SEC_BERTHD_OFF") M=$(score "$SEC_MACHINED")
ok_if "berthd.service is exposed no more than systemd-machined.service ($B vs $M)" \
    awk -v b="$B" -v m="$M" 'BEGIN { exit !(b != "" && m != "" && b + 0 <= m + 0) }'

# ---- a nested machine: systemctl start berth-spawn@inner
RIG_TIMEOUT=120 rig_sh 'systemctl start berth-spawn@inner.service' >"$SCRATCH/state/start.out"
expect_eq "systemctl start berth-spawn@inner: active" active "$(rig_sh 'systemctl is-active berth-spawn@inner.service')"
expect_eq "inner: its systemd reaches running" running "$(inner_state)"
expect_match "machinectl list shows inner" '^inner +container +berth' "$(rig_sh 'machinectl list --no-legend')"
expect_match "systemd-cgls: inner under machine.slice" 'berth-spawn@inner\.service' \
    "$(rig_sh 'systemd-cgls --no-pager -u machine.slice')"
expect_eq "inner: no failed units" "" \
    "$(rig_sh 'nsenter -t $(machinectl show inner -p Leader --value) -a -r -w systemctl --failed --no-legend --plain')"

# ---- berthd restarts with the machine running; the machine stays registered
ok_if "systemctl restart berthd with inner running" in_rig systemctl restart berthd.service
expect_eq "berthd.service active after the restart" active "$(rig_sh 'systemctl is-active berthd.service')"
expect_match "inner still registered after the restart" '^inner +container' "$(rig_sh 'machinectl list --no-legend')"
expect_eq "inner's unit still active" active "$(rig_sh 'systemctl is-active berth-spawn@inner.service')"
# nss-mymachines asks org.freedesktop.machine1 (berthd) for the machine's addresses
OUTPUT=$(rig_sh 'getent hosts inner')
diag "getent hosts inner: $OUTPUT"
diag "inner's host0: $(rig_sh 'nsenter -t $(machinectl show inner -p Leader --value) -a ip -br addr show host0' | tr '\n' ' ')"
diag "GetMachineAddresses: $(rig_sh 'busctl call org.freedesktop.machine1 /org/freedesktop/machine1 org.freedesktop.machine1.Manager GetMachineAddresses s inner')"
expect_match "nss-mymachines resolves inner through berthd" '^[0-9a-f:.]+ +inner' "$OUTPUT"

# ---- machinectl poweroff: the unit ends inactive, not failed
# stop_inner DESCRIPTION [CLIENT [NAME]]: CLIENT (machinectl) powers NAME (inner) off
stop_inner() {
    local m=${3:-inner}
    rig_sh "${2:-machinectl} poweroff $m" >/dev/null
    for i in $(seq 1 300); do
        s=$(rig_sh "systemctl show -p ActiveState --value berth-spawn@$m.service")
        [ "$s" = inactive ] || [ "$s" = failed ] && break
        sleep 0.1
    done
    expect_eq "$1: berth-spawn@$m ends inactive" "inactive success" \
        "$(rig_sh "systemctl show -p ActiveState --value berth-spawn@$m.service;
                   systemctl show -p Result --value berth-spawn@$m.service" | tr '\n' ' ' | sed 's/ $//')"
}
stop_inner "machinectl poweroff"

# ---- machinectl start: StartUnit systemd-nspawn@inner.service, the alias of berth-spawn@inner
RIG_TIMEOUT=120 ok_if "machinectl start inner" in_rig machinectl start inner
for i in $(seq 1 300); do
    [ "$(rig_sh 'systemctl is-active berth-spawn@inner.service')" = activating ] || break
    sleep 0.1
done
expect_eq "machinectl start: berth-spawn@inner.service active" active "$(rig_sh 'systemctl is-active berth-spawn@inner.service')"
expect_eq "machinectl start: inner's systemd reaches running" running "$(inner_state)"
stop_inner "after machinectl start, machinectl poweroff"

# ---- a raw image in the outer machine's pool: berth-spawn@rawinner finds rawinner.raw
# raw_loops: the host's loop devices backed by a file named rawinner.raw (this test's
# image; the kernel shows the path by which the outer machine opened it)
raw_loops() {
    local f
    for f in /sys/block/loop*/loop/backing_file; do
        [ -e "$f" ] && [[ "$(cat "$f" 2>/dev/null)" == *rawinner.raw ]] && echo "${f%/loop/backing_file}"
    done
}
# raw_loops_after_poweroff: raw_loops, once they had up to 10 s to go (autoclear: the
# kernel lets the device go with the last mount of it)
raw_loops_after_poweroff() {
    local i
    for i in $(seq 1 100); do
        [ -z "$(raw_loops)" ] && break
        sleep 0.1
    done
    raw_loops
}
expect_match "machinectl list-images: rawinner is a raw image" '^rawinner +raw ' \
    "$(rig_sh 'machinectl list-images --no-legend')"
RIG_TIMEOUT=120 rig_sh 'systemctl start berth-spawn@rawinner.service' >"$SCRATCH/state/rawstart.out"
expect_eq "systemctl start berth-spawn@rawinner: active" active \
    "$(rig_sh 'systemctl is-active berth-spawn@rawinner.service')"
[ "$(rig_sh 'systemctl is-active berth-spawn@rawinner.service')" = active ] ||
    diag "rawinner: $(rig_sh 'journalctl -b -u berth-spawn@rawinner.service --no-pager | tail -5')"
expect_eq "rawinner: its systemd reaches running" running "$(inner_state rawinner)"
expect_eq "rawinner: / is the image's ext4 on a loop partition" ext4 \
    "$(rig_sh 'nsenter -t $(machinectl show rawinner -p Leader --value) -a -r -w findmnt -no FSTYPE /')"
LOOPS=$(raw_loops)
diag "rawinner's loop devices on the host: $(for l in $LOOPS; do echo "${l##*/} $(cat "$l/loop/backing_file")"; done)"
ok_if "rawinner: the image is attached to a loop device of the host" test -n "$LOOPS"
expect_eq "rawinner: no loop node left in the outer machine's /dev" "" \
    "$(rig_sh 'ls -A /dev | grep -E "^loop[0-9]|^\.berth-block"')"
stop_inner "rawinner: machinectl poweroff" machinectl rawinner
expect_eq "rawinner: after poweroff, no loop device holds the image" "" "$(raw_loops_after_poweroff)"
RIG_TIMEOUT=120 ok_if "machinectl start rawinner" in_rig machinectl start rawinner
for i in $(seq 1 300); do
    [ "$(rig_sh 'systemctl is-active berth-spawn@rawinner.service')" = activating ] || break
    sleep 0.1
done
expect_eq "machinectl start rawinner: its systemd reaches running" running "$(inner_state rawinner)"
stop_inner "rawinner, after machinectl start: machinectl poweroff" machinectl rawinner
expect_eq "rawinner: after the second poweroff, no loop device holds the image" "" "$(raw_loops_after_poweroff)"

# ---- berthctl's systemd path. org.freedesktop.systemd1 is on this bus, so berthctl start is
# StartUnit of berth-spawn@NAME.service (waiting for the job) and enable/disable are
# EnableUnitFiles/DisableUnitFiles with machines.target, as machinectl does with
# systemd-nspawn@; berthd's own supervision (io.berth.Supervisor1) stays out of it.
supervised() {
    rig_sh 'busctl call org.freedesktop.machine1 /org/freedesktop/machine1 io.berth.Supervisor1 ListSupervisedMachines'
}
berthd_enabled() {
    rig_sh 'busctl get-property org.freedesktop.machine1 /org/freedesktop/machine1 io.berth.Supervisor1 EnabledMachines'
}
RIG_TIMEOUT=120 ok_if "berthctl start inner" in_rig berthctl start inner
expect_eq "berthctl start: berth-spawn@inner.service active when it returns" active \
    "$(rig_sh 'systemctl is-active berth-spawn@inner.service')"
expect_eq "berthctl start: inner registered, in its unit" berth-spawn@inner.service \
    "$(rig_sh 'berthctl show inner -p Unit --value')"
expect_match "berthctl list shows inner" '^inner +container +berth' "$(rig_sh 'berthctl list --no-legend')"
expect_eq "berthctl start: inner's systemd reaches running" running "$(inner_state)"
expect_eq "berthctl start: systemd runs it, not berthd's supervisor" "a(susbs) 0" "$(supervised)"
stop_inner "berthctl poweroff" berthctl

WANTS=/etc/systemd/system/machines.target.wants/berth-spawn@inner.service
ok_if "berthctl enable inner" in_rig berthctl enable inner
expect_eq "berthctl enable: the unit and machines.target enabled" "enabled enabled" \
    "$(rig_sh 'systemctl is-enabled berth-spawn@inner.service machines.target' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "berthctl enable: machines.target.wants/berth-spawn@inner.service" /lib/systemd/system/berth-spawn@.service \
    "$(rig_sh "readlink $WANTS")"
expect_eq "berthctl enable: not started without --now" inactive "$(rig_sh 'systemctl is-active berth-spawn@inner.service')"
expect_eq "berthctl enable: berthd's own list of enabled machines untouched" "as 0" "$(berthd_enabled)"
rig_sh 'systemctl daemon-reload' >/dev/null
expect_match "after daemon-reload: machines.target wants berth-spawn@inner.service" '(^| )berth-spawn@inner\.service( |$)' \
    "$(rig_sh 'systemctl show -p Wants --value machines.target')"
expect_eq "after daemon-reload: still enabled" enabled "$(rig_sh 'systemctl is-enabled berth-spawn@inner.service')"
ok_if "berthctl disable inner" in_rig berthctl disable inner
expect_eq "berthctl disable: the unit disabled" disabled "$(rig_sh 'systemctl is-enabled berth-spawn@inner.service')"
ok_if "berthctl disable: the wants link is gone" in_rig test ! -e "$WANTS" -a ! -L "$WANTS"
expect_no_match "berthctl disable: machines.target no longer wants it" 'berth-spawn@inner' \
    "$(rig_sh 'systemctl show -p Wants --value machines.target')"
RIG_TIMEOUT=120 ok_if "berthctl enable --now inner" in_rig berthctl enable --now inner
expect_eq "berthctl enable --now: enabled and active" "enabled active" \
    "$(rig_sh 'systemctl is-enabled berth-spawn@inner.service; systemctl is-active berth-spawn@inner.service' | tr '\n' ' ' | sed 's/ $//')"
RIG_TIMEOUT=120 ok_if "berthctl disable --now inner" in_rig berthctl disable --now inner
expect_eq "berthctl disable --now: disabled and inactive (StopUnit, job waited for)" "disabled inactive" \
    "$(rig_sh 'systemctl is-enabled berth-spawn@inner.service; systemctl is-active berth-spawn@inner.service' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "berthctl disable --now: the unit's result is success" success \
    "$(rig_sh 'systemctl show -p Result --value berth-spawn@inner.service')"

# ---- berth-spawn by hand (not --keep-unit): systemd makes the machine's scope (a process of a
# transient service stands for the shell: what runs in the outer machine's cgroup tree)
rig_sh 'systemd-run --quiet --collect --unit=byhand-shell sh -c "berth-spawn -q -D /var/lib/machines/inner \
    -M byhand --property=TasksMax=500 --property=\"DeviceAllow=block-loop r\" /bin/sleep 20 >/run/byhand.log 2>&1; echo \$? >/run/byhand.rc"' >/dev/null
for i in $(seq 1 100); do
    [ "$(rig_sh 'systemctl is-active machine-byhand.scope')" = active ] && break
    sleep 0.1
done
expect_eq "by hand: systemd knows machine-byhand.scope (StartTransientUnit)" active \
    "$(rig_sh 'systemctl is-active machine-byhand.scope')"
[ "$(rig_sh 'systemctl is-active machine-byhand.scope')" = active ] || diag "by hand: $(rig_sh 'cat /run/byhand.log')"
expect_eq "by hand: the scope is in machine.slice, delegated" "machine.slice yes" \
    "$(rig_sh 'systemctl show -p Slice --value machine-byhand.scope; systemctl show -p Delegate --value machine-byhand.scope' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "by hand: --property=TasksMax=500 is the scope's property" 500 \
    "$(rig_sh 'systemctl show -p TasksMax --value machine-byhand.scope')"
expect_eq "by hand: the scope's device policy is closed (no -U: the machine's root has CAP_MKNOD)" closed \
    "$(rig_sh 'systemctl show -p DevicePolicy --value machine-byhand.scope')"
OUTPUT=$(rig_sh 'systemctl show -p DeviceAllow --value machine-byhand.scope' | tr ' ' '\n' | paste -d' ' - -)
expect_line "by hand: ... /dev/null is allowed" "/dev/null rwm"
expect_line "by hand: ... /dev/net/tun, as with systemd-nspawn" "/dev/net/tun rwm"
expect_line "by hand: ... the pty peers" "char-pts rw"
expect_line "by hand: ... and --property=DeviceAllow=, as the class name" "block-loop r"
expect_match "by hand: systemd-cgls shows the machine under machine.slice" 'machine-byhand\.scope' \
    "$(rig_sh 'systemd-cgls --no-pager -u machine.slice')"
ok_if "by hand: the machine runs in the scope's payload child" \
    in_rig sh -c 'grep -qx "0::/machine.slice/machine-byhand.scope/payload" /proc/$(machinectl show byhand -p Leader --value)/cgroup'
expect_eq "by hand: berthd names the scope as the machine's unit" machine-byhand.scope \
    "$(rig_sh 'machinectl show byhand -p Unit --value')"
rig_sh 'machinectl terminate byhand' >/dev/null
for i in $(seq 1 100); do
    [ -e /proc/"$LEADER"/root/run/byhand.rc ] && [ "$(rig_sh 'systemctl is-active machine-byhand.scope')" != active ] && break
    sleep 0.1
done
expect_eq "by hand: the scope is gone after the machine" inactive "$(rig_sh 'systemctl is-active machine-byhand.scope')"

# ---- pure cgroup v2: limits, an OOM, nested guests with delegated subtrees (rig-lib.sh). Only
# where the host's controllers are in cgroup2. On a hybrid host the kernel has memory, cpu, io
# and pids bound to their v1 hierarchies; a controller is in one hierarchy only, so the
# unified one (the outer machine's /sys/fs/cgroup) has none of them and systemd inside cannot
# apply limits. test-vm-systemd-rig runs these checks in a VM with a pure cgroup2 hierarchy.
CTRL=$(rig_controllers)
diag "outer machine's cgroup2 controllers: ${CTRL:-none}"
if [[ " $CTRL " == *" memory "* && " $CTRL " == *" pids "* && " $CTRL " == *" cpu "* ]]; then
    rig_v2_limits
    rig_v2_oom
    rig_v2_guest_by_hand
    rig_v2_guest_unit
else
    skip "pure cgroup v2: limits, OOM, delegated subtrees of nested guests" \
        "no memory, cpu and pids controllers in this host's cgroup2 (hybrid host: they are bound to v1); test-vm-systemd-rig runs them"
fi

expect_eq "outer: still no failed units" "" "$(in_rig systemctl --failed --no-legend --plain 2>&1)"

# ---- machinectl enable + a reboot of the outer machine brings inner up. Last, so that the
# checks above ran on the first boot. systemd refuses to enable a unit through an alias
# name, and machinectl enable names systemd-nspawn@NAME.service: with the alias link the
# rig uses for machinectl start it fails. For this step systemd-nspawn@.service is a unit
# file of its own with berth-spawn@.service's content, as a distribution would ship a
# compatibility unit. machines.target (enabled with it; WantedBy=multi-user.target) pulls
# systemd-nspawn@inner.service in at boot. berth-spawn reboots the outer machine in place
# on the same overlay, so the links and the installed package stay.
expect_fail "machinectl enable through the alias link: systemd refuses" "alias name" in_rig machinectl enable inner
OUTPUT=$(rig_sh 'rm /etc/systemd/system/systemd-nspawn@.service &&
    cp /lib/systemd/system/berth-spawn@.service /etc/systemd/system/systemd-nspawn@.service &&
    systemctl daemon-reload')
expect_eq "systemd-nspawn@.service as a unit file of its own" "" "$OUTPUT"
ok_if "machinectl enable inner" in_rig machinectl enable inner
expect_eq "machinectl enable: systemd-nspawn@inner.service and machines.target enabled" "enabled enabled" \
    "$(rig_sh 'systemctl is-enabled systemd-nspawn@inner.service machines.target' | tr '\n' ' ' | sed 's/ $//')"
OLD_LEADER=$LEADER
in_rig systemctl reboot >/dev/null 2>&1
LEADER=
for i in $(seq 1 1200); do
    for l in $(cat /proc/"$BG_PID"/task/"$BG_PID"/children 2>/dev/null); do
        [ "$l" != "$OLD_LEADER" ] && [ -S /proc/"$l"/root/run/systemd/private ] && LEADER=$l
    done
    [ -n "$LEADER" ] && break
    sleep 0.1
done
if [ -n "$LEADER" ]; then
    pass "outer: systemctl reboot boots it again in place (new PID 1)"
    expect_eq "after the reboot: outer reaches running (no failed units)" running \
        "$(RIG_TIMEOUT=120 in_rig systemctl is-system-running --wait 2>&1)"
    diag "after the reboot: /var/lib/machines/inner holds $(rig_sh 'ls /var/lib/machines/inner | wc -l') entries"
    expect_eq "machinectl enable + reboot: systemd-nspawn@inner.service active" active \
        "$(rig_sh 'systemctl is-active systemd-nspawn@inner.service')"
    expect_eq "after the reboot: inner registered, in that unit" systemd-nspawn@inner.service \
        "$(rig_sh 'machinectl show inner -p Unit --value')"
    expect_eq "after the reboot: inner's systemd reaches running" running "$(inner_state)"
    ok_if "machinectl disable inner" in_rig machinectl disable inner
    expect_eq "machinectl disable: the unit disabled" disabled "$(rig_sh 'systemctl is-enabled systemd-nspawn@inner.service')"
    rig_sh 'machinectl poweroff inner' >/dev/null
    for i in $(seq 1 300); do
        [ "$(rig_sh 'systemctl is-active systemd-nspawn@inner.service')" = inactive ] && break
        sleep 0.1
    done
    expect_eq "after the reboot, machinectl poweroff: the unit ends inactive" inactive \
        "$(rig_sh 'systemctl is-active systemd-nspawn@inner.service')"
else
    fail "outer: systemctl reboot boots it again in place (new PID 1)" "$(tail -5 "$ERR")"
    LEADER=$OLD_LEADER
fi

# ---- power the outer machine off
in_rig systemctl poweroff >/dev/null 2>&1
wait_bg "$OUT" "$ERR" 60
expect_rc "outer: systemctl poweroff ends berth-spawn with status 0" 0
umount "$SCRATCH/outer" "$SCRATCH/outer.ov"
expect_eq "the cached trees are unchanged" "$STAMP_BEFORE" \
    "$(stat -c %Y "$HOST_TREE" "$HOST_TREE/etc" "$HOST_TREE/var/lib" "$PLAIN_TREE/etc")"
