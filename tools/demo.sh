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

# ---- boot a Debian machine (the tree is built once and cached, see make-debian-tree.sh)
echo
echo "== booting Debian 12 with systemd in a machine (first run builds the tree, about a minute)"
deb=$(sh tools/make-debian-tree.sh --print-path)
"$spawn" -q -D "$deb" -b -M demo-debian --volatile=overlay --console=passive &
pid=$!
leader=
for _ in $(seq 1 400); do
        leader=$(awk '{print $1}' /proc/$pid/task/$pid/children 2>/dev/null)
        [ -n "$leader" ] && [ -S /proc/"$leader"/root/run/systemd/private ] && break
        sleep 0.05
done
inside() { nsenter -t "$leader" -m -u -i -p -C -r -w "$@"; }
echo "== systemctl is-system-running: $(inside systemctl is-system-running --wait)"
echo "== failed units: $(inside systemctl --failed --no-legend --plain | wc -l)"
echo "== $(inside sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), hostname $(inside hostname)," \
     "$(inside systemctl list-units --type=service --state=running --no-legend --plain | wc -l) services running"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
echo "== SIGTERM: the machine powered off, berth-spawn exited with status $status"
