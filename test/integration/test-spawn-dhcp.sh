#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn's DHCP server for -n/--network-veth and --network-zone=: busybox's udhcpc
# (discover, renew by unicast, release), two machines of one zone that each get their
# own address, host0's stable MAC, and a booted Debian guest whose systemd-networkd
# configures host0 by DHCP (also after a reboot in place).
# Everything runs in a network namespace this test creates: the machine's real network,
# routes and firewall are never touched.
. "$(dirname "$0")/lib.sh"
in_own_netns "$@"
setup
command -v nft >/dev/null || { skip "DHCP" "nft not installed"; exit 0; }
busybox udhcpc --help >/dev/null 2>&1 || { skip "DHCP" "busybox has no udhcpc"; exit 0; }
ip link set lo up

# udhcpc's hook: configure host0 like a distribution's script would, and log what it got
# (to /run: a tmpfs of each machine's own, while the tree is shared)
cat >"$TREE/udhcpc.sh" <<'EOF'
#!/bin/sh
case $1 in
    deconfig) ip -4 addr flush dev "$interface" ;;
    bound|renew) ip addr replace "$ip/$mask" dev "$interface" && ip route replace default via "$router" dev "$interface" ;;
esac
echo "$1 ip=$ip mask=$mask router=$router serverid=$serverid lease=$lease dns=$dns" >>/run/udhcpc.log
EOF
chmod 0755 "$TREE/udhcpc.sh"

# A resolv.conf of the test's own for the host side (bind-mounted in a mount namespace
# of berth-spawn's own): loopback and IPv6 name servers are not handed out.
printf 'nameserver 127.0.0.53\nnameserver ::1\nnameserver 192.0.2.53\nnameserver 198.51.100.53\n' \
    >"$SCRATCH/state/resolv.conf"
spawn_dhcp() {
    local out=$1 err=$2
    shift 2
    LAST_CMD="berth-spawn $(printf '%q ' "$@") &"
    BERTH_LOG_LEVEL=debug env --default-signal=INT,QUIT,TERM unshare -m --propagation private -- \
        sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$SCRATCH/state/resolv.conf" \
        "$BERTH_SPAWN" "$@" </dev/null >"$out" 2>"$err" &
    BG_PID=$!
    _bg_pids+=("$BG_PID")
}

