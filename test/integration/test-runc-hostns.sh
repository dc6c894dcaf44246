#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-runc with a config that lists no namespace (runtime-tools' linux_ns_itype): the
# container is in the runtime's namespaces, its mount namespace too, chrooted into the
# bundle's rootfs as with runc; its mounts are made in the runtime's mount namespace, on a
# private bind of rootfs that delete, run and a failed create detach (runc leaves them);
# exec runs in its root; maskedPaths and readonlyPaths are refused as by runc; root.readonly
# makes only the container's view read-only; nothing reaches the peers of a shared mount.
. "$(dirname "$0")/lib.sh"
setup

. "$(dirname "$0")/runc-lib.sh"

TREE=$(new_tree tree)

NONS='del c["hostname"]; c["linux"]["namespaces"] = []; del c["linux"]["maskedPaths"]; del c["linux"]["readonlyPaths"]'

# mounts_under DIR: the mount points at or below DIR in our mount namespace
mounts_under() {
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
}

tap_context() {
    ls -d "$ROOT/$ID" 2>/dev/null
    find /sys/fs/cgroup -name "berth-runc-$ID" 2>/dev/null
    grep -F "$SCRATCH" /proc/self/mountinfo
}

# ---- the life cycle in the runtime's namespaces
B=$(bundle nons '["sh", "-c", "cat /marker >/out/marker; readlink /proc/self/ns/mnt >/out/mnt; exec sleep 1000"]' \
    "$NONS"'; open(os.path.dirname(sys.argv[1]) + "/rootfs/marker", "w").write("in-the-rootfs\n")')
ID=$P-nons
ok_if "create a container that lists no namespace" runc create --bundle "$B" --pid-file "$SCRATCH/nons.pid" "$ID"
PID=$(cat "$SCRATCH/nons.pid")
for ns in mnt pid net ipc uts cgroup; do
    expect_eq "its $ns namespace is the runtime's" "$(readlink /proc/self/ns/$ns)" "$(readlink "/proc/$PID/ns/$ns")"
done
expect_eq "its root is the bundle's rootfs" "$B/rootfs" "$(readlink "/proc/$PID/root")"
expect_match "the config's mounts are on rootfs in the runtime's mount namespace" "^$B/rootfs/proc\$" "$(mounts_under "$B/rootfs")"
expect_eq "state: created" "created" "$(status_of "$ID")"
ok_if "start" runc start "$ID"
for i in $(seq 1 100); do [ -s "$B/out/mnt" ] && break; sleep 0.05; done
expect_eq "the program sees rootfs as its root" "in-the-rootfs" "$(cat "$B/out/marker" 2>&1)"
expect_eq "the program is in the runtime's mount namespace" "$(readlink /proc/self/ns/mnt)" "$(cat "$B/out/mnt" 2>&1)"
expect_eq "state: running" "running" "$(status_of "$ID")"
OUTPUT=$(runc exec "$ID" sh -c 'cat /marker; readlink /proc/self/ns/mnt' 2>&1)
expect_eq "exec runs in the container's root, in the runtime's mount namespace" \
    "in-the-rootfs $(readlink /proc/self/ns/mnt)" "$(echo $OUTPUT)"
ok_if "kill KILL" runc kill "$ID" KILL
ok_if "it stops" wait_status "$ID" stopped
expect_match "its mounts stay until delete" "^$B/rootfs\$" "$(mounts_under "$B/rootfs")"
ok_if "delete" runc delete "$ID"
expect_eq "delete detaches every mount of the container" "" "$(mounts_under "$B/rootfs")"
ok_if "nothing else is left" nothing "$ID"

