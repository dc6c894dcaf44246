# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
#
# bench-lib.sh — the start of tools/bench-spawn.sh and tools/bench-image.sh: where the
# repository and berth-spawn are, the run counts from the environment, checked.
#   bench_init NAME DEFAULT_RUNS DEFAULT_WARMUP
# sets here, repo, berth, runs, warmup and defines die().

bench_init() {
    bench_name=$1
    here=$(cd "$(dirname "$0")" && pwd)
    repo=$(cd "$here/.." && pwd)
    berth=${BERTH_SPAWN:-$repo/build/src/spawn/berth-spawn}
    case $berth in
        /*) ;;
        *) berth=$PWD/$berth ;;
    esac
    runs=${BENCH_RUNS:-$2}
    warmup=${BENCH_WARMUP:-$3}

    case $runs in ''|*[!0-9]*) die "BENCH_RUNS must be a positive integer, got '$runs'" ;; esac
    case $warmup in ''|*[!0-9]*) die "BENCH_WARMUP must be a non-negative integer, got '$warmup'" ;; esac
    [ "$runs" -ge 2 ] || die "BENCH_RUNS must be at least 2"
    [ "$(id -u)" -eq 0 ] || die "must run as root"
}

die() {
    echo "$bench_name: $*" >&2
    exit 1
}
