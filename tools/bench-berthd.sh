#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench-berthd.sh — benchmark (not a test) of berthd at scale: N registered
# machines, ListMachines / GetMachine latency, RSS and fd count, and
# RegisterMachine/UnregisterMachine churn.
#
# It starts a private dbus-daemon (system-type bus with the project's policy, like
# test/machined/lib.sh) and a private berthd with --state-dir and --pool in a scratch
# directory, starts N real leader processes (`sleep 1000`) and registers one machine
# per leader. The D-Bus client is a small C program compiled on the fly against
# libsystemd: it uses one sd-bus connection and times with CLOCK_MONOTONIC.
#
# Environment:
#   BERTHD                path to berthd (default build/src/machined/berthd in the repo)
#   BENCH_MACHINES        machines to register (default 1000)
#   BENCH_CHURN           register+unregister cycles in the churn phase (default 2000)
#   BENCH_CHURN_LEADERS   leaders the churn phase cycles through (default 32)
#   TMPDIR                where the scratch directory is made (default /tmp)
#
# Must run as root. Exits non-zero if something fails (berthd crashes, a call fails,
# machines or cgroups are left over); missed targets only show in the table.

set -u
umask 022
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
: "${BERTHD:=$repo/build/src/machined/berthd}"
case $BERTHD in
    /*) ;;
    *) BERTHD=$PWD/$BERTHD ;;
esac
: "${BENCH_MACHINES:=1000}"
: "${BENCH_CHURN:=2000}"
: "${BENCH_CHURN_LEADERS:=32}"
POLICY=$repo/units/org.freedesktop.machine1.conf
DEST=org.freedesktop.machine1

# Targets (see tools/README.md).
TARGET_LIST_MS=10
TARGET_RSS_MIB=10

die() {
    echo "bench-berthd: $*" >&2
    exit 1
}

for v in BENCH_MACHINES BENCH_CHURN BENCH_CHURN_LEADERS; do
    case ${!v} in ''|*[!0-9]*) die "$v must be a positive integer, got '${!v}'" ;; esac
    [ "${!v}" -ge 1 ] || die "$v must be at least 1"
done
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -x "$BERTHD" ] || die "berthd not found at $BERTHD (build it with meson/ninja, or set BERTHD)"
[ -r "$POLICY" ] || die "D-Bus policy not found at $POLICY"
command -v dbus-daemon >/dev/null 2>&1 || die "dbus-daemon not found"
command -v busctl >/dev/null 2>&1 || die "busctl not found"
command -v cc >/dev/null 2>&1 || die "cc not found"
pkg-config --exists libsystemd 2>/dev/null || die "libsystemd development files not found (apt-get install libsystemd-dev)"

# The cgroup2 hierarchy berthd uses when systemd is not PID 1 (as in lib.sh).
cgroup_unified() {
    if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
        echo /sys/fs/cgroup
    elif [ -d /sys/fs/cgroup/unified ] && [ "$(stat -fc %T /sys/fs/cgroup/unified)" = cgroup2fs ]; then
        echo /sys/fs/cgroup/unified
    fi
}

# Every machine.slice directory berthd could use, one per line.
slice_dirs() {
    local h
    for h in "$CGROOT" /sys/fs/cgroup/systemd; do
        [ -n "$h" ] && [ -d "$h/machine.slice" ] && echo "$h/machine.slice"
    done
}

# Scopes for this run's machines (RegisterMachine makes none; this checks that).
our_scopes() {
    local d
    for d in $(slice_dirs); do
        find "$d" -maxdepth 1 -name "machine-$P-*" 2>/dev/null
    done
}

P=bb$$                  # machine name prefix, unique per run
CGROOT=$(cgroup_unified)
SLICES_BEFORE=$(slice_dirs)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-berthd.XXXXXX") || die "mktemp failed"
chmod 755 "$TMP"
STATE=$TMP/state
LEADERS=()
DBUS_PID=
BERTHD_PID=
BENCH_PID=

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local d s p
    trap '' INT TERM
    if [ -n "$BENCH_PID" ]; then
        kill -KILL "$BENCH_PID" 2>/dev/null
        wait "$BENCH_PID" 2>/dev/null
    fi
    if [ -n "$BERTHD_PID" ]; then
        kill -KILL "$BERTHD_PID" 2>/dev/null
        wait "$BERTHD_PID" 2>/dev/null
    fi
    # only leaders not killed yet by the run itself (it empties LEADERS when it kills them)
    for p in "${LEADERS[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    LEADERS=()
    if [ -n "$DBUS_PID" ]; then
        kill "$DBUS_PID" 2>/dev/null
        wait "$DBUS_PID" 2>/dev/null
    fi
    # Not expected to exist (see the check at the end); empty once the leaders are gone.
    for s in $(our_scopes); do
        rmdir "$s" 2>/dev/null
    done
    for d in $(slice_dirs); do
        grep -qxF "$d" <<<"$SLICES_BEFORE" || rmdir "$d" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the client ------------------------------------------------------------------
cat >"$TMP/bench.c" <<'EOF'
/* bench load BERTHD_PID PREFIX LEADERS_FILE POOL_FILE CHURN
 * bench drain BERTHD_PID TIMEOUT_MS
 * Prints "key value" lines on stdout; errors on stderr, exit 1. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#define DEST "org.freedesktop.machine1"
#define OPATH "/org/freedesktop/machine1"
#define MGR "org.freedesktop.machine1.Manager"

static sd_bus *bus;
static int berthd;

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* Median and 99th percentile (nearest rank) in ms; sorts v. */
static void stats(const char *key, uint64_t *v, size_t n) {
        double med, p99;
        qsort(v, n, sizeof(*v), cmp_u64);
        med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
        p99 = v[(n * 99 + 99) / 100 - 1];
        printf("%s_med_ms %.3f\n%s_p99_ms %.3f\n%s_max_ms %.3f\n", key, med / 1e6, key, p99 / 1e6,
               key, v[n - 1] / 1e6);
}

