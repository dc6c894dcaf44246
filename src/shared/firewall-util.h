/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <netinet/in.h>
#include <stdint.h>

/* A small nftables client (libnftnl + libmnl, no nft(8)) for berth's IPv4 NAT.
 *
 * Everything lives in one table owned by berth, "table ip berth" (the ip family, as NAT in an
 * inet table needs kernel >= 5.2):
 *
 *   chain postrouting { type nat hook postrouting priority srcnat (100); }
 *           ip saddr <subnet> ip daddr != <subnet> masquerade                 comment "berth:<machine>"
 *   chain prerouting  { type nat hook prerouting priority dstnat (-100); }
 *           fib daddr type local <tcp|udp> dport <port> dnat to <ip>:<port>   comment "berth:<machine>"
 *   chain output      { type nat hook output priority -100; }
 *           ip daddr != 127.0.0.0/8 fib daddr type local <tcp|udp> dport <port> dnat to <ip>:<port>
 *                                                                             comment "berth:<machine>"
 *
 * Every rule carries the comment "berth:<machine>", which is how fw_remove_machine() and
 * fw_list_machines() find them; the table is deleted once its last rule is gone.
 *
 * Port forwards apply to all of the host's own addresses, from other hosts (prerouting) as well as
 * from the host itself (output), EXCEPT the loopback range 127.0.0.0/8: a connection to
 * 127.0.0.1:<port> is not forwarded and reaches whatever listens on the host. (DNAT from output to
 * a non-loopback destination would keep the 127.0.0.1 source, which the kernel drops unless
 * route_localnet is enabled on the outgoing interface and the packet is also SNATed; berth does
 * not change sysctls for that. Use the host's other addresses instead.) Forwarding from other
 * hosts also needs net.ipv4.ip_forward=1, which is the caller's business.
 *
 * All functions are non-logging and return >= 0 on success, -errno on failure. Each call is one
 * atomic nfnetlink batch; the table and chains are created on demand (idempotent). Adding the
 * same masquerade/forward twice adds two rules: call fw_remove_machine() first when
 * (re)configuring a machine. Needs CAP_NET_ADMIN in the current network namespace. */

#define FW_TABLE_NAME "berth"
#define FW_COMMENT_PREFIX "berth:"

/* subnet in network byte order (host bits are ignored), prefixlen 1..32. */
int fw_add_masquerade(const char *machine, struct in_addr subnet, unsigned prefixlen);
/* proto is IPPROTO_TCP or IPPROTO_UDP; ports in host byte order, dest in network byte order.
 * Adds one rule to prerouting and one to output. */
int fw_add_port_forward(const char *machine, int proto, uint16_t host_port, struct in_addr dest, uint16_t dest_port);
/* Deletes all rules commented "berth:<machine>", and the table when nothing else is left in it.
 * Returns the number of rules deleted (0 if there were none or no table). Retried internally
 * when the ruleset changes between listing and deleting (the batch carries the generation id). */
int fw_remove_machine(const char *machine);
/* Sorted, de-duplicated names of the machines that have rules (for reconciling stale rules of
 * machines that are gone); an empty list when there is no table. Returns the number of names. */
int fw_list_machines(char ***ret);
