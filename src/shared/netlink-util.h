/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small rtnetlink client on top of libmnl, for the network setup of machines.
 *
 * All functions are non-logging: they return >= 0 on success and -errno on failure.
 * Errors reported by the kernel (NLMSG_ERROR) are passed through unchanged, e.g.
 * -EEXIST when a link of that name exists, -ENODEV for an unknown link, -EOPNOTSUPP
 * when the kernel lacks a link type (ipvlan, ...), -EPERM without CAP_NET_ADMIN.
 *
 * Network namespaces are always given as file descriptors (of /proc/PID/ns/net, of a
 * pidfd-derived namespace, ...); -1 means "the namespace of the Rtnl socket".
 *
 * An Rtnl is not thread-safe; use one per thread. */

#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

typedef struct Rtnl Rtnl;

/* Opens a NETLINK_ROUTE socket (SOCK_CLOEXEC) in the caller's network namespace. The
 * socket stays in that namespace even if the caller later calls setns(). */
int rtnl_open(Rtnl **ret);
Rtnl *rtnl_close(Rtnl *rtnl);
DEFINE_TRIVIAL_CLEANUP_FUNC(Rtnl *, rtnl_close);
#define _cleanup_rtnl_close_ _cleanup_(rtnl_closep)

/* The kernel's extended-ack message of the last failed request ("" if none). Valid until
 * the next request on the same Rtnl. For the caller's log message only. */
const char *rtnl_last_error_message(Rtnl *rtnl);

/* Sends one request (nlmsg_seq, NLM_F_REQUEST and NLM_F_ACK are filled in) and reads
 * replies until the kernel's ack, error or (for NLM_F_DUMP requests) NLMSG_DONE. Replies
 * to earlier requests are skipped; every other reply is passed to cb (may be NULL). A
 * negative cb result is returned once the replies are drained. EINTR is retried.
 * Returns 0 or the kernel's -errno; for dumps also -EAGAIN if the dump was inconsistent
 * (NLM_F_DUMP_INTR) and -ENOBUFS if replies were lost: the caller may retry. */
typedef int (*rtnl_message_handler_t)(const struct nlmsghdr *nlh, void *userdata);
int rtnl_call(Rtnl *rtnl, struct nlmsghdr *nlh, rtnl_message_handler_t cb, void *userdata);

/* Interface names. The kernel accepts 1..15 bytes, not "." or "..", without '/', ':' or
 * whitespace; we also refuse '%' (a pattern for the kernel) and non-ASCII bytes. */
bool ifname_valid(const char *name) _pure_;
/* Alternative names (IFLA_ALT_IFNAME): same characters, 1..127 bytes. */
bool altifname_valid(const char *name) _pure_;

/* Host-side interface names of a machine, as "<prefix><machine>" ("ve-", "vb-", "vz-"...).
 *
 * If that fits into IFNAMSIZ-1 (15) bytes it is used as is. Otherwise it is shortened
 * deterministically to exactly 15 bytes:
 *
 *         <prefix><first 15 - strlen(prefix) - 6 bytes of machine><6 hex digits>
 *
 * where the hex digits are the 32-bit FNV-1a hash of the full machine name, xor-folded to
 * 24 bits (h ^ h >> 24) & 0xffffff, lower case, zero-padded. E.g. "ve-" +
 * "a-very-long-machine-name" -> "ve-a-very" + 6 hex digits. Two long names that share
 * their start thus still differ (a collision needs equal 24-bit hashes, ~1 in 16
 * million per pair). The suffix depends on the machine name only, so one machine's
 * "ve-…" and "vb-…" names share it.
 *
 * prefix may be "" and must consist of interface name characters; when shortening is
 * needed it may be at most 8 bytes. machine must be non-empty and consist of interface
 * name characters (see ifname_valid()); the result is never "." or "..".
 * Returns 0, or -EINVAL. */
#define IFNAME_HASH_DIGITS 6
int ifname_for_machine(const char *prefix, const char *machine, char ret[static IFNAMSIZ]);

/* Links. Returns the ifindex (> 0) of a link by name (or altname), -ENODEV if none. */
int rtnl_link_index(Rtnl *rtnl, const char *name);

