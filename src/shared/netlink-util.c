/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "hash-util.h"
#include "netlink-util.h"

#ifndef ALTIFNAMSIZ
#define ALTIFNAMSIZ 128         /* linux/if.h, which clashes with net/if.h */
#endif

/* Requests are small: names are at most 15 (altnames 127) bytes, plus fixed headers. */
#define RTNL_REQUEST_SIZE 1024
/* Replies: dumps fill up to 32 KiB per datagram on large-page systems. */
#define RTNL_RECV_SIZE (32U * 1024U)
/* After the kernel reported lost messages (ENOBUFS), wait at most this long for more. */
#define RTNL_LOST_TIMEOUT_MS 1000
#define RTNL_DUMP_ATTEMPTS 3

struct Rtnl {
        struct mnl_socket *nl;
        uint32_t portid;
        uint32_t seq;
        char error_message[256];
        char buf[RTNL_RECV_SIZE] __attribute__((__aligned__(NLMSG_ALIGNTO)));
};

typedef struct RtnlRequest {
        char buf[RTNL_REQUEST_SIZE] __attribute__((__aligned__(NLMSG_ALIGNTO)));
} RtnlRequest;

/* ------------------------------------------------------------------------------ names */

static bool ifname_char_valid(char c) {
        /* printable ASCII without space; '/' and ':' are refused by the kernel, '%' would
         * be taken as a "%d" pattern */
        return c > ' ' && c < 0x7f && c != '/' && c != ':' && c != '%';
}

static bool name_valid(const char *name, size_t max) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n == 0 || n > max)
                return false;
        if (streq(name, ".") || streq(name, ".."))
                return false;
        for (const char *p = name; *p; p++)
                if (!ifname_char_valid(*p))
                        return false;
        return true;
}

bool ifname_valid(const char *name) {
        return name_valid(name, IFNAMSIZ - 1);
}

bool altifname_valid(const char *name) {
        return name_valid(name, ALTIFNAMSIZ - 1);
}

int ifname_for_machine(const char *prefix, const char *machine, char ret[static IFNAMSIZ]) {
        size_t lp, lm, keep;
        uint32_t h;

        assert(prefix);
        assert(machine);
        assert(ret);

        for (const char *p = prefix; *p; p++)
                if (!ifname_char_valid(*p))
                        return -EINVAL;
        if (!*machine)
                return -EINVAL;
        for (const char *p = machine; *p; p++)
                if (!ifname_char_valid(*p))
                        return -EINVAL;

        lp = strlen(prefix);
        lm = strlen(machine);
        if (lp + lm <= IFNAMSIZ - 1) {
                char buf[IFNAMSIZ];

                memcpy(buf, prefix, lp);
                memcpy(buf + lp, machine, lm + 1);
                if (!ifname_valid(buf))         /* "." or ".." with an empty prefix */
                        return -EINVAL;
                memcpy(ret, buf, IFNAMSIZ);
                return 0;
        }

        /* at least one character of the machine name is kept */
        if (lp + 1 + IFNAME_HASH_DIGITS > IFNAMSIZ - 1)
                return -EINVAL;
        keep = IFNAMSIZ - 1 - lp - IFNAME_HASH_DIGITS;

        h = fnv1a32_str(FNV1A32_INIT, machine);
        h = (h ^ (h >> 24)) & 0xffffffU;
        memcpy(ret, prefix, lp);
        memcpy(ret + lp, machine, keep);
        snprintf(ret + lp + keep, IFNAME_HASH_DIGITS + 1, "%06x", (unsigned) h);
        assert(strlen(ret) == IFNAMSIZ - 1);
        return 0;
}

/* ----------------------------------------------------------------------- the socket */

