#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# runtime-tools-validate.sh — build opencontainers/runtime-tools' validation suite from the
# vendored tarball, out of the repository tree, and run every test against berth-runc, runc
# and crun; print one table: test, then each runtime's passed/total checks (not a meson
# test: a conformance report).
#
# Environment:
#   RUNTIME_TOOLS_TARBALL  default /work/shared/vendor/runtime-tools-260e151.tar.gz
#   RUNTIME_TOOLS_DIR      build directory (default /var/tmp/berth-runtime-tools; kept)
#   BERTH_RUNC             berth-runc (default build/src/oci/berth-runc in the repo)
#   RUNTIMES               which to run (default "berth-runc runc crun")
#   TEST_TIMEOUT           seconds per test (default 60)
#
# Needs root, golang-go and make (Debian's Go 1.19 builds this commit offline:
# GOFLAGS=-mod=vendor GOPROXY=off). Each test's TAP goes to $RUNTIME_TOOLS_DIR/results/.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
tarball=${RUNTIME_TOOLS_TARBALL:-/work/shared/vendor/runtime-tools-260e151.tar.gz}
dir=${RUNTIME_TOOLS_DIR:-/var/tmp/berth-runtime-tools}
berth_runc=${BERTH_RUNC:-$repo/build/src/oci/berth-runc}
runtimes=${RUNTIMES:-berth-runc runc crun}
timeout_s=${TEST_TIMEOUT:-60}

die() { echo "runtime-tools-validate: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
command -v go >/dev/null || die "go not found (apt-get install golang-go make)"
command -v make >/dev/null || die "make not found (apt-get install make)"
[ -r "$tarball" ] || die "$tarball not found"
case $dir in "$repo"|"$repo"/*) die "RUNTIME_TOOLS_DIR must be outside the repository" ;; esac

src=$dir/src
if [ ! -x "$src/validation/state/state.t" ]; then
    rm -rf "$src"
    mkdir -p "$src"
    tar -xzf "$tarball" -C "$src" --strip-components=1 ||
        die "cannot unpack $tarball"
    (cd "$src" && GOFLAGS=-mod=vendor GOPROXY=off GOCACHE=$dir/gocache make runtimetest validation-executables) \
        >"$dir/build.log" 2>&1 || die "build failed, see $dir/build.log"
fi

runtime_path() {
    case $1 in
        berth-runc) echo "$berth_runc" ;;
        *) command -v "$1" || true ;;
    esac
}

results=$dir/results
rm -rf "$results"
mkdir -p "$results"
mapfile -t tests < <(cd "$src" && find validation -name '*.t' -type f | sort)

for rt in $runtimes; do
    path=$(runtime_path "$rt")
    [ -x "$path" ] || { echo "runtime-tools-validate: $rt not found, skipped" >&2; continue; }
    mkdir -p "$results/$rt"
    for t in "${tests[@]}"; do
        name=${t#validation/}
        name=${name%.t}
        out=$results/$rt/${name//\//_}.tap
        (cd "$src" && RUNTIME=$path timeout "$timeout_s" "./$t") >"$out" 2>"$out.err" </dev/null || true
    done
done

# the suite's cgroups (/testdir/cgrouptest as cgroupsPath, pids/cgrouptest made by a test)
# outlive the runtimes' delete, which removes only the leaf: removed when empty
find /sys/fs/cgroup -depth -type d \( -name cgrouptest -o -name testdir \) -exec rmdir {} + 2>/dev/null || true

# the table: per test, "passed/total" checks of each runtime (TIMEOUT, CRASH: no plan)
python3 - "$results" $runtimes <<'PY'
import os, re, sys
res, rts = sys.argv[1], [r for r in sys.argv[2:] if os.path.isdir(os.path.join(sys.argv[1], r))]
names = sorted({f[:-4] for r in rts for f in os.listdir(os.path.join(res, r)) if f.endswith(".tap")})

def score(path):
    try:
        text = open(path, errors="replace").read()
    except OSError:
        return "—", None
    ok = len(re.findall(r"^ok ", text, re.M))
    notok = len(re.findall(r"^not ok ", text, re.M))
    skipped = len(re.findall(r"^ok .*# ?SKIP", text, re.M | re.I))
    plan = re.search(r"^1\.\.(\d+)", text, re.M)
    if not plan and ok + notok == 0:
        return "no output", False
    total = ok + notok
    # the hooks tests (hooks, prestart, poststart, poststop, *_fail) print no test point at
    # all: a failure is only a YAML "error" block before "1..0", success is a bare "1..0"
    if total == 0 and re.search(r'^\s+"error":', text, re.M):
        return "0/0 (error)", False
    s = f"{ok}/{total}" + (f" ({skipped} skip)" if skipped else "")
    return s, notok == 0 and plan is not None

print("| test | " + " | ".join(rts) + " |")
print("|---|" + "---|" * len(rts))
passed = {r: 0 for r in rts}
for n in names:
    cells = []
    for r in rts:
        s, good = score(os.path.join(res, r, n + ".tap"))
        passed[r] += bool(good)
        cells.append(s + ("" if good else " ✗") if good is not None else s)
    print(f"| {n} | " + " | ".join(cells) + " |")
print()
print("tests fully passed: " + ", ".join(f"{r} {passed[r]}/{len(names)}" for r in rts))
PY
