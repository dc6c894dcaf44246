/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* berth-spawn's DHCPv4 server without sockets: src/spawn/spawn-dhcp-packet (parse, decide,
 * build), the resolv.conf reader and host0's MAC. Client packets are built here with a
 * checksum implementation of the test's own. */

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spawn-dhcp-packet.h"
#include "spawn-dhcp.h"
#include "spawn-network.h"
#include "tap.h"

static const uint8_t MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
static const uint8_t OTHER_MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x56 };

static struct in_addr ip4(const char *s) {
        struct in_addr a = {};
        inet_pton(AF_INET, s, &a);
        return a;
}

static DhcpLease test_lease(void) {
        DhcpLease l = {
                .server = ip4("10.231.0.1"),
                .router = ip4("10.231.0.1"),
                .address = ip4("10.231.0.2"),
                .prefixlen = 28,
                .n_dns = 2,
                .lease_seconds = 86400,
        };
        l.dns[0] = ip4("192.0.2.53");
        l.dns[1] = ip4("198.51.100.53");
        return l;
}

/* ---- a client's message ---- */

typedef struct Msg {
        uint8_t b[1024];
        size_t len;             /* end of the options written so far */
} Msg;

static void msg_init(Msg *m, uint8_t type, const uint8_t mac[6]) {
        memset(m, 0, sizeof(*m));
        m->b[0] = 1;            /* BOOTREQUEST */
        m->b[1] = 1;            /* Ethernet */
        m->b[2] = 6;
        m->b[4] = 0xde, m->b[5] = 0xad, m->b[6] = 0xbe, m->b[7] = 0xef;
        memcpy(m->b + 28, mac, 6);
        m->b[236] = 99, m->b[237] = 130, m->b[238] = 83, m->b[239] = 99;
        m->len = 240;
        if (type) {
                m->b[m->len++] = 53;
                m->b[m->len++] = 1;
                m->b[m->len++] = type;
        }
}

static void msg_opt(Msg *m, uint8_t code, const void *data, uint8_t len) {
        m->b[m->len++] = code;
        m->b[m->len++] = len;
        memcpy(m->b + m->len, data, len);
        m->len += len;
}

static void msg_addr(Msg *m, uint8_t code, const char *a) {
        struct in_addr x = ip4(a);
        msg_opt(m, code, &x, 4);
}

static void msg_end(Msg *m) {
        m->b[m->len++] = 255;
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t s) {
        for (size_t i = 0; i < n; i++)
                s += (i & 1) ? p[i] : (uint32_t) p[i] << 8;
        while (s >> 16)
                s = (s & 0xffff) + (s >> 16);
        return (uint16_t) ~s;
}

/* IPv4/UDP 0.0.0.0:68 (or src) -> 255.255.255.255:67 around payload */
static size_t datagram(uint8_t *out, const char *src, const void *payload, size_t len) {
        struct in_addr s = ip4(src), d = { .s_addr = INADDR_BROADCAST };
        uint8_t pseudo[12];
        uint16_t c;

        memset(out, 0, 28);
        out[0] = 0x45;
        out[2] = (uint8_t) ((28 + len) >> 8), out[3] = (uint8_t) (28 + len);
        out[8] = 64;
        out[9] = 17;
        memcpy(out + 12, &s, 4);
        memcpy(out + 16, &d, 4);
        c = csum(out, 20, 0);
        out[10] = (uint8_t) (c >> 8), out[11] = (uint8_t) c;
        out[20] = 0, out[21] = 68, out[22] = 0, out[23] = 67;
        out[24] = (uint8_t) ((8 + len) >> 8), out[25] = (uint8_t) (8 + len);
        memcpy(out + 28, payload, len);
        memcpy(pseudo, out + 12, 8);
        pseudo[8] = 0, pseudo[9] = 17, pseudo[10] = out[24], pseudo[11] = out[25];
        {
                uint32_t s0 = 0;
                for (size_t i = 0; i < 12; i += 2)
                        s0 += (uint32_t) pseudo[i] << 8 | pseudo[i + 1];
                c = csum(out + 20, 8 + len, s0);
        }
        if (c == 0)
                c = 0xffff;
        out[26] = (uint8_t) (c >> 8), out[27] = (uint8_t) c;
        return 28 + len;
}

