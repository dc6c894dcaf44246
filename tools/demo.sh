#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job on a default that needs nothing from the user: build a small busybox tree in a
# scratch directory and run a command in a machine that shows its isolation.
set -eu

cd "$(dirname "$0")/.."
spawn=${BERTH_SPAWN:-build/src/spawn/berth-spawn}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/berth-demo.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

sh tools/make-busybox-tree.sh "$scratch/demo" >/dev/null

echo "== host: hostname $(hostname), this shell is PID $$, $(wc -l </proc/self/mountinfo) mounts"
"$spawn" -D "$scratch/demo" -M demo --console=pipe /bin/sh -c '
        echo "== machine: hostname $(hostname), this shell is PID $$, container=$container"
        echo "== processes it can see:"; ps -o pid,comm
        echo "== its own mounts:"
        awk '"'"'{ for (i = 7; i <= NF; i++) if ($i == "-") { print "   " $5 " (" $(i + 1) ")"; break } }'"'"' /proc/self/mountinfo
        echo "== capabilities: $(grep CapEff /proc/self/status)"
        echo "== writing /proc/sys/kernel/hostname: $(echo x 2>&1 >/proc/sys/kernel/hostname || echo refused)"'
