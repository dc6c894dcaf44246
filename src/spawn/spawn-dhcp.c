/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fd-util.h"
#include "log.h"
#include "spawn-dhcp.h"
#include "string-util.h"

struct DhcpServer {
        int fd;
        int ifindex;
        char ifname[IFNAMSIZ];
        uint8_t mac[ETH_ALEN];
        DhcpLease lease;
        bool decline_logged;
};

/* Only IPv4/UDP to port 67, not fragmented, and not our own link's outgoing frames (other
 * machines' broadcasts that the zone bridge floods out through vb-NAME). Everything is
 * checked again in user space; this only spares us the wake-ups. The filter sees the
 * network header at offset 0 (SOCK_DGRAM). */
static const struct sock_filter dhcp_filter[] = {
        BPF_STMT(BPF_LD|BPF_W|BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),           /* 0 */
        BPF_JUMP(BPF_JMP|BPF_JEQ|BPF_K, PACKET_OUTGOING, 10, 0),               /* 1 -> 12 */
        BPF_STMT(BPF_LD|BPF_W|BPF_ABS, SKF_AD_OFF + SKF_AD_PROTOCOL),          /* 2 */
        BPF_JUMP(BPF_JMP|BPF_JEQ|BPF_K, ETH_P_IP, 0, 8),                       /* 3 -> 12 */
        BPF_STMT(BPF_LD|BPF_B|BPF_ABS, 9),                                     /* 4: protocol */
        BPF_JUMP(BPF_JMP|BPF_JEQ|BPF_K, IPPROTO_UDP, 0, 6),                    /* 5 -> 12 */
        BPF_STMT(BPF_LD|BPF_H|BPF_ABS, 6),                                     /* 6: frag */
        BPF_JUMP(BPF_JMP|BPF_JSET|BPF_K, 0x3fff, 4, 0),                        /* 7 -> 12 */
        BPF_STMT(BPF_LDX|BPF_B|BPF_MSH, 0),                                    /* 8: X = IHL */
        BPF_STMT(BPF_LD|BPF_H|BPF_IND, 2),                                     /* 9: UDP dport */
        BPF_JUMP(BPF_JMP|BPF_JEQ|BPF_K, DHCP_SERVER_PORT, 0, 1),               /* 10 -> 12 */
        BPF_STMT(BPF_RET|BPF_K, 0xffff),                                       /* 11 */
        BPF_STMT(BPF_RET|BPF_K, 0),                                            /* 12 */
};

int dhcp_server_new(int ifindex, const char *ifname, const uint8_t client_mac[static 6], const DhcpLease *lease,
                    DhcpServer **ret) {
        static const int one = 1;
        struct sock_fprog prog = { .len = ELEMENTSOF(dhcp_filter), .filter = (struct sock_filter *) dhcp_filter };
        struct sockaddr_ll sll = {
                .sll_family = AF_PACKET,
                /* every protocol: frames that a bridge takes are seen by ETH_P_ALL taps only */
                .sll_protocol = htons(ETH_P_ALL),
                .sll_ifindex = ifindex,
        };
        _cleanup_close_ int fd = -EBADF;
        DhcpServer *s;

        if (ifindex <= 0 || lease->prefixlen < 1 || lease->prefixlen > 30)
                return -EINVAL;

        /* protocol 0: nothing is queued before the filter is attached and bind() runs */
        fd = socket(AF_PACKET, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
            setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sll, sizeof(sll)) < 0)
                return -errno;

        s = calloc(1, sizeof(DhcpServer));
        if (!s)
                return -ENOMEM;
        s->fd = TAKE_FD(fd);
        s->ifindex = ifindex;
        snprintf(s->ifname, sizeof(s->ifname), "%s", ifname ?: "?");
        memcpy(s->mac, client_mac, ETH_ALEN);
        s->lease = *lease;
        *ret = s;
        return 0;
}

DhcpServer *dhcp_server_free(DhcpServer *s) {
        if (!s)
                return NULL;
        safe_close(s->fd);
        free(s);
        return NULL;
}

static void *close_thread(void *userdata) {
        (void) close((int) (intptr_t) userdata);     /* nothing else: no locks, no logging */
        return NULL;
}

bool dhcp_server_free_in_background(DhcpServer *s, pthread_t *ret_thread) {
        bool started = false;

        if (!s)
                return false;
        if (s->fd >= 0 && pthread_create(ret_thread, NULL, close_thread, (void *) (intptr_t) s->fd) == 0) {
                s->fd = -EBADF;
                started = true;
        }
        dhcp_server_free(s);    /* closes the socket here if no thread took it */
        return started;
}

int dhcp_server_fd(const DhcpServer *s) {
        return s ? s->fd : -EBADF;
}

static const char *mac_to_string(const uint8_t *m, char buf[static 18]) {
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
        return buf;
}