/* Creates a veth pair host_name <-> peer_name. If peer_netns_fd >= 0 the peer is created
 * directly in that network namespace. If host_altname is non-NULL it is added as an
 * alternative name of the host end; a kernel that refuses it (too old: -EOPNOTSUPP, or
 * the name is taken: -EEXIST) does not fail the call. Both links are left down.
 * Returns 0 if everything was done, RTNL_VETH_NO_ALTNAME (> 0) if the veth pair exists but
 * the altname could not be added (call rtnl_link_add_altname() for the error), or -errno
 * (then nothing was created; -EEXIST if either name is taken). */
#define RTNL_VETH_NO_ALTNAME 1
int rtnl_veth_create(Rtnl *rtnl, const char *host_name, const char *peer_name,
                     int peer_netns_fd, const char *host_altname);

/* Adds an alternative name (RTM_NEWLINKPROP, IFLA_PROP_LIST/IFLA_ALT_IFNAME). */
int rtnl_link_add_altname(Rtnl *rtnl, int ifindex, const char *altname);

/* Creates a bridge (left down). -EEXIST if a link of that name exists. */
int rtnl_bridge_create(Rtnl *rtnl, const char *name);

/* Enslaves ifindex to master_ifindex (0: release it from its master). */
int rtnl_link_set_master(Rtnl *rtnl, int ifindex, int master_ifindex);
int rtnl_link_set_up(Rtnl *rtnl, int ifindex, bool up);
int rtnl_link_delete(Rtnl *rtnl, int ifindex);

/* Number of links (>= 0) whose IFLA_MASTER is bridge_ifindex. */
int rtnl_link_count_slaves(Rtnl *rtnl, int bridge_ifindex);

/* Moves a link into another network namespace, renaming it there if new_name != NULL (one
 * request). Note the kernel's order: it moves the link first (under its old name if that is
 * free in the target, else under new_name) and renames it afterwards; if new_name is taken
 * in the target, the link ends up there under its old name and -EEXIST is returned. */
int rtnl_link_move_netns(Rtnl *rtnl, int ifindex, int netns_fd, const char *new_name);

/* Creates a macvlan (mode bridge) / ipvlan (mode L2) link on parent_ifindex, directly in
 * netns_fd's namespace if netns_fd >= 0. -EOPNOTSUPP if the kernel lacks the type. */
int rtnl_macvlan_create(Rtnl *rtnl, const char *name, int parent_ifindex, int netns_fd);
int rtnl_ipvlan_create(Rtnl *rtnl, const char *name, int parent_ifindex, int netns_fd);

/* Addresses and routes. addr points to a struct in_addr (AF_INET) or struct in6_addr
 * (AF_INET6), in network byte order. IPv4 addresses get the subnet's broadcast address
 * (except for /31 and /32). -EEXIST if the address is already there. */
int rtnl_addr_add(Rtnl *rtnl, int ifindex, int family, const void *addr, unsigned prefixlen);

/* Adds a default route via gateway on ifindex (main table, protocol "boot"). gateway ==
 * NULL adds a link-scope default route. -EEXIST if there is one already. */
int rtnl_route_add_default(Rtnl *rtnl, int family, const void *gateway, int ifindex);

typedef union RtnlInAddr {
        struct in_addr in;
        struct in6_addr in6;
} RtnlInAddr;

typedef struct RtnlAddress {
        int ifindex;
        int family;             /* AF_INET or AF_INET6 */
        unsigned prefixlen;
        unsigned char scope;    /* RT_SCOPE_* */
        uint32_t flags;         /* IFA_F_* */
        RtnlInAddr address;     /* the local address */
        char label[IFNAMSIZ];   /* IPv4 label, "" if none */
} RtnlAddress;

/* Called once per address; a negative result stops the iteration and is returned. The
 * callback may use the same Rtnl (the dump is complete before it is called). */
typedef int (*rtnl_addr_handler_t)(const RtnlAddress *a, void *userdata);

/* Lists the addresses of ifindex (0: of all links) of family (AF_UNSPEC: IPv4 and IPv6).
 * Returns the number of addresses passed to cb (cb may be NULL: just count). */
int rtnl_addr_list(Rtnl *rtnl, int ifindex, int family, rtnl_addr_handler_t cb, void *userdata);
