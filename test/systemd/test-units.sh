#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The installed units and bus files, without a running systemd: `meson install --destdir`
# of this build, then where each file lands, `systemd-analyze verify` of every unit, and
# berth-spawn@.service against the host's systemd-nspawn@.service key by key. No root needed.
# The same units under a real systemd: test-systemd-rig.sh.
set -u
source "$(dirname "$0")/../tap.sh"

TMP=$(mktemp -d)
TAP_SCRATCH=$TMP
trap 'rm -rf "$TMP"' EXIT
D=$TMP/dest

if ! meson install -C "$BERTH_BUILD_ROOT" --destdir "$D" --no-rebuild --quiet >"$TMP/install.log" 2>&1; then
        echo "Bail out! meson install --destdir failed: $(tail -3 "$TMP/install.log")"
        exit 1
fi
opt() {
        meson introspect --buildoptions "$BERTH_BUILD_ROOT" |
                python3 -c "import json,sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name'] == sys.argv[1]))" "$1"
}
PREFIX=$(opt prefix)
# Where the host's daemons read (their pkg-config files), not below berth's prefix.
pcvar() { pkg-config --variable="$2" "$1" 2>/dev/null; }
UNITDIR=$(pcvar systemd systemdsystemunitdir); UNITDIR=${UNITDIR:-/lib/systemd/system}
DBUSDATA=$(pcvar dbus-1 datadir); DBUSDATA=${DBUSDATA:-/usr/share}
DBUSSVC=$(pcvar dbus-1 system_bus_services_dir); DBUSSVC=${DBUSSVC:-/usr/share/dbus-1/system-services}
POLKIT=$(pcvar polkit-gobject-1 policydir); POLKIT=${POLKIT:-/usr/share/polkit-1/actions}
diag "prefix $PREFIX; units $UNITDIR; bus $DBUSDATA $DBUSSVC; polkit $POLKIT"

for f in "$UNITDIR/berthd.service" "$UNITDIR/berth-spawn@.service" \
         "$DBUSDATA/dbus-1/system.d/org.freedesktop.machine1.conf" \
         "$DBUSSVC/org.freedesktop.machine1.service" \
         "$POLKIT/org.freedesktop.machine1.policy"; do
        ok_if "installed where the host reads it, prefix $PREFIX or not: $f" test -f "$D$f"
done
# machines.target: shipped only where the host's systemd has none.
if [ -e "$UNITDIR/machines.target" ]; then
        ok_if "machines.target not installed over the host's" test ! -e "$D$UNITDIR/machines.target"
else
        ok_if "machines.target installed (the host has none)" test -f "$D$UNITDIR/machines.target"
fi

# systemd-analyze verify, on the staged units. systemd-machined.service owns the same bus
# name: masked, as on a host where berthd replaces it. Commands are checked in the stage.
mkdir -p "$TMP/mask"
ln -s /dev/null "$TMP/mask/systemd-machined.service"
verify() {
        SYSTEMD_UNIT_PATH="$TMP/mask:$D$UNITDIR:" systemd-analyze verify --man=no "$@" 2>&1 |
                while IFS= read -r line; do
                        # "Command /usr/local/bin/x is not executable": fine if it is, staged
                        if [[ $line =~ Command\ (/[^ ]*)\ is\ not\ executable ]] &&
                           [ -x "$D${BASH_REMATCH[1]}" ]; then
                                continue
                        fi
                        printf '%s\n' "$line"
                done
}
for u in berthd.service berth-spawn@inner.service machines.target; do
        [ -e "$D$UNITDIR/$u" ] || [ "$u" != machines.target ] || u=$UNITDIR/machines.target
        out=$(cd "$D$UNITDIR" && verify "$u")
        expect_eq "systemd-analyze verify $u: no complaint" "" "$out"
done
out=$(cd "$D$UNITDIR" && verify berthd.service)
expect_no_match "berthd.service: no ordering cycle" "ordering cycle" "$out"

