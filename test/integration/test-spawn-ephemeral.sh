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

# --volatile=yes takes only the tree's /usr; a /usr symlink pointing out of the tree is
# resolved inside it, never on the host (the host's root as the machine's /usr could be
# remounted writable there).
hostdir=$SCRATCH/host-usr
mkdir -p "$hostdir/bin"
install -m 0755 "$BERTH_PAYLOAD" "$hostdir/bin/berth-payload"
touch "$hostdir/host-marker"
for target in / ../../../../../../../../../.. "$hostdir"; do
    evil=$SCRATCH/evil-usr
    rm -rf "$evil"
    mkdir -p "$evil/bin" "$evil/etc" "$evil$hostdir/bin"
    install -m 0755 "$BERTH_PAYLOAD" "$evil/bin/berth-payload"
    install -m 0755 "$BERTH_PAYLOAD" "$evil$hostdir/bin/berth-payload"
    touch "$evil/tree-marker" "$evil$hostdir/tree-marker"
    ln -s "$target" "$evil/usr"
    run_spawn -P --volatile=yes -D "$evil" /usr/bin/berth-payload ls /usr
    if [ "$RC" = 0 ] && grep -qx 'entry=tree-marker' <<<"$OUTPUT" && ! grep -q host-marker <<<"$OUTPUT"; then
        pass "--volatile=yes with usr -> $target: /usr is the tree's, resolved inside it"
    else
        fail "--volatile=yes with usr -> $target: /usr is the tree's, resolved inside it" "$(last_run)
$OUTPUT"
    fi
done
rm -rf "$evil" "$hostdir"

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

# ---- --template=: a missing directory is made from a template (a copy here)
TPL=$(new_tree template)
touch "$TPL/usr/bin/setuid-file" && chown 1000:1000 "$TPL/usr/bin/setuid-file" && chmod 4755 "$TPL/usr/bin/setuid-file"
ln "$TPL/usr/bin/setuid-file" "$TPL/usr/bin/hardlink"
mkfifo "$TPL/usr/fifo"
mknod "$TPL/usr/null-node" c 1 3
run_spawn -P --resolv-conf=off --timezone=off --template="$TPL" -D "$SCRATCH/from-template" /bin/sh -c 'echo made >/made'
expect_rc "--template= with a missing directory runs" 0
ok_if "--template=: the new tree was created" test -f "$SCRATCH/from-template/made"
rm -f "$SCRATCH/from-template/made"
expect_eq "--template=: the copy has the template's files, types, modes and owners" "$(tree_state "$TPL")" \
    "$(tree_state "$SCRATCH/from-template")"
expect_eq "--template=: hard links stay hard links" "$(stat -c %i "$SCRATCH/from-template/usr/bin/setuid-file")" \
    "$(stat -c %i "$SCRATCH/from-template/usr/bin/hardlink")"
expect_eq "--template=: set-user-ID bit and owner survive" "4755 1000" "$(stat -c '%a %u' "$SCRATCH/from-template/usr/bin/setuid-file")"
ok_if "--template=: no temporary tree left" test -z "$(find "$SCRATCH" -maxdepth 1 -name '.#*template*')"
echo keep >"$SCRATCH/from-template/etc/kept"
run_spawn -P --template="$TPL" -D "$SCRATCH/from-template" /bin/cat /etc/kept
expect_eq "--template= is ignored when the directory exists" keep "$OUTPUT"
run_spawn -P --template="$SCRATCH/no-such-template" -D "$SCRATCH/from-nothing" /bin/true
expect_rc "--template= naming a missing template is refused" 1
ok_if "... and creates nothing" test ! -e "$SCRATCH/from-nothing"

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
for i in $(seq 1 100); do [ -z "$(snapshots)" ] && break; sleep 0.05; done
expect_eq "SIGKILL of berth-spawn: its watcher removes the snapshot" "" "$(snapshots)"

# when even the watcher is gone (a whole cgroup killed), the next start cleans up
btrfs -q subvolume snapshot "$POOL/tree" "$POOL/.#tree.berth-ephemeral-00000000deadbeef" >/dev/null
run_spawn -P -x -D "$POOL/tree" /bin/true
expect_rc "the next --ephemeral start runs" 0
expect_match "... and reports the stale snapshot it removed" "Removed stale ephemeral snapshot" "$ERROUT"
expect_eq "... and no snapshot is left" "" "$(snapshots)"

run_spawn -P --template="$POOL/tree" -D "$POOL/from-snapshot" /bin/true
expect_rc "--template= of a subvolume on the same btrfs runs" 0
expect_eq "--template= of a subvolume: the new tree is a snapshot (a subvolume itself)" 256 "$(stat -c %i "$POOL/from-snapshot")"

umount "$POOL"
