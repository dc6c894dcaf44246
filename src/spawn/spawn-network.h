/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

#include "spawn-config.h"
#include "spawn-dhcp.h"

/* Private networking: --private-network, -n/--network-veth, --network-zone=, -p/--port=.
 *
 * Addresses come from a pool, 10.231.0.0/16 unless $BERTH_NETWORK_POOL names another
 * IPv4 CIDR (prefix length 8..24): a veth machine gets a /28 of its own from the lower
 * half (host side .1, machine .2); a zone gets a /24 from the upper half (the bridge .1,
 * machines from .2 on). Every subnet and zone address is held by a lock file under
 * /run/berth/network/ for the machine's lifetime, so concurrent starts never hand out
 * the same one. */

typedef struct PortForward {
        int protocol;           /* IPPROTO_TCP or IPPROTO_UDP */
        uint16_t host_port;
        uint16_t machine_port;
} PortForward;

int port_forward_parse(const char *spec, PortForward *ret);

/* Does the machine get any link from the host (so the child waits for the parent)? */
bool network_has_links(const SpawnConfig *c);

typedef struct NetworkPool {
        struct in_addr base;
        unsigned prefixlen;
} NetworkPool;

int network_pool_parse(const char *cidr, NetworkPool *ret);
/* The n-th subnet of 'prefixlen' inside the pool; -ERANGE past the end. */
int network_pool_subnet(const NetworkPool *p, unsigned prefixlen, uint32_t n, struct in_addr *ret);

/* host0's MAC address: derived from the machine name (locally administered, unicast),
 * so it is the same on every start, and the DHCP server knows whom to answer. */
void network_host0_mac(const char *machine, uint8_t ret[static 6]);

/* In the machine (child), in its new network namespace: loopback up and, with 'config'
 * ("ADDRESS/PREFIX GATEWAY" from the parent), host0 configured. */
int network_inside_setup(const char *config);

/* On the host (parent). */
typedef struct HostNetwork {
        int machine_lock;       /* /run/berth/network/machine-NAME.lock */
        int address_lock;       /* our subnet (veth) or our address in the zone */
        char *address_lock_path;
        struct in_addr subnet, gateway, address;
        unsigned prefixlen;
        char host_ifname[IFNAMSIZ];
        char bridge_ifname[IFNAMSIZ];
        int host_ifindex;       /* set once the link exists */
        int machine_netns;      /* kept to give --network-interface= links back */
        int host_netns;
        bool firewall;          /* rules added */
        bool links_created;     /* by host_network_setup(), for a reboot in place */
        uint8_t host0_mac[6];
        DhcpServer *dhcp;       /* for -n and zones, while the link exists */
} HostNetwork;

#define HOST_NETWORK_NULL { .machine_lock = -EBADF, .address_lock = -EBADF, .machine_netns = -EBADF, .host_netns = -EBADF }

/* Before the machine starts: locks, addresses, free host ports, stale state of dead machines. */
int host_network_prepare(const SpawnConfig *c, HostNetwork *n);
/* When the child reports its network namespace: the link, addresses, NAT, port forwards;
 * the configuration text for the child goes to ret_config. */
int host_network_setup(const SpawnConfig *c, HostNetwork *n, pid_t pid, char ret_config[static 64]);
void host_network_teardown(const SpawnConfig *c, HostNetwork *n);
/* For the supervisor's poll loop: the fd to wait for (POLLIN) or -EBADF, and what to do
 * when it is readable (the DHCP server answers the machine). */
int host_network_poll_fd(const HostNetwork *n);
void host_network_dispatch(HostNetwork *n);