static long status_kib(const char *field) {
        char path[64], line[256];
        long v = -1;
        size_t l = strlen(field);
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", berthd);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, field, l) == 0 && line[l] == ':') {
                        v = strtol(line + l + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

static long fd_count(void) {
        char path[64];
        struct dirent *de;
        long n = 0;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/fd", berthd);
        d = opendir(path);
        if (!d)
                return -1;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void snap(const char *tag) {
        printf("%s_rss_kib %ld\n%s_fds %ld\n", tag, status_kib("VmRSS"), tag, fd_count());
        fflush(stdout);
}

static int fail(const char *what, const char *name, int r, const sd_bus_error *e) {
        fprintf(stderr, "bench: %s%s%s failed: %s\n", what, name ? " " : "", name ? name : "",
                e && sd_bus_error_is_set(e) ? e->message : strerror(-r));
        fflush(stdout);
        return 1;
}

/* One method call; *dt gets the round trip in ns. */
static int call(const char *member, const char *name, uint32_t leader, uint64_t *dt, sd_bus_message **ret) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        uint64_t t0;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, DEST, OPATH, MGR, member);
        if (r >= 0 && name)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0 && strcmp(member, "RegisterMachine") == 0) {
                uint8_t id[16];
                for (size_t i = 0; i < sizeof(id); i++)
                        id[i] = (uint8_t) (0xb0 + i + leader * 7);
                r = sd_bus_message_append_array(m, 'y', id, sizeof(id));
                if (r >= 0)
                        r = sd_bus_message_append(m, "ssus", "berth-bench", "container", leader, "/");
        }
        if (r < 0) {
                sd_bus_message_unref(m);
                return fail(member, name, r, NULL);
        }
        t0 = now_ns();
        r = sd_bus_call(bus, m, 0, &e, &reply);
        *dt = now_ns() - t0;
        sd_bus_message_unref(m);
        if (r < 0) {
                fail(member, name, r, &e);
                sd_bus_error_free(&e);
                return 1;
        }
        if (ret)
                *ret = reply;
        else
                sd_bus_message_unref(reply);
        return 0;
}

