#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# src/shared/firewall-util (table ip berth) via test/unit/firewall-probe: rules, comments,
# removal, idempotence and atomicity, then a functional check of masquerading and TCP/UDP port
# forwarding over veth pairs.
#
# Never touches the machine's real ruleset: the script re-executes itself under
# `unshare --net --mount` (the "host" namespace of this test, where nft and the probe run) and
# creates the "machine" and "upstream" network namespaces inside that, pinned on a private tmpfs.
# The outer process only reads the real `table ip berth` before and after, to check it is unchanged.
#
#   upstream ns                host ns (the test's)                      machine ns
#   up0 192.0.2.2/24 <-veth-> ve-up 192.0.2.1/24   ve-m1 10.0.0.1/24 <-veth-> host0 10.0.0.2/24
#   (no route to 10.0.0.0/24)      ip_forward=1                          default via 10.0.0.1
#
# Environment: BERTH_FIREWALL_PROBE (default build/test/unit/firewall-probe). TAP output.

set -u
export LC_ALL=C

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BERTH_FIREWALL_PROBE:=$SRCDIR/build/test/unit/firewall-probe}"
PROBE=$BERTH_FIREWALL_PROBE
if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

# the one TAP vocabulary of all shell tests (pass, fail, skip, diag, expect_eq, ...)
# shellcheck source=test/tap.sh
. "$SRCDIR/test/tap.sh"

# ======================================================================= outer: real namespace
if [ -z "${BERTH_FW_INNER:-}" ]; then
    skip_all() { echo "1..0 # SKIP $*"; exit 0; }
    [ "$(id -u)" = 0 ] || skip_all "needs root"
    for t in nft ip unshare nsenter; do
        command -v "$t" >/dev/null || skip_all "$t not installed"
    done
    "$PYTHON" -c 'import socket' 2>/dev/null || skip_all "python3 not available"
    [ -x "$PROBE" ] || skip_all "$PROBE not built"
    unshare --net --mount true 2>/dev/null || skip_all "cannot unshare network/mount namespaces"

    host_before=$(nft list table ip berth 2>/dev/null)
    countfile=$(mktemp /tmp/berth-fw-count.XXXXXX)
    BERTH_FW_INNER=1 BERTH_FW_COUNT=$countfile BERTH_FW_OUTER_NETNS=$(readlink /proc/self/ns/net) \
        unshare --net --mount --propagation private -- bash "$SELF"
    read -r _tap_n _tap_failed <"$countfile" || { _tap_n=0; _tap_failed=0; fail "the namespaced part ran to completion"; }
    rm -f "$countfile"
    [ "$_tap_failed" = "${_tap_failed#*[!0-9]}" ] || _tap_failed=1

    expect_eq "the real namespace's 'table ip berth' is unchanged" "$host_before" \
        "$(nft list table ip berth 2>/dev/null)"
    echo "1..$_tap_n"
    [ "$_tap_failed" -eq 0 ]
    exit
fi

# ======================================================================= inner: the test's "host"
SCRATCH=
BG_PIDS=()
report() { echo "$_tap_n $_tap_failed" >"$BERTH_FW_COUNT"; }
cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    BG_PIDS=()
    ip link del ve-m1 2>/dev/null
    ip link del ve-up 2>/dev/null
    nft delete table ip berth 2>/dev/null
    if [ -n "$SCRATCH" ]; then
        umount "$SCRATCH/ns-machine" "$SCRATCH/ns-upstream" 2>/dev/null
        umount "$SCRATCH" 2>/dev/null && rmdir "$SCRATCH"
        SCRATCH=
    fi
}
trap 'cleanup; report' EXIT

if [ "$(readlink /proc/self/ns/net)" = "$BERTH_FW_OUTER_NETNS" ]; then
    echo "Bail out! not in a private network namespace"
    exit 1
fi
pass "running in a private network namespace ($(readlink /proc/self/ns/net))"
ip link set lo up

SCRATCH=$(mktemp -d /tmp/berth-fw.XXXXXX)
mount -t tmpfs -o mode=0700 berth-fw "$SCRATCH" || { echo "Bail out! cannot mount tmpfs"; exit 1; }