# ---- run, a failed create, a killed init
B=$(bundle nonsrun '["sh", "-c", "echo ran >/out/ran"]' "$NONS")
ID=$P-nonsrun
ok_if "run a container without a mount namespace" runc run --bundle "$B" "$ID"
expect_eq "it ran" "ran" "$(cat "$B/out/ran" 2>&1)"
expect_eq "run detaches its mounts" "" "$(mounts_under "$B/rootfs")"
ok_if "run leaves nothing else" nothing "$ID"
ID=$P-nonskill
ok_if "create another" runc create --bundle "$B" --pid-file "$SCRATCH/nonskill.pid" "$ID"
kill -KILL "$(cat "$SCRATCH/nonskill.pid")"
ok_if "its init is SIGKILLed" wait_status "$ID" stopped
ok_if "delete" runc delete "$ID"
expect_eq "delete after a dead init detaches its mounts" "" "$(mounts_under "$B/rootfs")"
ok_if "nothing else is left" nothing "$ID"
B=$(bundle nonsmiss '["/no/such/program"]' "$NONS")
ID=$P-nonsmiss
expect_fail "create whose program is missing fails" "not found|No such file" runc create --bundle "$B" "$ID"
expect_eq "the failed create leaves no mount" "" "$(mounts_under "$B/rootfs")"
ok_if "nor anything else" nothing "$ID"

# ---- what needs a mount namespace of the container's own
B=$(bundle nonsmask '["true"]' "$NONS"'; c["linux"]["maskedPaths"] = ["/proc/kcore"]')
ID=$P-nonsmask
expect_fail "maskedPaths without a mount namespace are refused, as by runc" 'linux\.maskedPaths: unable to restrict' \
    runc create --bundle "$B" "$ID"
ok_if "nothing is made" nothing "$ID"
B=$(bundle nonsrop '["true"]' "$NONS"'; c["linux"]["readonlyPaths"] = ["/proc/sys"]')
expect_fail "readonlyPaths without a mount namespace are refused" 'linux\.readonlyPaths: unable to restrict' \
    runc create --bundle "$B" "$ID"
B=$(bundle nonsro '["sh", "-c", "touch /x 2>/out/ro; echo rc=$? >>/out/ro; exec sleep 1000"]' "$NONS"'; c["root"]["readonly"] = True')
ID=$P-nonsro
ok_if "run --detach with root.readonly" runc run --detach --bundle "$B" "$ID"
for i in $(seq 1 100); do grep -q rc= "$B/out/ro" 2>/dev/null && break; sleep 0.05; done
expect_match "the program cannot write to its root" 'Read-only file system' "$(cat "$B/out/ro" 2>&1)"
ok_if "the mount rootfs is on stays writable" touch "$B/beside-rootfs"
ok_if "delete --force" runc delete --force "$ID"
ok_if "rootfs is writable again after delete" touch "$B/rootfs/y"
expect_eq "no mount is left" "" "$(mounts_under "$B/rootfs")"

# ---- rootfs below a shared mount with a peer elsewhere: the bind of rootfs reaches the
# peer (its parent is shared), the container's mounts on it do not, and delete takes both
SH=$SCRATCH/shared
PEER=$SCRATCH/peer
mkdir -p "$SH" "$PEER"
mount -t tmpfs tmpfs "$SH" && mount --make-shared "$SH" && mount --bind "$SH" "$PEER"
B=$(bundle shared/nons '["sleep", "1000"]' "$NONS")
ID=$P-nonsshared
ok_if "create a container whose rootfs is on a shared mount" runc create --bundle "$B" "$ID"
expect_match "its mounts are on rootfs" "^$SH/nons/rootfs/proc\$" "$(mounts_under "$SH/nons/rootfs")"
expect_eq "none of them reaches the peer" "" "$(mounts_under "$PEER/nons/rootfs" | grep -vx "$PEER/nons/rootfs")"
ok_if "delete --force" runc delete --force "$ID"
expect_eq "delete detaches them, at the peer too" "" "$(mounts_under "$SH/nons"; mounts_under "$PEER/nons")"
ok_if "nothing else is left" nothing "$ID"
umount "$PEER" "$SH"

# ---- nothing left
expect_eq "the state directory is empty" "" "$(ls -A "$ROOT" 2>&1)"
expect_eq "no cgroup of ours is left" "" "$(find /sys/fs/cgroup -name "*$P*" 2>/dev/null)"
