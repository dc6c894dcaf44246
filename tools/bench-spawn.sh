#!/bin/bash
# bench-spawn.sh — benchmark (not a test): start-up latency of berth-spawn vs.
# systemd-nspawn, crun and bubblewrap running /bin/true in the same busybox
# tree, plus supervisor RSS of berth-spawn and systemd-nspawn.
#
# Environment:
#   BERTH_SPAWN    path to berth-spawn (default: build/src/spawn/berth-spawn in the repo)
#   BENCH_RUNS     hyperfine --runs   (default 50)
#   BENCH_WARMUP   hyperfine --warmup (default 5)
#   TMPDIR         where the scratch directory is made (default /tmp)
#
# Must run as root. Exits non-zero only if berth-spawn itself is missing or fails.
set -eu

. "$(cd "$(dirname "$0")" && pwd)/bench-lib.sh"
bench_init bench-spawn 50 5
command -v hyperfine >/dev/null 2>&1 || die "hyperfine not found (apt-get install hyperfine)"
command -v python3 >/dev/null 2>&1 || die "python3 not found"

# Directories under /run that the peers (nspawn, util-linux mount, crun) create on
# first use; removed again at exit if they did not exist before and are empty.
run_dirs="/run/systemd/nspawn/locks /run/systemd/nspawn/propagate /run/systemd/nspawn /run/mount /run/crun"
new_run_dirs=""
for d in $run_dirs; do
    [ -e "$d" ] || new_run_dirs="$new_run_dirs $d"
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/bench-spawn.XXXXXX")
bg_pid=""
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    if [ -n "$bg_pid" ]; then
        kill -KILL "$bg_pid" 2>/dev/null || true
        wait "$bg_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
    rmdir /run/systemd/nspawn/propagate/tree 2>/dev/null || true
    for d in $new_run_dirs; do
        rmdir "$d" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Quote one word for hyperfine -N (POSIX shell-words rules).
q() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

tree=$scratch/tree
"$here/make-busybox-tree.sh" "$tree"

results=$scratch/results.tsv   # name<TAB>median_s or name<TAB>-<TAB>note
: >"$results"

# bench NAME NOTE CMD — preflight CMD once, then hyperfine it. Returns 1 if it fails.
bench() {
    name=$1
    note=$2
    cmd=$3
    log=$scratch/preflight.log
    rc=0
    sh -c "$cmd" >"$log" 2>&1 </dev/null || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "bench-spawn: '$name' failed its preflight run (exit status $rc): $cmd" >&2
        sed 's/^/    /' "$log" >&2
        printf '%s\t-\tFAILED (exit status %s) %s\n' "$name" "$rc" "$(head -n1 "$log" | tr '\t|' '  ')" >>"$results"
        return 1
    fi
    json=$scratch/hf.json
    if ! hyperfine -N --style none --warmup "$warmup" --runs "$runs" \
            --export-json "$json" -n "$name" "$cmd" >"$log" 2>&1 </dev/null; then
        echo "bench-spawn: hyperfine failed for '$name':" >&2
        sed 's/^/    /' "$log" >&2
        printf '%s\t-\tFAILED under hyperfine\n' "$name" >>"$results"
        return 1
    fi
    median=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$json")
    printf '%s\t%s\t%s\n' "$name" "$median" "$note" >>"$results"
}

skip() {
    printf '%s\t-\t%s\n' "$1" "$2" >>"$results"
}

qt=$(q "$tree")
berth_ok=1

# --- berth-spawn -----------------------------------------------------------
if [ -x "$berth" ]; then
    bench "berth-spawn" "" "$(q "$berth") -q -D $qt /bin/true" || berth_ok=0
else
    echo "bench-spawn: berth-spawn not found at $berth (build it, or set BERTH_SPAWN)" >&2
    skip "berth-spawn" "not found: $berth"
    berth_ok=0
fi

# --- systemd-nspawn --------------------------------------------------------
if command -v systemd-nspawn >/dev/null 2>&1; then
    bench "systemd-nspawn" "--register=no --keep-unit" \
        "$(q "$(command -v systemd-nspawn)") -q --register=no --keep-unit -D $qt /bin/true" || true
else
    skip "systemd-nspawn" "not installed (apt-get install systemd-container)"
fi

# --- crun ------------------------------------------------------------------
# crun refuses the hybrid cgroup layout, so it runs in a private mount
# namespace with a fresh cgroup2 on /sys/fs/cgroup and --cgroup-manager=disabled.
# The container id carries the wrapper's PID so a failed run cannot block the next.
crun_ok=0
if command -v crun >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1; then
    bundle=$scratch/bundle
    mkdir -p "$bundle" "$scratch/crun-state"
    if (cd "$bundle" && crun --root="$scratch/crun-state" spec) >/dev/null 2>&1 &&
        python3 - "$bundle/config.json" "$tree" <<'EOF'
