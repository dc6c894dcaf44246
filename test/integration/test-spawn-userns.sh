#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn -U / --private-users= / --private-users-ownership=: UID ranges (never host
# UID 0, distinct for concurrent machines, locked under /run/berth), idmapped and chowned
# trees, locked mounts, and a booted Debian under -U.
. "$(dirname "$0")/lib.sh"
setup

uidmap_of() { awk '{print $1, $2, $3}' <<<"$OUTPUT" | head -n1; }

# ---- -U on a root-owned tree: a picked range, idmapped
BEFORE=$(tree_state "$TREE")
run_spawn -P -U --resolv-conf=off --timezone=off -D "$TREE" /bin/sh -c 'cat /proc/self/uid_map; id -u; stat -c "%u %g" / /etc/passwd /dev/null /run /tmp; echo x >/run/x && echo run-ok'
expect_rc "-U runs" 0
read -r IN BASE RANGE <<<"$(uidmap_of)"
expect_eq "-U: the machine's root is UID 0 inside" 0 "$IN"
ok_if "-U: the range starts at a 64K boundary at or above 524288, never at host UID 0 (base $BASE)" \
    test "${BASE:-0}" -ge 524288 -a $(( ${BASE:-1} % 65536 )) -eq 0
expect_eq "-U: 65536 UIDs" 65536 "$RANGE"
expect_line "-U: the payload runs as root of its namespace" 0
expect_line "-U: the tree's files appear owned by the machine's root (idmapped)" "0 0"
expect_line "-U: /run is the machine root's and writable" run-ok
expect_eq "-U (map): nothing changed on disk" "$BEFORE" "$(tree_state "$TREE")"
ok_if "-U: the range lock is released afterwards" test ! -e "/run/berth/uid-ranges/$BASE"

run_spawn -P -U -D "$TREE" /bin/sh -c 'umount /proc/sys 2>&1 || true; mount -o remount,rw /proc/sys 2>&1 || true; echo 1 >/proc/sys/kernel/sysrq 2>&1 || echo still-ro'
expect_line "-U: the read-only /proc/sys cannot be made writable (mounts are locked)" still-ro

run_spawn -P -U -D "$TREE" /bin/sh -c 'hostname inside && hostname; mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && echo mounted'
expect_line "-U: the machine may set its own hostname (UTS namespace of its own)" inside
expect_line "-U: the machine may mount (mount namespace owned by its user namespace)" mounted

# ---- concurrent machines get distinct ranges
T2=$(new_tree second)
spawn_bg "$SCRATCH/state/a.out" "$SCRATCH/state/a.err" -P -U -D "$TREE" -M ua /bin/sh -c 'cat /proc/self/uid_map; sleep 2'
PID_A=$BG_PID
spawn_bg "$SCRATCH/state/b.out" "$SCRATCH/state/b.err" -P -U -D "$T2" -M ub /bin/sh -c 'cat /proc/self/uid_map; sleep 2'
PID_B=$BG_PID
wait_for "$SCRATCH/state/a.out" '^ *0 ' 10
wait_for "$SCRATCH/state/b.out" '^ *0 ' 10
BA=$(awk '{print $2; exit}' "$SCRATCH/state/a.out") BB=$(awk '{print $2; exit}' "$SCRATCH/state/b.out")
ok_if "two machines running at once have distinct ranges ($BA, $BB)" test -n "$BA" -a -n "$BB" -a "$BA" != "$BB"
ok_if "each running machine holds a lock on its range" test -e "/run/berth/uid-ranges/$BA" -a -e "/run/berth/uid-ranges/$BB"
BG_PID=$PID_A; wait_bg "$SCRATCH/state/a.out" "$SCRATCH/state/a.err" 10
BG_PID=$PID_B; wait_bg "$SCRATCH/state/b.out" "$SCRATCH/state/b.err" 10

# ---- a late user-namespace helper (as on a loaded host): the maps are written only once it
# has unshared. The shim delays unshare(CLONE_NEWUSER) by 300 ms; a parent that stops
# waiting writes to the helper's uid_map while it is still in the host's namespace.
LD_PRELOAD=$BERTH_SLOW_UNSHARE run_spawn -P -U -D "$TREE" /bin/cat /proc/self/uid_map
expect_rc "-U with a slow user-namespace helper runs" 0
read -r IN BASE RANGE <<<"$(uidmap_of)"
ok_if "-U with a slow helper: the machine's root maps to a picked range (map: $IN $BASE $RANGE)" \
    test "${IN:-x}" = 0 -a "${BASE:-0}" -ge 524288 -a "${RANGE:-0}" = 65536
