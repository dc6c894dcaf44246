#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn --private-network, -n/--network-veth, --network-zone=, -p/--port=.
# Everything runs in a network namespace this test creates (the "host"), with an
# "upstream" namespace of its own behind a veth: the machine's real network is never
# touched, and traffic only goes to addresses inside these namespaces.
. "$(dirname "$0")/lib.sh"
in_own_netns "$@"
setup
command -v nft >/dev/null || { skip "networking" "nft not installed"; exit 0; }
ip link set lo up

# upstream: a namespace held by a sleeping process, linked to our "host" namespace
unshare --net sleep 600 &
UPSTREAM=$!
_bg_pids+=("$UPSTREAM")
sleep 0.1
ip link add up0 type veth peer name up1 netns "/proc/$UPSTREAM/ns/net"
ip addr add 10.99.0.1/24 dev up0 && ip link set up0 up
nsenter -t "$UPSTREAM" -n sh -c 'ip addr add 10.99.0.2/24 dev up1 && ip link set up1 up && ip link set lo up'
HOST_ADDR=10.99.0.1

in_ns() { local p=$1; shift; nsenter -t "$p" -n "$@"; }
# wait until the machine's host0 has an IPv4 address; print it
machine_addr() {
    local i a
    for i in $(seq 1 200); do
        a=$(in_ns "$1" ip -o -4 addr show host0 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
        [ -n "$a" ] && { echo "$a"; return 0; }
        sleep 0.02
    done
}

# ---- --private-network: loopback only
run_spawn -P --private-network -D "$TREE" /bin/sh -c 'ip -o link | cut -d: -f2; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-ok'
expect_rc "--private-network runs" 0
expect_eq "--private-network: only lo inside" "lo
lo-ok" "$(sed 's/^ *//' <<<"$OUTPUT")"
run_spawn -P --private-network -D "$TREE" /bin/sh -c 'ls /sys/class/net; echo 1 >/proc/sys/net/ipv4/ip_forward && echo sysctl-ok'
expect_eq "--private-network: /sys/class/net shows the machine's devices" "lo
sysctl-ok" "$OUTPUT"

# ---- -n: veth with an address, a gateway and NAT
# upstream listens first and reports the source address it sees
in_ns "$UPSTREAM" timeout 20 "$PYTHON" -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.0.2", 9000)); s.listen(1); s.settimeout(15)
c, a = s.accept(); print(a[0], flush=True); c.recv(100)' >"$SCRATCH/state/upstream.out" 2>&1 &
LISTENER=$!
sleep 0.3
spawn_bg "$SCRATCH/state/v.out" "$SCRATCH/state/v.err" -P -n -D "$TREE" -M vm1 /bin/sh -c '
    ip -o -4 addr show host0; ip -4 route show default
    ping -c1 -W2 "$(ip -4 route show default | cut -d" " -f3)" >/dev/null && echo gw-ok
    echo hello | nc 10.99.0.2 9000 && echo upstream-ok
    sleep 3'
L=$(leader_of "$BG_PID")
A=$(machine_addr "$L")
ok_if "-n: host0 has an address from the pool ($A)" test -n "$A"
expect_match "-n: the address is in 10.231.0.0/17" '^10\.231\.([0-9]|[1-9][0-9]|1[01][0-9]|12[0-7])\.' "$A"
# (the host side is the subnet's first address, the machine the second: another machine
# running on this host may hold the pool's first subnet)
ok_if "-n: the host side is ve-vm1 with the gateway address" bash -c "ip -o -4 addr show ve-vm1 | grep -qF ' ${A%.*}.$(( ${A##*.} - 1 ))/28 '"
wait "$LISTENER"
expect_eq "-n: outbound traffic reaches upstream with the host's address as source" "$HOST_ADDR" "$(cat "$SCRATCH/state/upstream.out")"
ok_if "-n: the host reaches the machine" bash -c "busybox ping -c1 -W2 $A >/dev/null"
ok_if "-n: one nft table owned by berth, with the machine's rules" bash -c "nft list table ip berth | grep -q 'berth:vm1'"
wait_bg "$SCRATCH/state/v.out" "$SCRATCH/state/v.err" 15
expect_rc "-n machine exits normally" 0
expect_line "-n: the machine reaches its gateway" gw-ok
expect_line "-n: the machine reaches upstream" upstream-ok
expect_match "-n: the default route goes via the host" "^default via " "$OUTPUT"
ok_if "-n: ve-vm1 is gone afterwards" bash -c "! ip link show ve-vm1 >/dev/null 2>&1"
ok_if "-n: the firewall rules are gone (no table left)" bash -c "! nft list table ip berth >/dev/null 2>&1"

# ---- -n: IPv6 link-local addresses on both ends, reachable both ways
# ll_addr CMD...: the link-local address "ip -6 addr" (run through CMD) shows once
# duplicate address detection is done with it
ll_addr() {
    local i a
    for i in $(seq 1 150); do
        a=$("$@" | awk '/ fe80:/ && !/tentative/ { sub("/.*", "", $4); print $4; exit }')
        [ -n "$a" ] && { echo "$a"; return 0; }
        sleep 0.02
    done
}
spawn_bg "$SCRATCH/state/v6.out" "$SCRATCH/state/v6.err" -P -n -D "$TREE" -M vm6 /bin/sh -c '
    for i in $(seq 1 100); do [ -e /tmp/host-ll ] && break; sleep 0.05; done
    busybox ping -6 -c1 -W2 "$(cat /tmp/host-ll)%host0" >/dev/null && echo machine-to-host-ok'
L=$(leader_of "$BG_PID")
H6=$(ll_addr ip -6 -o addr show dev ve-vm6 scope link)
M6=$(ll_addr in_ns "$L" ip -6 -o addr show dev host0 scope link)
ok_if "-n: ve-vm6 has an IPv6 link-local address ($H6)" test -n "$H6"
ok_if "-n: host0 has an IPv6 link-local address ($M6)" test -n "$M6"
ok_if "-n: the host reaches the machine's link-local address" busybox ping -6 -c1 -W2 "$M6%ve-vm6"
echo "$H6" >"/proc/$L/root/tmp/host-ll"
wait_bg "$SCRATCH/state/v6.out" "$SCRATCH/state/v6.err" 15
expect_eq "-n: the machine reaches the host's link-local address" machine-to-host-ok "$OUTPUT"

# ---- port forwarding, tcp and udp, to the host's own address
spawn_bg "$SCRATCH/state/p.out" "$SCRATCH/state/p.err" -P -n -D "$TREE" -M pf -p 18080:8080 -p udp:15353:5353 /bin/sh -c '
    (echo tcp-hello | nc -l -p 8080 &) ; /usr/bin/berth-payload udprecv 5353 5'
L=$(leader_of "$BG_PID")
A=$(machine_addr "$L")
wait_for "$SCRATCH/state/p.out" listening 5
GOT=$(timeout 5 "$PYTHON" -c '
import socket
s = socket.create_connection(("10.99.0.1", 18080), timeout=3); print(s.recv(100).decode().strip())' 2>&1)
expect_eq "tcp port forward: the host's address:18080 reaches the machine's :8080" tcp-hello "$GOT"
timeout 3 "$PYTHON" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"udp-hello\n", ("10.99.0.1", 15353))'
wait_bg "$SCRATCH/state/p.out" "$SCRATCH/state/p.err" 15
expect_line "udp port forward: the datagram reaches the machine's :5353" udp-hello

# ---- zones: two machines reach each other through vz-z1
spawn_bg "$SCRATCH/state/za.out" "$SCRATCH/state/za.err" -P --network-zone=z1 -D "$TREE" -M za /bin/sleep 5
ZA_PID=$BG_PID
LA=$(leader_of "$ZA_PID")
AA=$(machine_addr "$LA")
run_spawn -P --network-zone=z1 -D "$TREE" -M zb /bin/sh -c "ping -c1 -W2 $AA >/dev/null && echo zone-ok; ip -o -4 addr show host0"
expect_line "zone: the second machine reaches the first by address ($AA)" zone-ok
ok_if "zone: the bridge vz-z1 exists while a machine uses it" ip link show vz-z1
BG_PID=$ZA_PID
kill -TERM "$BG_PID"
wait_bg "$SCRATCH/state/za.out" "$SCRATCH/state/za.err" 10
ok_if "zone: the bridge goes with its last machine" bash -c "! ip link show vz-z1 >/dev/null 2>&1"

# ---- long names sharing a prefix get distinct, shortened host interfaces
spawn_bg "$SCRATCH/state/l1.out" "$SCRATCH/state/l1.err" -P -n -D "$TREE" -M a-very-long-machine-name-one /bin/sleep 3
P1=$BG_PID
spawn_bg "$SCRATCH/state/l2.out" "$SCRATCH/state/l2.err" -P -n -D "$TREE" -M a-very-long-machine-name-two /bin/sleep 3
P2=$BG_PID
machine_addr "$(leader_of "$P1")" >/dev/null
machine_addr "$(leader_of "$P2")" >/dev/null
NAMES=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^ve-' | sort)
ok_if "long names: two distinct ve- interfaces ($(echo $NAMES))" test "$(wc -l <<<"$NAMES")" = 2 -a "$(sort -u <<<"$NAMES" | wc -l)" = 2
ok_if "long names: each fits IFNAMSIZ" bash -c "! awk 'length(\$0) > 15' <<<'$NAMES' | grep -q ."
ok_if "long names: the full name is an altname" bash -c "ip link show ve-a-very-long-machine-name-one >/dev/null 2>&1"
BG_PID=$P1; wait_bg "$SCRATCH/state/l1.out" "$SCRATCH/state/l1.err" 10
BG_PID=$P2; wait_bg "$SCRATCH/state/l2.out" "$SCRATCH/state/l2.err" 10

# ---- 20 concurrent starts get distinct addresses
PIDS=()
for i in $(seq 1 20); do
    env --default-signal=INT "$BERTH_SPAWN" -q -P -n -D "$TREE" -M par$i /bin/sh -c 'ip -o -4 addr show host0 | awk "{print \$4}"; sleep 3' \
        >"$SCRATCH/state/par$i.out" 2>&1 </dev/null &
    PIDS+=($!)
    _bg_pids+=($!)
done
for p in "${PIDS[@]}"; do wait "$p"; done
ADDRS=$(cat "$SCRATCH"/state/par*.out | grep -E '^10\.' | sort)
expect_eq "20 concurrent starts: 20 addresses" 20 "$(wc -l <<<"$ADDRS")"
expect_eq "20 concurrent starts: all distinct" 20 "$(sort -u <<<"$ADDRS" | wc -l)"

# ---- SIGKILL: links go with the machine, stale rules with the next start
spawn_bg "$SCRATCH/state/k.out" "$SCRATCH/state/k.err" -P -n -D "$TREE" -M killed -p 18081:80 /bin/sleep 30
machine_addr "$(leader_of "$BG_PID")" >/dev/null
kill -KILL "$BG_PID"
wait_bg "$SCRATCH/state/k.out" "$SCRATCH/state/k.err" 10
for i in $(seq 1 100); do ip link show ve-killed >/dev/null 2>&1 || break; sleep 0.05; done
ok_if "SIGKILL: the veth went away with the machine" bash -c "! ip link show ve-killed >/dev/null 2>&1"
ok_if "SIGKILL: its firewall rules are still there" bash -c "nft list table ip berth | grep -q berth:killed"
expect_eq "SIGKILL: its stale state file names them (FIREWALL=)" "FIREWALL=killed" \
    "$(grep '^FIREWALL=' /run/berth/spawn/killed 2>/dev/null)"
run_spawn -P -n -D "$TREE" -M other /bin/true
ok_if "the next start removes the dead machine's rules" bash -c "! nft list table ip berth 2>/dev/null | grep -q berth:killed"
run_spawn -P -D "$TREE" -M killed /bin/true
ok_if "the next start of the name reclaims its stale state file" test ! -e /run/berth/spawn/killed

# ---- bad input
python3 -c 'import socket,time; s=socket.socket(); s.bind(("0.0.0.0", 18082)); s.listen(); print("bound", flush=True); time.sleep(5)' \
    >"$SCRATCH/state/hold.out" &
HOLD=$!
wait_for "$SCRATCH/state/hold.out" bound 5     # (python may take longer than 0.2 s to start)
run_spawn -P -n -D "$TREE" -M busy -p 18082 /bin/true
expect_rc "a host port in use is refused" 1
expect_match "... naming the port" "18082" "$ERROUT"
kill "$HOLD"; wait "$HOLD" 2>/dev/null
run_spawn -P -D "$TREE" -p 80 /bin/true
expect_rc "--port without -n or a zone is refused" 1
run_spawn -P --network-zone=bad/zone -D "$TREE" /bin/true
expect_rc "an invalid zone name is refused" 1

# ---- links of the host's: a bridge, moved interfaces, macvlan/ipvlan, extra veths
ip link add br9 type bridge && ip addr add 10.98.0.1/24 dev br9 && ip link set br9 up
ip link add dmy0 type veth peer name dmy0p && ip link set dmy0 up
ip link add par0 type veth peer name par0p && ip link set par0 up
spawn_bg "$SCRATCH/state/b.out" "$SCRATCH/state/b.err" -P --network-bridge=br9 -D "$TREE" -M brm /bin/sh -c '
    ip addr add 10.98.0.2/24 dev host0 && ping -c1 -W2 10.98.0.1 >/dev/null && echo bridge-ok; sleep 1'
for i in $(seq 1 100); do [ -n "$(ip -o link show master br9)" ] && break; sleep 0.05; done
ok_if "--network-bridge: the host end vb-brm joins br9" bash -c "ip -o link show master br9 | grep -q 'vb-brm'"
wait_bg "$SCRATCH/state/b.out" "$SCRATCH/state/b.err" 10
expect_line "--network-bridge: the machine reaches the bridge's address through host0" bridge-ok
ok_if "--network-bridge: the host end is gone afterwards" bash -c "! ip link show vb-brm >/dev/null 2>&1"

run_spawn -P --network-interface=dmy0 -D "$TREE" -M ifm /bin/sh -c 'ip -o link show dmy0 >/dev/null && echo moved-in'
expect_line "--network-interface: the link is inside the machine" moved-in
ok_if "--network-interface: it is given back to the host afterwards" ip link show dmy0

run_spawn -P --network-macvlan=par0 -D "$TREE" -M mvm /bin/sh -c 'ip -o link | grep -o "mv-par0" | head -1'
expect_line "--network-macvlan: mv-par0 inside the machine" mv-par0
if ip link add ivtest link par0 type ipvlan mode l2 2>/dev/null; then
    ip link del ivtest
    run_spawn -P --network-ipvlan=par0 -D "$TREE" -M ivm /bin/sh -c 'ip -o link | grep -o "iv-par0" | head -1'
    expect_line "--network-ipvlan: iv-par0 inside the machine" iv-par0
else
    run_spawn -P --network-ipvlan=par0 -D "$TREE" -M ivm /bin/true
    expect_match "--network-ipvlan on a kernel without ipvlan: one clear error" "Failed to create ipvlan iv-par0" "$ERROUT"
fi

run_spawn -P --network-veth-extra=vx0:inner1 -D "$TREE" -M vxm /bin/sh -c 'ip -o link show inner1 >/dev/null && echo extra-ok'
expect_line "--network-veth-extra: the machine end is there" extra-ok
ok_if "--network-veth-extra: the host end is gone afterwards" bash -c "! ip link show vx0 >/dev/null 2>&1"

run_spawn -P --network-bridge=nosuchbr -D "$TREE" /bin/true
expect_rc "an unknown bridge is refused" 1
expect_match "... naming it" nosuchbr "$ERROUT"
run_spawn -P --network-interface=nope0 -D "$TREE" /bin/true
expect_rc "an unknown interface is refused" 1
ip link del br9; ip link del dmy0; ip link del par0

# ---- nothing left
ok_if "no machine links left in the host namespace" bash -c "! ip -o link | grep -E ' (ve|vb|vz)-'"
ok_if "no berth nft table left" bash -c "! nft list tables | grep -q berth"
kill "$UPSTREAM"; wait "$UPSTREAM" 2>/dev/null || true
