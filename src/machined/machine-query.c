/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "machine-info.h"
#include "machine-query.h"
#include "netlink-util.h"
#include "os-release.h"
#include "process-util.h"
#include "string-util.h"

bool pidfd_is_alive(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };

        /* A pidfd polls readable once the process has exited (zombies included). */
        if (poll(&p, 1, 0) != 0)
                return false;
        return pidfd_signal(pidfd, 0) >= 0;
}

static int read_proc_file(pid_t pid, const char *what, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        char fn[64];

        snprintf(fn, sizeof(fn), "/proc/%i/%s", (int) pid, what);
        fd = open(fn, O_RDONLY|O_CLOEXEC|O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        return read_full_fd(fd, 64 * 1024, ret, NULL);
}

static int parse_status_uid(const char *status, uid_t *ret) {
        const char *p = strstr(status, "\nUid:");
        unsigned long u;

        if (!p || sscanf(p + 5, "%lu", &u) != 1 || u > UINT32_MAX - 1)
                return -EIO;
        *ret = (uid_t) u;
        return 0;
}

int leader_open(pid_t pid, int *ret_pidfd, uint64_t *ret_starttime, uid_t *ret_uid, pid_t *ret_ppid) {
        _cleanup_close_ int pidfd = -EBADF;
        _cleanup_free_ char *stat = NULL, *status = NULL;
        uint64_t starttime, ppid;
        uid_t uid;
        int r;

        if (pid <= 1)
                return -EINVAL;

        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return errno == EINVAL ? -ESRCH : -errno;   /* EINVAL: a thread, not a process */

        r = read_proc_file(pid, "stat", &stat);
        if (r < 0)
                return r;
        r = proc_stat_parse_starttime(stat, &starttime);
        if (r >= 0)
                r = proc_stat_parse_field(stat, 4, &ppid);
        if (r < 0)
                return -EIO;
        r = read_proc_file(pid, "status", &status);
        if (r < 0)
                return r;
        r = parse_status_uid(status, &uid);
        if (r < 0)
                return r;

        /* If the pidfd's process is still alive now, /proc/PID was that process while we
         * read it: a PID is only reused after its process is reaped. */
        if (!pidfd_is_alive(pidfd))
                return -ESRCH;

        *ret_pidfd = TAKE_FD(pidfd);
        if (ret_starttime)
                *ret_starttime = starttime;
        if (ret_uid)
                *ret_uid = uid;
        if (ret_ppid)
                *ret_ppid = (pid_t) ppid;
        return 0;
}

int machine_read_os_release(pid_t leader, int leader_pidfd, char ***ret) {
        _cleanup_close_ int rootfd = -EBADF;

        if (leader > 0) {
                char fn[64];

                snprintf(fn, sizeof(fn), "/proc/%i/root", (int) leader);
                rootfd = open(fn, O_PATH|O_DIRECTORY|O_CLOEXEC);
                if (rootfd < 0)
                        return errno == ENOENT ? -ESRCH : -errno;
                /* Still the same process (see leader_open())? Then this is its root. */
                if (leader_pidfd >= 0 && !pidfd_is_alive(leader_pidfd))
                        return -ESRCH;
        } else {
                rootfd = open("/", O_PATH|O_DIRECTORY|O_CLOEXEC);
                if (rootfd < 0)
                        return -errno;
        }

        return os_release_read_at(rootfd, ret);
}

typedef struct AddressList {
        MachineAddress *addrs;
        size_t n;
} AddressList;

static int add_address(const RtnlAddress *a, void *userdata) {
        AddressList *l = userdata;
        MachineAddress *nl;

        /* 127.0.0.1 and ::1: the loopback interface's, as getifaddrs() without IFF_LOOPBACK */
        if (a->scope >= RT_SCOPE_HOST)
                return 0;
        nl = realloc(l->addrs, (l->n + 1) * sizeof(MachineAddress));
        if (!nl)
                return -ENOMEM;
        l->addrs = nl;
        l->addrs[l->n] = (MachineAddress) { .family = a->family };
        memcpy(l->addrs[l->n].bytes, &a->address, a->family == AF_INET ? 4 : 16);
        l->n++;
        return 0;
}

/* A netlink socket in the network namespace of the leader. setns() of a network namespace
 * changes only the calling thread, and a socket stays in the namespace it was made in:
 * berthd (single-threaded) steps into the namespace for the socket() call alone and back
 * at once, with nothing in between. No fork: that cost ~6 ms per call with a thousand
 * machines registered; this costs microseconds. */
static int rtnl_open_in_netns(int pidfd, Rtnl **ret) {
        static int own = -EBADF;
        int r;

        if (own < 0) {
                own = open("/proc/thread-self/ns/net", O_RDONLY|O_CLOEXEC);
                if (own < 0)
                        return -errno;
        }
        if (setns(pidfd, CLONE_NEWNET) < 0)
                return -errno;
        r = rtnl_open(ret);
        /* our own namespace, held open: only a kernel bug makes this fail, and then every
         * later socket of berthd would be in the machine's namespace; stop instead */
        if (setns(own, CLONE_NEWNET) < 0)
                abort();
        return r;
}

int machine_get_addresses(int leader_pidfd, MachineAddress **ret, size_t *ret_n) {
        _cleanup_rtnl_close_ Rtnl *rtnl = NULL;
        AddressList l = {};
        int r;

        /* One netlink dump of the namespace's addresses, without a fork (which cost
         * berthd ~6 ms per call with a thousand machines registered). */
        r = leader_pidfd < 0 ? rtnl_open(&rtnl) : rtnl_open_in_netns(leader_pidfd, &rtnl);
        if (r < 0)
                return leader_pidfd >= 0 && !pidfd_is_alive(leader_pidfd) ? -ESRCH : r;

        for (int attempt = 0;; attempt++) {
                r = rtnl_addr_list(rtnl, 0, AF_UNSPEC, add_address, &l);
                if (r >= 0 || (r != -EAGAIN && r != -ENOBUFS) || attempt >= 3)
                        break;
                free(l.addrs);
                l = (AddressList) {};
        }
        if (r < 0) {
                free(l.addrs);
                return r;
        }
        /* the namespace was the leader's while it lived: a dead leader has no addresses */
        if (leader_pidfd >= 0 && !pidfd_is_alive(leader_pidfd)) {
                free(l.addrs);
                return -ESRCH;
        }
        *ret = l.addrs;
        *ret_n = l.n;
        return 0;
}

int uid_map_parse_shift(const char *text, uint32_t *ret) {
        unsigned long inside, outside, range;

        if (!text || sscanf(text, " %lu %lu %lu", &inside, &outside, &range) != 3)
                return -EBADMSG;
        if (inside != 0 || outside > UINT32_MAX || range == 0)
                return -ENXIO;   /* root of the machine is not mapped */
        *ret = (uint32_t) outside;
        return 0;
}

int machine_get_uid_shift(pid_t leader, int leader_pidfd, uint32_t *ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        if (leader <= 0) {
                *ret = 0;
                return 0;
        }
        r = read_proc_file(leader, "uid_map", &text);
        if (r < 0)
                return r;
        if (leader_pidfd >= 0 && !pidfd_is_alive(leader_pidfd))
                return -ESRCH;
        return uid_map_parse_shift(text, ret);
}