int rtnl_open(Rtnl **ret) {
        _cleanup_rtnl_close_ Rtnl *rtnl = NULL;
        struct timespec ts;
        int one = 1;

        assert(ret);

        rtnl = calloc(1, sizeof(Rtnl));
        if (!rtnl)
                return -ENOMEM;

        rtnl->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!rtnl->nl)
                return negative_errno();

        /* Optional: short acks and the kernel's error text; old kernels lack them. */
        (void) mnl_socket_setsockopt(rtnl->nl, NETLINK_CAP_ACK, &one, sizeof(one));
        (void) mnl_socket_setsockopt(rtnl->nl, NETLINK_EXT_ACK, &one, sizeof(one));

        if (mnl_socket_bind(rtnl->nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return negative_errno();

        rtnl->portid = mnl_socket_get_portid(rtnl->nl);
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        rtnl->seq = (uint32_t) ts.tv_nsec ^ (uint32_t) ts.tv_sec;

        *ret = TAKE_PTR(rtnl);
        return 0;
}

Rtnl *rtnl_close(Rtnl *rtnl) {
        if (!rtnl)
                return NULL;
        if (rtnl->nl)
                (void) mnl_socket_close(rtnl->nl);
        free(rtnl);
        return NULL;
}

const char *rtnl_last_error_message(Rtnl *rtnl) {
        assert(rtnl);
        return rtnl->error_message;
}

static int ext_ack_attr_cb(const struct nlattr *attr, void *userdata) {
        Rtnl *rtnl = userdata;

        if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG)
                return MNL_CB_OK;
        if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
                return MNL_CB_OK;
        snprintf(rtnl->error_message, sizeof(rtnl->error_message), "%s", mnl_attr_get_str(attr));
        return MNL_CB_STOP;
}

/* The TLVs after an NLMSG_ERROR/NLMSG_DONE payload of 'offset' bytes. */
static void parse_ext_ack(Rtnl *rtnl, const struct nlmsghdr *nlh, size_t offset) {
        if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
                return;
        if (offset > mnl_nlmsg_get_payload_len(nlh))
                return;
        (void) mnl_attr_parse(nlh, (unsigned) offset, ext_ack_attr_cb, rtnl);
}

/* Returns 1 when the reply to our request is complete, 0 to continue reading, with the
 * kernel's or cb's result in *result. */
static int process_message(Rtnl *rtnl, const struct nlmsghdr *nlh, uint32_t seq,
                           rtnl_message_handler_t cb, void *userdata, int *result, bool *intr) {
        size_t plen = mnl_nlmsg_get_payload_len(nlh);

        if (nlh->nlmsg_seq != seq || (nlh->nlmsg_pid != rtnl->portid && nlh->nlmsg_pid != 0))
                return 0;       /* stale reply to an earlier, aborted request */
        if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
                *intr = true;

        switch (nlh->nlmsg_type) {
        case NLMSG_NOOP:
        case NLMSG_OVERRUN:
                return 0;

        case NLMSG_ERROR: {
                const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
                size_t offset;

                if (plen < sizeof(struct nlmsgerr)) {
                        *result = -EBADMSG;
                        return 1;
                }
                if (e->error > 0 || e->error < -4095) {
                        *result = -EBADMSG;
                        return 1;
                }
                offset = sizeof(struct nlmsgerr);
                if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= sizeof(struct nlmsghdr))
                        offset += NLMSG_ALIGN(e->msg.nlmsg_len - sizeof(struct nlmsghdr));
                if (e->error < 0)
                        parse_ext_ack(rtnl, nlh, offset);
                if (*result >= 0)
                        *result = e->error;
                return 1;
        }

        case NLMSG_DONE:
                if (plen >= sizeof(int)) {
                        int error = *(const int *) mnl_nlmsg_get_payload(nlh);

                        if (error < 0) {
                                parse_ext_ack(rtnl, nlh, sizeof(int));
                                if (*result >= 0)
                                        *result = error < -4095 ? -EBADMSG : error;
                        }
                }
                return 1;

        default:
                if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
                        return 0;
                if (cb && *result >= 0) {
                        int r = cb(nlh, userdata);
                        if (r < 0)
                                *result = r;    /* keep draining, so no reply is left behind */
                }
                return 0;
        }
}

