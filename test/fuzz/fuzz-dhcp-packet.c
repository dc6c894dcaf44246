/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer target for src/spawn/spawn-dhcp-packet.c, berth-spawn's DHCPv4 server: what
 * the machine sends on host0 is untrusted. The input goes in twice: as the IPv4 datagram
 * the packet socket would deliver (UDP checksum not checked, as for a datagram sent
 * with checksum offload), and as the bare BOOTP message, made to come from the machine's
 * MAC so that the answering and building code is reached by most inputs. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spawn-dhcp-packet.h"

static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

static void check_reply(int r, const DhcpReply *reply) {
        if (r < 0 && reply->size != 0)
                abort();
        /* every reply is a whole datagram that any client takes */
        if (reply->size != 0 && (reply->size < 28 + 300 || reply->size > 576))
                abort();
        if (reply->size != 0 && reply->event != DHCP_EVENT_OFFER && reply->event != DHCP_EVENT_ACK &&
            reply->event != DHCP_EVENT_NAK && reply->event != DHCP_EVENT_INFORM)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DhcpLease lease = {
                .server.s_addr = htonl(0x0ae70001),
                .router.s_addr = htonl(0x0ae70001),
                .address.s_addr = htonl(0x0ae70002),
                .prefixlen = 28,
                .dns = { { htonl(0xc0000235) }, { htonl(0xc6336435) } },
                .n_dns = 2,
                .lease_seconds = 86400,
        };
        uint8_t out[DHCP_REPLY_BUFFER_SIZE];
        DhcpMessage m;
        DhcpReply reply;
        int r;

        r = dhcp_handle_datagram(&lease, mac, data, size, false, out, sizeof(out), &reply);
        check_reply(r, &reply);

        if (dhcp_message_parse(data, size, &m) == 0) {
                memcpy(m.chaddr, mac, sizeof(mac));
                m.htype = 1;
                m.hlen = 6;
                m.giaddr.s_addr = 0;
                r = dhcp_answer(&lease, mac, &m, out, sizeof(out), &reply);
                check_reply(r, &reply);
        }
        return 0;
}
