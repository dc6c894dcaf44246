/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "hash-util.h"
#include "firewall-util.h"
#include "lock-util.h"
#include "log.h"
#include "netlink-util.h"
#include "parse-util.h"
#include "spawn-network.h"
#include "spawn-reclaim.h"
#include "string-util.h"

#define NET_DIR SPAWN_NET_DIR
#define DEFAULT_POOL "10.231.0.0/16"

static int parse_port(const char *s, uint16_t *ret) {
        uint64_t v;

        if (safe_atou64(s, &v) < 0 || v == 0 || v > 65535)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

/* [PROTO:]HOSTPORT[:MACHINEPORT], PROTO tcp (default) or udp */
int port_forward_parse(const char *spec, PortForward *ret) {
        _cleanup_strv_free_ char **parts = NULL;
        PortForward p = { .protocol = IPPROTO_TCP };
        size_t n, i = 0;

        if (strv_split_full(spec, ":", false, &parts) < 0)
                return -ENOMEM;
        n = strv_length(parts);
        if (n < 1 || n > 3)
                return -EINVAL;
        if (streq(parts[0], "tcp") || streq(parts[0], "udp")) {
                p.protocol = streq(parts[0], "tcp") ? IPPROTO_TCP : IPPROTO_UDP;
                i++;
        } else if (n == 3)
                return -EINVAL;
        if (i >= n || parse_port(parts[i], &p.host_port) < 0)
                return -EINVAL;
        p.machine_port = p.host_port;
        if (i + 1 < n && parse_port(parts[i + 1], &p.machine_port) < 0)
                return -EINVAL;
        *ret = p;
        return 0;
}

bool network_has_links(const SpawnConfig *c) {
        return c->network_veth || c->network_zone || c->network_bridge || c->network_interfaces ||
               c->network_macvlan || c->network_ipvlan || c->network_veth_extra;
}

int network_pool_parse(const char *cidr, NetworkPool *ret) {
        _cleanup_free_ char *addr = NULL;
        const char *slash = strchr(cidr, '/');
        uint64_t len;
        struct in_addr a;

        if (!slash)
                return -EINVAL;
        addr = strndup(cidr, (size_t) (slash - cidr));
        if (!addr)
                return -ENOMEM;
        if (inet_pton(AF_INET, addr, &a) != 1)
                return -EINVAL;
        if (safe_atou64(slash + 1, &len) < 0 || len < 8 || len > 24)
                return -EINVAL;
        /* the base must be the network address */
        if (ntohl(a.s_addr) & ((1U << (32 - len)) - 1))
                return -EINVAL;
        *ret = (NetworkPool) { .base = a, .prefixlen = (unsigned) len };
        return 0;
}

int network_pool_subnet(const NetworkPool *p, unsigned prefixlen, uint32_t n, struct in_addr *ret) {
        uint32_t count;

        if (prefixlen < p->prefixlen || prefixlen > 30)
                return -EINVAL;
        count = 1U << (prefixlen - p->prefixlen);
        if (n >= count)
                return -ERANGE;
        ret->s_addr = htonl(ntohl(p->base.s_addr) + (n << (32 - prefixlen)));
        return 0;
}

void network_host0_mac(const char *machine, uint8_t ret[static 6]) {
        /* FNV-1a, then splitmix64's finaliser */
        uint64_t h = fnv1a64_str(fnv1a64_str(FNV1A64_INIT, "berth-host0:"), machine);

        h = (h ^ (h >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        h = (h ^ (h >> 27)) * UINT64_C(0x94d049bb133111eb);
        h ^= h >> 31;
        for (size_t i = 0; i < 6; i++)
                ret[i] = (uint8_t) (h >> (8 * i));
        ret[0] = (uint8_t) ((ret[0] & 0xfe) | 0x02);    /* unicast, locally administered */
}

/* ---- inside the machine ---- */

int network_inside_setup(const char *config) {
        _cleanup_(rtnl_closep) Rtnl *rtnl = NULL;
        _cleanup_free_ char *addr = NULL;
        struct in_addr a, gw;
        unsigned prefixlen;
        char gwbuf[INET_ADDRSTRLEN];
        int r = 0, lo, host0;

        r = rtnl_open(&rtnl);
        if (r < 0)
                return log_error_errno(r, "Failed to open a netlink socket in the machine: %m");
        lo = rtnl_link_index(rtnl, "lo");
        if (lo > 0)
                r = rtnl_link_set_up(rtnl, lo, true);
        if (lo < 0 || r < 0)
                return log_error_errno(lo < 0 ? lo : r, "Failed to bring up the loopback device: %m");
        if (!config)
                return 0;

        /* every link the parent gave the machine starts up */
        {
                struct if_nameindex *ifs = if_nameindex();
                for (struct if_nameindex *i = ifs; i && i->if_index; i++)
                        if ((r = rtnl_link_set_up(rtnl, (int) i->if_index, true)) < 0) {
                                if_freenameindex(ifs);
                                return log_error_errno(r, "Failed to bring up %s: %m", i->if_name);
                        }
                if (ifs)
                        if_freenameindex(ifs);
        }
        if (isempty(config))
                return 0;      /* addressing is somebody else's (--network-bridge=, ...) */

        if (sscanf(config, "%m[0-9.]/%u %15s", &addr, &prefixlen, gwbuf) != 3 ||
            inet_pton(AF_INET, addr, &a) != 1 || inet_pton(AF_INET, gwbuf, &gw) != 1 || prefixlen > 32)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Bad network configuration from berth-spawn: '%s'", config);

        host0 = rtnl_link_index(rtnl, "host0");
        if (host0 < 0)
                return log_error_errno(host0, "No host0 in the machine: %m");
        r = rtnl_addr_add(rtnl, host0, AF_INET, &a, prefixlen);
        if (r >= 0)
                r = rtnl_link_set_up(rtnl, host0, true);
        if (r >= 0)
                r = rtnl_route_add_default(rtnl, AF_INET, &gw, host0);
        if (r < 0)
                return log_error_errno(r, "Failed to configure host0 (%s): %m", config);
        return 0;
}

/* ---- on the host ---- */

static int pool_get(NetworkPool *ret) {
        const char *e = getenv("BERTH_NETWORK_POOL");

        if (network_pool_parse(e ?: DEFAULT_POOL, ret) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid $BERTH_NETWORK_POOL '%s': expected an IPv4 network A.B.C.D/8..24.", e);
        return 0;
}

/* Rules of machines whose berth-spawn is gone (SIGKILL): their machine lock is free. */
static void host_network_remove_stale_rules(void) {
        _cleanup_strv_free_ char **names = NULL;

        if (fw_list_machines(&names) < 0)
                return;
        STRV_FOREACH(name, names)
                if (host_network_reclaim_machine(*name) > 0)
                        log_debug("Removed stale firewall rules of machine %s.", *name);
}

static int check_port_free(const PortForward *p) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->host_port) };
        _cleanup_close_ int fd = -EBADF;

        fd = socket(AF_INET, (p->protocol == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM)|SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return 0;
}

/* veth machines: /28 subnets from the lower half of the pool; zones: /24s from the upper. */
static int allocate_veth_subnet(const NetworkPool *pool, HostNetwork *n) {
        NetworkPool lower = { pool->base, pool->prefixlen + 1 };

        for (uint32_t i = 0;; i++) {
                char path[128], s[INET_ADDRSTRLEN];
                int r;

                r = network_pool_subnet(&lower, 28, i, &n->subnet);
                if (r == -ERANGE)
                        return log_error_errno(SYNTHETIC_ERRNO(EADDRNOTAVAIL), "The address pool is exhausted.");
                if (r < 0)
                        return r;
                snprintf(path, sizeof(path), NET_DIR "/subnet-%s.lock", inet_ntop(AF_INET, &n->subnet, s, sizeof(s)));
                r = lock_path(path, false, &n->address_lock);
                if (r == -EBUSY)
                        continue;
                if (r < 0)
                        return log_error_errno(r, "Failed to lock %s: %m", path);
                n->address_lock_path = strdup(path);
                n->prefixlen = 28;
                n->gateway.s_addr = htonl(ntohl(n->subnet.s_addr) + 1);
                n->address.s_addr = htonl(ntohl(n->subnet.s_addr) + 2);
                return n->address_lock_path ? 0 : log_oom();
        }
}

static bool zone_records(const char *file, const char *subnet) {
        _cleanup_free_ char *p = strjoin(NET_DIR "/", file);
        _cleanup_close_ int fd = -EBADF;
        char b[32] = {};

        fd = p ? open(p, O_RDONLY|O_CLOEXEC|O_NOFOLLOW) : -EBADF;
        return fd >= 0 && read(fd, b, sizeof(b) - 1) > 0 && streq(strtok(b, "\n") ?: "", subnet);
}

/* The zone's /24 is recorded in NET_DIR/zone-ZONE while the zone's bridge exists.
 * Called with the zone's lock held. */
static int zone_subnet(const SpawnConfig *c, const NetworkPool *pool, struct in_addr *ret) {
        NetworkPool upper = { .prefixlen = pool->prefixlen + 1 };
        _cleanup_free_ char *state = strjoin(NET_DIR "/zone-", c->network_zone);
        _cleanup_close_ int fd = -EBADF;
        char buf[32] = {};

        upper.base.s_addr = htonl(ntohl(pool->base.s_addr) + (1U << (32 - upper.prefixlen)));
        if (!state)
                return log_oom();

        fd = open(state, O_RDONLY|O_CLOEXEC|O_NOFOLLOW);
        if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && inet_pton(AF_INET, strtok(buf, "\n") ?: "", ret) == 1)
                return 0;

        /* a new zone: the first /24 no other zone records */
        for (uint32_t i = 0;; i++) {
                _cleanup_closedir_ DIR *d = NULL;
                _cleanup_close_ int w = -EBADF;
                struct dirent *de;
                bool used = false;
                char s[INET_ADDRSTRLEN];

                if (network_pool_subnet(&upper, 24, i, ret) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EADDRNOTAVAIL), "The address pool has no room for another zone.");
                inet_ntop(AF_INET, ret, s, sizeof(s));
                d = opendir(NET_DIR);
                while (d && !used && (de = readdir(d)))
                        used = startswith(de->d_name, "zone-") && !endswith(de->d_name, ".lock") &&
                               zone_records(de->d_name, s);
                if (used)
                        continue;

                w = open(state, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC|O_NOFOLLOW, 0644);
                if (w < 0 || write_string_fd(w, s) < 0)
                        return log_error_errno(errno, "Failed to record zone %s: %m", c->network_zone);
                return 0;
        }
}