static int rtnl_send(Rtnl *rtnl, const struct nlmsghdr *nlh) {
        for (;;) {
                ssize_t n = mnl_socket_sendto(rtnl->nl, nlh, nlh->nlmsg_len);
                if (n >= 0)
                        return n == (ssize_t) nlh->nlmsg_len ? 0 : -EIO;
                if (errno != EINTR)
                        return negative_errno();
        }
}

/* Reads one datagram. With lost set, gives up after RTNL_LOST_TIMEOUT_MS. */
static ssize_t rtnl_recv(Rtnl *rtnl, bool lost) {
        for (;;) {
                ssize_t n;

                if (lost) {
                        struct pollfd p = { .fd = mnl_socket_get_fd(rtnl->nl), .events = POLLIN };
                        int k = poll(&p, 1, RTNL_LOST_TIMEOUT_MS);
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                return negative_errno();
                        }
                        if (k == 0)
                                return -ETIMEDOUT;
                }

                n = mnl_socket_recvfrom(rtnl->nl, rtnl->buf, sizeof(rtnl->buf));
                if (n >= 0)
                        return n;
                if (errno != EINTR)
                        return negative_errno();
        }
}

int rtnl_call(Rtnl *rtnl, struct nlmsghdr *nlh, rtnl_message_handler_t cb, void *userdata) {
        bool dump, lost = false, intr = false;
        int result = 0, r;
        uint32_t seq;

        assert(rtnl);
        assert(nlh);

        dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
        seq = ++rtnl->seq;
        if (seq == 0)   /* 0 is what the kernel uses for notifications */
                seq = ++rtnl->seq;
        nlh->nlmsg_seq = seq;
        nlh->nlmsg_pid = 0;
        nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
        rtnl->error_message[0] = 0;

        r = rtnl_send(rtnl, nlh);
        if (r < 0)
                return r;

        for (;;) {
                ssize_t n = rtnl_recv(rtnl, lost);
                int done = 0;

                if (n == -ENOBUFS) {
                        /* The socket overflowed and replies were dropped: keep reading
                         * what is still queued, but do not wait for a reply that may be
                         * gone for good. */
                        lost = true;
                        continue;
                }
                if (n == -ETIMEDOUT && lost)
                        return -ENOBUFS;
                if (n < 0)
                        return (int) n;

                int len = (int) n;      /* n <= RTNL_RECV_SIZE */
                for (const struct nlmsghdr *m = (const struct nlmsghdr *) rtnl->buf;
                     mnl_nlmsg_ok(m, len);
                     m = mnl_nlmsg_next(m, &len)) {
                        done = process_message(rtnl, m, seq, cb, userdata, &result, &intr);
                        if (done)
                                break;
                }
                if (done)
                        break;
        }

        if (result < 0)
                return result;
        if (dump && lost)
                return -ENOBUFS;
        if (dump && intr)
                return -EAGAIN;
        return 0;
}

/* Runs a dump, retrying it from scratch (after reset()) when it was inconsistent. */
static int rtnl_dump(Rtnl *rtnl, struct nlmsghdr *nlh, rtnl_message_handler_t cb,
                     void (*reset)(void *userdata), void *userdata) {
        int r = -EAGAIN;

        for (unsigned i = 0; i < RTNL_DUMP_ATTEMPTS; i++) {
                if (reset)
                        reset(userdata);
                r = rtnl_call(rtnl, nlh, cb, userdata);
                if (r != -EAGAIN && r != -ENOBUFS)
                        return r;
        }
        return r == -ENOBUFS ? -ENOBUFS : -EAGAIN;
}

/* ------------------------------------------------------------------------- messages */

static struct nlmsghdr *message_new(RtnlRequest *req, uint16_t type, uint16_t flags) {
        struct nlmsghdr *nlh;