/* ListMachines; returns the number of entries or -1. */
static long list_machines(uint64_t *dt) {
        sd_bus_message *reply;
        const char *a, *b, *c, *d;
        long n = 0;
        int r;

        if (call("ListMachines", NULL, 0, dt, &reply))
                return -1;
        r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ssso)", &a, &b, &c, &d)) > 0)
                n++;
        sd_bus_message_unref(reply);
        if (r < 0) {
                fail("parsing ListMachines reply", NULL, r, NULL);
                return -1;
        }
        return n;
}

static size_t read_pids(const char *file, uint32_t **ret) {
        FILE *f = fopen(file, "re");
        uint32_t *v = NULL;
        size_t n = 0, cap = 0;
        unsigned long p;

        if (!f) {
                perror(file);
                exit(1);
        }
        while (fscanf(f, "%lu", &p) == 1) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 1024;
                        v = realloc(v, cap * sizeof(*v));
                        if (!v)
                                exit(1);
                }
                v[n++] = (uint32_t) p;
        }
        fclose(f);
        *ret = v;
        return n;
}

static char *slurp(const char *path) {
        static char buf[4096];
        FILE *f = fopen(path, "re");
        size_t l;

        if (!f)
                return NULL;
        l = fread(buf, 1, sizeof(buf) - 1, f);
        buf[l] = 0;
        fclose(f);
        return strdup(buf);
}

static int load(const char *prefix, const char *leaders_file, const char *pool_file, size_t churn) {
        uint32_t *leaders, *pool;
        size_t n = read_pids(leaders_file, &leaders), npool = read_pids(pool_file, &pool);
        size_t nlist = 50, nget = 200, moved = 0;
        /* one latency array serves every phase: size it for the longest */
        size_t nlat = n > churn ? n : churn;
        uint64_t *lat = calloc(nlat > nget ? nlat : nget, sizeof(uint64_t));
        uint64_t *lat2 = calloc(churn, sizeof(uint64_t));
        uint64_t t0, t, dt;
        char name[64], *self_cg;
        long count;

        if (!lat || !lat2 || n == 0 || npool == 0)
                return fail("setup", NULL, -EINVAL, NULL);
        snap("base");

        /* 1. register one machine per leader */
        t0 = now_ns();
        for (size_t i = 0; i < n; i++) {
                snprintf(name, sizeof(name), "%s-%zu", prefix, i);
                if (call("RegisterMachine", name, leaders[i], &lat[i], NULL))
                        return printf("registered %zu\n", i), 1;
        }
        t = now_ns() - t0;
        printf("registered %zu\nreg_total_s %.3f\nreg_rate %.0f\n", n, t / 1e9, n / (t / 1e9));
        stats("reg", lat, n);

        /* RegisterMachine must not move the leaders (no scope is made). */
        self_cg = slurp("/proc/self/cgroup");
        for (size_t i = 0; i < n; i++) {
                char path[64], *cg;
                snprintf(path, sizeof(path), "/proc/%" PRIu32 "/cgroup", leaders[i]);
                cg = slurp(path);
                if (!cg || !self_cg || strcmp(cg, self_cg) != 0)
                        moved++;
                free(cg);
        }
        free(self_cg);
        printf("leaders_moved %zu\n", moved);

        /* 2. ListMachines and GetMachine at N machines */
        for (int i = 0; i < 3; i++)     /* warm-up */
                if (list_machines(&dt) < 0)
                        return 1;
        for (size_t i = 0; i < nlist; i++) {
                count = list_machines(&lat[i]);
                if (count < 0)
                        return 1;
        }
        printf("list_entries %ld\n", count);
        stats("list", lat, nlist);

        srand(4711);
        for (size_t i = 0; i < nget; i++) {
                snprintf(name, sizeof(name), "%s-%zu", prefix, (size_t) rand() % n);
                if (call("GetMachine", name, 0, &lat[i], NULL))
                        return 1;
        }
        stats("get", lat, nget);
        snap("n");

        /* 3. churn on top of the N machines, cycling through the pool of leaders */
        printf("churn_traj");
        t0 = now_ns();
        for (size_t i = 0; i < churn; i++) {
                if (i % (churn / 4 ? churn / 4 : 1) == 0)
                        printf(" %ld/%ld", status_kib("VmRSS"), fd_count());
                snprintf(name, sizeof(name), "%s-c%zu", prefix, i);
                if (call("RegisterMachine", name, pool[i % npool], &lat[i], NULL) ||
                    call("UnregisterMachine", name, 0, &lat2[i], NULL))
                        return printf("\nchurned %zu\n", i), 1;
        }
        t = now_ns() - t0;
        printf(" %ld/%ld\n", status_kib("VmRSS"), fd_count());
        printf("churned %zu\nchurn_total_s %.3f\nchurn_cycle_rate %.0f\nchurn_op_rate %.0f\n", churn,
               t / 1e9, churn / (t / 1e9), 2 * churn / (t / 1e9));
        stats("churn_reg", lat, churn);
        stats("churn_unreg", lat2, churn);
        snap("churn");

        count = list_machines(&dt);
        printf("after_churn_entries %ld\n", count);
        return count < 0;
}