static int lock_zone(const SpawnConfig *c, int *ret_fd) {
        _cleanup_free_ char *zlock = strjoin(NET_DIR "/zone-", c->network_zone, ".lock");
        int r;

        if (!zlock)
                return log_oom();
        r = lock_path(zlock, true, ret_fd);       /* zones change one at a time */
        if (r < 0)
                return log_error_errno(r, "Failed to lock zone %s: %m", c->network_zone);
        return 0;
}

static int allocate_zone_address(const SpawnConfig *c, const NetworkPool *pool, HostNetwork *n) {
        _cleanup_close_ int zfd = -EBADF;
        int r;

        r = lock_zone(c, &zfd);
        if (r < 0)
                return r;
        r = zone_subnet(c, pool, &n->subnet);
        if (r < 0)
                return r;
        n->prefixlen = 24;
        n->gateway.s_addr = htonl(ntohl(n->subnet.s_addr) + 1);
        for (uint32_t k = 2; k < 255; k++) {
                char path[160];

                n->address.s_addr = htonl(ntohl(n->subnet.s_addr) + k);
                snprintf(path, sizeof(path), NET_DIR "/zone-%s-address-%u.lock", c->network_zone, k);
                r = lock_path(path, false, &n->address_lock);
                if (r == -EBUSY)
                        continue;
                if (r < 0)
                        return log_error_errno(r, "Failed to lock %s: %m", path);
                n->address_lock_path = strdup(path);
                return n->address_lock_path ? 0 : log_oom();
        }
        return log_error_errno(SYNTHETIC_ERRNO(EADDRNOTAVAIL), "Zone %s is full.", c->network_zone);
}

