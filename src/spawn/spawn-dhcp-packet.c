/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "spawn-dhcp-packet.h"

/* Offsets into the BOOTP message (RFC 2131 figure 1) */
#define OFF_OP 0
#define OFF_HTYPE 1
#define OFF_HLEN 2
#define OFF_XID 4
#define OFF_FLAGS 10
#define OFF_CIADDR 12
#define OFF_YIADDR 16
#define OFF_GIADDR 24
#define OFF_CHADDR 28
#define OFF_SNAME 44
#define OFF_FILE 108
#define OFF_MAGIC 236
#define OFF_OPTIONS 240

#define BOOTREQUEST 1
#define BOOTREPLY 2
#define HTYPE_ETHER 1

#define IP_HEADER_SIZE 20
#define UDP_HEADER_SIZE 8
/* Every client must take a 576-byte datagram (RFC 2131 section 2: an options field of
 * 312 bytes); we never send more, so option 57 needs no attention. */
#define MAX_REPLY_DATAGRAM 576

static uint16_t get_be16(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}

static void put_be32(uint8_t *p, uint32_t v) {
        put_be16(p, (uint16_t) (v >> 16));
        put_be16(p + 2, (uint16_t) v);
}

static struct in_addr get_in_addr(const uint8_t *p) {
        struct in_addr a;

        memcpy(&a, p, sizeof(a));
        return a;
}

const char *dhcp_message_type_to_string(uint8_t type) {
        static const char *const names[] = {
                [DHCP_DISCOVER] = "DHCPDISCOVER",
                [DHCP_OFFER] = "DHCPOFFER",
                [DHCP_REQUEST] = "DHCPREQUEST",
                [DHCP_DECLINE] = "DHCPDECLINE",
                [DHCP_ACK] = "DHCPACK",
                [DHCP_NAK] = "DHCPNAK",
                [DHCP_RELEASE] = "DHCPRELEASE",
                [DHCP_INFORM] = "DHCPINFORM",
        };

        return type < ELEMENTSOF(names) && names[type] ? names[type] : "unknown";
}

/* ---- parsing ---- */

typedef struct OptionState {
        DhcpMessage *m;
        bool type, requested, server_id, overload_seen;
        uint8_t overload;
} OptionState;

static int option_fixed(bool *seen, uint8_t len, uint8_t want) {
        /* A fixed-size option must not repeat: RFC 3396 would concatenate the
         * instances, which gives a wrong size. */
        if (*seen || len != want)
                return -EBADMSG;
        *seen = true;
        return 0;
}

static int option_handle(OptionState *s, uint8_t code, const uint8_t *data, uint8_t len, bool in_options) {
        DhcpMessage *m = s->m;
        int r;

        switch (code) {
        case DHCP_OPTION_MESSAGE_TYPE:
                r = option_fixed(&s->type, len, 1);
                if (r < 0 || data[0] == 0)
                        return -EBADMSG;
                m->type = data[0];
                return 0;
        case DHCP_OPTION_REQUESTED_ADDRESS:
                r = option_fixed(&s->requested, len, 4);
                if (r >= 0)
                        m->requested = get_in_addr(data);
                return r;
        case DHCP_OPTION_SERVER_ID:
                r = option_fixed(&s->server_id, len, 4);
                if (r >= 0)
                        m->server_id = get_in_addr(data);
                return r;
        case DHCP_OPTION_OVERLOAD:
                /* only meaningful in the options field itself; elsewhere ignored */
                if (!in_options)
                        return 0;
                r = option_fixed(&s->overload_seen, len, 1);
                if (r < 0 || data[0] < 1 || data[0] > 3)
                        return -EBADMSG;
                s->overload = data[0];
                return 0;
        case DHCP_OPTION_CLIENT_ID:
                /* may be split into several instances (RFC 3396): concatenate */
                if (len > sizeof(m->client_id) - m->client_id_len)
                        return -EBADMSG;
                memcpy(m->client_id + m->client_id_len, data, len);
                m->client_id_len += len;
                return 0;
        default:
                return 0;       /* everything else is of no interest to us */
        }
}

/* One option area: code, length, data; PAD and END are single bytes. An area that ends
 * without END is accepted as long as no option is cut off. */
static int options_parse(OptionState *s, const uint8_t *p, size_t len, bool in_options) {
        size_t i = 0;

        while (i < len) {
                uint8_t code = p[i++], l;
                int r;

                if (code == DHCP_OPTION_PAD)
                        continue;
                if (code == DHCP_OPTION_END)
                        return 0;
                if (i >= len)
                        return -EBADMSG;
                l = p[i++];
                if (l > len - i)
                        return -EBADMSG;
                r = option_handle(s, code, p + i, l, in_options);
                if (r < 0)
                        return r;
                i += l;
        }
        return 0;
}

