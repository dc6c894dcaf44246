#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Symlink-exchange races (issue #17, "not yet tried"): while berth-spawn starts, a process
# on the host swaps a directory or file of the tree with a symlink pointing at a host path
# (absolute and with ../ enough to climb out), renameat2(RENAME_EXCHANGE) in a tight loop.
# Whatever berth-spawn resolves inside the tree must stay inside it: each mount lands
# inside the machine's root (or the start fails cleanly), nothing is written or created on
# the host path, and no mount is left on the host.
. "$(dirname "$0")/lib.sh"
setup

RUNS=${BERTH_RACE_RUNS:-40}
EXCHANGE=$BERTH_TESTDIR/exchange-race.py

VICTIM=$SCRATCH/victim                 # the host directory the symlinks point at
mkdir -p "$VICTIM/dir"
echo victim >"$VICTIM/resolv.conf"
echo victim >"$VICTIM/localtime"
VICTIM_BEFORE=$(tree_state "$VICTIM")
CLIMB=../../../../../../../../../..

SRC=$SCRATCH/src
mkdir -p "$SRC" "$SCRATCH/upper" "$SCRATCH/work"
echo marker >"$SRC/marker"

# race NAME A B RUNS-CHECK SPAWN-ARGS... : start the machine RUNS times while A and B of the
# tree are swapped; the payload prints the mount table. RUNS-CHECK is a shell function
# judging one run (0: contained, 1: escaped); counts in OK, FAILED, ESCAPED, SWAPS.
race() {
    local name=$1 a=$2 b=$3 check=$4 i pid
    shift 4
    OK=0 FAILED=0 ESCAPED=0
    "$PYTHON" "$EXCHANGE" "$TREE$a" "$TREE$b" >"$SCRATCH/state/swaps" &
    pid=$!
    for ((i = 0; i < RUNS; i++)); do
        run_spawn -P -q -D "$TREE" -M race "$@" /bin/cat /proc/self/mountinfo
        if [ "$RC" != 0 ]; then
            FAILED=$((FAILED + 1))
            # a refused start says why on one line and leaves nothing
            [ "$(wc -l <<<"$ERROUT")" -le 2 ] || { ESCAPED=$((ESCAPED + 1)); diag "$name: $ERROUT"; }
        elif "$check"; then
            OK=$((OK + 1))
        else
            ESCAPED=$((ESCAPED + 1))
            diag "$name run $i: $(head -c 600 <<<"$OUTPUT")"
        fi
    done
    kill -TERM "$pid"
    wait "$pid"
    SWAPS=$(cat "$SCRATCH/state/swaps")
    diag "$name: $OK started, $FAILED refused, $ESCAPED escaped, $SWAPS swaps"
    expect_eq "$name: no start escaped the tree" 0 "$ESCAPED"
    ok_if "$name: the race ran (swaps and at least one start)" \
        test "${SWAPS:-0}" -gt 0 -a "$OK" -gt 0
    expect_eq "$name: the host path the symlinks point at is untouched" "$VICTIM_BEFORE" "$(tree_state "$VICTIM")"
}

# mounted_inside: the machine's own mount table shows a mount at /mnt/t or /mnt/l (where the
# directory was when the mount was made); a mount resolved outside the root would not be
# reachable from the machine's root and is missing from its mountinfo.
mounted_inside() { grep -qE '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ /mnt/(t|l)(/sub/deep)? ' <<<"$OUTPUT"; }
started() { true; }
# resolv_mounted: the bind of the host's resolv.conf is on the tree's file (wherever it was),
# or berth-spawn found no file there to cover (the swapped-in link points nowhere inside)
# and said so, going on without it as nspawn does
resolv_mounted() {
    grep -qE '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ /etc/(resolv.conf|rl) ' <<<"$OUTPUT" ||
        grep -q 'Failed to set up /etc/resolv.conf (--resolv-conf=bind-host), ignoring' <<<"$ERROUT"
}

prepare_dir_pair() {   # /mnt/t a directory, /mnt/l a symlink LINK
    rm -rf "$TREE/mnt/t" "$TREE/mnt/l"
    mkdir -p "$TREE/mnt/t"
    ln -s "$1" "$TREE/mnt/l"
}

for link in "$VICTIM/dir" "$CLIMB$VICTIM/dir"; do
    kind=absolute
    [ "${link#/}" = "$link" ] && kind=relative
    prepare_dir_pair "$link"
    race "bind, $kind link" /mnt/t /mnt/l mounted_inside --bind="$SRC:/mnt/t"
    prepare_dir_pair "$link"
    race "bind to a missing subdirectory, $kind link" /mnt/t /mnt/l mounted_inside \
        --bind="$SRC:/mnt/t/sub/deep"
    prepare_dir_pair "$link"
    race "tmpfs, $kind link" /mnt/t /mnt/l mounted_inside --tmpfs=/mnt/t
    prepare_dir_pair "$link"
    race "overlay, $kind link" /mnt/t /mnt/l mounted_inside \
        --overlay="$SRC:$SCRATCH/upper:/mnt/t"
done

# files berth-spawn writes into the tree: /etc/resolv.conf and /etc/localtime
for link in "$VICTIM" "$CLIMB$VICTIM"; do
    kind=absolute
    [ "${link#/}" = "$link" ] && kind=relative
    rm -f "$TREE/etc/resolv.conf" "$TREE/etc/rl"
    echo 'nameserver 192.0.2.1' >"$TREE/etc/resolv.conf"
    ln -s "$link/resolv.conf" "$TREE/etc/rl"
    for mode in copy-host replace-host; do
        race "resolv.conf $mode, $kind link" /etc/resolv.conf /etc/rl started --resolv-conf=$mode
    done
    race "resolv.conf bind-host, $kind link" /etc/resolv.conf /etc/rl resolv_mounted --resolv-conf=bind-host
    rm -f "$TREE/etc/localtime" "$TREE/etc/ll"
    : >"$TREE/etc/localtime"
    ln -s "$link/localtime" "$TREE/etc/ll"
    race "localtime copy, $kind link" /etc/localtime /etc/ll started --timezone=copy
done
