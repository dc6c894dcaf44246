/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* firewall-probe: drive src/shared/firewall-util from test/integration/test-firewall.sh.
 *
 *   firewall-probe masq MACHINE SUBNET/PREFIXLEN
 *   firewall-probe forward MACHINE tcp|udp HOSTPORT ADDRESS:PORT
 *   firewall-probe remove MACHINE        prints the number of rules deleted
 *   firewall-probe list                  prints the machine names, one a line
 *
 * Exits 0 on success; on failure prints "firewall-probe: <errno name>: <message>" and exits 1. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firewall-util.h"
#include "macro.h"
#include "string-util.h"

static int parse_port(const char *s, uint16_t *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v > UINT16_MAX)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

static int parse_prefix(const char *s, struct in_addr *ret, unsigned *ret_prefixlen) {
        _cleanup_free_ char *addr = strdup(s);
        char *slash, *end;
        unsigned long v;

        if (!addr)
                return -ENOMEM;
        slash = strchr(addr, '/');
        if (!slash)
                return -EINVAL;
        *slash++ = '\0';
        errno = 0;
        v = strtoul(slash, &end, 10);
        if (errno != 0 || end == slash || *end != '\0' || v > 32)
                return -EINVAL;
        if (inet_pton(AF_INET, addr, ret) != 1)
                return -EINVAL;
        *ret_prefixlen = (unsigned) v;
        return 0;
}

static int parse_addr_port(const char *s, struct in_addr *ret, uint16_t *ret_port) {
        _cleanup_free_ char *addr = strdup(s);
        char *colon;

        if (!addr)
                return -ENOMEM;
        colon = strrchr(addr, ':');
        if (!colon)
                return -EINVAL;
        *colon++ = '\0';
        if (inet_pton(AF_INET, addr, ret) != 1)
                return -EINVAL;
        return parse_port(colon, ret_port);
}

static int run(int argc, char *argv[]) {
        const char *verb = argc > 1 ? argv[1] : "";
        int r;

        if (streq(verb, "masq") && argc == 4) {
                struct in_addr subnet;
                unsigned prefixlen;

                r = parse_prefix(argv[3], &subnet, &prefixlen);
                if (r < 0)
                        return r;
                return fw_add_masquerade(argv[2], subnet, prefixlen);
        }

        if (streq(verb, "forward") && argc == 6) {
                struct in_addr dest;
                uint16_t host_port, dest_port;
                int proto;

                if (streq(argv[3], "tcp"))
                        proto = IPPROTO_TCP;
                else if (streq(argv[3], "udp"))
                        proto = IPPROTO_UDP;
                else
                        proto = atoi(argv[3]); /* lets the test pass a bogus protocol */
                r = parse_port(argv[4], &host_port);
                if (r < 0)
                        return r;
                r = parse_addr_port(argv[5], &dest, &dest_port);
                if (r < 0)
                        return r;
                return fw_add_port_forward(argv[2], proto, host_port, dest, dest_port);
        }

        if (streq(verb, "remove") && argc == 3) {
                r = fw_remove_machine(argv[2]);
                if (r < 0)
                        return r;
                printf("%i\n", r);
                return 0;
        }

        if (streq(verb, "list") && argc == 2) {
                _cleanup_strv_free_ char **names = NULL;

                r = fw_list_machines(&names);
                if (r < 0)
                        return r;
                STRV_FOREACH(n, names)
                        printf("%s\n", *n);
                return 0;
        }

        fprintf(stderr,
                "usage: %1$s masq MACHINE SUBNET/PREFIXLEN\n"
                "       %1$s forward MACHINE tcp|udp HOSTPORT ADDRESS:PORT\n"
                "       %1$s remove MACHINE\n"
                "       %1$s list\n", argv[0]);
        return -EINVAL;
}

int main(int argc, char *argv[]) {
        int r;

        r = run(argc, argv);
        if (r < 0) {
                fprintf(stderr, "firewall-probe: %s: %s\n", strerrorname_np(-r) ?: "?", strerror(-r));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