        memset(req->buf, 0, sizeof(req->buf));
        nlh = mnl_nlmsg_put_header(req->buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        return nlh;
}

static struct nlmsghdr *link_message_new(RtnlRequest *req, uint16_t type, uint16_t flags, int ifindex) {
        struct nlmsghdr *nlh = message_new(req, type, flags);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));

        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        return nlh;
}

typedef struct AttrTable {
        const struct nlattr **tb;
        unsigned max;
} AttrTable;

static int attr_table_cb(const struct nlattr *attr, void *userdata) {
        AttrTable *t = userdata;
        unsigned type = mnl_attr_get_type(attr);

        if (type <= t->max)
                t->tb[type] = attr;
        return MNL_CB_OK;
}

/* Collects the attributes after a fixed header of hdrlen bytes; lengths are checked by the
 * users of each attribute. */
static int parse_attrs(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb, unsigned max) {
        AttrTable t = { .tb = tb, .max = max };

        memset(tb, 0, sizeof(tb[0]) * (max + 1));
        if (mnl_nlmsg_get_payload_len(nlh) < hdrlen)
                return -EBADMSG;
        if (mnl_attr_parse(nlh, (unsigned) hdrlen, attr_table_cb, &t) < 0)
                return -EBADMSG;
        return 0;
}

static int attr_get_u32(const struct nlattr *attr, uint32_t *ret) {
        if (!attr || mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
                return -EBADMSG;
        *ret = mnl_attr_get_u32(attr);
        return 0;
}

/* -------------------------------------------------------------------------- links */

static int link_index_cb(const struct nlmsghdr *nlh, void *userdata) {
        int *ifindex = userdata;
        const struct ifinfomsg *ifi;

        if (nlh->nlmsg_type != RTM_NEWLINK)
                return 0;
        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
                return -EBADMSG;
        ifi = mnl_nlmsg_get_payload(nlh);
        *ifindex = ifi->ifi_index;
        return 0;
}

int rtnl_link_index(Rtnl *rtnl, const char *name) {
        RtnlRequest req;
        struct nlmsghdr *nlh;
        int ifindex = 0, r;

        assert(rtnl);

        if (!altifname_valid(name))
                return -EINVAL;

        nlh = link_message_new(&req, RTM_GETLINK, 0, 0);
        /* IFLA_IFNAME also matches altnames, but is limited to IFNAMSIZ */
        mnl_attr_put_strz(nlh, strlen(name) < IFNAMSIZ ? IFLA_IFNAME : IFLA_ALT_IFNAME, name);
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);

        r = rtnl_call(rtnl, nlh, link_index_cb, &ifindex);
        if (r < 0)
                return r;
        if (ifindex <= 0)
                return -ENODEV;
        return ifindex;
}

int rtnl_link_add_altname(Rtnl *rtnl, int ifindex, const char *altname) {
        RtnlRequest req;
        struct nlmsghdr *nlh;
        struct nlattr *list;

        assert(rtnl);

        if (ifindex <= 0 || !altifname_valid(altname))
                return -EINVAL;

        nlh = link_message_new(&req, RTM_NEWLINKPROP, NLM_F_CREATE | NLM_F_EXCL, ifindex);
        list = mnl_attr_nest_start(nlh, IFLA_PROP_LIST);
        mnl_attr_put_strz(nlh, IFLA_ALT_IFNAME, altname);
        mnl_attr_nest_end(nlh, list);

        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int rtnl_veth_create(Rtnl *rtnl, const char *host_name, const char *peer_name,
                     int peer_netns_fd, const char *host_altname) {
        RtnlRequest req;
        struct nlmsghdr *nlh;
        struct nlattr *info, *data, *peer;
        struct ifinfomsg *pifi;
        int ifindex, r;

        assert(rtnl);

        if (!ifname_valid(host_name) || !ifname_valid(peer_name))
                return -EINVAL;
        if (host_altname && !altifname_valid(host_altname))
                return -EINVAL;

        nlh = link_message_new(&req, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name);
        info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
        /* the peer's attributes follow its own struct ifinfomsg */
        pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
        pifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
        if (peer_netns_fd >= 0)
                mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t) peer_netns_fd);
        mnl_attr_nest_end(nlh, peer);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, info);

        r = rtnl_call(rtnl, nlh, NULL, NULL);
        if (r < 0)
                return r;

        if (!host_altname)
                return 0;

        /* From here on the veth pair exists: an altname failure is reported, not fatal. */
        ifindex = rtnl_link_index(rtnl, host_name);
        if (ifindex < 0)
                return RTNL_VETH_NO_ALTNAME;
        r = rtnl_link_add_altname(rtnl, ifindex, host_altname);
        if (r < 0)
                return RTNL_VETH_NO_ALTNAME;
        return 0;
}

