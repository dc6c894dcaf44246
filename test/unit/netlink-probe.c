/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* netlink-probe: drives src/shared/netlink-util for test/integration/test-netlink.sh.
 * One operation per invocation, in the caller's network namespace; namespaces given as
 * arguments are paths (/proc/PID/ns/net), "-" for none. On failure prints the error and
 * exits with the errno (so the test can expect e.g. EEXIST), capped at 125. */

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fd-util.h"
#include "netlink-util.h"

static Rtnl *rtnl;

static int fail(const char *what, int r) {
        const char *m = rtnl ? rtnl_last_error_message(rtnl) : "";

        fprintf(stderr, "netlink-probe: %s: %s%s%s\n", what, strerror(-r), *m ? ": " : "", m);
        return MIN(-r, 125);
}

static int ifindex_of(const char *name) {
        int r = rtnl_link_index(rtnl, name);

        if (r < 0) {
                fprintf(stderr, "netlink-probe: no link '%s': %s\n", name, strerror(-r));
                exit(MIN(-r, 125));
        }
        return r;
}

static int open_netns(const char *path) {
        int fd;

        if (streq(path, "-"))
                return -1;
        fd = open(path, O_RDONLY|O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "netlink-probe: %s: %m\n", path);
                exit(2);
        }
        return fd;
}

static int parse_addr(const char *s, int *family, void *addr, unsigned *prefixlen) {
        char buf[INET6_ADDRSTRLEN + 8], *slash;

        snprintf(buf, sizeof(buf), "%s", s);
        slash = strchr(buf, '/');
        if (prefixlen) {
                if (!slash)
                        return -EINVAL;
                *slash = 0;
                *prefixlen = (unsigned) strtoul(slash + 1, NULL, 10);
        }
        *family = strchr(buf, ':') ? AF_INET6 : AF_INET;
        return inet_pton(*family, buf, addr) == 1 ? 0 : -EINVAL;
}

static int print_addr(const RtnlAddress *a, void *userdata) {
        char buf[INET6_ADDRSTRLEN];

        printf("%i %s %s/%u\n", a->ifindex, a->family == AF_INET ? "inet" : "inet6",
               inet_ntop(a->family, &a->address, buf, sizeof(buf)), a->prefixlen);
        return 0;
}

static int check_cloexec(void) {
        _cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        int n = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char path[64], target[64];
                ssize_t l;
                int fd;

                if (de->d_name[0] == '.')
                        continue;
                fd = atoi(de->d_name);
                if (fd == dirfd(d))
                        continue;
                snprintf(path, sizeof(path), "/proc/self/fd/%i", fd);
                l = readlink(path, target, sizeof(target) - 1);
                if (l < 0)
                        continue;
                target[l] = 0;
                if (strncmp(target, "socket:", 7) != 0)
                        continue;
                if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC)) {
                        fprintf(stderr, "netlink-probe: fd %i (%s) lacks O_CLOEXEC\n", fd, target);
                        return -EBADFD;
                }
                n++;
        }
        printf("%i\n", n);
        return n > 0 ? 0 : -ENOENT;
}

#define NEED(k) do { if (argc < (k)) { fprintf(stderr, "netlink-probe: %s: missing arguments\n", cmd); return 2; } } while (0)

