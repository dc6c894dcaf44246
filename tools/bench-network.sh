#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmark, not a test. Runs entirely in a network namespace of its own (unshare -n):
#  1. start latency of /bin/true in a busybox tree: berth-spawn without networking, with
#     --network-veth, and systemd-nspawn --network-veth (hyperfine, medians);
#  2. TCP throughput through a berth-spawn -p port forward (host address -> machine) against
#     the same transfer over the host's loopback, with the same static sink program.
set -u

cd "$(dirname "$0")/.."
if [ -z "${BERTH_BENCH_NETNS:-}" ]; then
        export BERTH_BENCH_NETNS=1
        exec unshare --net -- "$BASH" "$0" "$@"
fi

SPAWN=$(realpath "${BERTH_SPAWN:-build/src/spawn/berth-spawn}")
PAYLOAD=$(realpath "${BERTH_PAYLOAD:-build/test/berth-payload}")
RUNS=${BENCH_RUNS:-30}
MB=${BENCH_MB:-512}
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

median() { python3 -c "import json,sys; print('%.2f' % (json.load(open(sys.argv[1]))['results'][0]['median']*1000))" "$1"; }

hf() {
        hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$scratch/hf.json" "$@" >/dev/null 2>&1 || { echo "n/a"; return; }
        median "$scratch/hf.json"
}

plain=$(hf "$SPAWN -q -D $scratch/tree /bin/true")
veth=$(hf "$SPAWN -q -n -D $scratch/tree -M benchveth /bin/true")
if command -v systemd-nspawn >/dev/null; then
        nveth=$(hf "systemd-nspawn -q --register=no --keep-unit -n -D $scratch/tree -M benchns /bin/true")
else
        nveth=n/a
fi

# throughput: a static sink in the machine behind -p, and the same sink on the host's loopback
send() {   # send MB megabytes to $1:$2, print seconds
        python3 - "$1" "$2" "$MB" <<'PY'
import socket, sys, time
host, port, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
buf = b"\0" * (1 << 20)
for _ in range(100):
    try:
        s = socket.create_connection((host, port), timeout=2); break
    except OSError:
        time.sleep(0.05)
t = time.monotonic()
for _ in range(mb):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
print("%.3f" % (time.monotonic() - t))
PY
}

"$SPAWN" -q -P -n -D "$scratch/tree" -M benchfwd -p 18090:8090 /usr/bin/berth-payload tcpsink 8090 >"$scratch/fwd.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q listening "$scratch/fwd.out" 2>/dev/null && break; sleep 0.05; done
t_fwd=$(send 10.97.0.1 18090)
wait "${pids[-1]}"

"$PAYLOAD" tcpsink 8091 >"$scratch/lo.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q listening "$scratch/lo.out" 2>/dev/null && break; sleep 0.05; done
t_lo=$(send 127.0.0.1 8091)
wait "${pids[-1]}"

mbps() { awk -v mb="$MB" -v t="$1" 'BEGIN { if (t > 0) printf "%.0f", mb / t; else print "n/a" }'; }
fwd=$(mbps "$t_fwd"); lo=$(mbps "$t_lo")

echo
echo "### Networking: start latency and port-forward throughput (in a network namespace of its own)"
echo
echo "$RUNS runs per start command; $MB MiB per transfer; $(uname -r), $(nproc) CPUs."
echo
echo "| measurement | value | ratio |"
echo "|---|---:|---:|"
echo "| berth-spawn /bin/true, no network | $plain ms | |"
echo "| berth-spawn --network-veth /bin/true | $veth ms | $(awk -v a="$veth" -v b="$nveth" 'BEGIN { if (b+0 > 0) printf "%.2f × systemd-nspawn", a / b; else print "—" }') |"
echo "| systemd-nspawn --network-veth /bin/true | $nveth ms | |"
echo "| TCP through -p 18090:8090 (host address → machine) | $fwd MiB/s | $(awk -v a="$fwd" -v b="$lo" 'BEGIN { if (b+0 > 0) printf "%.2f × loopback", a / b; else print "—" }') |"
echo "| TCP over the host's loopback, same sink | $lo MiB/s | |"