/* ---- the server's reply ---- */

typedef struct Reply {
        DhcpReply r;
        uint8_t buf[DHCP_REPLY_BUFFER_SIZE];
        int ret;
} Reply;

static void answer(Reply *rep, const Msg *m, const char *src) {
        DhcpLease l = test_lease();
        uint8_t d[2048];
        size_t n = datagram(d, src ?: "0.0.0.0", m->b, m->len);

        memset(rep, 0xaa, sizeof(*rep));
        rep->ret = dhcp_handle_datagram(&l, MAC, d, n, true, rep->buf, sizeof(rep->buf), &rep->r);
}

/* The value of option 'code' in the reply's options field, or NULL. */
static const uint8_t *reply_option(const Reply *rep, uint8_t code, uint8_t *ret_len) {
        const uint8_t *o = rep->buf + 28 + 240, *end = rep->buf + rep->r.size;

        while (o < end && *o != 255) {
                if (*o == 0) {
                        o++;
                        continue;
                }
                if (o + 2 > end || o + 2 + o[1] > end)
                        return NULL;
                if (o[0] == code) {
                        *ret_len = o[1];
                        return o + 2;
                }
                o += 2 + o[1];
        }
        return NULL;
}

static int reply_type(const Reply *rep) {
        uint8_t l;
        const uint8_t *v = reply_option(rep, 53, &l);
        return v && l == 1 ? v[0] : -1;
}

static bool reply_addr_option(const Reply *rep, uint8_t code, const char *want) {
        uint8_t l;
        const uint8_t *v = reply_option(rep, code, &l);
        struct in_addr w = ip4(want);
        return v && l == 4 && memcmp(v, &w, 4) == 0;
}

static uint32_t reply_u32_option(const Reply *rep, uint8_t code) {
        uint8_t l;
        const uint8_t *v = reply_option(rep, code, &l);
        return v && l == 4 ? (uint32_t) v[0] << 24 | (uint32_t) v[1] << 16 | (uint32_t) v[2] << 8 | v[3] : 0;
}

/* an address at 'off' into the reply datagram */
static bool datagram_addr_is(const Reply *rep, size_t off, const char *want) {
        struct in_addr w = ip4(want);
        return memcmp(rep->buf + off, &w, 4) == 0;
}

/* an address field of the BOOTP message: ciaddr 12, yiaddr 16 */
static bool reply_field_is(const Reply *rep, size_t off, const char *want) {
        return datagram_addr_is(rep, 28 + off, want);
}

static bool reply_checksums_ok(const Reply *rep) {
        const uint8_t *b = rep->buf;
        uint32_t s0 = 0;
        size_t ulen;

        if (rep->r.size < 28 + 300 || rep->r.size > 576)
                return false;
        if (csum(b, 20, 0) != 0 || (size_t) (b[2] << 8 | b[3]) != rep->r.size)
                return false;
        ulen = (size_t) (b[24] << 8 | b[25]);
        if (ulen != rep->r.size - 20)
                return false;
        for (size_t i = 12; i < 20; i += 2)
                s0 += (uint32_t) b[i] << 8 | b[i + 1];
        s0 += 17 + (uint32_t) ulen;
        return csum(b + 20, ulen, s0) == 0;
}

/* ---- the exchanges ---- */