int dhcp_message_parse(const void *buf, size_t len, DhcpMessage *ret) {
        const uint8_t *p = buf;
        DhcpMessage m = {};
        OptionState s = { .m = &m };
        uint32_t magic;
        int r;

        if (!p || len < OFF_OPTIONS)
                return -EBADMSG;
        if (p[OFF_OP] != BOOTREQUEST)
                return -EPROTONOSUPPORT;
        if (p[OFF_HLEN] > sizeof(m.chaddr))
                return -EBADMSG;
        memcpy(&magic, p + OFF_MAGIC, sizeof(magic));
        if (ntohl(magic) != DHCP_MAGIC_COOKIE)
                return -EPROTONOSUPPORT;       /* plain BOOTP */

        m.htype = p[OFF_HTYPE];
        m.hlen = p[OFF_HLEN];
        memcpy(&m.xid, p + OFF_XID, sizeof(m.xid));
        m.flags = get_be16(p + OFF_FLAGS);
        m.ciaddr = get_in_addr(p + OFF_CIADDR);
        m.giaddr = get_in_addr(p + OFF_GIADDR);
        memcpy(m.chaddr, p + OFF_CHADDR, m.hlen);

        /* RFC 2131 section 4.1: options, then file, then sname */
        r = options_parse(&s, p + OFF_OPTIONS, len - OFF_OPTIONS, true);
        if (r >= 0 && (s.overload & 1))
                r = options_parse(&s, p + OFF_FILE, OFF_MAGIC - OFF_FILE, false);
        if (r >= 0 && (s.overload & 2))
                r = options_parse(&s, p + OFF_SNAME, OFF_FILE - OFF_SNAME, false);
        if (r < 0)
                return r;
        if (!s.type)
                return -EPROTONOSUPPORT;       /* BOOTP with a cookie, but no DHCP */

        *ret = m;
        return 0;
}

/* ---- building ---- */

typedef struct Writer {
        uint8_t *p;
        size_t size;            /* room for options, END included */
        size_t i;
} Writer;

static int option_put(Writer *w, uint8_t code, const void *data, size_t len) {
        /* keep one byte for END */
        if (len > 255 || w->i + 2 + len + 1 > w->size)
                return -ENOBUFS;
        w->p[w->i++] = code;
        w->p[w->i++] = (uint8_t) len;
        memcpy(w->p + w->i, data, len);
        w->i += len;
        return 0;
}

static int option_put_u32(Writer *w, uint8_t code, uint32_t v) {
        uint8_t b[4];

        put_be32(b, v);
        return option_put(w, code, b, sizeof(b));
}

static int option_put_addr(Writer *w, uint8_t code, struct in_addr a) {
        return option_put(w, code, &a, sizeof(a));
}

static struct in_addr prefix_netmask(unsigned prefixlen) {
        return (struct in_addr) { .s_addr = htonl(prefixlen == 0 ? 0 : UINT32_MAX << (32 - MIN(prefixlen, 32U))) };
}

static int reply_options(Writer *w, const DhcpLease *l, const DhcpMessage *m, uint8_t type, bool inform) {
        struct in_addr mask = prefix_netmask(l->prefixlen);
        int r;

        r = option_put(w, DHCP_OPTION_MESSAGE_TYPE, &type, 1);
        if (r >= 0)
                r = option_put_addr(w, DHCP_OPTION_SERVER_ID, l->server);
        if (r < 0)
                return r;
        if (type == DHCP_NAK) {
                static const char msg[] = "this machine has another address";
                r = option_put(w, DHCP_OPTION_MESSAGE, msg, STRLEN(msg));
        } else {
                struct in_addr bcast = { .s_addr = l->address.s_addr | ~mask.s_addr };

                /* RFC 2131 section 4.3.5: no lease time in the answer to DHCPINFORM */
                if (!inform) {
                        r = option_put_u32(w, DHCP_OPTION_LEASE_TIME, l->lease_seconds);
                        if (r >= 0)
                                r = option_put_u32(w, DHCP_OPTION_RENEWAL_TIME, l->lease_seconds / 2);
                        if (r >= 0)
                                r = option_put_u32(w, DHCP_OPTION_REBINDING_TIME,
                                                   (uint32_t) ((uint64_t) l->lease_seconds * 7 / 8));
                }
                if (r >= 0)
                        r = option_put_addr(w, DHCP_OPTION_SUBNET_MASK, mask);
                if (r >= 0)
                        r = option_put_addr(w, DHCP_OPTION_ROUTER, l->router);
                if (r >= 0)
                        r = option_put_addr(w, DHCP_OPTION_BROADCAST, bcast);
                if (r >= 0 && l->n_dns > 0)
                        r = option_put(w, DHCP_OPTION_DNS, l->dns,
                                       MIN(l->n_dns, (size_t) DHCP_MAX_DNS) * sizeof(l->dns[0]));
        }
        if (r < 0)
                return r;
        /* RFC 6842: the client identifier comes back; if it does not fit into the 576
         * bytes every client takes, the answer goes without it */
        if (m->client_id_len > 0)
                (void) option_put(w, DHCP_OPTION_CLIENT_ID, m->client_id, m->client_id_len);
        w->p[w->i++] = DHCP_OPTION_END;
        return 0;
}