# nft -j list ruleset -> one canonical line per table/chain/rule
cat >"$SCRATCH/canon.py" <<'EOF'
import json, sys
handles = len(sys.argv) > 1 and sys.argv[1] == "--handles"
def side(x):
    if isinstance(x, dict):
        if "payload" in x: return "%s.%s" % (x["payload"]["protocol"], x["payload"]["field"])
        if "fib" in x: return "fib.%s.%s" % (".".join(x["fib"]["flags"]), x["fib"]["result"])
        if "meta" in x: return "meta.%s" % x["meta"]["key"]
        if "prefix" in x: return "%s/%s" % (x["prefix"]["addr"], x["prefix"]["len"])
    return str(x) if not isinstance(x, (dict, list)) else json.dumps(x, sort_keys=True)
def expr(e):
    if "match" in e: m = e["match"]; return side(m["left"]) + m["op"] + side(m["right"])
    if "masquerade" in e: return "masquerade"
    if "dnat" in e: return "dnat:%s:%s" % (e["dnat"].get("addr"), e["dnat"].get("port"))
    if "counter" in e: return "counter"
    return json.dumps(e, sort_keys=True)
for o in json.load(sys.stdin)["nftables"]:
    if "table" in o:
        t = o["table"]; print("table", t["family"], t["name"])
    elif "chain" in o:
        c = o["chain"]
        print("chain", c["family"], c["table"], c["name"], c.get("type"), c.get("hook"), c.get("prio"),
              *(["handle=%d" % c["handle"]] if handles else []))
    elif "rule" in o:
        r = o["rule"]
        print("rule", r["family"], r["table"], r["chain"], r.get("comment", "-"), *map(expr, r["expr"]))
EOF

# client/server for the functional part
cat >"$SCRATCH/net.py" <<'EOF'
import errno, os, socket, sys
mode, proto = sys.argv[1], sys.argv[2]
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
if mode == "serve":  # serve tcp|udp ADDR PORT TAG READYFILE LOGFILE
    addr, port, tag, ready, log = sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    if kind == socket.SOCK_STREAM: s.listen(16)
    open(ready, "w").close()
    while True:
        try:
            if kind == socket.SOCK_STREAM:
                c, peer = s.accept()
                with open(log, "a") as f: f.write(peer[0] + "\n")
                c.sendall(("%s %s\n" % (tag, peer[0])).encode()); c.close()
            else:
                data, peer = s.recvfrom(2048)
                with open(log, "a") as f: f.write(peer[0] + "\n")
                s.sendto(("%s %s\n" % (tag, peer[0])).encode(), peer)
        except OSError:
            pass  # e.g. no route back to an un-masqueraded client
else:  # client tcp|udp HOST PORT [SRCPORT]
    host, port = sys.argv[3], int(sys.argv[4])
    s = socket.socket(socket.AF_INET, kind)
    s.settimeout(3)
    try:
        if len(sys.argv) > 5: s.bind(("0.0.0.0", int(sys.argv[5])))
        s.connect((host, port))
        if kind == socket.SOCK_DGRAM: s.send(b"ping")
        data = s.recv(2048)
        print(data.decode().strip())
    except socket.timeout:
        print("ERROR timeout"); sys.exit(1)
    except OSError as e:
        print("ERROR " + errno.errorcode.get(e.errno, str(e.errno))); sys.exit(1)
EOF

canon() { nft -j list ruleset | "$PYTHON" "$SCRATCH/canon.py" "$@"; }
probe() { "$PROBE" "$@" 2>&1; }

# ---------------------------------------------------------------- empty state
expect_eq "the test namespace starts with an empty ruleset" "" "$(nft list ruleset)"
out=$(probe list); rc=$?
expect_eq "list without a table succeeds and is empty" "0:" "$rc:$out"
out=$(probe remove m1); rc=$?
expect_eq "remove without a table deletes nothing" "0:0" "$rc:$out"
expect_eq "... and creates no table" "" "$(nft list ruleset)"

