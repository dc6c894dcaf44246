#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-fuzzers.sh — build the libFuzzer targets of test/fuzz in a clang build dir of their
# own (-Dfuzzers=true: ASan + UBSan + coverage) and run each for a while. Prints TAP, one
# result per target; exits non-zero on any crash, leak, timeout or out-of-memory, keeping
# the reproducer and the log.
#
# Environment:
#   BERTH_FUZZ_BUILDDIR  the clang build dir (default: build-fuzz in the source tree). The
#                        corpus grows in BUILDDIR/corpus/TARGET from run to run; seeds
#                        (test/fuzz/TARGET-seeds.sh) go to BUILDDIR/seeds/TARGET, crash
#                        reproducers to BUILDDIR/artifacts/TARGET, logs to BUILDDIR/logs.
#   BERTH_FUZZ_SECONDS   total fuzzing time, split evenly between the targets (default 60)
#   BERTH_FUZZ_TARGETS   which targets (default: every one test/fuzz/meson.build defines)
#   BERTH_FUZZ_FORK      run N libFuzzer workers per target (-fork=N; default: one process)
#   BERTH_FUZZ_ARGS      more libFuzzer arguments, e.g. "-max_len=65536 -seed=1"
#   CC                   the compiler for a new build dir (default clang)
#
# Replay a reproducer: BUILDDIR/test/fuzz/TARGET FILE (or, in an ordinary gcc build,
# build/test/fuzz/TARGET FILE: the same target with a plain main()).
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
builddir=${BERTH_FUZZ_BUILDDIR:-$repo/build-fuzz}
seconds=${BERTH_FUZZ_SECONDS:-60}
fork=${BERTH_FUZZ_FORK:-}
cc=${CC:-clang}

bail() {
    echo "Bail out! run-fuzzers: $*"
    exit 1
}
skip_all() {
    echo "1..0 # SKIP $*"
    exit 0
}

case $seconds in ''|*[!0-9]*|0) bail "BERTH_FUZZ_SECONDS must be a positive integer, got '$seconds'" ;; esac
case $fork in ''|[1-9]|[1-9][0-9]) ;; *) bail "BERTH_FUZZ_FORK must be a small positive integer, got '$fork'" ;; esac
command -v meson >/dev/null 2>&1 || bail "meson not found"
command -v ninja >/dev/null 2>&1 || bail "ninja not found"
command -v python3 >/dev/null 2>&1 || bail "python3 not found"
command -v "$cc" >/dev/null 2>&1 || skip_all "$cc not found (apt-get install clang libclang-rt-dev)"

# Can this clang link a libFuzzer target at all? (Debian: libclang-rt-NN-dev)
probe=$(mktemp -d "${TMPDIR:-/tmp}/run-fuzzers.XXXXXX") || bail "mktemp failed"
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void) d; (void) n; return 0; }' >"$probe/t.c"
"$cc" -fsanitize=fuzzer,address,undefined -o "$probe/t" "$probe/t.c" >"$probe/log" 2>&1 ||
    skip_all "$cc cannot link -fsanitize=fuzzer,address,undefined (apt-get install libclang-rt-dev): $(head -n1 "$probe/log")"

mkdir -p "$builddir" || bail "cannot create $builddir"
builddir=$(cd "$builddir" && pwd)
# meson writes this only into a directory it creates itself; the corpus and logs are
# not for git either
[ -e "$builddir/.gitignore" ] || echo '*' >"$builddir/.gitignore"
logs=$builddir/logs
mkdir -p "$logs"

# One run per build dir at a time (the meson test and a developer's run may meet).
exec 9>"$builddir/.run-fuzzers.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9 || bail "cannot lock $builddir"
fi

# --- build ----------------------------------------------------------------
if [ ! -f "$builddir/build.ninja" ]; then
    CC=$cc meson setup -Dfuzzers=true "$builddir" "$repo" >"$logs/setup.log" 2>&1 || {
        sed 's/^/# /' "$logs/setup.log" | tail -n 30
        bail "meson setup -Dfuzzers=true failed (log: $logs/setup.log)"
    }
fi
targets_json=$logs/targets.json
meson introspect --targets "$builddir" >"$targets_json" 2>"$logs/introspect.log" ||
    bail "meson introspect failed in $builddir (log: $logs/introspect.log)"
