#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn --ephemeral (overlay on a plain directory, btrfs snapshot on a subvolume,
# including the cleanup of a snapshot left by a SIGKILLed berth-spawn) and --volatile=.
. "$(dirname "$0")/lib.sh"
setup

fstype_of() {   # the file system type of PATH inside the last run's output
    awk -v p="$1" '$1 == p { print $2 }' <<<"$OUTPUT"
}
list_mounts='while read -r _ _ _ _ mp _ rest; do set -- $rest; while [ "$1" != - ]; do shift; done; echo "$mp $2"; done </proc/self/mountinfo'

# ---- --ephemeral on a plain directory: an overlay with a tmpfs upper layer
BEFORE=$(tree_state "$TREE")
run_spawn -P -x -D "$TREE" /bin/sh -c "echo changed >/etc/os-release && echo new >/newfile && rm /etc/group && $list_mounts"
expect_rc "--ephemeral on a directory runs" 0
expect_eq "--ephemeral: the root is an overlay" overlay "$(fstype_of /)"
expect_eq "--ephemeral: the tree is unchanged afterwards" "$BEFORE" "$(tree_state "$TREE")"
ok_if "--ephemeral: nothing left next to the tree" test -z "$(find "$SCRATCH" -maxdepth 1 -name '.#*')"

# ---- --volatile=
run_spawn -P --volatile=yes -D "$TREE" /bin/sh -c "echo x >/x && echo wrote; touch /usr/x 2>/dev/null || echo usr-ro; ls /etc; $list_mounts"
expect_rc "--volatile=yes runs" 0
expect_eq "--volatile=yes: the root is a tmpfs" tmpfs "$(fstype_of /)"
expect_line "--volatile=yes: the root is writable" wrote
expect_line "--volatile=yes: /usr is read-only" usr-ro
expect_no_line "--volatile=yes: the tree's /etc is not there" passwd
ok_if "--volatile=yes: /bin still works (usr/bin symlink)" test -n "$(fstype_of /usr)"

mkdir -p "$TREE/var"
BEFORE=$(tree_state "$TREE")
run_spawn -P --volatile=state -D "$TREE" /bin/sh -c "touch /x 2>/dev/null || echo root-ro; echo s >/var/state && echo var-rw; $list_mounts"
expect_rc "--volatile=state runs" 0
expect_line "--volatile=state: the root is read-only" root-ro
expect_line "--volatile=state: /var is writable" var-rw
expect_eq "--volatile=state: /var is a tmpfs" tmpfs "$(fstype_of /var)"
expect_eq "--volatile=state: the tree is unchanged" "$BEFORE" "$(tree_state "$TREE")"

run_spawn -P --volatile=overlay -D "$TREE" /bin/sh -c "echo o >/etc/o && echo wrote; $list_mounts"
expect_rc "--volatile=overlay runs" 0
expect_eq "--volatile=overlay: the root is an overlay" overlay "$(fstype_of /)"
expect_eq "--volatile=overlay: the tree is unchanged" "$BEFORE" "$(tree_state "$TREE")"

run_spawn -P -x --volatile=yes -D "$TREE" /bin/true
expect_rc "--ephemeral with --volatile= is refused" 1

# ---- --ephemeral on a btrfs subvolume: a snapshot next to it, removed afterwards
if ! command -v mkfs.btrfs >/dev/null || ! command -v btrfs >/dev/null; then
    skip "btrfs --ephemeral" "btrfs-progs not installed"
    exit 0
fi
POOL=$SCRATCH/pool
truncate -s 256M "$SCRATCH/pool.img"
mkfs.btrfs -q "$SCRATCH/pool.img" >/dev/null
mkdir -p "$POOL"
mount -o loop "$SCRATCH/pool.img" "$POOL"     # private to this test's mount namespace
btrfs -q subvolume create "$POOL/tree" >/dev/null
"$BERTH_TOOLS/make-busybox-tree.sh" "$POOL/tree" >/dev/null
install -m 0755 "$BERTH_PAYLOAD" "$POOL/tree/usr/bin/berth-payload"
snapshots() { find "$POOL" -maxdepth 1 -name '.#tree.berth-ephemeral-*' -printf '%f\n'; }

BEFORE=$(tree_state "$POOL/tree")
run_spawn -P -x -D "$POOL/tree" /bin/sh -c "echo new >/newfile; stat -c %i /; $list_mounts"
expect_rc "--ephemeral on a subvolume runs" 0
expect_line "--ephemeral on a subvolume: the root is a btrfs subvolume (inode 256)" 256
expect_eq "--ephemeral on a subvolume: the tree is unchanged" "$BEFORE" "$(tree_state "$POOL/tree")"
expect_eq "--ephemeral on a subvolume: the snapshot is gone" "" "$(snapshots)"

spawn_bg "$SCRATCH/state/eph.out" "$SCRATCH/state/eph.err" -P -x -D "$POOL/tree" /bin/sleep 30
for i in $(seq 1 100); do [ -n "$(snapshots)" ] && break; sleep 0.05; done
ok_if "while the machine runs, its snapshot exists" test -n "$(snapshots)"
kill -KILL "$BG_PID"
wait_bg "$SCRATCH/state/eph.out" "$SCRATCH/state/eph.err" 10
for i in $(seq 1 100); do pgrep -f "^/bin/sleep 30$" >/dev/null || break; sleep 0.05; done
ok_if "SIGKILL of berth-spawn leaves the snapshot behind" test -n "$(snapshots)"
run_spawn -P -x -D "$POOL/tree" /bin/true
expect_rc "the next --ephemeral start runs" 0
expect_match "... and reports the stale snapshot it removed" "Removed stale ephemeral snapshot" "$ERROUT"
expect_eq "... and no snapshot is left" "" "$(snapshots)"

umount "$POOL"