# ---------------------------------------------------------------- masquerade
out=$(probe masq m1 10.0.0.0/24); rc=$?
expect_eq "masq m1 10.0.0.0/24 succeeds" "0:" "$rc:$out"
expect_eq "masq creates table ip berth, chain postrouting and one commented rule" \
"table ip berth
chain ip berth postrouting nat postrouting 100
rule ip berth postrouting berth:m1 ip.saddr==10.0.0.0/24 ip.daddr!=10.0.0.0/24 masquerade" "$(canon)"
text=$(nft list table ip berth 2>&1)
if grep -qF 'type nat hook postrouting priority srcnat; policy accept;' <<<"$text" &&
   grep -qF 'ip saddr 10.0.0.0/24 ip daddr != 10.0.0.0/24 masquerade comment "berth:m1"' <<<"$text"; then
    pass "nft list table ip berth shows the srcnat chain and the masquerade rule"
else
    fail "nft list table ip berth shows the srcnat chain and the masquerade rule" "$text"
fi

out=$(probe masq m2 10.0.1.77/25); rc=$?
expect_eq "masq with a non-byte-aligned prefix (host bits are cleared)" \
"0:rule ip berth postrouting berth:m2 ip.saddr==10.0.1.0/25 ip.daddr!=10.0.1.0/25 masquerade" \
"$rc:$(canon | grep berth:m2)"

# ---------------------------------------------------------------- port forwards
out=$(probe forward m1 tcp 8080 10.0.0.2:80); rc=$?
expect_eq "forward m1 tcp 8080 -> 10.0.0.2:80 succeeds" "0:" "$rc:$out"
out=$(probe forward m1 udp 5353 10.0.0.2:53); rc=$?
expect_eq "forward m1 udp 5353 -> 10.0.0.2:53 succeeds" "0:" "$rc:$out"
expect_eq "forwards create the dstnat chains" \
"chain ip berth prerouting nat prerouting -100
chain ip berth output nat output -100" "$(canon | grep -E '^chain .* (prerouting|output) ')"
expect_eq "forward rules: fib daddr type local, dport, dnat; output skips 127.0.0.0/8" \
"rule ip berth prerouting berth:m1 fib.daddr.type==local tcp.dport==8080 dnat:10.0.0.2:80
rule ip berth prerouting berth:m1 fib.daddr.type==local udp.dport==5353 dnat:10.0.0.2:53
rule ip berth output berth:m1 ip.daddr!=127.0.0.0/8 fib.daddr.type==local tcp.dport==8080 dnat:10.0.0.2:80
rule ip berth output berth:m1 ip.daddr!=127.0.0.0/8 fib.daddr.type==local udp.dport==5353 dnat:10.0.0.2:53" \
"$(canon | grep -E '^rule .* (prerouting|output) ')"
text=$(nft list table ip berth 2>&1)
if grep -qF 'fib daddr type local tcp dport 8080 dnat to 10.0.0.2:80 comment "berth:m1"' <<<"$text" &&
   grep -qF 'ip daddr != 127.0.0.0/8 fib daddr type local udp dport 5353 dnat to 10.0.0.2:53 comment "berth:m1"' <<<"$text"; then
    pass "nft list table ip berth shows the dnat rules with their comments"
else
    fail "nft list table ip berth shows the dnat rules with their comments" "$text"
fi
expect_eq "6 rules, every one with a berth:<machine> comment" "6 0" \
    "$(canon | grep -c '^rule') $(canon | grep '^rule' | grep -vc ' berth:m[12] ')"

# ---------------------------------------------------------------- idempotence of table/chains
chains_before=$(canon --handles | grep -E '^(table|chain)')
probe masq m2 10.0.1.0/25 >/dev/null && probe forward m2 tcp 2222 10.0.1.2:22 >/dev/null
rc=$?
chains_after=$(canon --handles | grep -E '^(table|chain)')
expect_eq "repeated adds succeed" 0 "$rc"
expect_eq "repeated adds keep the same table and chains (same handles)" "$chains_before" "$chains_after"
expect_eq "still exactly one table and three chains" "1 3" \
    "$(grep -c '^table' <<<"$chains_after") $(grep -c '^chain' <<<"$chains_after")"

out=$(probe list); rc=$?
expect_eq "list shows both machines, sorted" "0:m1 m2" "$rc:$(echo $out)"