int main(int argc, char *argv[]) {
        _cleanup_close_ int ns = -EBADF;
        const char *cmd;
        RtnlInAddr a;
        unsigned prefixlen;
        int family, r;

        if (argc < 2) {
                fprintf(stderr, "usage: netlink-probe COMMAND ARGS...\n");
                return 2;
        }
        cmd = argv[1];

        if (streq(cmd, "ifname")) {
                char n[IFNAMSIZ];

                NEED(4);
                r = ifname_for_machine(argv[2], argv[3], n);
                if (r < 0)
                        return fail(cmd, r);
                printf("%s\n", n);
                return 0;
        }

        r = rtnl_open(&rtnl);
        if (r < 0)
                return fail("rtnl_open", r);

        if (streq(cmd, "cloexec"))
                r = check_cloexec();
        else if (streq(cmd, "index")) {
                NEED(3);
                r = rtnl_link_index(rtnl, argv[2]);
                if (r > 0)
                        printf("%i\n", r);
        } else if (streq(cmd, "veth")) {
                NEED(5);
                ns = open_netns(argv[4]);
                r = rtnl_veth_create(rtnl, argv[2], argv[3], ns, argc > 5 ? argv[5] : NULL);
                if (r >= 0)
                        printf("%s\n", r == RTNL_VETH_NO_ALTNAME ? "no-altname" : "ok");
        } else if (streq(cmd, "altname")) {
                NEED(4);
                r = rtnl_link_add_altname(rtnl, ifindex_of(argv[2]), argv[3]);
        } else if (streq(cmd, "bridge")) {
                NEED(3);
                r = rtnl_bridge_create(rtnl, argv[2]);
        } else if (streq(cmd, "master")) {
                NEED(4);
                r = rtnl_link_set_master(rtnl, ifindex_of(argv[2]), streq(argv[3], "-") ? 0 : ifindex_of(argv[3]));
        } else if (streq(cmd, "up") || streq(cmd, "down")) {
                NEED(3);
                r = rtnl_link_set_up(rtnl, ifindex_of(argv[2]), streq(cmd, "up"));
        } else if (streq(cmd, "addr")) {
                NEED(4);
                if (parse_addr(argv[3], &family, &a, &prefixlen) < 0)
                        return fail(argv[3], -EINVAL);
                r = rtnl_addr_add(rtnl, ifindex_of(argv[2]), family, &a, prefixlen);
        } else if (streq(cmd, "addrs")) {
                r = rtnl_addr_list(rtnl, argc > 2 ? ifindex_of(argv[2]) : 0,
                                   argc > 3 ? (streq(argv[3], "6") ? AF_INET6 : AF_INET) : AF_UNSPEC,
                                   print_addr, NULL);
        } else if (streq(cmd, "route")) {
                NEED(4);
                if (streq(argv[3], "-")) {
                        family = argc > 4 && streq(argv[4], "6") ? AF_INET6 : AF_INET;
                        r = rtnl_route_add_default(rtnl, family, NULL, ifindex_of(argv[2]));
                } else {
                        if (parse_addr(argv[3], &family, &a, NULL) < 0)
                                return fail(argv[3], -EINVAL);
                        r = rtnl_route_add_default(rtnl, family, &a, ifindex_of(argv[2]));
                }
        } else if (streq(cmd, "delete")) {
                NEED(3);
                r = rtnl_link_delete(rtnl, ifindex_of(argv[2]));
        } else if (streq(cmd, "slaves")) {
                NEED(3);
                r = rtnl_link_count_slaves(rtnl, ifindex_of(argv[2]));
                if (r >= 0)
                        printf("%i\n", r);
        } else if (streq(cmd, "move")) {
                NEED(4);
                ns = open_netns(argv[3]);
                r = rtnl_link_move_netns(rtnl, ifindex_of(argv[2]), ns, argc > 4 ? argv[4] : NULL);
        } else if (streq(cmd, "macvlan") || streq(cmd, "ipvlan")) {
                NEED(5);
                ns = open_netns(argv[4]);
                r = (streq(cmd, "macvlan") ? rtnl_macvlan_create : rtnl_ipvlan_create)
                        (rtnl, argv[2], ifindex_of(argv[3]), ns);
        } else {
                fprintf(stderr, "netlink-probe: unknown command '%s'\n", cmd);
                r = -EINVAL;
        }

        if (r < 0)
                r = fail(cmd, r);
        else
                r = 0;
        rtnl = rtnl_close(rtnl);
        return r;
}