# name<TAB>path of every executable defined in test/fuzz/meson.build
all=$(python3 - "$targets_json" <<'PY'
import json, os, sys
for t in json.load(open(sys.argv[1])):
    if t["type"] == "executable" and t["defined_in"].endswith(os.path.join("test", "fuzz", "meson.build")):
        print(t["name"] + "\t" + t["filename"][0])
PY
) || bail "cannot read the fuzz targets from $targets_json"
[ -n "$all" ] || bail "no fuzz targets in $builddir: is it a -Dfuzzers=true build dir?"

wanted=${BERTH_FUZZ_TARGETS:-$(printf '%s\n' "$all" | cut -f1)}
names=()
paths=()
for t in $wanted; do
    p=$(printf '%s\n' "$all" | awk -F'\t' -v n="$t" '$1 == n { print $2 }')
    [ -n "$p" ] || bail "unknown fuzz target '$t' (known: $(printf '%s\n' "$all" | cut -f1 | tr '\n' ' '))"
    names+=("$t")
    paths+=("$p")
done

ninja -C "$builddir" "${paths[@]#"$builddir"/}" >"$logs/build.log" 2>&1 || {
    sed 's/^/# /' "$logs/build.log" | tail -n 40
    bail "building the fuzz targets failed (log: $logs/build.log)"
}

# --- run ------------------------------------------------------------------
n=${#names[@]}
per=$((seconds / n))
[ "$per" -ge 1 ] || per=1
echo "1..$n"
echo "# $(${cc} --version | head -n1); $per s per target; build dir $builddir"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
for i in "${!names[@]}"; do
    name=${names[$i]}
    bin=${paths[$i]}
    corpus=$builddir/corpus/$name
    seeds=$builddir/seeds/$name
    artifacts=$builddir/artifacts/$name
    log=$logs/$name.log
    mkdir -p "$corpus" "$artifacts"
    rm -rf "$seeds"
    mkdir -p "$seeds"

    seeder=$repo/test/fuzz/$name-seeds.sh
    if [ -f "$seeder" ] && ! sh "$seeder" "$seeds" >"$logs/$name-seeds.log" 2>&1; then
        echo "not ok $((i + 1)) - $name: the seed script failed"
        sed 's/^/# /' "$logs/$name-seeds.log" | tail -n 20
        failed=$((failed + 1))
        continue
    fi
    [ -d "$repo/test/fuzz/$name" ] && cp -r "$repo/test/fuzz/$name/." "$seeds/"

    args=(-max_total_time="$per" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$artifacts/")
    [ -f "$repo/test/fuzz/$name.dict" ] && args+=(-dict="$repo/test/fuzz/$name.dict")
    [ -n "$fork" ] && args+=(-fork="$fork" -ignore_crashes=0 -ignore_timeouts=0 -ignore_ooms=0)
    # shellcheck disable=SC2206  # word splitting wanted
    [ -n "${BERTH_FUZZ_ARGS:-}" ] && args+=($BERTH_FUZZ_ARGS)

    : >"$log.start"
    before=$(find "$artifacts" -type f | wc -l)
    rc=0
    "$bin" "${args[@]}" "$corpus" "$seeds" >"$log" 2>&1 </dev/null || rc=$?
    after=$(find "$artifacts" -type f | wc -l)

    # the final stats, or with -fork the last progress line ("#N: cov: ...")
    execs=$(awk '/stat::number_of_executed_units/ { s += $NF; found = 1 }
                 /^#[0-9]+/ { last = substr($1, 2) + 0 }
                 END { print found ? s : last + 0 }' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
    units=$(find "$corpus" -type f | wc -l)
    if [ "$rc" -eq 0 ] && [ "$after" -eq "$before" ]; then
        echo "ok $((i + 1)) - $name: $execs runs in $per s, coverage ${cov:-?} edges, corpus $units inputs"
    else
        failed=$((failed + 1))
        echo "not ok $((i + 1)) - $name: libFuzzer exit status $rc after $execs runs (log: $log)"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written|    #[0-9]+ )' "$log" |
            head -n 40 | sed 's/^/# /'
        # libFuzzer names them crash-/leak-/timeout-/oom-SHA1: no spaces
        find "$artifacts" -type f -newer "$log.start" | head -n 3 | while read -r a; do
            echo "# reproducer: $a (replay: $bin $a)"
        done
    fi
done

exit $((failed > 0))