field() { grep -oE "(^| )$1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2; }
gateway_of() { local a=$1; echo "${a%.*}.$(( ${a##*.} - 1 ))"; }

# ---- -n: udhcpc on a flushed host0 gets the pool address back; renew; release
spawn_dhcp "$SCRATCH/state/u.out" "$SCRATCH/state/u.err" -P -n -D "$TREE" -M dhudhcpc /bin/sh -c '
    echo "static $(ip -o -4 addr show host0 | awk "{print \$4}")"
    echo "mac $(cat /sys/class/net/host0/address)"
    ip -4 addr flush dev host0
    udhcpc -f -R -i host0 -s /udhcpc.sh -t 5 -T 1 -A 1 2>/run/udhcpc.err &
    U=$!
    for i in $(seq 50); do grep -q "^bound" /run/udhcpc.log 2>/dev/null && break; sleep 0.1; done
    echo "after $(ip -o -4 addr show host0 | awk "{print \$4}")"
    ping -c1 -W2 "$(ip -4 route show default | cut -d" " -f3)" >/dev/null && echo gw-ok
    kill -USR1 $U
    for i in $(seq 50); do grep -q "^renew" /run/udhcpc.log 2>/dev/null && break; sleep 0.1; done
    kill -TERM $U; wait $U
    cat /run/udhcpc.log; sed "s/^/udhcpc: /" /run/udhcpc.err'
wait_bg "$SCRATCH/state/u.out" "$SCRATCH/state/u.err" 20
expect_rc "-n with udhcpc: the machine exits normally" 0
STATIC=$(sed -n 's/^static //p' <<<"$OUTPUT")
BOUND=$(grep '^bound ' <<<"$OUTPUT")
ADDR=${STATIC%/*}
GW=$(gateway_of "$ADDR")
ok_if "udhcpc: a lease" test -n "$BOUND"
expect_eq "udhcpc: the address is the one the pool picked ($STATIC)" "$ADDR" "$(field ip "$BOUND")"
expect_eq "udhcpc: the /28 netmask" 28 "$(field mask "$BOUND")"
expect_eq "udhcpc: the router is the host side" "$GW" "$(field router "$BOUND")"
expect_eq "udhcpc: the server identifier is the host side" "$GW" "$(field serverid "$BOUND")"
expect_eq "udhcpc: a lease of a day" 86400 "$(field lease "$BOUND")"
expect_eq "udhcpc: the host's name servers, without loopback and IPv6" "192.0.2.53 198.51.100.53" \
    "$(grep -o 'dns=.*' <<<"$BOUND" | cut -d= -f2)"
expect_line "udhcpc: host0 has the address again" "after $STATIC"
expect_line "udhcpc: the gateway answers after DHCP configured host0" gw-ok
expect_match "udhcpc: the renewal (unicast to the server) is acknowledged" "^renew ip=$ADDR " "$OUTPUT"
expect_match "udhcpc: it says it unicast the release" "udhcpc: .*(unicasting a release|sending release)" "$OUTPUT"
expect_match "berth-spawn: DHCPOFFER logged" "ve-dhudhcpc: DHCPOFFER of $ADDR" "$ERROUT"
expect_match "berth-spawn: DHCPRELEASE logged" "ve-dhudhcpc: DHCPRELEASE of $ADDR" "$ERROUT"
MAC1=$(sed -n 's/^mac //p' <<<"$OUTPUT")
expect_match "host0's MAC is unicast and locally administered ($MAC1)" '^.[26ae]:' "$MAC1"

# the same name gets the same MAC; a plain payload that never asks is not disturbed
run_spawn -P -n -D "$TREE" -M dhudhcpc /bin/cat /sys/class/net/host0/address
expect_eq "host0's MAC is the same on the next start" "$MAC1" "$OUTPUT"
run_spawn -P -n -D "$TREE" -M dhother /bin/cat /sys/class/net/host0/address
ok_if "another machine's host0 has another MAC" test -n "$OUTPUT" -a "$OUTPUT" != "$MAC1"

# a DHCP client of another MAC behind host0 gets no answer (udhcpc -n: exit if none)
run_spawn -P -n -D "$TREE" -M dhforeign /bin/sh -c '
    ip link set host0 down && ip link set host0 address 02:00:00:00:00:01 && ip link set host0 up
    udhcpc -f -q -n -i host0 -s /udhcpc.sh -t 2 -T 1 -A 1 2>/dev/null && echo got-lease || echo no-lease'
expect_line "a client with another MAC behind host0 gets no lease" no-lease

# ---- a zone: every machine's berth-spawn answers only its own machine
for m in dhza dhzb; do
    spawn_dhcp "$SCRATCH/state/$m.out" "$SCRATCH/state/$m.err" -P --network-zone=dhz -D "$TREE" -M $m /bin/sh -c '
        echo "static $(ip -o -4 addr show host0 | awk "{print \$4}")"
        ip -4 addr flush dev host0
        sleep 0.5
        udhcpc -f -q -n -i host0 -s /udhcpc.sh -t 5 -T 1 -A 1 2>/dev/null
        cat /run/udhcpc.log
        for i in $(seq 100); do [ -e /run/go ] && break; sleep 0.1; done
        ping -c1 -W2 "$(cat /run/peer)" >/dev/null && echo peer-ok
        sleep 2    # still there when the other one pings'
    eval "PID_$m=\$BG_PID"
done
# each machine pings the other's DHCP address once both are bound
for i in $(seq 100); do
    grep -q '^bound' "$SCRATCH/state/dhza.out" && grep -q '^bound' "$SCRATCH/state/dhzb.out" && break
    sleep 0.1
done
AZA=$(field ip "$(grep '^bound' "$SCRATCH/state/dhza.out")")
AZB=$(field ip "$(grep '^bound' "$SCRATCH/state/dhzb.out")")
for m in dhza dhzb; do
    p=PID_$m
    L=$(awk '{print $1}' /proc/"${!p}"/task/"${!p}"/children 2>/dev/null)
    [ -n "$L" ] && { [ $m = dhza ] && echo "$AZB" || echo "$AZA"; } >/proc/"$L"/root/run/peer && : >/proc/"$L"/root/run/go
done
for m in dhza dhzb; do
    p=PID_$m
    BG_PID=${!p}
    wait_bg "$SCRATCH/state/$m.out" "$SCRATCH/state/$m.err" 20
    S=$(sed -n 's/^static //p' <<<"$OUTPUT")
    expect_eq "zone: $m gets its own address by DHCP (${S%/*})" "${S%/*}" "$(field ip "$(grep '^bound' <<<"$OUTPUT")")"
    expect_eq "zone: $m gets the zone's /24 and the bridge as router" "24 ${S%.*}.1" \
        "$(field mask "$(grep '^bound' <<<"$OUTPUT")") $(field router "$(grep '^bound' <<<"$OUTPUT")")"
    expect_line "zone: $m reaches the other machine at its DHCP address" peer-ok
    expect_eq "zone: $m's berth-spawn offered once, and only its own address" \
        "vb-$m: DHCPOFFER of ${S%/*}" "$(grep -o "vb-[a-z]*: DHCPOFFER of [0-9.]*" <<<"$ERROUT")"
done
ok_if "zone: two different addresses ($AZA, $AZB)" test -n "$AZA" -a -n "$AZB" -a "$AZA" != "$AZB"

# ---- a booted Debian guest: systemd-networkd's 80-container-host0.network asks by DHCP
if ! DEB=$("$BERTH_TOOLS/make-debian-tree.sh" --print-path 2>"$SCRATCH/state/mkdeb.log"); then
    skip "networkd in a booted guest" "no Debian tree: $(tail -1 "$SCRATCH/state/mkdeb.log")"
elif [ ! -e "$DEB/usr/lib/systemd/systemd-networkd" ]; then
    skip "networkd in a booted guest" "the Debian tree has no systemd-networkd"
else
    # in_machine LEADER CMD...: the guest's namespaces (network too) and root
    in_machine() { local l=$1; shift; timeout -k 2 60 nsenter -t "$l" -m -u -i -p -n -C -r -w "$@"; }
    leader() {
        local i l
        for i in $(seq 1 600); do
            l=$(awk '{print $1}' /proc/"$BG_PID"/task/"$BG_PID"/children 2>/dev/null)
            [ -n "$l" ] && [ "$l" != "${1:-}" ] && { echo "$l"; return 0; }
            sleep 0.05
        done
    }
    # wait_dhcp LEADER: until networkd reports host0's DHCPv4 address; prints "ADDR via GW"
    wait_dhcp() {
        local i s
        for i in $(seq 1 600); do
            [ -S /proc/"$1"/root/run/systemd/private ] && break
            sleep 0.05
        done
        for i in $(seq 1 300); do
            s=$(in_machine "$1" networkctl status host0 --no-pager 2>/dev/null |
                grep -oE '[0-9.]+ \(DHCP4 via [0-9.]+\)' | head -1)
            [ -n "$s" ] && { sed -E 's/ \(DHCP4 via / via /; s/\)//' <<<"$s"; return 0; }
            sleep 0.1
        done
    }
    # The cached tree is never modified: --ephemeral, and networkd is pulled in for this
    # boot by an init argument (systemd reads its command line from argv in a container).
    spawn_bg "$SCRATCH/state/deb.out" "$SCRATCH/state/deb.err" -D "$DEB" -b -M dhdeb --console=passive \
        --ephemeral -n systemd.wants=systemd-networkd.service
    L=$(leader)
    GOT=$(wait_dhcp "$L")
    A=${GOT%% *}
    HOST_SIDE=$(ip -o -4 addr show ve-dhdeb 2>/dev/null | awk '{print $4}')
    H=${HOST_SIDE%/*}
    ok_if "networkd: host0 has a DHCPv4 address ($GOT)" test -n "$GOT"
    expect_eq "networkd: the pool's address (host side + 1), from the host side" \
        "${H%.*}.$(( ${H##*.} + 1 )) via $H" "$GOT"
    expect_match "networkd: the address is dynamic (a lease), not the static one" \
        "inet $A/28 .* dynamic" "$(in_machine "$L" ip -o -4 addr show host0)"
    expect_match "networkd: a DHCP default route via the host" "^default via ${HOST_SIDE%/*} .*proto dhcp" \
        "$(in_machine "$L" ip -4 route show default)"
    ok_if "networkd: the host reaches the guest" bash -c "busybox ping -c1 -W2 $A >/dev/null"
    "$PYTHON" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9100)); s.listen(1); s.settimeout(20)
c, a = s.accept(); print(a[0], flush=True)' "${HOST_SIDE%/*}" >"$SCRATCH/state/listen.out" 2>&1 &
    LISTENER=$!
    sleep 0.3
    in_machine "$L" bash -c "exec 3<>/dev/tcp/${HOST_SIDE%/*}/9100" 2>/dev/null
    wait "$LISTENER"
    expect_eq "networkd: the guest reaches the host from its DHCP address" "$A" "$(cat "$SCRATCH/state/listen.out")"

    # reboot in place: a new link, a new server, the same address
    in_machine "$L" systemctl reboot >/dev/null 2>&1
    L2=$(leader "$L")
    GOT2=$(wait_dhcp "$L2")
    ok_if "networkd after a reboot in place: DHCPv4 again on the new link ($GOT2)" test -n "$L2" -a "$GOT2" = "$GOT"
    kill -TERM "$BG_PID"
    wait_bg "$SCRATCH/state/deb.out" "$SCRATCH/state/deb.err" 30
    expect_rc "the guest powers off" 0
fi

# ---- nothing left
ok_if "no machine links left in the test's namespace" bash -c "! ip -o link | grep -E ' (ve|vb|vz)-'"
ok_if "no berth nft table left" bash -c "! nft list tables | grep -q berth"
