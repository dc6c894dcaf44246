#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark, not a test. Runs entirely in a network namespace of its own (unshare -n):
#  1. start latency of /bin/true in a busybox tree: berth-spawn without networking, with
#     --network-veth, and systemd-nspawn --network-veth (hyperfine, medians);
#  2. TCP throughput into a machine through a berth-spawn -p port forward, against the same
#     transfer over the loopback device and over a plain veth pair into a second network
#     namespace (no NAT: the ceiling of any port forward into a namespace), each at the MTU it
#     has (loopback 65536, veth 1500, as berth-spawn creates it) and at the other one, to tell
#     what the MTU costs from what the veth crossing and the NAT cost. Every path uses the same
#     sender (python3, 1 MiB send()s), the same sink (the payload's static tcpsink), the same nice
#     level and pinning; the paths take turns, round after round, and the table gives the median
#     of the rounds, and the CPU time sender and sink used per GiB (utime + stime, which includes
#     the kernel's receive work done in their context; it depends much less than the throughput
#     on whatever else the machine runs).
#
# Environment: BERTH_SPAWN, BERTH_PAYLOAD (binaries, default build/), BENCH_RUNS (start-up runs,
# 30), BENCH_TPUT_RUNS (throughput rounds, 5), BENCH_MB (MiB per transfer, 2048), BENCH_PIN=S,R
# (run the sender on CPU S and the sink on CPU R; default: not pinned), BENCH_NAME (prefix of the
# machine names, "bench").
set -u

cd "$(dirname "$0")/.."
if [ -z "${BERTH_BENCH_NETNS:-}" ]; then
        export BERTH_BENCH_NETNS=1
        exec unshare --net -- "$BASH" "$0" "$@"
fi

SPAWN=$(realpath "${BERTH_SPAWN:-build/src/spawn/berth-spawn}")
PAYLOAD=$(realpath "${BERTH_PAYLOAD:-build/test/berth-payload}")
RUNS=${BENCH_RUNS:-30}
TPUT_RUNS=${BENCH_TPUT_RUNS:-5}
MB=${BENCH_MB:-2048}
NAME=${BENCH_NAME:-bench}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench-net.XXXXXX")
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        rm -rf "$scratch"
}
trap cleanup EXIT

sh tools/make-busybox-tree.sh "$scratch/tree" >/dev/null || exit 1
install -m 0755 "$PAYLOAD" "$scratch/tree/usr/bin/berth-payload"
ip link set lo up
# the "host" address that port forwards answer on
ip link add bench0 type dummy 2>/dev/null || { ip link add bench0 type veth peer name bench0p; ip link set bench0p up; }
ip addr add 10.97.0.1/24 dev bench0 && ip link set bench0 up
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

median() { python3 -c "import json,sys; print('%.2f' % (json.load(open(sys.argv[1]))['results'][0]['median']*1000))" "$1"; }

hf() {
        hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$scratch/hf.json" "$@" >/dev/null 2>&1 || { echo "n/a"; return; }
        median "$scratch/hf.json"
}

plain=$(hf "$SPAWN -q -D $scratch/tree /bin/true")
veth=$(hf "$SPAWN -q -n -D $scratch/tree -M ${NAME}veth /bin/true")
if command -v systemd-nspawn >/dev/null; then
        nveth=$(hf "systemd-nspawn -q --register=no --keep-unit -n -D $scratch/tree -M ${NAME}ns /bin/true")
else
        nveth=n/a
fi

# ---- throughput

