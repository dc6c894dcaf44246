# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# cgroup-devices-lib.sh — the device rules test-cgroup-devices (this host) and
# test-vm-cgroup (a pure cgroup2 VM) give a container, the probe that tries them from
# inside, and what it must find. Sourced; needs PYTHON, or python3 on PATH.

# The rules, in order (OCI linux.resources.devices): deny everything; /dev/fuse denied,
# then allowed (the last rule wins); /dev/net/tun allowed, then its writes denied (per
# access); mknod of any misc device (a wildcard minor, one access only).
DEVICES_RULES='[{"allow": false, "access": "rwm"},
 {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
 {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
 {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
 {"allow": false, "type": "c", "major": 10, "minor": 200, "access": "w"},
 {"allow": true, "type": "c", "major": 10, "access": "m"}]'

# Run inside the container (sh -c): makes its nodes in /dev, then opens each for r, w
# and rw. "allowed" is what the device cgroup let through (ok; ENXIO or ENODEV where the
# driver is not loaded), "denied" its EPERM; anything else is printed as it came.
DEVICES_PROBE='P=/usr/bin/berth-payload
v() { case $1 in ok | ENXIO | ENODEV) echo allowed ;; EPERM) echo denied ;; *) echo "$1" ;; esac; }
echo "mknod-fuse=$(v "$($P mknod /dev/p-fuse c 10 229)")"
echo "mknod-tun=$(v "$($P mknod /dev/p-tun c 10 200)")"
echo "mknod-loopctl=$(v "$($P mknod /dev/p-loopctl c 10 237)")"
echo "mknod-tty1=$(v "$($P mknod /dev/p-tty1 c 4 1)")"
for n in null fuse tun loopctl tty1; do
    f=/dev/p-$n
    [ "$n" = null ] && f=/dev/null
    echo "$n=$(for m in r w rw; do v "$($P devopen "$f" "$m")"; done | tr "\n" " " | sed "s/ $//")"
done'

# What the probe prints under those rules. After them come berth's defaults, as runc's
# after its rules: berth's own /dev nodes (/dev/null among them) and making a node of any
# device, which is why tty1's node is made but cannot be opened.
DEVICES_EXPECTED='mknod-fuse=allowed
mknod-tun=allowed
mknod-loopctl=allowed
mknod-tty1=allowed
null=allowed allowed allowed
fuse=allowed allowed allowed
tun=allowed denied denied
loopctl=denied denied denied
tty1=denied denied denied'

# What it prints for a config without linux.resources.devices: only the defaults.
DEVICES_EXPECTED_NONE='mknod-fuse=allowed
mknod-tun=allowed
mknod-loopctl=allowed
mknod-tty1=allowed
null=allowed allowed allowed
fuse=denied denied denied
tun=denied denied denied
loopctl=denied denied denied
tty1=denied denied denied'

# An update (berth-runc update --resources) and what the probe then prints for fuse:
# reads denied now.
DEVICES_UPDATE='{"devices": [{"allow": false, "type": "c", "major": 10, "minor": 229, "access": "r"},
 {"allow": true, "type": "c", "major": 10, "minor": 237, "access": "rwm"}]}'
DEVICES_UPDATED_FUSE='fuse=denied allowed denied'

# devices_bundle DIR TREE ARGS_JSON [RULES]: an OCI bundle in DIR (rootfs a copy of TREE)
# whose process runs ARGS_JSON with CAP_MKNOD, under RULES (DEVICES_RULES; "none": no
# linux.resources at all), its cgroup at berth-devtest/NAME-OF-DIR.
devices_bundle() {
    mkdir -p "$1"
    cp -a "$2" "$1/rootfs"
    ARGS=$3 RULES=${4:-$DEVICES_RULES} CGPATH="berth-devtest/${1##*/}" "${PYTHON:-python3}" - "$1/config.json" <<'PY'
import json, os, sys
caps = ["CAP_MKNOD", "CAP_KILL"]
c = {
    "ociVersion": "1.0.2-dev",
    "process": {"user": {"uid": 0, "gid": 0}, "args": json.loads(os.environ["ARGS"]), "cwd": "/",
                "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                "capabilities": {k: caps for k in ("bounding", "effective", "permitted")}},
    "root": {"path": "rootfs"},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}],
    "linux": {"namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")],
              "cgroupsPath": os.environ["CGPATH"],
              "resources": {"devices": json.loads(os.environ["RULES"])} if os.environ["RULES"] != "none" else None},
}
if c["linux"]["resources"] is None:
    del c["linux"]["resources"]
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
}
