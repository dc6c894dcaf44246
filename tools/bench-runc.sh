#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench-runc.sh — benchmark (not a test): create + start + delete --force of an OCI bundle
# running /bin/true, with berth-runc against runc and crun in one run (ratios are the
# figures), the same through a private containerd (ctr run --rm with each runtime as the
# runc shim's binary), and the peak RSS of one "create" of each runtime.
#
# Environment:
#   BERTH_RUNC     path to berth-runc (default: build/src/oci/berth-runc in the repo)
#   BENCH_RUNS     hyperfine --runs   (default 30)
#   BENCH_WARMUP   hyperfine --warmup (default 3)
#
# crun refuses this host's hybrid cgroup layout: it runs in a private mount namespace with
# cgroup2 on /sys/fs/cgroup and --cgroup-manager=disabled; that wrapper is measured alone
# and subtracted. Must run as root.
set -eu

. "$(cd "$(dirname "$0")" && pwd)/bench-lib.sh"
bench_init bench-runc 30 3
command -v hyperfine >/dev/null 2>&1 || die "hyperfine not found (apt-get install hyperfine)"
berth_runc=${BERTH_RUNC:-$repo/build/src/oci/berth-runc}
[ -x "$berth_runc" ] || die "berth-runc not found at $berth_runc (build it, or set BERTH_RUNC)"

# a private mount namespace: containerd's shim keeps its state in /run/containerd, which
# gets a tmpfs of its own here
if [ -z "${BENCH_RUNC_PRIVATE_NS:-}" ]; then
    export BENCH_RUNC_PRIVATE_NS=1
    exec unshare --mount --propagation private -- bash "$0" "$@"
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/bench-runc.XXXXXX")
cd_pid=""
cleanup() {
    if [ -n "$cd_pid" ]; then
        kill "$cd_pid" 2>/dev/null || true
        wait "$cd_pid" 2>/dev/null || true
        find /sys/fs/cgroup -depth -type d -name bench-runc-ns -exec rmdir {} + 2>/dev/null || true
    fi
    "$berth_runc" --root "$scratch/berth-state" delete --force bench-berth >/dev/null 2>&1 || true
    runc --root "$scratch/runc-state" delete --force bench-runc >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT

bundle=$scratch/bundle
mkdir -p "$bundle"
"$here/make-busybox-tree.sh" "$bundle/rootfs" >/dev/null
python3 - "$bundle/config.json" <<'PY'
import json, sys
caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
c = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
                "env": ["PATH=/usr/bin:/bin"], "cwd": "/",
                "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
                "noNewPrivileges": True},
    "root": {"path": "rootfs"},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}],
    "linux": {"namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")],
              "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]},
}
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY

results=$scratch/results.tsv
: >"$results"

q() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# bench NAME NOTE SHELL-COMMAND
bench() {
    local log=$scratch/preflight.log json=$scratch/hf.json
    if ! sh -c "$3" >"$log" 2>&1 </dev/null; then
        echo "bench-runc: '$1' failed its preflight run: $3" >&2
        sed 's/^/    /' "$log" >&2
        printf '%s\t-\tFAILED: %s\n' "$1" "$(head -n1 "$log" | tr '\t|' '  ')" >>"$results"
        return 1
    fi
    hyperfine -N --style none --warmup "$warmup" --runs "$runs" --export-json "$json" -n "$1" \
        "sh -c $(q "$3")" >"$log" 2>&1 </dev/null || { printf '%s\t-\tFAILED under hyperfine\n' "$1" >>"$results"; return 1; }
    printf '%s\t%s\t%s\n' "$1" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$json")" "$2" >>"$results"
}

# cycle RUNTIME-CMD ID: the create/start/delete sequence as one shell command
cycle() {
    printf '%s create --bundle %s %s >/dev/null && %s start %s && %s delete --force %s' "$1" "$(q "$bundle")" "$2" "$1" "$2" "$1" "$2"
}

# peak RSS of one "create" (KiB), the runtime process only
peak_rss() {
    local out=$scratch/rss
    /usr/bin/env python3 - "$@" <<'PY' >"$out" 2>/dev/null || true
import os, resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
    cat "$out"
}