int rtnl_bridge_create(Rtnl *rtnl, const char *name) {
        RtnlRequest req;
        struct nlmsghdr *nlh;
        struct nlattr *info;

        assert(rtnl);

        if (!ifname_valid(name))
                return -EINVAL;

        nlh = link_message_new(&req, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
        mnl_attr_nest_end(nlh, info);

        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int rtnl_link_set_master(Rtnl *rtnl, int ifindex, int master_ifindex) {
        RtnlRequest req;
        struct nlmsghdr *nlh;

        assert(rtnl);

        if (ifindex <= 0 || master_ifindex < 0)
                return -EINVAL;

        nlh = link_message_new(&req, RTM_NEWLINK, 0, ifindex);
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t) master_ifindex);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int rtnl_link_set_up(Rtnl *rtnl, int ifindex, bool up) {
        RtnlRequest req;
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;

        assert(rtnl);

        if (ifindex <= 0)
                return -EINVAL;

        nlh = link_message_new(&req, RTM_NEWLINK, 0, ifindex);
        ifi = mnl_nlmsg_get_payload(nlh);
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = up ? IFF_UP : 0;
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int rtnl_link_delete(Rtnl *rtnl, int ifindex) {
        RtnlRequest req;

        assert(rtnl);

        if (ifindex <= 0)
                return -EINVAL;

        return rtnl_call(rtnl, link_message_new(&req, RTM_DELLINK, 0, ifindex), NULL, NULL);
}

typedef struct SlaveCount {
        int master;
        int count;
} SlaveCount;

static void slave_count_reset(void *userdata) {
        SlaveCount *c = userdata;

        c->count = 0;
}

static int slave_count_cb(const struct nlmsghdr *nlh, void *userdata) {
        SlaveCount *c = userdata;
        const struct nlattr *tb[IFLA_MAX + 1];
        uint32_t master;

        if (nlh->nlmsg_type != RTM_NEWLINK)
                return 0;
        if (parse_attrs(nlh, sizeof(struct ifinfomsg), tb, IFLA_MAX) < 0)
                return -EBADMSG;
        if (!tb[IFLA_MASTER])
                return 0;
        if (attr_get_u32(tb[IFLA_MASTER], &master) < 0)
                return -EBADMSG;
        if (master == (uint32_t) c->master)
                c->count++;
        return 0;
}

int rtnl_link_count_slaves(Rtnl *rtnl, int bridge_ifindex) {
        RtnlRequest req;
        struct nlmsghdr *nlh;
        SlaveCount c = { .master = bridge_ifindex };
        int r;

        assert(rtnl);

        if (bridge_ifindex <= 0)
                return -EINVAL;

        nlh = link_message_new(&req, RTM_GETLINK, NLM_F_DUMP, 0);
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        r = rtnl_dump(rtnl, nlh, slave_count_cb, slave_count_reset, &c);
        if (r < 0)
                return r;
        return c.count;
}

int rtnl_link_move_netns(Rtnl *rtnl, int ifindex, int netns_fd, const char *new_name) {
        RtnlRequest req;
        struct nlmsghdr *nlh;

        assert(rtnl);

        if (ifindex <= 0 || netns_fd < 0)
                return -EINVAL;
        if (new_name && !ifname_valid(new_name))
                return -EINVAL;

        nlh = link_message_new(&req, RTM_NEWLINK, 0, ifindex);
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t) netns_fd);
        if (new_name)
                mnl_attr_put_strz(nlh, IFLA_IFNAME, new_name);
        return rtnl_call(rtnl, nlh, NULL, NULL);
}