static void test_discover(void) {
        Reply rep;
        Msg m;

        msg_init(&m, DHCP_DISCOVER, MAC);
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.ret == 0);
        CHECK(rep.r.event == DHCP_EVENT_OFFER);
        CHECK(reply_checksums_ok(&rep));
        CHECK(reply_type(&rep) == DHCP_OFFER);
        CHECK(rep.buf[9] == 17 && rep.buf[8] == 64);
        CHECK(rep.buf[20] == 0 && rep.buf[21] == 67 && rep.buf[22] == 0 && rep.buf[23] == 68);
        CHECK(datagram_addr_is(&rep, 12, "10.231.0.1"));        /* IP source */
        CHECK(rep.buf[28] == 2);                                /* BOOTREPLY */
        CHECK(memcmp(rep.buf + 28 + 4, m.b + 4, 4) == 0);       /* xid */
        CHECK(memcmp(rep.buf + 28 + 28, MAC, 6) == 0);          /* chaddr */
        CHECK(reply_field_is(&rep, 16, "10.231.0.2"));          /* yiaddr */
        CHECK(reply_field_is(&rep, 12, "0.0.0.0"));             /* ciaddr */
        CHECK(reply_addr_option(&rep, 54, "10.231.0.1"));
        CHECK(reply_addr_option(&rep, 1, "255.255.255.240"));
        CHECK(reply_addr_option(&rep, 3, "10.231.0.1"));
        CHECK(reply_addr_option(&rep, 28, "10.231.0.15"));
        CHECK(reply_u32_option(&rep, 51) == 86400);
        CHECK(reply_u32_option(&rep, 58) == 43200);
        CHECK(reply_u32_option(&rep, 59) == 75600);
        {
                uint8_t l;
                const uint8_t *v = reply_option(&rep, 6, &l);
                struct in_addr a = ip4("192.0.2.53"), b = ip4("198.51.100.53");
                CHECK(v && l == 8 && memcmp(v, &a, 4) == 0 && memcmp(v + 4, &b, 4) == 0);
        }
        /* no broadcast flag: unicast to the offered address, at the client's MAC */
        CHECK(!rep.r.broadcast);
        CHECK(rep.r.destination.s_addr == ip4("10.231.0.2").s_addr);
        CHECK(datagram_addr_is(&rep, 16, "10.231.0.2"));        /* IP destination */

        /* broadcast flag set */
        m.b[10] = 0x80;
        answer(&rep, &m, NULL);
        CHECK(rep.r.event == DHCP_EVENT_OFFER && rep.r.broadcast);
        CHECK(rep.r.destination.s_addr == INADDR_BROADCAST);
        CHECK(rep.buf[28 + 10] == 0x80);                        /* flags copied */
}

static void test_discover_not_ours(void) {
        DhcpLease l = test_lease();
        uint8_t d[2048], out[DHCP_REPLY_BUFFER_SIZE];
        DhcpReply r;
        Reply rep;
        Msg m;

        msg_init(&m, DHCP_DISCOVER, OTHER_MAC);
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.ret == 0 && rep.r.size == 0 && rep.r.event == DHCP_EVENT_NONE);

        msg_init(&m, DHCP_DISCOVER, MAC);
        m.b[24] = 10;           /* relayed (giaddr) */
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.ret == 0 && rep.r.size == 0);

        msg_init(&m, DHCP_DISCOVER, MAC);
        m.b[1] = 6;             /* IEEE 802 */
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.ret == 0 && rep.r.size == 0);

        /* unknown message types and server messages are ignored */
        msg_init(&m, DHCP_OFFER, MAC);
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.ret == 0 && rep.r.size == 0);
        msg_init(&m, 42, MAC);
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.ret == 0 && rep.r.size == 0);

        /* a buffer that is too small */
        msg_init(&m, DHCP_DISCOVER, MAC);
        msg_end(&m);
        CHECK(dhcp_handle_datagram(&l, MAC, d, datagram(d, "0.0.0.0", m.b, m.len), true, out, 100, &r) == -ENOBUFS);
}

