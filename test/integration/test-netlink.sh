#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# src/shared/netlink-util via test/unit/netlink-probe: veth pairs with the peer created in
# another namespace, altnames, bridges and enslaving, addresses, default routes, moving and
# renaming links into a namespace, macvlan/ipvlan, deletion; then ping over the veth.
#
# Never touches the machine's real network configuration: two network namespaces are held
# open by `unshare -n sleep` processes this script starts (no `ip netns` bind mounts), every
# probe/ip call runs inside them via nsenter, and the holders are killed at the end. Afterwards
# the script checks that the host's links, named namespaces and nsfs mounts are unchanged and
# that no holder process is left.
#
#   ns A ("host")                                   ns B ("machine")
#   ve-nltest 10.231.0.1/24, fd42:231::1/64 <-veth-> host0 10.231.0.2/24, fd42:231::2/64
#                                                   default via 10.231.0.1
#
# Environment: BERTH_NETLINK_PROBE (default build/test/unit/netlink-probe). TAP output.

set -u
export LC_ALL=C

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BERTH_NETLINK_PROBE:=$SRCDIR/build/test/unit/netlink-probe}"
PROBE=$BERTH_NETLINK_PROBE

# the one TAP vocabulary of all shell tests (pass, fail, skip, diag, expect_eq, ...)
# shellcheck source=test/tap.sh
. "$SRCDIR/test/tap.sh"

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v nsenter >/dev/null ||
   ! command -v ip >/dev/null; then
    echo "1..0 # SKIP needs root, unshare, nsenter and ip"
    exit 0
fi
if [ ! -x "$PROBE" ]; then
    echo "Bail out! netlink-probe not found at $PROBE"
    exit 1
fi
if command -v ping >/dev/null; then PING=(ping); elif command -v busybox >/dev/null; then PING=(busybox ping); else PING=(); fi

# ---------------------------------------------------------------- namespaces

host_state() {
    ip -o link show | awk -F': ' '{ print $2 }' | sort
    ip netns list 2>/dev/null | sort
    awk '$9 == "nsfs" { print $5 }' /proc/self/mountinfo | sort
}
HOST_BEFORE=$(host_state)
HOST_NETNS=$(readlink /proc/self/ns/net)
HOLDERS=()

# start_ns VAR: a new network namespace, held by a sleeping process whose PID goes into VAR
start_ns() {
    local pid i
    unshare -n sleep 600 &
    pid=$!
    for i in $(seq 100); do
        [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "$HOST_NETNS" ] && break
        sleep 0.05
    done
    HOLDERS+=("$pid")
    printf -v "$1" %s "$pid"
}

cleanup() {
    local pid
    for pid in "${HOLDERS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${HOLDERS[@]}"; do
        wait "$pid" 2>/dev/null
    done
}

finish() {
    local left="" pid after
    cleanup
    for pid in "${HOLDERS[@]}"; do
        [ -d "/proc/$pid" ] && left="$left $pid"
    done
    expect_eq "no namespace holder process is left" "" "$left"
    # the namespaces (and the veth/macvlan links in them) go away with their last user
    after=$(host_state)
    expect_eq "host links, named netns and nsfs mounts are unchanged" "$HOST_BEFORE" "$after"
    echo "1..$_tap_n"
    exit $((_tap_failed > 100 ? 100 : _tap_failed))
}
trap finish EXIT

start_ns A
start_ns B
NS_A=/proc/$A/ns/net
NS_B=/proc/$B/ns/net
if [ "$(readlink "$NS_A")" = "$HOST_NETNS" ] || [ "$(readlink "$NS_B")" = "$HOST_NETNS" ] ||
   [ "$(readlink "$NS_A")" = "$(readlink "$NS_B")" ]; then
    echo "Bail out! could not create two network namespaces"
    exit 1
fi
pass "created two network namespaces (holders $A, $B)"

