#!/bin/bash
# bench-image.sh — benchmark (not a test): what running from a disk image costs.
# berth-spawn -i on GPT images of the busybox test tree (one ext4 root partition;
# root+usr+home+var partitions) and on a bare squashfs image of it, against berth-spawn -D
# on the tree itself, and systemd-nspawn --image= / -D where it runs.
#
# Two figures per row, medians:
#   first instruction  invocation to the payload's first instruction: a small C launcher
#                      reads CLOCK_MONOTONIC, forks and execs the command; the payload, a
#                      static program in the tree, prints CLOCK_MONOTONIC first thing
#   whole run          hyperfine -N of the same command with /bin/true, as bench-spawn.sh
#                      measures start-up: includes the tear-down (unmounts, loop device)
#
# Environment:
#   BERTH_SPAWN    path to berth-spawn (default: build/src/spawn/berth-spawn in the repo)
#   BENCH_RUNS     runs per row (default 30)
#   BENCH_WARMUP   warm-up runs per row (default 3)
#   TMPDIR         where the scratch directory is made (default /tmp)
#
# Must run as root (loop devices, mounts). Exits non-zero only if berth-spawn itself
# fails or is missing; peers that refuse to run are reported in the table.
set -eu

. "$(cd "$(dirname "$0")" && pwd)/bench-lib.sh"
bench_init bench-image 30 3
PATH=$PATH:/usr/sbin:/sbin
[ -x "$berth" ] || die "berth-spawn not found at $berth (build it, or set BERTH_SPAWN)"
for t in hyperfine python3 cc mkfs.ext4 sfdisk; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (tools/install-deps.sh installs it)"
done

case $(uname -m) in
    x86_64)
        root_type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709
        usr_type=8484680c-9521-48c6-9c11-b0720656f69e ;;
    aarch64)
        root_type=b921b045-1df0-41c3-af44-4c6f280d3fae
        usr_type=b0e01050-ee5f-4390-949a-9101b17104e9 ;;
    *) die "no Discoverable Partitions types for $(uname -m) in this script" ;;
esac
home_type=933ac7e1-2eb4-4f13-b844-0e14e2aef915
var_type=4d21b016-b534-45c2-a9fb-5c16e091fd2d

# Directories under /run that systemd-nspawn creates on first use; removed again at exit
# if they did not exist before and are empty.
run_dirs="/run/systemd/nspawn/locks /run/systemd/nspawn/propagate /run/systemd/nspawn"
new_run_dirs=""
for d in $run_dirs; do
    [ -e "$d" ] || new_run_dirs="$new_run_dirs $d"
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/bench-image.XXXXXX")
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    rm -rf "$scratch"
    rmdir /run/systemd/nspawn/propagate/bz-bench-nspawn 2>/dev/null || true
    for d in $new_run_dirs; do
        rmdir "$d" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the payload and the launcher --------------------------------------------