static void test_request(void) {
        Reply rep;
        Msg m;

        /* SELECTING: our server id, our address */
        msg_init(&m, DHCP_REQUEST, MAC);
        msg_addr(&m, 54, "10.231.0.1");
        msg_addr(&m, 50, "10.231.0.2");
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.r.event == DHCP_EVENT_ACK && reply_type(&rep) == DHCP_ACK);
        CHECK(reply_field_is(&rep, 16, "10.231.0.2"));
        CHECK(reply_checksums_ok(&rep));

        /* SELECTING another server: silence */
        msg_init(&m, DHCP_REQUEST, MAC);
        msg_addr(&m, 54, "10.231.0.99");
        msg_addr(&m, 50, "10.231.0.2");
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.ret == 0 && rep.r.size == 0 && rep.r.event == DHCP_EVENT_NONE);

        /* INIT-REBOOT with an address from elsewhere: NAK, broadcast */
        msg_init(&m, DHCP_REQUEST, MAC);
        msg_addr(&m, 50, "192.168.1.7");
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.r.event == DHCP_EVENT_NAK && reply_type(&rep) == DHCP_NAK);
        CHECK(rep.r.broadcast && rep.r.destination.s_addr == INADDR_BROADCAST);
        CHECK(reply_field_is(&rep, 16, "0.0.0.0"));
        CHECK(reply_addr_option(&rep, 54, "10.231.0.1"));
        CHECK(reply_u32_option(&rep, 51) == 0);
        CHECK(reply_checksums_ok(&rep));

        /* INIT-REBOOT with our address */
        msg_init(&m, DHCP_REQUEST, MAC);
        msg_addr(&m, 50, "10.231.0.2");
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.r.event == DHCP_EVENT_ACK);

        /* RENEWING: ciaddr, unicast to it, ciaddr copied */
        msg_init(&m, DHCP_REQUEST, MAC);
        memcpy(m.b + 12, &(struct in_addr) { ip4("10.231.0.2").s_addr }, 4);
        msg_end(&m);
        answer(&rep, &m, "10.231.0.2");
        CHECK(rep.r.event == DHCP_EVENT_ACK && !rep.r.broadcast);
        CHECK(rep.r.destination.s_addr == ip4("10.231.0.2").s_addr);
        CHECK(reply_field_is(&rep, 12, "10.231.0.2"));
        CHECK(reply_field_is(&rep, 16, "10.231.0.2"));

        /* RENEWING an address that is not the machine's */
        msg_init(&m, DHCP_REQUEST, MAC);
        memcpy(m.b + 12, &(struct in_addr) { ip4("10.231.0.3").s_addr }, 4);
        msg_end(&m);
        answer(&rep, &m, "10.231.0.3");
        CHECK(rep.r.event == DHCP_EVENT_NAK && rep.r.broadcast);

        /* neither requested address nor ciaddr: malformed, ignored */
        msg_init(&m, DHCP_REQUEST, MAC);
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.ret == 0 && rep.r.size == 0);
}

static void test_inform_decline_release(void) {
        Reply rep;
        Msg m;

        msg_init(&m, DHCP_INFORM, MAC);
        memcpy(m.b + 12, &(struct in_addr) { ip4("10.231.0.2").s_addr }, 4);
        msg_end(&m);
        answer(&rep, &m, "10.231.0.2");
        CHECK(rep.r.event == DHCP_EVENT_INFORM && reply_type(&rep) == DHCP_ACK);
        CHECK(reply_field_is(&rep, 16, "0.0.0.0"));             /* no yiaddr */
        CHECK(reply_u32_option(&rep, 51) == 0);                 /* no lease time */
        CHECK(reply_addr_option(&rep, 3, "10.231.0.1"));
        CHECK(rep.r.destination.s_addr == ip4("10.231.0.2").s_addr && !rep.r.broadcast);

        msg_init(&m, DHCP_DECLINE, MAC);
        msg_addr(&m, 54, "10.231.0.1");
        msg_addr(&m, 50, "10.231.0.2");
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.ret == 0 && rep.r.event == DHCP_EVENT_DECLINE && rep.r.size == 0);

        msg_init(&m, DHCP_DECLINE, MAC);
        msg_addr(&m, 54, "10.231.0.77");
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.ret == 0 && rep.r.event == DHCP_EVENT_NONE);

        msg_init(&m, DHCP_RELEASE, MAC);
        msg_addr(&m, 54, "10.231.0.1");
        msg_end(&m);
        answer(&rep, &m, "10.231.0.2");
        CHECK(rep.ret == 0 && rep.r.event == DHCP_EVENT_RELEASE && rep.r.size == 0);
}