static int stacked_link_create(Rtnl *rtnl, const char *kind, const char *name, int parent_ifindex,
                               int netns_fd, uint16_t mode_attr, uint32_t mode, bool mode_u16) {
        RtnlRequest req;
        struct nlmsghdr *nlh;
        struct nlattr *info, *data;

        assert(rtnl);

        if (!ifname_valid(name) || parent_ifindex <= 0)
                return -EINVAL;

        nlh = link_message_new(&req, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        mnl_attr_put_u32(nlh, IFLA_LINK, (uint32_t) parent_ifindex);
        if (netns_fd >= 0)
                mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t) netns_fd);
        info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
        data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        if (mode_u16)
                mnl_attr_put_u16(nlh, mode_attr, (uint16_t) mode);
        else
                mnl_attr_put_u32(nlh, mode_attr, mode);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, info);

        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int rtnl_macvlan_create(Rtnl *rtnl, const char *name, int parent_ifindex, int netns_fd) {
        return stacked_link_create(rtnl, "macvlan", name, parent_ifindex, netns_fd,
                                   IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE, false);
}

int rtnl_ipvlan_create(Rtnl *rtnl, const char *name, int parent_ifindex, int netns_fd) {
        return stacked_link_create(rtnl, "ipvlan", name, parent_ifindex, netns_fd,
                                   IFLA_IPVLAN_MODE, IPVLAN_MODE_L2, true);
}

/* ---------------------------------------------------------------- addresses, routes */

static size_t family_address_size(int family) {
        switch (family) {
        case AF_INET:
                return sizeof(struct in_addr);
        case AF_INET6:
                return sizeof(struct in6_addr);
        default:
                return 0;
        }
}

int rtnl_addr_add(Rtnl *rtnl, int ifindex, int family, const void *addr, unsigned prefixlen) {
        RtnlRequest req;
        struct nlmsghdr *nlh;
        struct ifaddrmsg *ifa;
        size_t size = family_address_size(family);

        assert(rtnl);
        assert(addr);

        if (ifindex <= 0 || size == 0 || prefixlen > size * 8)
                return -EINVAL;

        nlh = message_new(&req, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg));
        ifa->ifa_family = (uint8_t) family;
        ifa->ifa_prefixlen = (uint8_t) prefixlen;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (uint32_t) ifindex;

        mnl_attr_put(nlh, IFA_LOCAL, size, addr);
        mnl_attr_put(nlh, IFA_ADDRESS, size, addr);

        if (family == AF_INET && prefixlen < 31) {
                struct in_addr a, b;
                uint32_t mask = prefixlen == 0 ? 0 : ~UINT32_C(0) << (32 - prefixlen);

                memcpy(&a, addr, sizeof(a));
                b.s_addr = a.s_addr | htonl(~mask);
                mnl_attr_put(nlh, IFA_BROADCAST, sizeof(b), &b);
        }

        return rtnl_call(rtnl, nlh, NULL, NULL);
}

int rtnl_route_add_default(Rtnl *rtnl, int family, const void *gateway, int ifindex) {
        RtnlRequest req;
        struct nlmsghdr *nlh;
        struct rtmsg *rtm;
        size_t size = family_address_size(family);

        assert(rtnl);

        if (size == 0 || ifindex <= 0)
                return -EINVAL;

        nlh = message_new(&req, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg));
        rtm->rtm_family = (uint8_t) family;
        rtm->rtm_dst_len = 0;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_BOOT;
        rtm->rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
        rtm->rtm_type = RTN_UNICAST;

        if (gateway)
                mnl_attr_put(nlh, RTA_GATEWAY, size, gateway);
        mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t) ifindex);

        return rtnl_call(rtnl, nlh, NULL, NULL);
}