cat >"$scratch/stamp.c" <<'EOF'
#include <stdio.h>
#include <time.h>
int main(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        printf("%lld\n", (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec);
        return 0;
}
EOF
cat >"$scratch/launch.c" <<'EOF'
/* launch RUNS WARMUP CMD... — run CMD RUNS+WARMUP times, stdin /dev/null; for each counted
 * run print "FIRST_NS TOTAL_NS": from just before fork() to the payload's stamp (first
 * line of CMD's stdout), and to CMD's exit. Exit 1 if a run fails or prints no stamp. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static long long now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
int main(int argc, char **argv) {
        int runs = atoi(argv[1]), warmup = atoi(argv[2]);
        for (int i = 0; i < runs + warmup; i++) {
                char buf[256];
                size_t n = 0;
                ssize_t k;
                int p[2], status;
                long long t0, stamp, t1;
                pid_t pid;
                if (pipe(p) < 0)
                        return 1;
                t0 = now();
                pid = fork();
                if (pid == 0) {
                        int null = open("/dev/null", O_RDWR);
                        dup2(null, 0);
                        dup2(p[1], 1);
                        close(p[0]);
                        execv(argv[3], argv + 3);
                        _exit(127);
                }
                close(p[1]);
                while (n < sizeof(buf) - 1 && (k = read(p[0], buf + n, sizeof(buf) - 1 - n)) > 0)
                        n += (size_t) k;
                buf[n] = 0;
                close(p[0]);
                if (waitpid(pid, &status, 0) < 0)
                        return 1;
                t1 = now();
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || sscanf(buf, "%lld", &stamp) != 1) {
                        fprintf(stderr, "launch: run %d failed (status 0x%x), output: %s\n", i, status, buf);
                        return 1;
                }
                if (i >= warmup)
                        printf("%lld %lld\n", stamp - t0, t1 - t0);
        }
        return 0;
}
EOF
cc -O2 -o "$scratch/launch" "$scratch/launch.c" || die "cannot compile the launcher"

tree=$scratch/tree
"$here/make-busybox-tree.sh" "$tree"
cc -O2 -static -o "$tree/usr/bin/bench-stamp" "$scratch/stamp.c" ||
    die "cannot link a static program (apt-get install libc6-dev)"
mkdir -p "$tree/var"

# --- the images ---------------------------------------------------------------
# mkfs_dir DIR FILE SIZE — an ext4 file system of DIR's contents (as root: owners kept)
mkfs_dir() {
    truncate -s "$3" "$2"
    mkfs.ext4 -q -F -d "$1" "$2" >/dev/null
}
# gpt IMAGE TYPE:FSFILE... — a GPT image with one partition per file system file, in order
gpt() {
    image=$1
    shift
    script="label: gpt"
    start=2048
    for p in "$@"; do
        size=$(($(stat -c %s "${p#*:}") / 512))
        script="$script
start=$start, size=$size, type=${p%%:*}"
        start=$((start + size))
    done
    truncate -s $(((start + 2048) * 512)) "$image"
    printf '%s\n' "$script" | sfdisk -q --no-reread --no-tell-kernel "$image" >/dev/null
    start=2048
    for p in "$@"; do
        dd if="${p#*:}" of="$image" bs=512 seek="$start" conv=notrunc,sparse status=none
        start=$((start + $(stat -c %s "${p#*:}") / 512))
    done
}

mkfs_dir "$tree" "$scratch/root.ext4" 32M
gpt "$scratch/root.raw" "$root_type:$scratch/root.ext4"

# the same tree in four file systems; the root keeps empty /usr, /home, /var to mount on
split=$scratch/split
mkdir -p "$split"
cp -a "$tree" "$split/root"
for d in usr home var; do
    mv "$split/root/$d" "$split/$d"
    mkdir "$split/root/$d"
done
mkfs_dir "$split/root" "$scratch/p-root.ext4" 16M
mkfs_dir "$split/usr" "$scratch/p-usr.ext4" 32M
mkfs_dir "$split/home" "$scratch/p-home.ext4" 8M
mkfs_dir "$split/var" "$scratch/p-var.ext4" 8M
gpt "$scratch/multi.raw" "$root_type:$scratch/p-root.ext4" "$usr_type:$scratch/p-usr.ext4" \
    "$home_type:$scratch/p-home.ext4" "$var_type:$scratch/p-var.ext4"
rm -rf "$split" "$scratch"/*.ext4

have_squashfs=0
if command -v mksquashfs >/dev/null 2>&1; then
    mksquashfs "$tree" "$scratch/squashfs.raw" -quiet -noappend >/dev/null && have_squashfs=1
fi

# --- measurements -------------------------------------------------------------
results=$scratch/results.tsv    # name<TAB>first_ms<TAB>whole_ms<TAB>note
: >"$results"

# row NAME NOTE CMD... — CMD runs the payload given as its last words
row() {
    name=$1
    note=$2
    shift 2
    log=$scratch/row.log
    if ! "$scratch/launch" "$runs" "$warmup" "$@" /usr/bin/bench-stamp >"$scratch/launch.out" 2>"$log"; then
        echo "bench-image: '$name' failed: $*" >&2
        sed 's/^/    /' "$log" >&2
        printf '%s\t-\t-\tFAILED: %s\n' "$name" "$(grep -v '^launch:' "$log" | head -n1 | tr '\t|' '  ')" >>"$results"
        return 1
    fi
    first=$(python3 -c 'import statistics,sys; print(statistics.median(int(l.split()[0]) for l in open(sys.argv[1])) / 1e6)' "$scratch/launch.out")
    cmd=""
    for w in "$@" /bin/true; do
        cmd="$cmd '$(printf '%s' "$w" | sed "s/'/'\\\\''/g")'"
    done
    whole=-
    if hyperfine -N --style none --warmup "$warmup" --runs "$runs" --export-json "$scratch/hf.json" \
            -n "$name" "$cmd" >"$log" 2>&1 </dev/null; then
        whole=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"] * 1000)' "$scratch/hf.json")
    fi
    printf '%s\t%s\t%s\t%s\n' "$name" "$first" "$whole" "$note" >>"$results"
}

berth_ok=1
row "berth-spawn -D tree" "baseline" "$berth" -q -M bz-bench-dir -D "$tree" || berth_ok=0
row "berth-spawn -i GPT, root" "ext4 root partition" "$berth" -q -M bz-bench-img -i "$scratch/root.raw" || berth_ok=0
row "berth-spawn -i GPT, root+usr+home+var" "four ext4 partitions" \
    "$berth" -q -M bz-bench-multi -i "$scratch/multi.raw" || berth_ok=0
if [ "$have_squashfs" -eq 1 ]; then
    row "berth-spawn -i squashfs" "bare squashfs image (read-only)" \
        "$berth" -q -M bz-bench-sqfs -i "$scratch/squashfs.raw" || berth_ok=0
else
    printf '%s\t-\t-\t%s\n' "berth-spawn -i squashfs" "mksquashfs not installed" >>"$results"
fi

if command -v systemd-nspawn >/dev/null 2>&1; then
    nspawn=$(command -v systemd-nspawn)
    row "systemd-nspawn -D tree" "--register=no --keep-unit" \
        "$nspawn" -q --register=no --keep-unit -M bz-bench-nspawn -D "$tree" || true
    row "systemd-nspawn --image=" "GPT, root; --register=no --keep-unit" \
        "$nspawn" -q --register=no --keep-unit -M bz-bench-nspawn --image="$scratch/root.raw" || true
else
    printf '%s\t-\t-\t%s\n' "systemd-nspawn" "not installed" >>"$results"
fi

# --- report -------------------------------------------------------------------
echo
echo "### berth-spawn -i: start-up from a disk image"
echo
echo "Busybox tree, $runs runs + $warmup warm-up each, medians; $(uname -r), $(nproc) CPUs."
echo "first instruction: invocation to the payload's first instruction; whole run: hyperfine -N of /bin/true."
echo
python3 - "$results" <<'EOF'
import sys
rows = []
for line in open(sys.argv[1]):
    name, first, whole, note = (line.rstrip("\n").split("\t") + [""] * 4)[:4]
    rows.append((name, None if first == "-" else float(first), None if whole == "-" else float(whole), note))
base = next((r for r in rows if r[0] == "berth-spawn -D tree"), None)
nbase = next((r for r in rows if r[0] == "systemd-nspawn -D tree"), None)
def f(x):
    return "—" if x is None else f"{x:.1f}"
def d(x, b):
    return "—" if x is None or b is None else f"{x - b:+.1f}"
print("| setup | first instruction ms | image overhead ms | whole run ms | image overhead ms | notes |")
print("|---|---:|---:|---:|---:|---|")
for name, first, whole, note in rows:
    b = nbase if name.startswith("systemd-nspawn") else base
    if b is None or name == b[0]:
        o1 = o2 = "—"
    else:
        o1, o2 = d(first, b[1]), d(whole, b[2])
    print(f"| {name} | {f(first)} | {o1} | {f(whole)} | {o2} | {note} |")
EOF

if [ "$berth_ok" -ne 1 ]; then
    echo "bench-image: berth-spawn failed; see above" >&2
    exit 1
fi
exit 0