static void test_client_id(void) {
        uint8_t id[255], l;
        const uint8_t *v;
        Reply rep;
        Msg m;

        for (size_t i = 0; i < sizeof(id); i++)
                id[i] = (uint8_t) i;

        msg_init(&m, DHCP_DISCOVER, MAC);
        msg_opt(&m, 61, id, 7);
        msg_end(&m);
        answer(&rep, &m, NULL);
        v = reply_option(&rep, 61, &l);
        CHECK(v && l == 7 && memcmp(v, id, 7) == 0);

        /* split into two instances (RFC 3396): concatenated */
        msg_init(&m, DHCP_DISCOVER, MAC);
        msg_opt(&m, 61, id, 3);
        msg_opt(&m, 61, id + 3, 4);
        msg_end(&m);
        answer(&rep, &m, NULL);
        v = reply_option(&rep, 61, &l);
        CHECK(v && l == 7 && memcmp(v, id, 7) == 0);

        /* 255 bytes do not fit into 576: the reply goes without it */
        msg_init(&m, DHCP_DISCOVER, MAC);
        msg_opt(&m, 61, id, 255);
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.r.event == DHCP_EVENT_OFFER && reply_checksums_ok(&rep));
        CHECK(!reply_option(&rep, 61, &l));

        /* more than 255 bytes in all: malformed */
        msg_init(&m, DHCP_DISCOVER, MAC);
        msg_opt(&m, 61, id, 200);
        msg_opt(&m, 61, id, 56);
        msg_end(&m);
        answer(&rep, &m, NULL);
        CHECK(rep.ret == -EBADMSG && rep.r.size == 0);
}

static void test_overload(void) {
        DhcpMessage dm;
        Msg m;

        /* the message type in 'file' */
        msg_init(&m, 0, MAC);
        msg_opt(&m, 52, (uint8_t[]) { 1 }, 1);
        msg_end(&m);
        m.b[108] = 53, m.b[109] = 1, m.b[110] = DHCP_REQUEST;
        m.b[111] = 50, m.b[112] = 4;
        memcpy(m.b + 113, &(struct in_addr) { ip4("10.231.0.2").s_addr }, 4);
        m.b[117] = 255;
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == 0);
        CHECK(dm.type == DHCP_REQUEST && dm.requested.s_addr == ip4("10.231.0.2").s_addr);

        /* in 'sname' (2), and in both (3) */
        msg_init(&m, 0, MAC);
        msg_opt(&m, 52, (uint8_t[]) { 2 }, 1);
        msg_end(&m);
        m.b[44] = 53, m.b[45] = 1, m.b[46] = DHCP_DISCOVER, m.b[47] = 255;
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == 0 && dm.type == DHCP_DISCOVER);
        m.len -= 4;
        msg_opt(&m, 52, (uint8_t[]) { 3 }, 1);
        msg_end(&m);
        m.b[108] = 54, m.b[109] = 4;
        memcpy(m.b + 110, &(struct in_addr) { ip4("10.231.0.1").s_addr }, 4);
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == 0);
        CHECK(dm.type == DHCP_DISCOVER && dm.server_id.s_addr == ip4("10.231.0.1").s_addr);

        /* without the overload option the fields are not looked at */
        msg_init(&m, 0, MAC);
        msg_end(&m);
        m.b[108] = 53, m.b[109] = 1, m.b[110] = DHCP_REQUEST;
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EPROTONOSUPPORT);

        /* an overload option inside 'file' is ignored, not followed */
        msg_init(&m, 0, MAC);
        msg_opt(&m, 52, (uint8_t[]) { 1 }, 1);
        msg_end(&m);
        m.b[108] = 52, m.b[109] = 1, m.b[110] = 2;
        m.b[111] = 53, m.b[112] = 1, m.b[113] = DHCP_DISCOVER, m.b[114] = 255;
        m.b[44] = 53, m.b[45] = 1, m.b[46] = DHCP_REQUEST;     /* would be a duplicate */
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == 0 && dm.type == DHCP_DISCOVER);

        /* bad overload values, a truncated option in 'file' */
        msg_init(&m, DHCP_DISCOVER, MAC);
        msg_opt(&m, 52, (uint8_t[]) { 4 }, 1);
        msg_end(&m);
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EBADMSG);
        msg_init(&m, DHCP_DISCOVER, MAC);
        msg_opt(&m, 52, (uint8_t[]) { 1 }, 1);
        msg_end(&m);
        memset(m.b + 108, 0, 128);
        m.b[234] = 12, m.b[235] = 5;    /* hostname, 5 bytes, past the end of 'file' */
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EBADMSG);
}