/* The host links named by --network-bridge=, --network-interface=, --network-macvlan=,
 * --network-ipvlan= must exist, and the veth-extra names must be free. */
static int host_network_check_links(const SpawnConfig *c, HostNetwork *n) {
        _cleanup_(rtnl_closep) Rtnl *rtnl = NULL;
        int r;

        if (!c->network_bridge && !c->network_interfaces && !c->network_macvlan && !c->network_ipvlan &&
            !c->network_veth_extra)
                return 0;
        r = rtnl_open(&rtnl);
        if (r < 0)
                return log_error_errno(r, "Failed to open a netlink socket: %m");
        if (c->network_bridge && rtnl_link_index(rtnl, c->network_bridge) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(ENODEV), "Unknown bridge '%s'.", c->network_bridge);
        for (char **l = c->network_interfaces; l && *l; l++)
                if (rtnl_link_index(rtnl, *l) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(ENODEV), "Unknown network interface '%s'.", *l);
        for (char **l = c->network_macvlan; l && *l; l++)
                if (rtnl_link_index(rtnl, *l) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(ENODEV), "Unknown network interface '%s'.", *l);
        for (char **l = c->network_ipvlan; l && *l; l++)
                if (rtnl_link_index(rtnl, *l) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(ENODEV), "Unknown network interface '%s'.", *l);
        for (char **l = c->network_veth_extra; l && *l; l++) {
                _cleanup_free_ char *host = strndup(*l, strcspn(*l, ":"));
                if (host && rtnl_link_index(rtnl, host) > 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EEXIST), "Network interface '%s' exists already.", host);
        }
        if (c->network_bridge) {
                r = ifname_for_machine("vb-", c->machine, n->host_ifname);
                if (r < 0)
                        return log_error_errno(r, "Cannot derive interface names for machine '%s': %m", c->machine);
        }
        if (c->network_interfaces) {
                n->host_netns = open("/proc/self/ns/net", O_RDONLY|O_CLOEXEC);
                if (n->host_netns < 0)
                        return log_error_errno(errno, "Failed to open our network namespace: %m");
        }
        return 0;
}