# ---------------------------------------------------------------- invalid arguments, atomicity
before=$(canon --handles)
out=$(probe masq 'bad name' 10.0.0.0/24); expect_eq "an invalid machine name is refused" "EINVAL" "$(sed 's/^firewall-probe: \([A-Z]*\):.*/\1/' <<<"$out")"
out=$(probe masq m3 10.0.0.0/0);          expect_eq "prefix length 0 is refused" "EINVAL" "$(sed 's/^firewall-probe: \([A-Z]*\):.*/\1/' <<<"$out")"
out=$(probe forward m3 1 80 10.0.0.3:80); expect_eq "a protocol other than tcp/udp is refused" "EPROTONOSUPPORT" "$(sed 's/^firewall-probe: \([A-Z]*\):.*/\1/' <<<"$out")"
out=$(probe forward m3 tcp 0 10.0.0.3:80); expect_eq "host port 0 is refused" "EINVAL" "$(sed 's/^firewall-probe: \([A-Z]*\):.*/\1/' <<<"$out")"
expect_eq "refused calls change nothing" "$before" "$(canon --handles)"

# ---------------------------------------------------------------- remove
m1_before=$(canon | grep ' berth:m1 ')
out=$(probe remove m2); rc=$?
expect_eq "remove m2 deletes its 4 rules (2 masquerade, 2 forward)" "0:4" "$rc:$out"
expect_eq "m2 has no rules left" "" "$(canon | grep ' berth:m2 ')"
expect_eq "m1's rules are untouched" "$m1_before" "$(canon | grep ' berth:m1 ')"
expect_eq "the table and chains stay while m1 has rules" "$chains_before" "$(canon --handles | grep -E '^(table|chain)')"
out=$(probe list); expect_eq "list shows m1 only" "m1" "$out"
out=$(probe remove m2); rc=$?
expect_eq "removing m2 again deletes nothing" "0:0" "$rc:$out"

# ---------------------------------------------------------------- functional
nsm=$SCRATCH/ns-machine nsu=$SCRATCH/ns-upstream
touch "$nsm" "$nsu"
if unshare --net="$nsm" true && unshare --net="$nsu" true &&
   nsenter --net="$nsm" ip link add name host0 type veth peer name ve-m1 netns $$ &&
   nsenter --net="$nsu" ip link add name up0 type veth peer name ve-up netns $$ &&
   ip addr add 10.0.0.1/24 dev ve-m1 && ip link set ve-m1 up &&
   ip addr add 192.0.2.1/24 dev ve-up && ip link set ve-up up &&
   nsenter --net="$nsm" sh -e -c 'ip link set lo up; ip addr add 10.0.0.2/24 dev host0; ip link set host0 up
                                  ip route add default via 10.0.0.1' &&
   nsenter --net="$nsu" sh -e -c 'ip link set lo up; ip addr add 192.0.2.2/24 dev up0; ip link set up0 up' &&
   echo 1 >/proc/sys/net/ipv4/ip_forward; then
    pass "built machine and upstream namespaces with veth pairs"
else
    fail "built machine and upstream namespaces with veth pairs"
fi

in_ns() { local ns=$1; shift; if [ -n "$ns" ]; then nsenter --net="$ns" "$@"; else "$@"; fi; }
serve() { # NS PROTO ADDR PORT TAG
    local ready=$SCRATCH/ready.$2.$4
    # no subshell in between: $! must be the server itself (nsenter execs it)
    if [ -n "$1" ]; then
        nsenter --net="$1" "$PYTHON" "$SCRATCH/net.py" serve "$2" "$3" "$4" "$5" "$ready" "$SCRATCH/log.$5" &
    else
        "$PYTHON" "$SCRATCH/net.py" serve "$2" "$3" "$4" "$5" "$ready" "$SCRATCH/log.$5" &
    fi
    BG_PIDS+=($!)
    for _ in $(seq 100); do [ -e "$ready" ] && return 0; sleep 0.05; done
    diag "server $5 did not start"
}
client() { in_ns "$1" "$PYTHON" "$SCRATCH/net.py" client "${@:2}"; } # NS PROTO HOST PORT [SRCPORT]

serve "$nsu" udp 192.0.2.2 7000 up-udp
serve "$nsu" tcp 192.0.2.2 7001 up-tcp
serve "$nsm" tcp 10.0.0.2 80 machine-tcp
serve "$nsm" udp 10.0.0.2 53 machine-udp
serve "" tcp 127.0.0.1 8080 host-loopback

