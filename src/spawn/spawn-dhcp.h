/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* berth-spawn's DHCPv4 server for its one machine (-n/--network-veth, --network-zone=).
 *
 * The machine's host0 is configured before its payload runs; this server is for guests
 * that configure it themselves (systemd-networkd's 80-container-host0.network, udhcpc,
 * dhclient): it hands out the very address the pool allocator picked, so a guest that
 * flushes host0 and asks ends up where it was. It runs in berth-spawn's supervisor loop
 * for the machine's whole life, booted or not, so the host needs no DHCP server of its own
 * (systemd-nspawn relies on the host's systemd-networkd for this).
 *
 * It listens with a packet socket on the host end of the machine's own veth: ve-NAME, or
 * for a zone vb-NAME, the machine's port of the zone bridge (frames are seen there as they
 * come in, before the bridge takes them), so every machine of a zone has a server of its
 * own that sees only its machine's frames, and the replies leave through the same port.
 * It also answers nobody but the machine's hardware address (host0 gets a MAC derived
 * from the machine name). */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "spawn-dhcp-packet.h"

#define DHCP_LEASE_SECONDS (24U * 3600U)

typedef struct DhcpServer DhcpServer;

/* Listens on link ifindex (its name only for log messages). Returns 0 or -errno
 * (non-logging). */
int dhcp_server_new(int ifindex, const char *ifname, const uint8_t client_mac[static 6], const DhcpLease *lease,
                    DhcpServer **ret);
DhcpServer *dhcp_server_free(DhcpServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(DhcpServer *, dhcp_server_free);

/* Closing a packet socket waits for an RCU grace period in the kernel (synchronize_net()
 * in packet_release(): some 10 ms), which is worth overlapping with the rest of a
 * teardown. This frees s and leaves the close to a thread of its own; returns true if it
 * started one, which the caller must pthread_join() before it could change its mount or
 * user namespace (setns() and unshare() refuse multi-threaded callers there). */
bool dhcp_server_free_in_background(DhcpServer *s, pthread_t *ret_thread);

/* The fd to poll for POLLIN, or -EBADF (no server, or it lost its link). */
int dhcp_server_fd(const DhcpServer *s);
/* Reads what is queued and answers it; failures are logged at debug level only (a
 * malformed packet is dropped silently). */
void dhcp_server_dispatch(DhcpServer *s);

/* Name servers for the machine: the IPv4 "nameserver" lines of resolv.conf text, except
 * loopback (a stub resolver on the host, like systemd-resolved's 127.0.0.53, is not
 * reachable from the machine) and 0.0.0.0. Returns how many were stored (at most
 * DHCP_MAX_DNS). */
size_t dhcp_dns_from_resolv_conf(const char *text, struct in_addr ret[static DHCP_MAX_DNS]);