# inns NS_PID COMMAND...: run in the network namespace of NS_PID
inns() { local p=$1; shift; nsenter -t "$p" -n -- "$@"; }
# probe NS_PID ARGS...: sets OUT and RC
probe() { local p=$1; shift; OUT=$(nsenter -t "$p" -n -- "$PROBE" "$@" 2>&1); RC=$?; }
ifindex() { inns "$1" ip -o link show dev "$2" | cut -d: -f1; }
links() { inns "$1" ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//'; }

# ---------------------------------------------------------------- basics

probe "$A" cloexec
expect_eq "netlink socket is O_CLOEXEC" 0 "$RC"
probe "$A" index lo
expect_eq "rtnl_link_index(lo) == 1" "0 1" "$RC $OUT"
probe "$A" index nonexistent0
expect_eq "rtnl_link_index(nonexistent) -> ENODEV (19)" 19 "$RC"
probe "$A" veth "a/b" peer0 -
expect_eq "invalid interface name -> EINVAL (22)" 22 "$RC"
probe "$A" ifname ve- a-very-long-machine-name
expect_match "ifname_for_machine() shortens to 15 characters" '^ve-a-very[0-9a-f]{6}$' "$OUT"

# ---------------------------------------------------------------- veth with peer in B

ALT=ve-nltest-with-a-rather-long-altname
probe "$A" veth ve-nltest host0 "$NS_B" "$ALT"
if [ "$RC" = 0 ] && [ "$OUT" = ok ]; then
    pass "veth ve-nltest <-> host0 (peer in B) with altname"
    HAVE_ALTNAME=1
elif [ "$RC" = 0 ] && [ "$OUT" = no-altname ]; then
    pass "veth ve-nltest <-> host0 (peer in B); kernel refused the altname"
    HAVE_ALTNAME=0
else
    fail "veth ve-nltest <-> host0 (peer in B)" "rc=$RC $OUT"
    HAVE_ALTNAME=0
fi
expect_match "ve-nltest is a veth in A" 'veth' "$(inns "$A" ip -o -d link show dev ve-nltest)"
expect_match "host0 is a veth in B" 'veth' "$(inns "$B" ip -o -d link show dev host0)"
expect_no_match "no host0 in A" '^host0$' "$(links "$A")"
expect_no_match "no ve-nltest in B" '^ve-nltest$' "$(links "$B")"
expect_no_match "nothing of it in the test's own namespace" '^(ve-nltest|host0)$' "$(ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//')"
if [ "$HAVE_ALTNAME" = 1 ]; then
    expect_match "altname is set on ve-nltest" "altname $ALT" "$(inns "$A" ip -o link show dev ve-nltest)"
    probe "$A" index "$ALT"
    expect_eq "rtnl_link_index() finds the link by its long altname" "0 $(ifindex "$A" ve-nltest)" "$RC $OUT"
else
    skip "altname is set on ve-nltest" "kernel without altnames"
    skip "rtnl_link_index() by altname" "kernel without altnames"
fi

probe "$A" veth ve-nltest host1 "$NS_B"
expect_eq "second veth with the same host name -> EEXIST (17)" 17 "$RC"
expect_no_match "... and no host1 is left behind in B" '^host1$' "$(links "$B")"

# an altname the kernel must refuse (it is another link's name): the veth still succeeds
probe "$A" veth vt-soft vt-soft-p - lo
expect_eq "veth with a refused altname succeeds, reporting it" "0 no-altname" "$RC $OUT"
expect_match "vt-soft exists" 'vt-soft' "$(inns "$A" ip -o link show dev vt-soft)"
probe "$A" altname vt-soft lo
expect_eq "rtnl_link_add_altname(taken name) -> EEXIST (17)" 17 "$RC"
probe "$A" delete vt-soft
expect_eq "delete vt-soft" 0 "$RC"
expect_no_match "both ends of vt-soft are gone" '^vt-soft' "$(links "$A")"

# ---------------------------------------------------------------- addresses, routes, ping

probe "$A" addr ve-nltest 10.231.0.1/24 && probe "$A" addr ve-nltest fd42:231::1/64
expect_eq "addresses on ve-nltest" 0 "$RC"
probe "$A" up ve-nltest
expect_eq "ve-nltest up" 0 "$RC"
probe "$B" addr host0 10.231.0.2/24 && probe "$B" addr host0 fd42:231::2/64
expect_eq "addresses on host0" 0 "$RC"
probe "$B" up host0 && probe "$B" up lo
expect_eq "host0 and lo up in B" 0 "$RC"
probe "$B" addr host0 10.231.0.2/24
expect_eq "adding the same address again -> EEXIST (17)" 17 "$RC"

expect_match "IPv4 address with broadcast on ve-nltest" 'inet 10\.231\.0\.1/24 brd 10\.231\.0\.255 ' "$(inns "$A" ip -o -4 addr show dev ve-nltest)"
expect_match "IPv6 address on ve-nltest" 'inet6 fd42:231::1/64 ' "$(inns "$A" ip -o -6 addr show dev ve-nltest)"
expect_match "IPv4 address on host0" 'inet 10\.231\.0\.2/24 brd 10\.231\.0\.255 ' "$(inns "$B" ip -o -4 addr show dev host0)"

probe "$B" route host0 10.231.0.1
expect_eq "IPv4 default route via 10.231.0.1" 0 "$RC"
expect_match "ip route shows it" '^default via 10\.231\.0\.1 dev host0 ' "$(inns "$B" ip -o -4 route show default)"
probe "$B" route host0 10.231.0.1
expect_eq "the same default route again -> EEXIST (17)" 17 "$RC"
probe "$B" route host0 fd42:231::1
expect_eq "IPv6 default route via fd42:231::1" 0 "$RC"
expect_match "ip -6 route shows it" '^default via fd42:231::1 dev host0 ' "$(inns "$B" ip -o -6 route show default)"

probe "$B" addrs host0
H0=$(ifindex "$B" host0)
expect_match "rtnl_addr_list() reads back the IPv4 address" "^$H0 inet 10\.231\.0\.2/24\$" "$OUT"
expect_match "rtnl_addr_list() reads back the IPv6 address" "^$H0 inet6 fd42:231::2/64\$" "$OUT"
expect_no_match "rtnl_addr_list(host0) lists no other link's addresses" "^[0-9]+ inet 127\." "$OUT"
probe "$B" addrs host0 4
expect_eq "rtnl_addr_list(host0, AF_INET)" "$H0 inet 10.231.0.2/24" "$OUT"
probe "$B" addrs
expect_match "rtnl_addr_list(all) includes lo's 127.0.0.1" ' inet 127\.0\.0\.1/8$' "$OUT"

if [ ${#PING[@]} -gt 0 ]; then
    ok=
    for i in 1 2 3 4 5; do
        if inns "$B" "${PING[@]}" -c1 -W1 10.231.0.1 >/dev/null 2>&1; then ok=1; break; fi
    done
    if [ -n "$ok" ]; then pass "B pings 10.231.0.1 over the veth"; else fail "B pings 10.231.0.1 over the veth"; fi
    if inns "$A" "${PING[@]}" -c1 -W1 10.231.0.2 >/dev/null 2>&1; then
        pass "A pings 10.231.0.2 over the veth"
    else
        fail "A pings 10.231.0.2 over the veth"
    fi
else
    skip "B pings 10.231.0.1 over the veth" "no ping"
    skip "A pings 10.231.0.2 over the veth" "no ping"
fi

# ---------------------------------------------------------------- bridge

probe "$A" bridge vz-nltest
expect_eq "bridge vz-nltest" 0 "$RC"
expect_match "vz-nltest is a bridge" 'bridge' "$(inns "$A" ip -o -d link show dev vz-nltest)"
probe "$A" bridge vz-nltest
expect_eq "the same bridge again -> EEXIST (17)" 17 "$RC"
probe "$A" slaves vz-nltest
expect_eq "new bridge has no ports" "0 0" "$RC $OUT"
probe "$A" veth vb-one vb-one-p - && probe "$A" veth vb-two vb-two-p -
expect_eq "two more veth pairs in A" 0 "$RC"
probe "$A" master vb-one vz-nltest && probe "$A" master vb-two vz-nltest
expect_eq "enslave vb-one and vb-two" 0 "$RC"
expect_match "ip link shows master vz-nltest" 'master vz-nltest' "$(inns "$A" ip -o link show dev vb-one)"
probe "$A" slaves vz-nltest
expect_eq "bridge has 2 ports" "0 2" "$RC $OUT"
probe "$A" master vb-two -
expect_eq "release vb-two" 0 "$RC"
expect_no_match "vb-two has no master" 'master' "$(inns "$A" ip -o link show dev vb-two)"
probe "$A" slaves vz-nltest
expect_eq "bridge has 1 port" "0 1" "$RC $OUT"
probe "$A" up vz-nltest
expect_eq "bridge up" 0 "$RC"
expect_match "bridge is UP" '[<,]UP[,>]' "$(inns "$A" ip -o link show dev vz-nltest)"
probe "$A" down vz-nltest
expect_no_match "bridge is down again" '[<,]UP[,>]' "$(inns "$A" ip -o link show dev vz-nltest)"

# ---------------------------------------------------------------- move into a namespace

probe "$A" veth mv-a mv-b -
expect_eq "veth mv-a <-> mv-b in A" 0 "$RC"
probe "$A" move mv-b "$NS_B" moved0
expect_eq "move mv-b into B as moved0" 0 "$RC"
expect_no_match "mv-b left A" '^mv-b$' "$(links "$A")"
expect_match "moved0 is in B" '^moved0$' "$(links "$B")"
expect_no_match "no mv-b in B" '^mv-b$' "$(links "$B")"
probe "$A" move mv-a "$NS_B"
expect_eq "move mv-a into B keeping its name" 0 "$RC"
expect_match "mv-a is in B" '^mv-a$' "$(links "$B")"
probe "$B" move mv-a "$NS_A" ve-nltest
expect_eq "moving onto a taken name in the target -> EEXIST (17)" 17 "$RC"
# (the kernel moves first, then renames: the link is in A under its old name)
expect_match "... mv-a is in A under its old name" '^mv-a$' "$(links "$A")"
expect_no_match "... and no longer in B" '^mv-a$' "$(links "$B")"

# ---------------------------------------------------------------- macvlan / ipvlan

# no dummy driver needed: the parent is one end of a veth pair in A
probe "$A" veth par0 par0-p -
expect_eq "parent link par0" 0 "$RC"
probe "$A" macvlan mv-nltest par0 "$NS_B"
expect_eq "macvlan mv-nltest on par0, created in B" 0 "$RC"
expect_match "mv-nltest is a macvlan in bridge mode in B" 'macvlan mode bridge' "$(inns "$B" ip -o -d link show dev mv-nltest)"
expect_no_match "mv-nltest is not in A" '^mv-nltest$' "$(links "$A")"
probe "$A" macvlan mv-local par0 -
expect_eq "macvlan mv-local on par0 in A" 0 "$RC"
expect_match "mv-local is a macvlan in A" 'macvlan mode bridge' "$(inns "$A" ip -o -d link show dev mv-local)"
probe "$A" ipvlan iv-nltest par0 "$NS_B"
if [ "$RC" = 95 ]; then
    skip "ipvlan iv-nltest on par0, created in B" "kernel without ipvlan (EOPNOTSUPP)"
    skip "iv-nltest is an ipvlan in L2 mode in B" "kernel without ipvlan"
else
    expect_eq "ipvlan iv-nltest on par0, created in B" 0 "$RC"
    expect_match "iv-nltest is an ipvlan in L2 mode in B" 'ipvlan +mode l2' "$(inns "$B" ip -o -d link show dev iv-nltest)"
fi
probe "$A" macvlan mv-bad nonexistent0 -
expect_eq "macvlan on a missing parent -> ENODEV (19)" 19 "$RC"

# ---------------------------------------------------------------- delete

probe "$A" delete ve-nltest
expect_eq "delete ve-nltest" 0 "$RC"
expect_no_match "ve-nltest is gone from A" '^ve-nltest$' "$(links "$A")"
expect_no_match "its peer host0 is gone from B" '^host0$' "$(links "$B")"
probe "$A" delete ve-nltest
expect_eq "deleting it again -> ENODEV (19)" 19 "$RC"
probe "$A" delete vz-nltest
expect_eq "delete the bridge" 0 "$RC"
expect_no_match "vz-nltest is gone" '^vz-nltest$' "$(links "$A")"