# (a) masquerade. Start without m1's masquerade rule: the datagram arrives with the machine's own
# source address and the reply cannot be routed back.
probe remove m1 >/dev/null
out=$(client "$nsm" udp 192.0.2.2 7000 40001)
expect_eq "without masquerade upstream sees the machine's address (no way back)" \
    "ERROR timeout|10.0.0.2" "$out|$(tail -n1 "$SCRATCH/log.up-udp" 2>/dev/null)"
probe masq m1 10.0.0.0/24 >/dev/null
expect_eq "with masquerade: UDP from the machine arrives from the host's address" "up-udp 192.0.2.1" \
    "$(client "$nsm" udp 192.0.2.2 7000)"
expect_eq "with masquerade: TCP from the machine arrives from the host's address" "up-tcp 192.0.2.1" \
    "$(client "$nsm" tcp 192.0.2.2 7001)"
expect_eq "traffic to the machine's own subnet is not masqueraded" "machine-tcp 10.0.0.1" \
    "$(client "" tcp 10.0.0.2 80)"

# (b) port forwards from other hosts (prerouting) and from the host itself (output)
probe forward m1 tcp 8080 10.0.0.2:80 >/dev/null && probe forward m1 udp 5353 10.0.0.2:53 >/dev/null
expect_eq "TCP forward from upstream to the host's address reaches the machine" "machine-tcp 192.0.2.2" \
    "$(client "$nsu" tcp 192.0.2.1 8080)"
expect_eq "UDP forward from upstream to the host's address reaches the machine" "machine-udp 192.0.2.2" \
    "$(client "$nsu" udp 192.0.2.1 5353)"
expect_eq "TCP forward from the host itself (output chain) reaches the machine" "machine-tcp 192.0.2.1" \
    "$(client "" tcp 192.0.2.1 8080)"
expect_eq "UDP forward from the host itself (output chain) reaches the machine" "machine-udp 192.0.2.1" \
    "$(client "" udp 192.0.2.1 5353)"
expect_eq "127.0.0.1:8080 is not forwarded: the host's own listener answers" "host-loopback 127.0.0.1" \
    "$(client "" tcp 127.0.0.1 8080)"

out=$(probe remove m1); rc=$?
expect_eq "remove m1 deletes its 5 rules" "0:5" "$rc:$out"
expect_eq "after remove the forward is gone (host refuses)" "ERROR ECONNREFUSED" "$(client "$nsu" tcp 192.0.2.1 8080)"

# ---------------------------------------------------------------- empty table is deleted
expect_eq "the last remove deletes the table" "" "$(nft list ruleset)"
out=$(probe list); expect_eq "list is empty again" "" "$out"

probe masq m1 10.0.0.0/24 >/dev/null && nft add rule ip berth postrouting counter
out=$(probe remove m1); rc=$?
expect_eq "remove with a foreign rule left deletes only m1's rule" "0:1" "$rc:$out"
expect_eq "... and keeps the table with the foreign rule" \
"table ip berth
chain ip berth postrouting nat postrouting 100
rule ip berth postrouting - counter" "$(canon)"
nft delete table ip berth

# a batch the kernel refuses leaves nothing behind: an existing incompatible "output" chain makes
# the NEWCHAIN fail, so the prerouting chain and rule of the same call must not appear either
nft add table ip berth && nft add chain ip berth output '{ type filter hook output priority 0; }'
out=$(probe forward m1 tcp 8080 10.0.0.2:80); rc=$?
if [ $rc -ne 0 ]; then pass "forward fails on an incompatible existing chain ($out)"; else fail "forward fails on an incompatible existing chain"; fi
expect_eq "... and the failed batch added nothing" \
"table ip berth
chain ip berth output filter output 0" "$(canon)"
nft delete table ip berth

# ---------------------------------------------------------------- cleanup and verify
pids=("${BG_PIDS[@]}")
scratch_dir=$SCRATCH
cleanup
left=
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left+=" $p"; done
expect_eq "all servers stopped" "" "$left$(pgrep -f "$scratch_dir/" | tr '\n' ' ')"
expect_eq "no veth left in the test namespace" "lo" "$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "ruleset empty" "" "$(nft list ruleset)"
expect_eq "namespace pins and scratch directory removed" "0 no" \
    "$(grep -c "$scratch_dir" /proc/self/mountinfo) $([ -e "$scratch_dir" ] && echo yes || echo no)"