int host_network_prepare(const SpawnConfig *c, HostNetwork *n) {
        _cleanup_free_ char *mlock = NULL;
        NetworkPool pool;
        int r;

        r = host_network_check_links(c, n);
        if (r < 0 || (!c->network_veth && !c->network_zone))
                return r;

        r = pool_get(&pool);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_ports; i++) {
                r = check_port_free(&c->ports[i]);
                if (r < 0)
                        return log_error_errno(r, "Cannot forward %s port %u: %m",
                                               c->ports[i].protocol == IPPROTO_TCP ? "tcp" : "udp", c->ports[i].host_port);
        }

        if ((mkdir("/run/berth", 0755) < 0 && errno != EEXIST) || (mkdir(NET_DIR, 0755) < 0 && errno != EEXIST))
                return log_error_errno(errno, "Failed to create " NET_DIR ": %m");

        mlock = strjoin(NET_DIR "/machine-", c->machine, ".lock");
        if (!mlock)
                return log_oom();
        r = lock_path(mlock, false, &n->machine_lock);
        if (r == -EBUSY)
                return log_error_errno(r, "A machine named '%s' with networking is already running.", c->machine);
        if (r < 0)
                return log_error_errno(r, "Failed to lock %s: %m", mlock);

        host_network_remove_stale_rules();

        r = ifname_for_machine(c->network_zone ? "vb-" : "ve-", c->machine, n->host_ifname);
        if (r >= 0 && c->network_zone)
                r = ifname_for_machine("vz-", c->network_zone, n->bridge_ifname);
        if (r < 0)
                return log_error_errno(r, "Cannot derive interface names for machine '%s': %m", c->machine);

        return c->network_zone ? allocate_zone_address(c, &pool, n) : allocate_veth_subnet(&pool, n);
}