static void test_malformed_messages(void) {
        DhcpMessage dm;
        Msg m;

        msg_init(&m, DHCP_DISCOVER, MAC);
        msg_end(&m);
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == 0);
        CHECK(dhcp_message_parse(m.b, 239, &dm) == -EBADMSG);
        CHECK(dhcp_message_parse(m.b, 0, &dm) == -EBADMSG);
        CHECK(dhcp_message_parse(NULL, 300, &dm) == -EBADMSG);
        /* options that end without END but complete: accepted */
        CHECK(dhcp_message_parse(m.b, m.len - 1, &dm) == 0);
        /* an option code without its length byte, and a length past the end */
        CHECK(dhcp_message_parse(m.b, 241, &dm) == -EBADMSG);
        CHECK(dhcp_message_parse(m.b, 242, &dm) == -EBADMSG);

        m.b[0] = 2;
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EPROTONOSUPPORT);
        m.b[0] = 1;
        m.b[236] = 0;
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EPROTONOSUPPORT);
        m.b[236] = 99;
        m.b[2] = 17;
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EBADMSG);
        m.b[2] = 6;

        /* no message type: plain BOOTP */
        msg_init(&m, 0, MAC);
        msg_end(&m);
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EPROTONOSUPPORT);
        /* message type 0, of size 2, twice */
        msg_init(&m, 0, MAC);
        msg_opt(&m, 53, (uint8_t[]) { 0 }, 1);
        msg_end(&m);
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EBADMSG);
        msg_init(&m, 0, MAC);
        msg_opt(&m, 53, (uint8_t[]) { 1, 1 }, 2);
        msg_end(&m);
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EBADMSG);
        msg_init(&m, DHCP_DISCOVER, MAC);
        msg_opt(&m, 53, (uint8_t[]) { 3 }, 1);
        msg_end(&m);
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EBADMSG);
        /* an address option of the wrong size, a repeated server id */
        msg_init(&m, DHCP_REQUEST, MAC);
        msg_opt(&m, 50, (uint8_t[]) { 10, 0, 0 }, 3);
        msg_end(&m);
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EBADMSG);
        msg_init(&m, DHCP_REQUEST, MAC);
        msg_addr(&m, 54, "10.231.0.1");
        msg_addr(&m, 54, "10.231.0.1");
        msg_end(&m);
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == -EBADMSG);
        /* pads and unknown options are skipped */
        msg_init(&m, 0, MAC);
        m.b[m.len++] = 0;
        m.b[m.len++] = 0;
        msg_opt(&m, 12, "guest", 5);
        msg_opt(&m, 224, "", 0);
        msg_opt(&m, 53, (uint8_t[]) { DHCP_INFORM }, 1);
        msg_end(&m);
        m.b[m.len++] = 53;      /* after END: not looked at */
        CHECK(dhcp_message_parse(m.b, m.len, &dm) == 0 && dm.type == DHCP_INFORM);
}

static void ip_checksum_fix(uint8_t *ip) {
        uint16_t c;

        ip[10] = ip[11] = 0;
        c = csum(ip, (size_t) (ip[0] & 0xf) * 4, 0);
        ip[10] = (uint8_t) (c >> 8), ip[11] = (uint8_t) c;
}

