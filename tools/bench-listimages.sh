#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench-listimages.sh — benchmark (not a test) of berthd's ListImages with a large pool:
# the time of one call (the first after a change, and the next ones), and root's
# ListImages/GetMachine latency while unprivileged clients call ListImages in a loop.
#
# Like bench-berthd.sh it starts a private dbus-daemon and a private berthd with --pool
# in a scratch directory (never /var/lib/machines), fills the pool with N directory
# images, and times with a small sd-bus client compiled on the fly.
#
# Environment:
#   BERTHD              berthd to measure (default build/src/machined/berthd)
#   BERTHD_OLD          another berthd to measure the same way (e.g. a build of main)
#   BENCH_IMAGES        images in the pool (default 20000)
#   BENCH_FLOODERS      unprivileged clients calling ListImages in a loop (default 4)
#   TMPDIR              where the scratch directory is made (default /tmp)
#
# Must run as root (the flooders run as nobody).

set -u
umask 022
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
: "${BERTHD:=$repo/build/src/machined/berthd}"
: "${BERTHD_OLD:=}"
: "${BENCH_IMAGES:=20000}"
: "${BENCH_FLOODERS:=4}"
POLICY=$repo/units/org.freedesktop.machine1.conf
DEST=org.freedesktop.machine1

die() {
    echo "bench-listimages: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root"
for b in "$BERTHD" ${BERTHD_OLD:+"$BERTHD_OLD"}; do
    [ -x "$b" ] || die "berthd not found at $b"
done
command -v setpriv >/dev/null || die "setpriv not found"
pkg-config --exists libsystemd 2>/dev/null || die "libsystemd development files not found"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-listimages.XXXXXX") || die "mktemp failed"
chmod 755 "$TMP"
DBUS_PID=
BERTHD_PID=
LEADER=
FLOOD_PIDS=()

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local p
    for p in "${FLOOD_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$BERTHD_PID" ] && kill -KILL "$BERTHD_PID" 2>/dev/null
    [ -n "$LEADER" ] && kill -KILL "$LEADER" 2>/dev/null
    [ -n "$DBUS_PID" ] && kill "$DBUS_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$TMP/client.c" <<'EOF'