for n in 1 2 3; do
    mkdir -p "$SCRATCH/state/s$n"
    LD_PRELOAD=$BERTH_SLOW_UNSHARE spawn_bg "$SCRATCH/state/s$n/out" "$SCRATCH/state/s$n/err" \
        -P -U -D "$(new_tree "stress$n")" -M "us$n" /bin/sh -c 'cat /proc/self/uid_map; sleep 1'
    SP[$n]=$BG_PID
done
SEEN=
for n in 1 2 3; do
    BG_PID=${SP[$n]}; wait_bg "$SCRATCH/state/s$n/out" "$SCRATCH/state/s$n/err" 15
    SEEN+="$(awk '$1 == 0 && $2 >= 524288 && $3 == 65536 {print $2}' "$SCRATCH/state/s$n/out") "
done
ok_if "three concurrent slow -U starts: each has its own picked range ($SEEN)" \
    test "$(tr ' ' '\n' <<<"$SEEN" | grep -c .)" = 3 -a "$(tr ' ' '\n' <<<"$SEEN" | grep . | sort -u | wc -l)" = 3

# ---- explicit ranges and modes
run_spawn -P --private-users=1000000:65536 -D "$TREE" /bin/cat /proc/self/uid_map
expect_eq "--private-users=1000000:65536" "0 1000000 65536" "$(uidmap_of)"
run_spawn -P --private-users=identity -D "$TREE" /bin/cat /proc/self/uid_map
expect_eq "--private-users=identity" "0 0 65536" "$(uidmap_of)"
run_spawn -P --private-users=0:65536 -D "$TREE" /bin/true
expect_rc "--private-users=0:65536 is refused (host UID 0 is never a range base)" 1
run_spawn -P --private-users=yes -D "$TREE" /bin/true
expect_rc "--private-users=yes on a root-owned tree is refused" 1
expect_match "... saying why" "host UID 0 is never mapped" "$ERROUT"
run_spawn -P -U -x -D "$TREE" /bin/true
expect_rc "-U with an overlay root (--ephemeral off btrfs) is refused clearly" 1

# ---- ownership chown: the tree is shifted once, on disk
T3=$(new_tree shifted)
run_spawn -P --private-users=2000000:65536 --private-users-ownership=chown -D "$T3" /bin/sh -c 'stat -c "%u" /etc/passwd /home/berthtest'
expect_rc "--private-users-ownership=chown runs" 0
expect_eq "chown: inside, the files keep their owners" "0
1000" "$OUTPUT"
expect_eq "chown: on disk, the tree's root belongs to the range" 2000000 "$(stat -c %u "$T3")"
expect_eq "chown: on disk, berthtest's home is shifted too" 2001000 "$(stat -c %u "$T3/home/berthtest")"
run_spawn -P --private-users=2000000:65536 --private-users-ownership=chown -D "$T3" /bin/true
expect_no_match "chown: a second start with the same range shifts nothing" "Shifting" "$ERROUT"
run_spawn -P -U --private-users-ownership=off -D "$T3" /bin/true
expect_rc "ownership off on a shifted tree still runs" 0

# ---- a booted Debian under -U
if DEB=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path 2>/dev/null); then
    cp -a "$DEB" "$SCRATCH/debian"
    BEFORE=$(stat -c %u "$SCRATCH/debian/etc/passwd")
    spawn_bg "$SCRATCH/state/d.out" "$SCRATCH/state/d.err" -D "$SCRATCH/debian" -b -M udeb -U --console=read-only
    L=
    for i in $(seq 1 400); do
        L=$(awk '{print $1}' /proc/"$BG_PID"/task/"$BG_PID"/children 2>/dev/null)
        [ -n "$L" ] && [ -S /proc/"$L"/root/run/systemd/private ] && break
        sleep 0.05
    done
    STATE=$(timeout 60 nsenter -t "$L" -a -r -w systemctl is-system-running --wait 2>&1)
    FAILED=$(timeout 20 nsenter -t "$L" -a -r -w systemctl --failed --no-legend --plain 2>&1)
    expect_eq "-U boot: running" running "$STATE"
    expect_eq "-U boot: no failed units" "" "$FAILED"
    ok_if "-U boot: the machine's PID 1 runs under a shifted host UID" test "$(stat -c %u /proc/"$L")" -ge 524288
    kill -TERM "$BG_PID"
    wait_bg "$SCRATCH/state/d.out" "$SCRATCH/state/d.err" 30
    expect_rc "-U boot: SIGTERM powers it off with status 0" 0
    expect_eq "-U boot (idmapped): ownership on disk unchanged" "$BEFORE" "$(stat -c %u "$SCRATCH/debian/etc/passwd")"
else
    skip "-U boot" "no Debian tree (tools/make-debian-tree.sh failed)"
fi