static void test_malformed_datagrams(void) {
        DhcpLease l = test_lease();
        uint8_t d[2048], e[2048], out[DHCP_REPLY_BUFFER_SIZE];
        const uint8_t *p;
        DhcpReply r;
        size_t n, pl;
        Msg m;

        msg_init(&m, DHCP_DISCOVER, MAC);
        msg_end(&m);
        n = datagram(d, "0.0.0.0", m.b, m.len);
        CHECK(dhcp_udp_unwrap(d, n, true, &p, &pl) == 0 && pl == m.len && p == d + 28);
        /* Ethernet padding after the datagram is fine, a short one is not */
        CHECK(dhcp_udp_unwrap(d, n + 10, true, &p, &pl) == 0 && pl == m.len);
        CHECK(dhcp_udp_unwrap(d, n - 1, true, &p, &pl) == -EBADMSG);
        CHECK(dhcp_udp_unwrap(d, 19, true, &p, &pl) == -EBADMSG);
        CHECK(dhcp_udp_unwrap(NULL, 0, true, &p, &pl) == -EBADMSG);

/* a copy of d changed by expr; with fix the IP header checksum is made right again */
#define MUTATED(expr, fix, verify)                                              \
        ({                                                                      \
                memcpy(e, d, n);                                                \
                expr;                                                           \
                if (fix)                                                        \
                        ip_checksum_fix(e);                                     \
                dhcp_udp_unwrap(e, n, verify, &p, &pl);                         \
        })
        CHECK(MUTATED((void) 0, true, true) == 0);
        CHECK(MUTATED(e[0] = 0x65, true, true) == -EBADMSG);                    /* IPv6 */
        CHECK(MUTATED(e[0] = 0x44, true, true) == -EBADMSG);                    /* IHL 4 */
        CHECK(MUTATED(e[0] = 0x4f, false, true) == -EBADMSG);                   /* IHL 15: past UDP */
        CHECK(MUTATED(e[9] = 6, true, true) == -EBADMSG);                       /* TCP */
        CHECK(MUTATED(e[10] ^= 1, false, true) == -EBADMSG);                    /* IP header checksum */
        CHECK(MUTATED(e[6] = 0x20, true, true) == -EBADMSG);                    /* MF */
        CHECK(MUTATED(e[7] = 1, true, true) == -EBADMSG);                       /* fragment offset */
        CHECK(MUTATED(e[6] = 0x40, true, true) == 0);                           /* DF is fine */
        CHECK(MUTATED((e[2] = 0, e[3] = 27), true, true) == -EBADMSG);          /* total < IHL + UDP */
        CHECK(MUTATED(e[23] = 68, true, true) == -EBADMSG);                     /* port 68 */
        CHECK(MUTATED(e[25] += 1, false, false) == -EBADMSG);                   /* UDP length > IP */
        CHECK(MUTATED(e[25] = 7, false, false) == -EBADMSG);                    /* UDP length < 8 */
        CHECK(MUTATED((e[24] = 0, e[25] = 8), false, false) == 0 && pl == 0);   /* empty: passes here... */
        CHECK(MUTATED(e[100] ^= 0x10, false, true) == -EBADMSG);                /* payload: UDP checksum */
        CHECK(MUTATED(e[100] ^= 0x10, false, false) == 0);                      /* ...not ready: not checked */
        CHECK(MUTATED((e[100] ^= 0x10, e[26] = e[27] = 0), false, true) == 0);  /* no checksum */
        memcpy(e, d, n);
        e[24] = 0, e[25] = 8;
        CHECK(dhcp_handle_datagram(&l, MAC, e, n, false, out, sizeof(out), &r) == -EBADMSG); /* ...not parsed */
#undef MUTATED
}