static int sysctl_write(const char *path, const char *value) {
        _cleanup_close_ int fd = open(path, O_WRONLY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return write_string_fd(fd, value);
}

static int zone_bridge(Rtnl *rtnl, HostNetwork *n) {
        int br, r;

        br = rtnl_link_index(rtnl, n->bridge_ifname);
        if (br > 0)
                return br;
        r = rtnl_bridge_create(rtnl, n->bridge_ifname);
        if (r < 0 && r != -EEXIST)
                return log_error_errno(r, "Failed to create bridge %s: %m", n->bridge_ifname);
        br = rtnl_link_index(rtnl, n->bridge_ifname);
        if (br < 0)
                return log_error_errno(br, "Bridge %s vanished: %m", n->bridge_ifname);
        r = rtnl_addr_add(rtnl, br, AF_INET, &n->gateway, n->prefixlen);
        if (r >= 0 || r == -EEXIST)
                r = rtnl_link_set_up(rtnl, br, true);
        if (r < 0)
                return log_error_errno(r, "Failed to configure bridge %s: %m", n->bridge_ifname);
        return br;
}

static int link_set_mac(Rtnl *rtnl, int ifindex, const uint8_t mac[static 6]) {
        char buf[256];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifi;

        nlh->nlmsg_type = RTM_SETLINK;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

/* host0 lives in the machine's namespace, and a netlink socket in the namespace it was
 * created in: make one there. host0 is still down, so the MAC may change. */
static int host0_set_mac(HostNetwork *n, int netns) {
        _cleanup_(rtnl_closep) Rtnl *inside = NULL;
        _cleanup_close_ int self = -EBADF;
        int r, idx;

        self = open("/proc/self/ns/net", O_RDONLY|O_CLOEXEC);
        if (self < 0)
                return log_error_errno(errno, "Failed to open our network namespace: %m");
        if (setns(netns, CLONE_NEWNET) < 0)
                return log_error_errno(errno, "Failed to enter the machine's network namespace: %m");
        r = rtnl_open(&inside);
        if (setns(self, CLONE_NEWNET) < 0)
                return log_error_errno(errno, "Failed to return to our network namespace: %m");
        if (r < 0)
                return log_error_errno(r, "Failed to open a netlink socket in the machine: %m");
        idx = rtnl_link_index(inside, "host0");
        r = idx < 0 ? idx : link_set_mac(inside, idx, n->host0_mac);
        if (r < 0)
                return log_error_errno(r, "Failed to set the MAC address of host0: %m");
        return 0;
}

/* host0 and its host end: ve-NAME, vb-NAME (zone or --network-bridge=). */
static int host0_create(const SpawnConfig *c, Rtnl *rtnl, HostNetwork *n, int netns) {
        _cleanup_free_ char *altname = NULL;
        int r, host;

        /* long names are shortened; the full one stays reachable as an altname */
        altname = strjoin(c->network_veth ? "ve-" : "vb-", c->machine);
        if (!altname)
                return log_oom();
        r = rtnl_veth_create(rtnl, n->host_ifname, "host0", netns,
                             !streq(altname, n->host_ifname) && altifname_valid(altname) ? altname : NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to create the veth link %s: %m", n->host_ifname);
        host = rtnl_link_index(rtnl, n->host_ifname);
        if (host < 0)
                return log_error_errno(host, "The veth link %s vanished: %m", n->host_ifname);
        n->host_ifindex = host;
        network_host0_mac(c->machine, n->host0_mac);
        r = host0_set_mac(n, netns);
        if (r < 0)
                return r;
        return host;
}

/* --network-interface=, --network-macvlan=, --network-ipvlan=, --network-veth-extra= */
static int extra_links_create(const SpawnConfig *c, Rtnl *rtnl, int netns) {
        char name[IFNAMSIZ];
        int r, idx;

        STRV_FOREACH(l, c->network_interfaces) {
                idx = rtnl_link_index(rtnl, *l);
                r = idx < 0 ? idx : rtnl_link_move_netns(rtnl, idx, netns, NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to move %s into the machine: %m", *l);
        }
        for (int ip = 0; ip < 2; ip++)          /* macvlan, then ipvlan */
                STRV_FOREACH(l, ip ? c->network_ipvlan : c->network_macvlan) {
                        snprintf(name, sizeof(name), "%s-%s", ip ? "iv" : "mv", *l);
                        idx = rtnl_link_index(rtnl, *l);
                        r = idx < 0 ? idx : (ip ? rtnl_ipvlan_create : rtnl_macvlan_create)(rtnl, name, idx, netns);
                        if (r < 0)
                                return log_error_errno(r, "Failed to create %s %s on %s: %m",
                                                       ip ? "ipvlan" : "macvlan", name, *l);
                }
        STRV_FOREACH(l, c->network_veth_extra) {
                _cleanup_free_ char *host = strndup(*l, strcspn(*l, ":"));
                const char *inside = strchr(*l, ':') + 1;

                if (!host)
                        return log_oom();
                r = rtnl_veth_create(rtnl, host, inside, netns, NULL);
                if (r >= 0)
                        r = idx = rtnl_link_index(rtnl, host);
                if (r >= 0)
                        r = rtnl_link_set_up(rtnl, idx, true);
                if (r < 0)
                        return log_error_errno(r, "Failed to create the extra veth link %s: %m", host);
        }
        return 0;
}

/* Links moved in with --network-interface= go back to where they came from (the
 * kernel would hand physical ones to the initial namespace, and destroy virtual ones). */
static void interfaces_give_back(const SpawnConfig *c, HostNetwork *n) {
        _cleanup_(rtnl_closep) Rtnl *inside = NULL;
        int r;

        if (n->machine_netns < 0 || n->host_netns < 0)
                return;
        /* a netlink socket lives in the namespace it was created in */
        if (setns(n->machine_netns, CLONE_NEWNET) < 0)
                return (void) log_warning_errno(errno, "Failed to enter the machine's network namespace: %m");
        r = rtnl_open(&inside);
        if (setns(n->host_netns, CLONE_NEWNET) < 0)
                log_error_errno(errno, "Failed to return to our network namespace: %m");
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to open a netlink socket in the machine: %m");
        STRV_FOREACH(l, c->network_interfaces) {
                int idx = rtnl_link_index(inside, *l);
                r = idx < 0 ? idx : rtnl_link_move_netns(inside, idx, n->host_netns, NULL);
                if (r < 0)
                        log_warning_errno(r, "Failed to give %s back to the host: %m", *l);
        }
}

/* Served always, not only with --boot: a payload running udhcpc or dhclient gets its
 * address too, and a machine that does not ask costs one idle socket. */
static int dhcp_start(HostNetwork *n) {
        _cleanup_free_ char *resolv = NULL;
        _cleanup_close_ int fd = -EBADF;
        DhcpLease lease = {
                .server = n->gateway,
                .router = n->gateway,
                .address = n->address,
                .prefixlen = n->prefixlen,
                .lease_seconds = DHCP_LEASE_SECONDS,
        };
        int r;

        fd = open("/etc/resolv.conf", O_RDONLY|O_CLOEXEC);
        if (fd >= 0 && read_full_fd(fd, 64 * 1024, &resolv, NULL) >= 0)
                lease.n_dns = dhcp_dns_from_resolv_conf(resolv, lease.dns);

        r = dhcp_server_new(n->host_ifindex, n->host_ifname, n->host0_mac, &lease, &n->dhcp);
        if (r < 0)
                return log_error_errno(r, "Failed to start the DHCP server on %s: %m", n->host_ifname);
        return 0;
}

int host_network_poll_fd(const HostNetwork *n) {
        return n ? dhcp_server_fd(n->dhcp) : -EBADF;
}

void host_network_dispatch(HostNetwork *n) {
        if (n)
                dhcp_server_dispatch(n->dhcp);
}

/* After a reboot in place: the last boot's network namespace is torn down asynchronously,
 * and its veth pairs with it, so their host ends may still be there for a while. They are
 * ours (the names come from the machine name, whose lock we hold): delete them. */
static void last_boot_links_delete(const SpawnConfig *c, Rtnl *rtnl, HostNetwork *n) {
        int idx;

        if (!n->links_created)
                return;
        n->links_created = false;
        idx = n->host_ifname[0] ? rtnl_link_index(rtnl, n->host_ifname) : -ENODEV;
        if (idx > 0)
                (void) rtnl_link_delete(rtnl, idx);
        STRV_FOREACH(l, c->network_veth_extra) {
                _cleanup_free_ char *name = strndup(*l, strcspn(*l, ":"));

                idx = name ? rtnl_link_index(rtnl, name) : -ENOMEM;
                if (idx > 0)
                        (void) rtnl_link_delete(rtnl, idx);
        }
}

int host_network_setup(const SpawnConfig *c, HostNetwork *n, pid_t pid, char ret_config[static 64]) {
        _cleanup_(rtnl_closep) Rtnl *rtnl = NULL;
        _cleanup_close_ int netns = -EBADF;
        char path[64], a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
        int r, host;

        ret_config[0] = 0;
        n->dhcp = dhcp_server_free(n->dhcp);    /* of the last boot's link */
        /* after a reboot in place: the links of the last boot's namespace come back first */
        interfaces_give_back(c, n);
        n->machine_netns = safe_close(n->machine_netns);

        snprintf(path, sizeof(path), "/proc/%i/ns/net", (int) pid);
        netns = open(path, O_RDONLY|O_CLOEXEC);
        if (netns < 0)
                return log_error_errno(errno, "Failed to open the machine's network namespace: %m");

        r = rtnl_open(&rtnl);
        if (r < 0)
                return log_error_errno(r, "Failed to open a netlink socket: %m");

        last_boot_links_delete(c, rtnl, n);
        n->links_created = true;
        r = extra_links_create(c, rtnl, netns);
        if (r < 0)
                return r;
        if (c->network_interfaces)
                n->machine_netns = fcntl(netns, F_DUPFD_CLOEXEC, 3);   /* to give them back */

        if (c->network_bridge) {
                int br = rtnl_link_index(rtnl, c->network_bridge);

                host = host0_create(c, rtnl, n, netns);
                if (host < 0)
                        return host;
                r = br < 0 ? br : rtnl_link_set_master(rtnl, host, br);
                if (r >= 0)
                        r = rtnl_link_set_up(rtnl, host, true);
                if (r < 0)
                        return log_error_errno(r, "Failed to attach %s to bridge %s: %m", n->host_ifname, c->network_bridge);
                return 0;     /* addresses are the bridge owner's business */
        }
        if (!c->network_veth && !c->network_zone)
                return 0;

        host = host0_create(c, rtnl, n, netns);
        if (host < 0)
                return host;

        if (c->network_zone) {
                _cleanup_close_ int zfd = -EBADF;
                int br;

                r = lock_zone(c, &zfd);
                if (r < 0)
                        return r;
                br = zone_bridge(rtnl, n);
                if (br < 0)
                        return br;
                r = rtnl_link_set_master(rtnl, host, br);
        } else
                r = rtnl_addr_add(rtnl, host, AF_INET, &n->gateway, n->prefixlen);
        if (r >= 0)
                r = rtnl_link_set_up(rtnl, host, true);
        if (r < 0)
                return log_error_errno(r, "Failed to configure %s: %m", n->host_ifname);

        /* IPv4 decides on forwarding by the incoming interface, so replies arriving on the
         * uplink need it too: like systemd-networkd's IPMasquerade=, turn on ip_forward. */
        r = sysctl_write("/proc/sys/net/ipv4/ip_forward", "1");
        if (r < 0)
                log_warning_errno(r, "Failed to enable IPv4 forwarding, the machine may not reach beyond the host: %m");

        (void) fw_remove_machine(c->machine);      /* after a reboot in place */
        n->firewall = true;
        r = fw_add_masquerade(c->machine, n->subnet, n->prefixlen);
        for (size_t i = 0; r >= 0 && i < c->n_ports; i++)
                r = fw_add_port_forward(c->machine, c->ports[i].protocol, c->ports[i].host_port, n->address,
                                        c->ports[i].machine_port);
        if (r < 0)
                return log_error_errno(r, "Failed to add firewall rules for machine %s: %m", c->machine);

        r = dhcp_start(n);
        if (r < 0)
                return r;

        snprintf(ret_config, 64, "%s/%u %s", inet_ntop(AF_INET, &n->address, a, sizeof(a)), n->prefixlen,
                 inet_ntop(AF_INET, &n->gateway, g, sizeof(g)));
        return 0;
}

void host_network_teardown(const SpawnConfig *c, HostNetwork *n) {
        _cleanup_(rtnl_closep) Rtnl *rtnl = NULL;
        _cleanup_free_ char *mlock = NULL;
        pthread_t closer;
        bool closing;
        int r;

        /* its socket closes while the rules and links go */
        closing = dhcp_server_free_in_background(TAKE_PTR(n->dhcp), &closer);
        interfaces_give_back(c, n);
        n->machine_netns = safe_close(n->machine_netns);
        n->host_netns = safe_close(n->host_netns);
        /* the veth pairs go with the machine's namespace, but that is torn down
         * asynchronously: delete the host ends now */
        if ((c->network_bridge || c->network_veth_extra) && rtnl_open(&rtnl) >= 0) {
                int host = c->network_bridge ? rtnl_link_index(rtnl, n->host_ifname) : -ENODEV;
                if (host > 0)
                        (void) rtnl_link_delete(rtnl, host);
                STRV_FOREACH(l, c->network_veth_extra) {
                        _cleanup_free_ char *name = strndup(*l, strcspn(*l, ":"));
                        int idx = name ? rtnl_link_index(rtnl, name) : -ENOMEM;
                        if (idx > 0)
                                (void) rtnl_link_delete(rtnl, idx);
                }
                rtnl = rtnl_close(rtnl);
        }
        if (n->machine_lock < 0)
                goto finish;

        if (n->firewall) {
                r = fw_remove_machine(c->machine);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove the firewall rules of machine %s: %m", c->machine);
        }

        if (rtnl_open(&rtnl) >= 0) {
                /* the veth pair normally went with the machine's network namespace */
                int host = rtnl_link_index(rtnl, n->host_ifname);
                if (host > 0)
                        (void) rtnl_link_delete(rtnl, host);

                if (c->network_zone) {
                        _cleanup_free_ char *state = strjoin(NET_DIR "/zone-", c->network_zone);
                        _cleanup_close_ int zfd = -EBADF;
                        int br = rtnl_link_index(rtnl, n->bridge_ifname);

                        /* the zone goes with its last machine */
                        if (state && lock_zone(c, &zfd) >= 0 && br > 0 && rtnl_link_count_slaves(rtnl, br) == 0) {
                                _cleanup_free_ char *zlock = strjoin(state, ".lock");

                                (void) rtnl_link_delete(rtnl, br);
                                (void) unlink(state);
                                if (zlock)
                                        (void) unlink(zlock);   /* waiters re-check the inode */
                        }
                }
        }

        if (n->address_lock_path)
                (void) unlink(n->address_lock_path);
        free(n->address_lock_path);
        safe_close(n->address_lock);
        mlock = strjoin(NET_DIR "/machine-", c->machine, ".lock");
        if (mlock)
                (void) unlink(mlock);
        safe_close(n->machine_lock);
        *n = (HostNetwork) HOST_NETWORK_NULL;
finish:
        if (closing)
                (void) pthread_join(closer, NULL);
}
