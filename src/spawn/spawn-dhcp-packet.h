/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The DHCPv4 protocol of berth-spawn's one-client server (RFC 2131, options RFC 2132),
 * without any I/O: parse a client's IPv4/UDP datagram, decide the answer, build the
 * reply datagram. Everything here is pure and non-logging, so that the unit tests and
 * the fuzzer reach all of it.
 *
 * Each machine gets exactly one address, the one the pool allocator picked for it
 * (spawn-network.c), so there is no lease database: the server answers only the
 * machine's own hardware address and hands out only that address. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_MAGIC_COOKIE 0x63825363U
#define DHCP_FIXED_SIZE 236          /* BOOTP header up to the options, RFC 2131 figure 1 */
#define DHCP_MIN_REPLY_SIZE 300      /* BOOTP's minimum message (RFC 1542 section 2.1) */
#define DHCP_MAX_DNS 3
#define DHCP_BROADCAST_FLAG 0x8000U

/* Message types (option 53) */
enum {
        DHCP_DISCOVER = 1,
        DHCP_OFFER = 2,
        DHCP_REQUEST = 3,
        DHCP_DECLINE = 4,
        DHCP_ACK = 5,
        DHCP_NAK = 6,
        DHCP_RELEASE = 7,
        DHCP_INFORM = 8,
};

/* Option codes we read or write */
enum {
        DHCP_OPTION_PAD = 0,
        DHCP_OPTION_SUBNET_MASK = 1,
        DHCP_OPTION_ROUTER = 3,
        DHCP_OPTION_DNS = 6,
        DHCP_OPTION_BROADCAST = 28,
        DHCP_OPTION_REQUESTED_ADDRESS = 50,
        DHCP_OPTION_LEASE_TIME = 51,
        DHCP_OPTION_OVERLOAD = 52,
        DHCP_OPTION_MESSAGE_TYPE = 53,
        DHCP_OPTION_SERVER_ID = 54,
        DHCP_OPTION_PARAMETER_REQUEST_LIST = 55,
        DHCP_OPTION_MESSAGE = 56,
        DHCP_OPTION_MAX_MESSAGE_SIZE = 57,
        DHCP_OPTION_RENEWAL_TIME = 58,
        DHCP_OPTION_REBINDING_TIME = 59,
        DHCP_OPTION_CLIENT_ID = 61,
        DHCP_OPTION_END = 255,
};

/* What we understood of a client's message. Addresses in network byte order. */
typedef struct DhcpMessage {
        uint8_t type;                   /* option 53 */
        uint8_t htype, hlen;
        uint32_t xid;                   /* as on the wire */
        uint16_t flags;                 /* host order */
        struct in_addr ciaddr, giaddr;
        uint8_t chaddr[16];
        struct in_addr requested;       /* option 50, 0.0.0.0 if absent */
        struct in_addr server_id;       /* option 54, 0.0.0.0 if absent */
        uint8_t client_id[255];         /* option 61, echoed in replies (RFC 6842) */
        size_t client_id_len;
} DhcpMessage;

/* Parses a BOOTREQUEST carrying a DHCP message type (the UDP payload). Options may be
 * split over the options field, file and sname (option 52, "overload"). Returns 0, or
 * -EBADMSG for anything malformed or truncated, -EPROTONOSUPPORT for a BOOTREPLY or a
 * plain BOOTP message. */
int dhcp_message_parse(const void *buf, size_t len, DhcpMessage *ret);

/* What the machine gets. Addresses in network byte order. */
typedef struct DhcpLease {
        struct in_addr server;          /* server identifier and source address: the host side */
        struct in_addr router;
        struct in_addr address;
        unsigned prefixlen;             /* 1..30 */
        struct in_addr dns[DHCP_MAX_DNS];
        size_t n_dns;
        uint32_t lease_seconds;
} DhcpLease;

typedef enum DhcpEvent {
        DHCP_EVENT_NONE,                /* not ours to answer (another server, another client) */
        DHCP_EVENT_OFFER,
        DHCP_EVENT_ACK,
        DHCP_EVENT_NAK,
        DHCP_EVENT_INFORM,              /* answered with an ACK without an address */
        DHCP_EVENT_DECLINE,             /* the client found our address in use */
        DHCP_EVENT_RELEASE,
} DhcpEvent;

typedef struct DhcpReply {
        DhcpEvent event;
        size_t size;                    /* of the IPv4 datagram in the buffer, 0 if none */
        bool broadcast;                 /* link-layer broadcast, else to the client's address */
        struct in_addr destination;
} DhcpReply;

/* Builds the reply (an IPv4/UDP datagram from lease->server:67 to :68) to one client
 * message, if any. Only messages from client_mac (htype Ethernet) without a relay agent
 * are answered. buf must hold at least DHCP_REPLY_BUFFER_SIZE bytes. */
#define DHCP_REPLY_BUFFER_SIZE 576
int dhcp_answer(const DhcpLease *lease, const uint8_t client_mac[static 6], const DhcpMessage *m,
                uint8_t *buf, size_t size, DhcpReply *ret);

/* Validates an IPv4 datagram carrying UDP to port 67 (header checksum, lengths, no
 * fragments; the UDP checksum if verify_udp_checksum) and returns its UDP payload.
 * Trailing bytes after the IP total length (Ethernet padding) are ignored. Returns 0 or
 * -EBADMSG.
 *
 * A packet socket sees a locally sent datagram before its UDP checksum is filled in
 * (checksum offload: TP_STATUS_CSUMNOTREADY), so the caller decides whether the
 * checksum can be checked. */
int dhcp_udp_unwrap(const void *buf, size_t len, bool verify_udp_checksum, const uint8_t **ret_payload,
                    size_t *ret_len);

/* Wraps payload into an IPv4/UDP datagram (ports 67 -> 68, TTL 64, DF) in buf.
 * Returns the total size or -ENOBUFS. */
int dhcp_udp_wrap(struct in_addr source, struct in_addr destination, const void *payload, size_t len,
                  uint8_t *buf, size_t size);

/* All of it: a received datagram to the reply datagram (as dhcp_answer()). Returns 0
 * (see ret->size for whether there is a reply) or a negative errno for a datagram that
 * is not a well-formed DHCP request. The fuzzer's entry point. */
int dhcp_handle_datagram(const DhcpLease *lease, const uint8_t client_mac[static 6], const void *datagram,
                         size_t len, bool verify_udp_checksum, uint8_t *buf, size_t size, DhcpReply *ret);

const char *dhcp_message_type_to_string(uint8_t type);