/* After the leaders are killed: wait until berthd has dropped every machine. */
static int drain(long timeout_ms) {
        uint64_t t0 = now_ns(), dt;
        long count;

        for (;;) {
                count = list_machines(&dt);
                if (count < 0)
                        return 1;
                if (count <= 1 || (long) ((now_ns() - t0) / 1000000) > timeout_ms)
                        break;
                usleep(5000);
        }
        printf("drain_s %.3f\ndrain_left %ld\n", (now_ns() - t0) / 1e9, count - 1);
        snap("drained");
        return count != 1;
}

int main(int argc, char **argv) {
        int r;

        if (argc < 3)
                return fprintf(stderr, "usage: see bench-berthd.sh\n"), 2;
        berthd = atoi(argv[2]);
        r = sd_bus_open_system(&bus);   /* honours DBUS_SYSTEM_BUS_ADDRESS */
        if (r < 0)
                return fail("connecting to the bus", NULL, r, NULL);
        if (strcmp(argv[1], "load") == 0 && argc == 7)
                r = load(argv[3], argv[4], argv[5], strtoul(argv[6], NULL, 10));
        else if (strcmp(argv[1], "drain") == 0 && argc == 4)
                r = drain(atol(argv[3]));
        else
                return fprintf(stderr, "usage: see bench-berthd.sh\n"), 2;
        fflush(stdout);
        sd_bus_flush_close_unref(bus);
        return r;
}
EOF
read -ra SD_FLAGS <<<"$(pkg-config --cflags --libs libsystemd)"
cc -O2 -Wall -o "$TMP/bench" "$TMP/bench.c" "${SD_FLAGS[@]}" || die "compiling the client failed"

# --- the bus and berthd (as in test/machined/lib.sh) ------------------------------
# shellcheck source=private-bus.sh
source "$here/private-bus.sh"
private_bus_start "$TMP" "$POLICY" || { cat "$TMP/dbus.log" >&2; die "dbus-daemon did not start"; }

mkdir -p "$TMP/pool"
"$BERTHD" --state-dir="$STATE" --pool="$TMP/pool" >"$TMP/berthd.log" 2>&1 &
BERTHD_PID=$!
up=
for _ in $(seq 200); do
    busctl status "$DEST" >/dev/null 2>&1 && { up=1; break; }
    kill -0 "$BERTHD_PID" 2>/dev/null || break
    sleep 0.02
done
[ -n "$up" ] || { tail -20 "$TMP/berthd.log" >&2; die "berthd did not come up"; }