/* client list N | client flood SECONDS | client root N MACHINE
 * Prints "key value" lines; ListImages/GetMachine round trips in ms. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-bus.h>

static sd_bus *bus;

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double call(const char *member, const char *arg) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        double t0 = now_ms();
        int r = arg ? sd_bus_call_method(bus, "org.freedesktop.machine1", "/org/freedesktop/machine1",
                                         "org.freedesktop.machine1.Manager", member, &e, &reply, "s", arg)
                    : sd_bus_call_method(bus, "org.freedesktop.machine1", "/org/freedesktop/machine1",
                                         "org.freedesktop.machine1.Manager", member, &e, &reply, "");
        double dt = now_ms() - t0;

        if (r < 0) {
                fprintf(stderr, "%s: %s\n", member, e.message ?: strerror(-r));
                exit(1);
        }
        sd_bus_message_unref(reply);
        return dt;
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static void stats(const char *key, double *v, int n) {
        qsort(v, n, sizeof(double), cmp);
        printf("%s_med %.1f\n%s_max %.1f\n", key, v[n / 2], key, v[n - 1]);
}

int main(int argc, char **argv) {
        double v[1000];
        int n;

        if (sd_bus_open_system(&bus) < 0 || argc < 3)
                return 2;
        n = atoi(argv[2]);
        if (n < 1 || n > 1000)
                n = 1000;
        if (strcmp(argv[1], "list") == 0) {
                for (int i = 0; i < n; i++)
                        v[i] = call("ListImages", NULL);
                printf("first %.1f\n", v[0]);
                stats("list", v, n);
        } else if (strcmp(argv[1], "flood") == 0) {
                double end = now_ms() + n * 1e3;
                long calls = 0;
                while (now_ms() < end && calls < 100000) {
                        call("ListImages", NULL);
                        calls++;
                }
                printf("flood_calls %ld\n", calls);
        } else if (strcmp(argv[1], "root") == 0 && argc == 4) {
                double g[1000];
                for (int i = 0; i < n; i++) {
                        v[i] = call("ListImages", NULL);
                        g[i] = call("GetMachine", argv[3]);
                }
                stats("root_list", v, n);
                stats("root_get", g, n);
        } else
                return 2;
        return 0;
}
EOF
read -ra SD_FLAGS <<<"$(pkg-config --cflags --libs libsystemd)"
cc -O2 -Wall -o "$TMP/client" "$TMP/client.c" "${SD_FLAGS[@]}" || die "compiling the client failed"
chmod 755 "$TMP/client"

# shellcheck source=private-bus.sh
source "$here/private-bus.sh"
private_bus_start "$TMP" "$POLICY" || die "dbus-daemon did not start"

echo "bench-listimages: making $BENCH_IMAGES images..." >&2
mkdir "$TMP/pool"
(cd "$TMP/pool" && seq 1 "$BENCH_IMAGES" | sed 's/^/img/' | xargs mkdir)

# measure BERTHD LABEL: one berthd's figures as "LABEL key value" lines
measure() {
    local berthd=$1 label=$2 up= p
    "$berthd" --state-dir="$TMP/state-$label" --pool="$TMP/pool" >"$TMP/berthd-$label.log" 2>&1 &
    BERTHD_PID=$!
    for _ in $(seq 200); do
        busctl status "$DEST" >/dev/null 2>&1 && { up=1; break; }
        sleep 0.02
    done
    [ -n "$up" ] || die "berthd ($label) did not come up"
    sleep 1000 &
    LEADER=$!
    busctl call "$DEST" /org/freedesktop/machine1 org.freedesktop.machine1.Manager RegisterMachine sayssus \
        bench 0 bench container "$LEADER" / >/dev/null || die "RegisterMachine failed"

    touch "$TMP/pool"       # nothing changes the listing, but start from a cold berthd anyway
    "$TMP/client" list 10 | sed "s/^/$label /"
    for _ in $(seq "$BENCH_FLOODERS"); do
        setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$TMP/client" flood 12 \
            | sed "s/^/$label /" >>"$TMP/flood-$label" &
        FLOOD_PIDS+=($!)
    done
    sleep 1
    "$TMP/client" root 10 bench | sed "s/^/$label /"
    for p in "${FLOOD_PIDS[@]}"; do wait "$p"; done
    FLOOD_PIDS=()
    awk -v l="$label" '{ s += $3 } END { print l, "flood_calls", s }' "$TMP/flood-$label"
    kill "$LEADER"; wait "$LEADER" 2>/dev/null; LEADER=
    kill "$BERTHD_PID"; wait "$BERTHD_PID" 2>/dev/null; BERTHD_PID=
}

declare -A R
labels=(new)
[ -n "$BERTHD_OLD" ] && labels=(old new)
for l in "${labels[@]}"; do
    b=$BERTHD
    [ "$l" = old ] && b=$BERTHD_OLD
    echo "bench-listimages: measuring $l ($b)..." >&2
    while read -r lab k v; do R[$lab.$k]=$v; done < <(measure "$b" "$l")
done

r() { echo "${R[$1]:-n/a}"; }
echo
echo "ListImages with $BENCH_IMAGES directory images ($(nproc) CPUs, pool on $(stat -fc %T "$TMP/pool")), $BENCH_FLOODERS unprivileged flooders for 12 s"
echo
head="| measurement (ms) |" sep="|---|"
for l in "${labels[@]}"; do head+=" $l |"; sep+="---|"; done
echo "$head"
echo "$sep"
row() {
    local line="| $1 |" l
    for l in "${labels[@]}"; do line+=" $(r "$l.$2") |"; done
    echo "$line"
}
row "ListImages, first call" first
row "ListImages, median of 10" list_med
row "ListImages, max of 10" list_max
row "root ListImages under the flood, median" root_list_med
row "root ListImages under the flood, max" root_list_max
row "root GetMachine under the flood, median" root_get_med
row "root GetMachine under the flood, max" root_get_max
row "unprivileged ListImages calls answered in 12 s" flood_calls
echo
echo "Round trips through dbus-daemon, one sd-bus connection each; the 2.5 MB reply for 20,000 images is copied twice on the way."