/* The BOOTREPLY for message type 'type' (RFC 2131 table 3); returns its size. */
static int reply_build(const DhcpLease *l, const DhcpMessage *m, uint8_t type, bool inform, uint8_t *p, size_t size) {
        uint32_t magic = htonl(DHCP_MAGIC_COOKIE);
        Writer w;
        int r;

        if (size < DHCP_MIN_REPLY_SIZE)
                return -ENOBUFS;
        memset(p, 0, size);
        p[OFF_OP] = BOOTREPLY;
        p[OFF_HTYPE] = m->htype;
        p[OFF_HLEN] = m->hlen;
        memcpy(p + OFF_XID, &m->xid, sizeof(m->xid));
        put_be16(p + OFF_FLAGS, m->flags);
        if (type == DHCP_ACK)
                memcpy(p + OFF_CIADDR, &m->ciaddr, 4);
        if (type != DHCP_NAK && !inform)
                memcpy(p + OFF_YIADDR, &l->address, 4);
        memcpy(p + OFF_GIADDR, &m->giaddr, 4);
        memcpy(p + OFF_CHADDR, m->chaddr, sizeof(m->chaddr));
        memcpy(p + OFF_MAGIC, &magic, sizeof(magic));

        w = (Writer) { .p = p + OFF_OPTIONS, .size = size - OFF_OPTIONS };
        r = reply_options(&w, l, m, type, inform);
        if (r < 0)
                return r;
        return (int) MAX(OFF_OPTIONS + w.i, (size_t) DHCP_MIN_REPLY_SIZE);
}

static bool server_is_us(const DhcpLease *l, const DhcpMessage *m) {
        return m->server_id.s_addr == INADDR_ANY || m->server_id.s_addr == l->server.s_addr;
}

int dhcp_answer(const DhcpLease *lease, const uint8_t client_mac[static 6], const DhcpMessage *m,
                uint8_t *buf, size_t size, DhcpReply *ret) {
        uint8_t payload[MAX_REPLY_DATAGRAM - IP_HEADER_SIZE - UDP_HEADER_SIZE];
        DhcpReply reply = {};
        uint8_t type;
        in_addr_t wanted;
        int n, r;

        *ret = reply;
        /* Only our machine, on our link: relayed messages come from elsewhere. */
        if (m->htype != HTYPE_ETHER || m->hlen != 6 || memcmp(m->chaddr, client_mac, 6) != 0 ||
            m->giaddr.s_addr != INADDR_ANY)
                return 0;

        switch (m->type) {
        case DHCP_DISCOVER:
                type = DHCP_OFFER;
                reply.event = DHCP_EVENT_OFFER;
                break;
        case DHCP_REQUEST:
                /* SELECTING names the server it chose; INIT-REBOOT sends the address it
                 * remembers, RENEWING and REBINDING the one it has in ciaddr. */
                if (!server_is_us(lease, m))
                        return 0;
                wanted = m->requested.s_addr != INADDR_ANY ? m->requested.s_addr : m->ciaddr.s_addr;
                if (wanted == INADDR_ANY)
                        return 0;
                type = wanted == lease->address.s_addr ? DHCP_ACK : DHCP_NAK;
                reply.event = type == DHCP_ACK ? DHCP_EVENT_ACK : DHCP_EVENT_NAK;
                break;
        case DHCP_INFORM:
                type = DHCP_ACK;
                reply.event = DHCP_EVENT_INFORM;
                break;
        case DHCP_DECLINE:
        case DHCP_RELEASE:
                if (server_is_us(lease, m))
                        ret->event = m->type == DHCP_DECLINE ? DHCP_EVENT_DECLINE : DHCP_EVENT_RELEASE;
                return 0;       /* never answered */
        default:
                return 0;
        }

        n = reply_build(lease, m, type, reply.event == DHCP_EVENT_INFORM, payload, sizeof(payload));
        if (n < 0)
                return n;

        /* RFC 2131 section 4.1, with giaddr always 0 here */
        if (type == DHCP_NAK) {
                reply.broadcast = true;
                reply.destination.s_addr = INADDR_BROADCAST;
        } else if (m->ciaddr.s_addr != INADDR_ANY)
                reply.destination = m->ciaddr;
        else if ((m->flags & DHCP_BROADCAST_FLAG) || reply.event == DHCP_EVENT_INFORM) {
                reply.broadcast = true;
                reply.destination.s_addr = INADDR_BROADCAST;
        } else
                reply.destination = lease->address;

        r = dhcp_udp_wrap(lease->server, reply.destination, payload, (size_t) n, buf, size);
        if (r < 0)
                return r;
        reply.size = (size_t) r;
        *ret = reply;
        return 0;
}