berthd_gone() {
    local rc
    kill -0 "$BERTHD_PID" 2>/dev/null && return 1
    wait "$BERTHD_PID"
    rc=$?
    BERTHD_PID=
    if [ "$rc" -gt 128 ]; then
        echo "bench-berthd: berthd died of signal $((rc - 128)); last log lines:" >&2
    else
        echo "bench-berthd: berthd exited with status $rc; last log lines:" >&2
    fi
    tail -20 "$TMP/berthd.log" | sed 's/^/  /' >&2
    return 0
}

# run_bench OUTFILE ARGS...: run the client in the background (so that INT/TERM
# reach our traps at once) and wait for it
run_bench() {
    local out=$1 rc
    shift
    "$TMP/bench" "$@" >"$out" &
    BENCH_PID=$!
    wait "$BENCH_PID"
    rc=$?
    BENCH_PID=
    return "$rc"
}

# --- leaders ---------------------------------------------------------------------
echo "bench-berthd: starting $BENCH_MACHINES + $BENCH_CHURN_LEADERS leaders..." >&2
t0=$EPOCHREALTIME
: >"$TMP/leaders"
: >"$TMP/pool-leaders"
for ((i = 0; i < BENCH_MACHINES + BENCH_CHURN_LEADERS; i++)); do
    sleep 1000 &
    LEADERS+=("$!")
    disown "$!"     # no "Killed" job notices; bash still reaps them
    if [ "$i" -lt "$BENCH_MACHINES" ]; then
        echo "$!" >>"$TMP/leaders"
    else
        echo "$!" >>"$TMP/pool-leaders"
    fi
done
leaders_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

# --- 1-3: register, measure, churn ------------------------------------------------
echo "bench-berthd: registering $BENCH_MACHINES machines, then $BENCH_CHURN churn cycles..." >&2
failed=
run_bench "$TMP/load.out" load "$BERTHD_PID" "$P" "$TMP/leaders" "$TMP/pool-leaders" "$BENCH_CHURN" || failed=1
berthd_gone && failed=1

# --- 4: leaders exit: berthd must drop every machine ------------------------------
echo "bench-berthd: killing the leaders, waiting for berthd to drop the machines..." >&2
for p in "${LEADERS[@]}"; do
    kill -KILL "$p" 2>/dev/null
done
LEADERS=()      # killed (and reaped by bash): never signal these PIDs again
if [ -n "$BERTHD_PID" ]; then
    run_bench "$TMP/drain.out" drain "$BERTHD_PID" 20000 || failed=1
    berthd_gone && failed=1
fi
state_left=$(find "$STATE" -mindepth 1 -maxdepth 1 ! -name '.*' 2>/dev/null | wc -l)
[ "$state_left" -eq 0 ] || failed=1

if [ -n "$BERTHD_PID" ]; then
    kill -TERM "$BERTHD_PID" 2>/dev/null
    wait "$BERTHD_PID" 2>/dev/null
    BERTHD_PID=
fi
scopes=$(our_scopes | wc -l)
new_slices=
for d in $(slice_dirs); do
    grep -qxF "$d" <<<"$SLICES_BEFORE" || new_slices+=" $d"
done
[ "$scopes" -eq 0 ] && [ -z "$new_slices" ] || failed=1

# --- report ----------------------------------------------------------------------
declare -A R
while read -r k v; do
    R[$k]=$v
done < <(cat "$TMP/load.out" "$TMP/drain.out" 2>/dev/null)

r() { echo "${R[$1]:-n/a}"; }
mib() { [ -n "${R[$1]:-}" ] && awk -v k="${R[$1]}" 'BEGIN { printf "%.2f MiB", k / 1024 }' || echo n/a; }
# verdict VALUE LIMIT: "yes" if VALUE < LIMIT
verdict() {
    [ -n "$1" ] || { echo "n/a"; return; }
    awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? "yes" : "**NO**" }'
}
rss_mib=
[ -n "${R[n_rss_kib]:-}" ] && rss_mib=$(awk -v k="${R[n_rss_kib]}" 'BEGIN { printf "%.3f", k / 1024 }')
# same A B: "yes" if the two values are equal
same() {
    if [ -z "$1" ] || [ "$1" = n/a ] || [ -z "$2" ] || [ "$2" = n/a ]; then
        echo n/a
    elif [ "$1" = "$2" ]; then
        echo yes
    else
        echo "**NO**"
    fi
}
delta() {
    [ -n "${R[$1]:-}" ] && [ -n "${R[$2]:-}" ] && echo "$((R[$2] - R[$1]))" || echo n/a
}

