# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034
#
# runc-lib.sh — helpers of the berth-runc tests (test-runc*.sh), sourced after lib.sh's
# setup: the runtime with a state root of the test's own, bundles on a busybox tree, the
# state JSON.

: "${BERTH_RUNC:=$BERTH_SRCDIR/build/src/oci/berth-runc}"
HELPER=$BERTH_TESTDIR/runc-helper.py
ROOT=$SCRATCH/runc-state
# IDs unique to this run, so that cgroups are surely ours
P=brt$$

runc() {
    "$BERTH_RUNC" --root "$ROOT" "$@"
}

# bundle NAME ARGS_JSON [PYTHON]: a bundle $SCRATCH/NAME whose rootfs is a busybox tree,
# with the config "runc spec" writes (no terminal) running ARGS_JSON; PYTHON may change
# the config dict c further. Prints its path.
bundle() {
    local b=$SCRATCH/$1
    mkdir -p "$b"
    cp -a "$TREE" "$b/rootfs"
    mkdir -p "$b/rootfs/out"
    ARGS=$2 EXTRA=${3:-} "$PYTHON" - "$b/config.json" <<'EOF'
import json, os, sys
caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
c = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": False, "user": {"uid": 0, "gid": 0},
        "args": json.loads(os.environ["ARGS"]),
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {k: caps for k in ("bounding", "effective", "permitted", "inheritable", "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": False},
    "hostname": "runc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/out", "type": "bind", "source": os.path.dirname(sys.argv[1]) + "/out", "options": ["rbind", "rw"]},
    ],
    "linux": {
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
        "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
    },
    "annotations": {"org.berth.test": "yes"},
}
exec(os.environ["EXTRA"])
json.dump(c, open(sys.argv[1], "w"), indent=1)
EOF
    mkdir -p "$b/out"
    chmod 1777 "$b/out"      # the exec test writes there as UID 1000
    echo "$b"
}

# json FILE-OR-TEXT EXPR: evaluate a Python expression on the parsed JSON j
json() {
    J=$1 "$PYTHON" -c "import json, os; j = json.loads(os.environ['J']); print($2)" 2>&1
}

status_of() {
    json "$(runc state "$1" 2>&1)" 'j["status"]'
}

wait_status() {
    local i
    for i in $(seq 1 100); do
        [ "$(status_of "$1")" = "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# cgfile ID FILE: the container's cgroup file FILE, wherever its controller lives (without
# a cgroupsPath, berth-runc's cgroup is berth-runc-ID at the top)
cgfile() {
    find /sys/fs/cgroup -path "*/berth-runc-$1/$2" 2>/dev/null | head -n1
}

# gone PID: the process does not exist or is a zombie (ours to reap: it is our child)
gone() {
    local s
    s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
    [ -z "$s" ] || [ "$s" = Z ]
}


# nothing ID: the container left no state directory and no cgroup in any hierarchy
nothing() {
    [ ! -e "$ROOT/$1" ] && [ -z "$(find /sys/fs/cgroup -name "berth-runc-$1" 2>/dev/null)" ]
}
