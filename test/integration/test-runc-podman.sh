#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-runc under podman (Debian's 4.3, with conmon): an image imported from a tarball
# the test builds (no registry), storage, run root and tmpdir of the test's own, no network
# (netns "none", in a network namespace of the test's own), the cgroupfs manager and a file
# events log (no systemd, no bus), a cgroup parent of the test's own, and /run/berth-runc
# (podman runs the runtime without --root) a tmpfs of the test's mount namespace:
# podman run (exit status, output), run -d, exec, ps, stop, rm, and nothing left behind.
. "$(dirname "$0")/lib.sh"
in_own_netns "$@"
setup

: "${BERTH_RUNC:=$BERTH_SRCDIR/build/src/oci/berth-runc}"
for p in podman conmon; do
    if ! command -v "$p" >/dev/null; then
        skip "podman tests" "$p not installed (tools/install-deps.sh installs podman)"
        exit 0
    fi
done

PM=$SCRATCH/podman
CG=brtpod$$
mkdir -p "$PM/storage" "$PM/runroot" "$PM/tmp"
mount -t tmpfs tmpfs /run/berth-runc 2>/dev/null || { mkdir -p /run/berth-runc && mount -t tmpfs tmpfs /run/berth-runc; }
# podman's default limits (nofile and nproc 1048576) exceed the hard limits of a host
# whose bounding set lacks CAP_SYS_RESOURCE, as this sandbox's does: runc fails alike
cat >"$PM/containers.conf" <<CONF
[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
# an array, not a function, so that timeout runs it too: podman without these options
# would use the host's own storage and pull from a registry
export CONTAINERS_CONF=$PM/containers.conf
PODMAN=(podman --root "$PM/storage" --runroot "$PM/runroot" --storage-driver vfs --tmpdir "$PM/tmp"
        --runtime "$BERTH_RUNC")

# ---- the image: a busybox tree as a tarball, imported
TREE=$(new_tree tree)
tar -C "$TREE" -cf "$SCRATCH/image.tar" .
ok_if "podman import of the test's own tarball" "${PODMAN[@]}" import "$SCRATCH/image.tar" localhost/berth-test:1
OUTPUT=$("${PODMAN[@]}" images --format '{{.Repository}}:{{.Tag}}' 2>&1)
expect_match "the image is listed" '^localhost/berth-test:1$'

# ---- run to completion
OUTPUT=$(timeout 90 "${PODMAN[@]}" run --pull never --rm --cgroup-parent "/$CG" --hostname pm localhost/berth-test:1 \
         sh -c 'echo "hello from $(hostname) pid $$"; exit 3' 2>&1)
expect_eq "podman run ends with the container's exit status" 3 "$?"
expect_eq "the container's output reaches podman, from PID 1 of its own namespace" "hello from pm pid 1" "$OUTPUT"
expect_eq "podman run --rm removed the container" "" "$("${PODMAN[@]}" ps -aq 2>&1)"

# ---- run -d, exec, ps, stop, rm
ok_if "podman run -d" timeout 90 "${PODMAN[@]}" run --pull never -d --name c1 --cgroup-parent "/$CG" localhost/berth-test:1 \
    sh -c 'trap "echo got-term; exit 0" TERM; sleep 1000 & wait'
PID=$("${PODMAN[@]}" inspect c1 --format '{{.State.Pid}}' 2>&1)
expect_eq "inspect: running under berth-runc" "running $BERTH_RUNC" \
    "$("${PODMAN[@]}" inspect c1 --format '{{.State.Status}} {{.OCIRuntime}}' 2>&1)"
OUTPUT=$(cat "/proc/$PID/cgroup" 2>&1)
expect_match "the init is in the container's cgroup below the test's parent" ":/$CG/libpod-[0-9a-f]+$"
OUTPUT=$(timeout 30 "${PODMAN[@]}" exec c1 sh -c 'cat /proc/1/comm; exit 4' 2>&1)
expect_eq "podman exec ends with the process's exit status" 4 "$?"
expect_match "podman exec runs in the container's PID namespace" '^sh$'
OUTPUT=$("${PODMAN[@]}" ps --format '{{.Names}} {{.Status}}' 2>&1)
expect_match "podman ps lists it as up" '^c1 Up '
ok_if "podman stop" timeout 60 "${PODMAN[@]}" stop -t 10 c1
expect_eq "stop delivered SIGTERM: the container exited 0 on its own" "exited 0" \
    "$("${PODMAN[@]}" inspect c1 --format '{{.State.Status}} {{.State.ExitCode}}' 2>&1)"
OUTPUT=$("${PODMAN[@]}" logs c1 2>&1)
expect_match "podman logs has the container's output" '^got-term$'
ok_if "podman rm" timeout 60 "${PODMAN[@]}" rm c1
expect_eq "no container is left" "" "$("${PODMAN[@]}" ps -aq 2>&1)"
expect_eq "the init is gone" "gone" "$(kill -0 "$PID" 2>/dev/null && echo alive || echo gone)"

# ---- nothing left
expect_eq "berth-runc's state directory is empty" "" "$(ls -A /run/berth-runc 2>&1)"
for i in $(seq 1 50); do [ -z "$(find /sys/fs/cgroup -path "*/$CG/libpod-*" 2>/dev/null)" ] && break; sleep 0.1; done
expect_eq "no cgroup of the containers is left" "" "$(find /sys/fs/cgroup -path "*/$CG/libpod-*" 2>/dev/null)"
# the parent (and conmon's cgroup in it) are podman's: removed when empty
find /sys/fs/cgroup -depth -type d -path "*/$CG*" -exec rmdir {} + 2>/dev/null
expect_eq "the test's cgroup parent is gone" "" "$(find /sys/fs/cgroup -name "$CG" 2>/dev/null)"
umount -l /run/berth-runc