N=$BENCH_MACHINES
M=$BENCH_CHURN
echo
echo "berthd benchmark: $N machines, $M churn cycles over $BENCH_CHURN_LEADERS leaders" \
    "($(nproc) CPUs, state dir on $(stat -fc %T "$TMP"), $leaders_s s to start the leaders)"
echo
echo "| measurement | value | target | met |"
echo "|---|---|---|---|"
echo "| machines registered | $(r registered) | $N | $(same "$(r registered)" "$N") |"
echo "| RegisterMachine x $N: total | $(r reg_total_s) s ($(r reg_rate)/s) | | |"
echo "| RegisterMachine latency median / p99 / max | $(r reg_med_ms) / $(r reg_p99_ms) / $(r reg_max_ms) ms | | |"
echo "| ListMachines at $N machines, median of 50 ($(r list_entries) entries) | $(r list_med_ms) ms | < $TARGET_LIST_MS ms | $(verdict "${R[list_med_ms]:-}" "$TARGET_LIST_MS") |"
echo "| ListMachines p99 / max | $(r list_p99_ms) / $(r list_max_ms) ms | | |"
echo "| GetMachine at $N machines, median of 200 | $(r get_med_ms) ms | | |"
echo "| GetMachine p99 / max | $(r get_p99_ms) / $(r get_max_ms) ms | | |"
echo "| berthd VmRSS: idle / at $N machines | $(mib base_rss_kib) / $(mib n_rss_kib) | < $TARGET_RSS_MIB MiB | $(verdict "$rss_mib" "$TARGET_RSS_MIB") |"
echo "| berthd fds: idle / at $N machines | $(r base_fds) / $(r n_fds) | | |"
echo "| churn: $M x (RegisterMachine + UnregisterMachine) | $(r churn_total_s) s, $(r churn_cycle_rate) cycles/s = $(r churn_op_rate) ops/s | | |"
echo "| churn latency median register / unregister | $(r churn_reg_med_ms) / $(r churn_unreg_med_ms) ms | | |"
echo "| berthd VmRSS before / after churn | $(mib n_rss_kib) / $(mib churn_rss_kib) (delta $(delta n_rss_kib churn_rss_kib) KiB) | flat | |"
echo "| berthd fds before / after churn | $(r n_fds) / $(r churn_fds) (delta $(delta n_fds churn_fds)) | flat | $(same "$(delta n_fds churn_fds)" 0) |"
echo "| RSS/fds during churn (0, 25, 50, 75, 100 %) | $(r churn_traj) | | |"
echo "| machines after churn (ListMachines entries, incl. .host) | $(r after_churn_entries) | $((N + 1)) | $(same "$(r after_churn_entries)" $((N + 1))) |"
echo "| all leaders SIGKILLed: time until berthd dropped all machines | $(r drain_s) s ($(r drain_left) left) | 0 left | $(same "$(r drain_left)" 0) |"
echo "| berthd VmRSS / fds after the drop | $(mib drained_rss_kib) / $(r drained_fds) | | |"
echo "| state files left / leaders moved to another cgroup / scopes made | $state_left / $(r leaders_moved) / $scopes${new_slices:+ (new:$new_slices)} | 0 / 0 / 0 | $(same "$state_left/$(r leaders_moved)/$scopes${new_slices:+ new}" 0/0/0) |"
echo
echo "Latencies are D-Bus round trips through dbus-daemon over one sd-bus connection."

if [ -n "$failed" ]; then
    echo "bench-berthd: FAILED (see the messages above); last berthd log lines:" >&2
    tail -20 "$TMP/berthd.log" | sed 's/^/  /' >&2
    exit 1
fi
exit 0