# send HOST PORT SINKPID: MB MiB in 1 MiB send()s; prints "MiB/s sender-CPU-s/GiB sink-CPU-s/GiB".
# The sink's CPU time is read before the end of the stream, while it still runs.
cat >"$scratch/send.py" <<'PY'
import os, socket, sys, time
host, port, mb, sink = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
hz = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    with open("/proc/%s/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / hz
buf = b"\0" * (1 << 20)
for _ in range(200):
    try:
        s = socket.create_connection((host, port), timeout=5)
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("cannot connect to %s:%d" % (host, port))
c0, s0, t0 = os.times(), cpu(sink), time.monotonic()
for _ in range(mb):
    s.sendall(buf)
c1, s1 = os.times(), cpu(sink)
s.shutdown(socket.SHUT_WR)
s.recv(1)
t = time.monotonic() - t0
gib = mb / 1024
print("%.0f %.3f %.3f" % (mb / t, (c1.user + c1.system - c0.user - c0.system) / gib, (s1 - s0) / gib))
PY

send_pre=(nice -n -20)
sink_pre=(nice -n -20)
if [ -n "${BENCH_PIN:-}" ]; then
        send_pre+=(taskset -c "${BENCH_PIN%,*}")
        sink_pre+=(taskset -c "${BENCH_PIN#*,}")
fi

wait_listening() {     # FILE: the sink printed "listening"
        for _ in $(seq 1 200); do grep -q listening "$1" 2>/dev/null && return 0; sleep 0.05; done
        return 1
}

# transfer ROW HOST PORT SINKPID: one transfer to a sink that is listening; appends to results
transfer() {
        local r
        r=$("${send_pre[@]}" python3 "$scratch/send.py" "$2" "$3" "$MB" "$4") || { kill "$4" 2>/dev/null; r=""; }
        [ -n "$r" ] && echo "$1 $r" >>"$scratch/results"
}

# a second network namespace behind a plain veth pair, without NAT
unshare -n sleep infinity &
peer=$!
pids+=("$peer")
for _ in $(seq 1 100); do [ "$(readlink /proc/$peer/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.01; done
ip link add bveth0 type veth peer name bveth1 netns "/proc/$peer/ns/net"
ip addr add 10.98.0.1/24 dev bveth0 && ip link set bveth0 up
nsenter -t "$peer" -n sh -c 'ip link set lo up && ip addr add 10.98.0.2/24 dev bveth1 && ip link set bveth1 up'

row_lo() {             # ROW MTU
        ip link set lo mtu "$2"
        rm -f "$scratch/sink.out"
        "${sink_pre[@]}" "$PAYLOAD" tcpsink 8091 >"$scratch/sink.out" 2>&1 &
        local p=$!
        if wait_listening "$scratch/sink.out"; then transfer "$1" 127.0.0.1 8091 "$p"; else kill "$p"; fi
        wait "$p"
        ip link set lo mtu 65536
}

row_veth() {           # ROW MTU
        ip link set bveth0 mtu "$2"
        nsenter -t "$peer" -n ip link set bveth1 mtu "$2"
        rm -f "$scratch/sink.out"
        nsenter -t "$peer" -n "${sink_pre[@]}" "$PAYLOAD" tcpsink 8092 >"$scratch/sink.out" 2>&1 &
        local p=$!
        if wait_listening "$scratch/sink.out"; then transfer "$1" 10.98.0.2 8092 "$p"; else kill "$p"; fi
        wait "$p"
}

machine_sink_pid() {   # the tcpsink inside the machine, as the host sees it
        local d
        for d in /proc/[0-9]*; do
                [ "$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" = "/usr/bin/berth-payload tcpsink 8090 " ] && { echo "${d#/proc/}"; return; }
        done
}

row_fwd() {            # ROW [MTU]: through -p 18090:8090, optionally with both veth ends at MTU
        local p s
        rm -f "$scratch/sink.out"
        "${sink_pre[@]}" "$SPAWN" -q -P -n -D "$scratch/tree" -M "${NAME}fwd" -p 18090:8090 \
                /usr/bin/berth-payload tcpsink 8090 >"$scratch/sink.out" 2>&1 &
        p=$!
        if wait_listening "$scratch/sink.out" && s=$(machine_sink_pid) && [ -n "$s" ]; then
                if [ -n "${2:-}" ]; then
                        ip link set "ve-${NAME}fwd" mtu "$2"
                        nsenter -t "$s" -n ip link set host0 mtu "$2"
                fi
                transfer "$1" 10.97.0.1 18090 "$s"
        else
                kill "$p" 2>/dev/null
        fi
        wait "$p"
}

touch "$scratch/results"
for _ in $(seq 1 "$TPUT_RUNS"); do
        row_lo lo 65536
        row_lo lo1500 1500
        row_veth veth 1500
        row_fwd fwd
        row_veth veth64k 65535
        row_fwd fwd64k 65535
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# median MiB/s, min-max, ratio to the loopback's median, median CPU s/GiB of sender + sink
python3 - "$scratch/results" >"$scratch/table" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, mibs, snd, snk = line.split()
    rows.setdefault(name, []).append((float(mibs), float(snd), float(snk)))
labels = [
    ("lo", "TCP over loopback (MTU 65536)"),
    ("lo1500", "TCP over loopback set to MTU 1500"),
    ("veth", "TCP over a plain veth pair into another netns (MTU 1500, no NAT)"),
    ("fwd", "TCP through -p 18090:8090 (host address → machine, MTU 1500)"),
    ("veth64k", "TCP over the plain veth pair, both ends set to MTU 65535"),
    ("fwd64k", "-p forward, both veth ends set to MTU 65535 after start (not berth's default)"),
]
lo = statistics.median(r[0] for r in rows["lo"]) if "lo" in rows else 0
for key, label in labels:
    r = rows.get(key)
    if not r:
        print("| %s | n/a | | | |" % label)
        continue
    m = statistics.median(x[0] for x in r)
    cpu = statistics.median(x[1] + x[2] for x in r)
    snd = statistics.median(x[1] for x in r)
    snk = statistics.median(x[2] for x in r)
    print("| %s | %.0f | %.0f–%.0f | %s | %.2f (%.2f + %.2f) |" % (
        label, m, min(x[0] for x in r), max(x[0] for x in r),
        "%.2f" % (m / lo) if lo else "—", cpu, snd, snk))
PY

echo
echo "### Networking: start latency and port-forward throughput (in a network namespace of its own)"
echo
echo "$RUNS runs per start command; $TPUT_RUNS rounds of $MB MiB per path; $(uname -r), $(nproc) CPUs," \
     "TCP $(cat /proc/sys/net/ipv4/tcp_congestion_control), ${BENCH_PIN:+pinned $BENCH_PIN, }load $load_before → $load_after."
echo
echo "| measurement | value | ratio |"
echo "|---|---:|---:|"
echo "| berth-spawn /bin/true, no network | $plain ms | |"
echo "| berth-spawn --network-veth /bin/true | $veth ms | $(awk -v a="$veth" -v b="$nveth" 'BEGIN { if (b+0 > 0) printf "%.2f × systemd-nspawn", a / b; else print "—" }') |"
echo "| systemd-nspawn --network-veth /bin/true | $nveth ms | |"
echo
echo "| path | median MiB/s | min–max | × loopback | CPU s/GiB, sender + sink |"
echo "|---|---:|---:|---:|---:|"
cat "$scratch/table"