static void dhcp_server_send(DhcpServer *s, const uint8_t *buf, const DhcpReply *reply) {
        static const uint8_t broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        struct sockaddr_ll to = {
                .sll_family = AF_PACKET,
                .sll_protocol = htons(ETH_P_IP),
                .sll_ifindex = s->ifindex,
                .sll_halen = ETH_ALEN,
        };
        char a[INET_ADDRSTRLEN];

        memcpy(to.sll_addr, reply->broadcast ? broadcast : s->mac, ETH_ALEN);
        if (sendto(s->fd, buf, reply->size, MSG_DONTWAIT|MSG_NOSIGNAL, (struct sockaddr *) &to, sizeof(to)) < 0)
                log_debug_errno(errno, "%s: failed to send a DHCP reply to %s, ignoring: %m", s->ifname,
                                inet_ntop(AF_INET, &reply->destination, a, sizeof(a)));
}

static void dhcp_server_log_event(DhcpServer *s, const DhcpReply *reply) {
        char a[INET_ADDRSTRLEN], m[18];

        inet_ntop(AF_INET, &s->lease.address, a, sizeof(a));
        mac_to_string(s->mac, m);
        switch (reply->event) {
        case DHCP_EVENT_OFFER:
                log_debug("%s: DHCPOFFER of %s to %s.", s->ifname, a, m);
                break;
        case DHCP_EVENT_ACK:
                log_debug("%s: DHCPACK of %s to %s.", s->ifname, a, m);
                break;
        case DHCP_EVENT_NAK:
                log_debug("%s: DHCPNAK to %s, which asked for another address than %s.", s->ifname, m, a);
                break;
        case DHCP_EVENT_INFORM:
                log_debug("%s: DHCPACK to the DHCPINFORM of %s.", s->ifname, m);
                break;
        case DHCP_EVENT_DECLINE:
                /* the address is fixed: all we can do is tell, once */
                if (!s->decline_logged)
                        log_warning("%s: the machine declined its address %s as already in use.", s->ifname, a);
                s->decline_logged = true;
                break;
        case DHCP_EVENT_RELEASE:
                log_debug("%s: DHCPRELEASE of %s from %s.", s->ifname, a, m);
                break;
        case DHCP_EVENT_NONE:
        default:
                break;
        }
}

/* Handles one datagram; false once nothing is queued. */
static bool dhcp_server_receive_one(DhcpServer *s) {
        uint8_t in[2048], out[DHCP_REPLY_BUFFER_SIZE];
        union {
                struct cmsghdr h;
                uint8_t buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
        } control;
        struct sockaddr_ll from = {};
        struct iovec iov = { .iov_base = in, .iov_len = sizeof(in) };
        struct msghdr mh = {
                .msg_name = &from,
                .msg_namelen = sizeof(from),
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        bool checksum_ready = true;
        DhcpReply reply;
        ssize_t n;
        int r;

        n = recvmsg(s->fd, &mh, MSG_DONTWAIT|MSG_TRUNC);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return false;
                if (errno == ENETDOWN)   /* the link went down; the socket is back once it is up */
                        return false;
                log_debug_errno(errno, "%s: DHCP server stops, its socket failed: %m", s->ifname);
                s->fd = safe_close(s->fd);
                return false;
        }
        if ((size_t) n > sizeof(in) || (mh.msg_flags & (MSG_TRUNC|MSG_CTRUNC)))
                return true;       /* nothing a DHCP client sends */
        if (from.sll_pkttype == PACKET_OUTGOING || from.sll_halen != ETH_ALEN ||
            memcmp(from.sll_addr, s->mac, ETH_ALEN) != 0)
                return true;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA &&
                    c->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata))) {
                        struct tpacket_auxdata aux;

                        memcpy(&aux, CMSG_DATA(c), sizeof(aux));
                        /* sent by the machine's kernel with checksum offload: not filled in */
                        if (aux.tp_status & TP_STATUS_CSUMNOTREADY)
                                checksum_ready = false;
                }

        r = dhcp_handle_datagram(&s->lease, s->mac, in, (size_t) n, checksum_ready, out, sizeof(out), &reply);
        if (r < 0) {
                log_debug_errno(r, "%s: dropping a malformed DHCP packet: %m", s->ifname);
                return true;
        }
        dhcp_server_log_event(s, &reply);
        if (reply.size > 0)
                dhcp_server_send(s, out, &reply);
        return true;
}

void dhcp_server_dispatch(DhcpServer *s) {
        /* a bounded batch per wake-up: a flooding machine does not starve the others */
        for (unsigned i = 0; s && s->fd >= 0 && i < 64; i++)
                if (!dhcp_server_receive_one(s))
                        break;
}

size_t dhcp_dns_from_resolv_conf(const char *text, struct in_addr ret[static DHCP_MAX_DNS]) {
        size_t n = 0;

        for (const char *l = text; l && *l && n < DHCP_MAX_DNS;) {
                size_t len = strcspn(l, "\n");
                char line[128], word[16], addr[64];
                struct in_addr a;

                /* one line at a time: sscanf's %s would read on across newlines */
                snprintf(line, sizeof(line), "%.*s", (int) MIN(len, sizeof(line) - 1), l);
                l += len + (l[len] == '\n');

                if (sscanf(line, "%15s %63s", word, addr) != 2 || !streq(word, "nameserver"))
                        continue;
                if (inet_pton(AF_INET, addr, &a) != 1)
                        continue;       /* IPv6, or a scope suffix */
                if (a.s_addr == INADDR_ANY || (ntohl(a.s_addr) >> 24) == 127)
                        continue;
                ret[n++] = a;
        }
        return n;
}