B="$(q "$berth_runc") --root $(q "$scratch/berth-state")"
bench "berth-runc" "" "$(cycle "$B" bench-berth)"
rss_berth=$(peak_rss "$berth_runc" --root "$scratch/berth-state" create --bundle "$bundle" rss-berth)
"$berth_runc" --root "$scratch/berth-state" delete --force rss-berth >/dev/null 2>&1 || true

if command -v runc >/dev/null; then
    R="$(q "$(command -v runc)") --root $(q "$scratch/runc-state")"
    bench "runc" "$(runc --version | head -n1)" "$(cycle "$R" bench-runc)" || true
    rss_runc=$(peak_rss runc --root "$scratch/runc-state" create --bundle "$bundle" rss-runc)
    runc --root "$scratch/runc-state" delete --force rss-runc >/dev/null 2>&1 || true
else
    printf 'runc\t-\tnot installed (apt-get install runc)\n' >>"$results"
    rss_runc=-
fi

if command -v crun >/dev/null; then
    C="$(q "$(command -v crun)") --root=$(q "$scratch/crun-state") --cgroup-manager=disabled"
    inner="mount -t cgroup2 none /sys/fs/cgroup && $(cycle "$C" bench-crun-\$\$)"
    bench "crun (incl. wrapper)" "unshare -m + mount cgroup2 + --cgroup-manager=disabled" "unshare -m sh -c $(q "$inner")" || true
    bench "wrapper alone" "subtracted from crun" "unshare -m sh -c 'mount -t cgroup2 none /sys/fs/cgroup'" || true
else
    printf 'crun (incl. wrapper)\t-\tnot installed (apt-get install crun)\n' >>"$results"
fi

# ---- ctr run --rm /bin/true through a private containerd, each runtime as the runc shim's
# BinaryName
if command -v containerd >/dev/null && command -v ctr >/dev/null; then
    mkdir -p /run/containerd "$scratch/cd/root" "$scratch/cd/state"
    mount -t tmpfs tmpfs /run/containerd
    cat >"$scratch/cd/config.toml" <<TOML
version = 2
root = "$scratch/cd/root"
state = "$scratch/cd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$scratch/cd/containerd.sock"
TOML
    containerd --config "$scratch/cd/config.toml" --log-level error >"$scratch/cd/log" 2>&1 &
    cd_pid=$!
    for i in $(seq 1 100); do [ -S "$scratch/cd/containerd.sock" ] && break; sleep 0.1; done
    CTR="ctr --address $(q "$scratch/cd/containerd.sock") -n bench-runc-ns run --rm --rootfs"
    for rt in berth-runc runc crun; do
        case $rt in berth-runc) path=$berth_runc ;; *) path=$(command -v "$rt" || true) ;; esac
        [ -n "$path" ] || continue
        bench "ctr run --rm ($rt)" "containerd $(containerd --version | awk '{print $3}'), io.containerd.runc.v2" \
            "$CTR --runc-binary $(q "$path") $(q "$bundle/rootfs") bench-$rt /bin/true" || true
    done
fi

python3 - "$results" "$rss_berth" "${rss_runc:--}" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
t = {r[0]: float(r[1]) for r in rows if r[1] != "-"}
if "crun (incl. wrapper)" in t and "wrapper alone" in t:
    t["crun (wrapper subtracted)"] = t["crun (incl. wrapper)"] - t["wrapper alone"]
    rows.append(["crun (wrapper subtracted)", str(t["crun (wrapper subtracted)"]), ""])
base = t.get("berth-runc")
ctr_base = t.get("ctr run --rm (berth-runc)")
print("| runtime | create+start+delete median ms | berth-runc ratio (berth/peer) | notes |")
print("|---|---:|---:|---|")
for r in rows:
    name, note = r[0], r[2] if len(r) > 2 else ""
    if r[1] == "-":
        print(f"| {name} | — | — | {note} |")
        continue
    ms = t[name] * 1000
    b = ctr_base if name.startswith("ctr run") else base
    ratio = f"{b / t[name]:.2f}" if b and name != "wrapper alone" else "—"
    print(f"| {name} | {ms:.2f} | {ratio} | {note} |")
print()
print(f"peak RSS of one create: berth-runc {sys.argv[2]} KiB, runc {sys.argv[3]} KiB")
PY