typedef struct AddrList {
        int ifindex;
        int family;
        RtnlAddress *addrs;
        size_t n, allocated;
} AddrList;

static void addr_list_done(AddrList *l) {
        free(l->addrs);
}

static void addr_list_reset(void *userdata) {
        AddrList *l = userdata;

        l->n = 0;
}

static int addr_list_cb(const struct nlmsghdr *nlh, void *userdata) {
        AddrList *l = userdata;
        const struct nlattr *tb[IFA_MAX + 1], *a;
        const struct ifaddrmsg *ifa;
        RtnlAddress *e;
        size_t size;

        if (nlh->nlmsg_type != RTM_NEWADDR)
                return 0;
        if (parse_attrs(nlh, sizeof(struct ifaddrmsg), tb, IFA_MAX) < 0)
                return -EBADMSG;
        ifa = mnl_nlmsg_get_payload(nlh);

        size = family_address_size(ifa->ifa_family);
        if (size == 0)
                return 0;
        if (l->family != AF_UNSPEC && ifa->ifa_family != l->family)
                return 0;
        if (l->ifindex > 0 && ifa->ifa_index != (uint32_t) l->ifindex)
                return 0;

        /* IFA_LOCAL is the local address (IFA_ADDRESS is the peer's on point-to-point) */
        a = tb[IFA_LOCAL] ?: tb[IFA_ADDRESS];
        if (!a)
                return 0;
        if (mnl_attr_get_payload_len(a) != size)
                return -EBADMSG;

        if (l->n >= l->allocated) {
                size_t k = MAX(l->allocated * 2, (size_t) 8);
                RtnlAddress *p = reallocarray(l->addrs, k, sizeof(RtnlAddress));
                if (!p)
                        return -ENOMEM;
                l->addrs = p;
                l->allocated = k;
        }

        e = &l->addrs[l->n];
        *e = (RtnlAddress) {
                .ifindex = (int) ifa->ifa_index,
                .family = ifa->ifa_family,
                .prefixlen = ifa->ifa_prefixlen,
                .scope = ifa->ifa_scope,
                .flags = ifa->ifa_flags,
        };
        memcpy(&e->address, mnl_attr_get_payload(a), size);

        if (tb[IFA_FLAGS] && attr_get_u32(tb[IFA_FLAGS], &e->flags) < 0)
                return -EBADMSG;
        if (tb[IFA_LABEL]) {
                if (mnl_attr_validate(tb[IFA_LABEL], MNL_TYPE_NUL_STRING) < 0 ||
                    mnl_attr_get_payload_len(tb[IFA_LABEL]) > IFNAMSIZ)
                        return -EBADMSG;
                snprintf(e->label, sizeof(e->label), "%s", mnl_attr_get_str(tb[IFA_LABEL]));
        }

        l->n++;
        return 0;
}

int rtnl_addr_list(Rtnl *rtnl, int ifindex, int family, rtnl_addr_handler_t cb, void *userdata) {
        RtnlRequest req;
        struct nlmsghdr *nlh;
        struct ifaddrmsg *ifa;
        _cleanup_(addr_list_done) AddrList l = { .ifindex = ifindex, .family = family };
        int r;

        assert(rtnl);

        if (ifindex < 0 || !(family == AF_UNSPEC || family_address_size(family) > 0))
                return -EINVAL;

        nlh = message_new(&req, RTM_GETADDR, NLM_F_DUMP);
        ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifaddrmsg));
        ifa->ifa_family = (uint8_t) family;

        r = rtnl_dump(rtnl, nlh, addr_list_cb, addr_list_reset, &l);
        if (r < 0)
                return r;

        /* the dump is complete: the callback may use rtnl again */
        for (size_t i = 0; cb && i < l.n; i++) {
                r = cb(&l.addrs[i], userdata);
                if (r < 0)
                        return r;
        }
        return (int) l.n;
}