/* ---- IPv4 and UDP ---- */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum) {
        for (size_t i = 0; i + 1 < len; i += 2)
                sum += get_be16(p + i);
        if (len & 1)
                sum += (uint32_t) p[len - 1] << 8;
        return sum;
}

static uint16_t sum_fold(uint32_t sum) {
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t) ~sum;
}

static uint16_t udp_checksum(const uint8_t *ip, const uint8_t *udp, size_t udp_len) {
        uint32_t sum = 0;
        uint16_t c;

        sum = sum16(ip + 12, 8, sum);          /* source and destination address */
        sum += IPPROTO_UDP;
        sum += (uint32_t) udp_len;
        c = sum_fold(sum16(udp, udp_len, sum));
        return c == 0 ? 0xffff : c;            /* 0 means "no checksum" (RFC 768) */
}

int dhcp_udp_unwrap(const void *buf, size_t len, bool verify_udp_checksum, const uint8_t **ret_payload,
                    size_t *ret_len) {
        const uint8_t *ip = buf, *udp;
        size_t ihl, total, ulen;

        if (!ip || len < IP_HEADER_SIZE || (ip[0] >> 4) != 4)
                return -EBADMSG;
        ihl = (size_t) (ip[0] & 0xf) * 4;
        total = get_be16(ip + 2);
        if (ihl < IP_HEADER_SIZE || total < ihl + UDP_HEADER_SIZE || total > len)
                return -EBADMSG;
        if ((get_be16(ip + 6) & 0x3fff) != 0)  /* MF set or an offset: a fragment */
                return -EBADMSG;
        if (ip[9] != IPPROTO_UDP || sum_fold(sum16(ip, ihl, 0)) != 0)
                return -EBADMSG;

        udp = ip + ihl;
        ulen = get_be16(udp + 4);
        if (ulen < UDP_HEADER_SIZE || ulen > total - ihl || get_be16(udp + 2) != DHCP_SERVER_PORT)
                return -EBADMSG;
        /* A checksum of 0 means none was computed. */
        if (verify_udp_checksum && get_be16(udp + 6) != 0 &&
            sum_fold(sum16(udp, ulen, sum16(ip + 12, 8, IPPROTO_UDP + (uint32_t) ulen))) != 0)
                return -EBADMSG;

        *ret_payload = udp + UDP_HEADER_SIZE;
        *ret_len = ulen - UDP_HEADER_SIZE;
        return 0;
}

int dhcp_udp_wrap(struct in_addr source, struct in_addr destination, const void *payload, size_t len,
                  uint8_t *buf, size_t size) {
        size_t total = IP_HEADER_SIZE + UDP_HEADER_SIZE + len;
        uint8_t *udp = buf + IP_HEADER_SIZE;

        if (total > size || total > UINT16_MAX)
                return -ENOBUFS;
        memset(buf, 0, IP_HEADER_SIZE + UDP_HEADER_SIZE);
        buf[0] = 0x45;                          /* version 4, 5 words */
        put_be16(buf + 2, (uint16_t) total);
        put_be16(buf + 6, 0x4000);              /* DF */
        buf[8] = 64;                            /* TTL */
        buf[9] = IPPROTO_UDP;
        memcpy(buf + 12, &source, 4);
        memcpy(buf + 16, &destination, 4);
        put_be16(buf + 10, sum_fold(sum16(buf, IP_HEADER_SIZE, 0)));

        put_be16(udp, DHCP_SERVER_PORT);
        put_be16(udp + 2, DHCP_CLIENT_PORT);
        put_be16(udp + 4, (uint16_t) (UDP_HEADER_SIZE + len));
        memcpy(udp + UDP_HEADER_SIZE, payload, len);
        put_be16(udp + 6, udp_checksum(buf, udp, UDP_HEADER_SIZE + len));
        return (int) total;
}

int dhcp_handle_datagram(const DhcpLease *lease, const uint8_t client_mac[static 6], const void *datagram,
                         size_t len, bool verify_udp_checksum, uint8_t *buf, size_t size, DhcpReply *ret) {
        const uint8_t *payload;
        DhcpMessage m;
        size_t plen;
        int r;

        *ret = (DhcpReply) {};
        r = dhcp_udp_unwrap(datagram, len, verify_udp_checksum, &payload, &plen);
        if (r < 0)
                return r;
        r = dhcp_message_parse(payload, plen, &m);
        if (r < 0)
                return r;
        return dhcp_answer(lease, client_mac, &m, buf, size, ret);
}