/* Random and mutated input must never crash (the fuzzer does this at scale). */
static void test_garbage(void) {
        DhcpLease l = test_lease();
        uint8_t d[1500], e[1500], out[DHCP_REPLY_BUFFER_SIZE];
        unsigned seed = 12345, replies = 0;
        bool all_fine = true;
        DhcpReply r;
        size_t n;
        Msg m;

        msg_init(&m, DHCP_REQUEST, MAC);
        msg_addr(&m, 50, "10.231.0.2");
        msg_opt(&m, 61, "\x01\x02\x11\x22\x33\x44\x55", 7);
        msg_opt(&m, 52, (uint8_t[]) { 3 }, 1);
        msg_end(&m);
        n = datagram(d, "0.0.0.0", m.b, m.len);

        for (unsigned i = 0; i < 200000; i++) {
                size_t len = n;

                memcpy(e, d, n);
                for (unsigned k = 0, flips = 1 + rand_r(&seed) % 8; k < flips; k++)
                        e[28 + (size_t) rand_r(&seed) % (n - 28)] = (uint8_t) rand_r(&seed);
                if (i % 7 == 0)
                        len = (size_t) rand_r(&seed) % (n + 1);
                if (dhcp_handle_datagram(&l, MAC, e, len, false, out, sizeof(out), &r) == 0 && r.size > 0) {
                        replies++;
                        all_fine = all_fine && r.size <= 576 && r.size >= 328;
                }
        }
        CHECK(all_fine);
        CHECK(replies > 0);

        for (unsigned i = 0; i < 20000; i++) {
                size_t len = (size_t) rand_r(&seed) % sizeof(e);
                for (size_t k = 0; k < len; k++)
                        e[k] = (uint8_t) rand_r(&seed);
                (void) dhcp_handle_datagram(&l, MAC, e, len, i & 1, out, sizeof(out), &r);
        }
        CHECK(true);
}

static void test_wrap(void) {
        uint8_t b[64];

        CHECK(dhcp_udp_wrap(ip4("1.2.3.4"), ip4("5.6.7.8"), "x", 1, b, 28) == -ENOBUFS);
        CHECK(dhcp_udp_wrap(ip4("1.2.3.4"), ip4("5.6.7.8"), "x", 1, b, 29) == 29);
        CHECK(csum(b, 20, 0) == 0);
}

static void test_resolv_conf(void) {
        struct in_addr a[DHCP_MAX_DNS];

        CHECK(dhcp_dns_from_resolv_conf("", a) == 0);
        CHECK(dhcp_dns_from_resolv_conf(NULL, a) == 0);
        CHECK(dhcp_dns_from_resolv_conf("nameserver 127.0.0.53\noptions edns0\nsearch .\n", a) == 0);
        CHECK(dhcp_dns_from_resolv_conf("# nameserver 1.1.1.1\n  nameserver 192.0.2.1  # lan\n"
                                        "nameserver ::1\nnameserver fe80::1%eth0\nnameserver 0.0.0.0\n"
                                        "nameserver\n8.8.8.8\nnameserver 192.0.2.2", a) == 2);
        CHECK(a[0].s_addr == ip4("192.0.2.1").s_addr && a[1].s_addr == ip4("192.0.2.2").s_addr);
        CHECK(dhcp_dns_from_resolv_conf("nameserver 1.1.1.1\nnameserver 1.0.0.1\nnameserver 9.9.9.9\n"
                                        "nameserver 8.8.8.8\n", a) == DHCP_MAX_DNS);
        CHECK(a[2].s_addr == ip4("9.9.9.9").s_addr);
        CHECK(dhcp_message_type_to_string(DHCP_DISCOVER)[4] == 'D');
        CHECK(strcmp(dhcp_message_type_to_string(0), "unknown") == 0);
        CHECK(strcmp(dhcp_message_type_to_string(200), "unknown") == 0);
}

static void test_host0_mac(void) {
        uint8_t a[6], b[6], c[6];

        network_host0_mac("debian", a);
        network_host0_mac("debian", b);
        network_host0_mac("debian2", c);
        CHECK(memcmp(a, b, 6) == 0);
        CHECK(memcmp(a, c, 6) != 0);
        CHECK((a[0] & 0x03) == 0x02 && (c[0] & 0x03) == 0x02);  /* unicast, locally administered */
}

int main(void) {
        test_discover();
        test_discover_not_ours();
        test_request();
        test_inform_decline_release();
        test_client_id();
        test_overload();
        test_malformed_messages();
        test_malformed_datagrams();
        test_garbage();
        test_wrap();
        test_resolv_conf();
        test_host0_mac();
        return tap_done();
}