# berthd.service writes the image pool and the image locks under ProtectSystem=strict.
BERTHD=$D$UNITDIR/berthd.service
if grep -q '^ProtectSystem=strict' "$BERTHD"; then
        expect_match "berthd.service: /var/lib/machines writable (StateDirectory=machines)" \
                '^StateDirectory=.*\bmachines\b' "$(cat "$BERTHD")"
        expect_match "berthd.service: /run/berth writable (machines, image-locks)" \
                '^RuntimeDirectory=(.* )?berth( |$)' "$(cat "$BERTHD")"
        expect_match "berthd.service: /run/systemd/nspawn/locks writable" \
                '^RuntimeDirectory=.*\bsystemd/nspawn/locks\b' "$(cat "$BERTHD")"
fi
expect_no_match "berthd.service: no RestrictNamespaces= (clone3 would fail with ENOSYS)" \
        '^RestrictNamespaces=' "$(cat "$BERTHD")"
expect_match "berthd.service: a capability bounding set" '^CapabilityBoundingSet=CAP_' "$(cat "$BERTHD")"
expect_match "berthd.service: AF_NETLINK allowed (machine addresses)" \
        '^RestrictAddressFamilies=.*AF_NETLINK' "$(cat "$BERTHD")"

# systemd-analyze security, offline (from the unit files): no more exposed than machined
security() {
        (cd "$D$UNITDIR" && SYSTEMD_UNIT_PATH="$D$UNITDIR:" systemd-analyze security --offline=yes --no-pager "$1" 2>&1) |
                sed -n 's/.*exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
MACHINED=$UNITDIR/systemd-machined.service
if [ -f "$MACHINED" ]; then
        B=$(security berthd.service) M=$(security "$MACHINED")
        diag "systemd-analyze security --offline: berthd.service $B, systemd-machined.service $M"
        ok_if "berthd.service is exposed no more than systemd-machined.service ($B vs $M)" \
                awk -v b="$B" -v m="$M" 'BEGIN { exit !(b != "" && m != "" && b + 0 <= m + 0) }'
else
        skip "berthd.service against systemd-machined.service" "no $MACHINED here"
fi

# berth-spawn@.service against systemd-nspawn@.service, key by key. What differs on purpose:
#   ExecStart, Description, Documentation: berth-spawn's own;
#   WatchdogSec: berth-spawn does not send WATCHDOG=1 (systemd would kill it after 3 min);
#   RestartForceExitStatus, SuccessExitStatus=133: berth-spawn reboots a guest in-process
#     and never exits 133;
#   ExecStart's --settings=override: see berth-spawn(1) (settings files are issue 11).
#   DeviceAllow=block-loop and block-blkext: rwm where nspawn@ has rw (more, not less: in a
#     container's /dev berth-spawn makes private nodes of its loop device and partitions).
keys() { sed -n 's/^\([A-Za-z]*\)=\(.*\)$/\1=\2/p' "$1" | sort; }
NSPAWN=$UNITDIR/systemd-nspawn@.service
if [ -f "$NSPAWN" ]; then
        ours=$(keys "$D$UNITDIR/berth-spawn@.service")
        missing=$(keys "$NSPAWN" |
                grep -vE '^(ExecStart|Description|Documentation|WatchdogSec|RestartForceExitStatus|SuccessExitStatus)=' |
                while IFS= read -r kv; do
                        # dm_mod and dm-mod name the same module (nspawn@ mixes them)
                        grep -qxF -- "$kv" <<<"$ours" || grep -qxF -- "${kv//dm-mod/dm_mod}" <<<"$ours" ||
                                { [[ $kv == DeviceAllow=block-*" rw" ]] && grep -qxF -- "${kv}m" <<<"$ours"; } ||
                                printf '%s\n' "$kv"
                done)
        expect_eq "berth-spawn@.service has every key of $NSPAWN (but the documented ones)" "" "$missing"
else
        skip "berth-spawn@.service against systemd-nspawn@.service" "no $NSPAWN here"
fi

tap_plan