import json, sys
path, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
c["root"] = {"path": rootfs, "readonly": False}
c["linux"]["namespaces"] = [{"type": t} for t in ("pid", "mount", "uts", "ipc", "cgroup")]
json.dump(c, open(path, "w"), indent=2)
EOF
    then
        crun_bin=$(command -v crun)
        inner="mount -t cgroup2 none /sys/fs/cgroup && exec $(q "$crun_bin") --root=$(q "$scratch/crun-state") --cgroup-manager=disabled run -b $(q "$bundle") bench-\$\$"
        bench "crun run (incl. wrapper)" "unshare -m + mount cgroup2 + crun --cgroup-manager=disabled" \
            "unshare -m sh -c $(q "$inner")" && crun_ok=1
    else
        skip "crun run (incl. wrapper)" "could not create the OCI bundle (crun spec)"
    fi
    bench "wrapper alone" "unshare -m + mount cgroup2 + exec /bin/true (subtract from crun)" \
        "unshare -m sh -c 'mount -t cgroup2 none /sys/fs/cgroup && exec /bin/true'" || true
else
    skip "crun run (incl. wrapper)" "not installed (apt-get install crun)"
fi

# --- bubblewrap ------------------------------------------------------------
if command -v bwrap >/dev/null 2>&1; then
    bench "bwrap" "--unshare-all (also unshares net; berth-spawn shares it)" \
        "$(q "$(command -v bwrap)") --unshare-all --bind $qt / --proc /proc --dev /dev /bin/true" || true
else
    skip "bwrap" "not installed (apt-get install bubblewrap)"
fi

# --- supervisor RSS --------------------------------------------------------
# rss NAME CMD... — start CMD (payload: sleep 2) as our direct child, read its
# VmRSS/VmHWM after ~1 s. Prints one line; returns 1 if CMD fails.
rss() {
    name=$1
    shift
    "$@" >/dev/null 2>"$scratch/rss.log" </dev/null &
    bg_pid=$!
    sleep 1
    vmrss=$(awk '/^VmRSS:/ {print $2" "$3}' "/proc/$bg_pid/status" 2>/dev/null || true)
    vmhwm=$(awk '/^VmHWM:/ {print $2" "$3}' "/proc/$bg_pid/status" 2>/dev/null || true)
    rc=0
    wait "$bg_pid" || rc=$?
    bg_pid=""
    if [ -z "$vmrss" ]; then
        echo "- $name supervisor RSS: n/a (exited before 1 s, status $rc)"
        return 1
    fi
    echo "- $name supervisor RSS while payload runs: VmRSS $vmrss (peak VmHWM $vmhwm)$([ "$rc" -eq 0 ] || echo ", but exit status $rc")"
    [ "$rc" -eq 0 ]
}

rss_out=$scratch/rss.txt
: >"$rss_out"
if [ -x "$berth" ]; then
    rss "berth-spawn" "$berth" -q -D "$tree" /bin/sleep 2 >>"$rss_out" || {
        berth_ok=0
        sed 's/^/    /' "$scratch/rss.log" >&2
    }
else
    echo "- berth-spawn supervisor RSS: n/a (not found)" >>"$rss_out"
fi
if command -v systemd-nspawn >/dev/null 2>&1; then
    rss "systemd-nspawn" systemd-nspawn -q --register=no --keep-unit -D "$tree" /bin/sleep 2 >>"$rss_out" || true
else
    echo "- systemd-nspawn supervisor RSS: n/a (not installed)" >>"$rss_out"
fi

# --- report ----------------------------------------------------------------
echo
echo "### berth-spawn start-up benchmark: \`/bin/true\` in a busybox tree"
echo
echo "hyperfine -N, $warmup warm-up + $runs runs each; $(uname -r), $(nproc) CPUs."
echo
python3 - "$results" "$crun_ok" <<'EOF'
import sys
rows = []
for line in open(sys.argv[1]):
    name, median, note = (line.rstrip("\n").split("\t") + ["", ""])[:3]
    rows.append((name, None if median == "-" else float(median) * 1000.0, note))
med = {n: m for n, m, _ in rows}
berth = med.get("berth-spawn")
crun_ok = sys.argv[2] == "1"
if crun_ok and med.get("crun run (incl. wrapper)") is not None and med.get("wrapper alone") is not None:
    est = med["crun run (incl. wrapper)"] - med["wrapper alone"]
    # insert the estimate right after the wrapper row
    i = [n for n, _, _ in rows].index("wrapper alone") + 1
    rows.insert(i, ("crun run (wrapper subtracted)", est, "estimate: crun row minus wrapper row"))
print("| tool | median ms | berth-spawn ratio (berth/peer) | notes |")
print("|---|---:|---:|---|")
for name, m, note in rows:
    if m is None:
        print(f"| {name} | — | — | {note} |")
        continue
    if name == "wrapper alone":
        ratio = "—"
    elif berth is not None and m > 0:
        ratio = f"{berth / m:.2f}"
    else:
        ratio = "n/a"
    print(f"| {name} | {m:.2f} | {ratio} | {note} |")
EOF
echo
cat "$rss_out"

if [ "$berth_ok" -ne 1 ]; then
    echo "bench-spawn: berth-spawn failed or is missing; see above" >&2
    exit 1
fi
exit 0
