/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <ifaddrs.h>
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

static int collect_addresses(MachineAddress **ret, size_t *ret_n) {
        struct ifaddrs *ifa = NULL;
        _cleanup_free_ MachineAddress *l = NULL;
        size_t n = 0;

        if (getifaddrs(&ifa) < 0)
                return -errno;

        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                MachineAddress a = {};
                MachineAddress *nl;

                if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
                        continue;
                if (i->ifa_addr->sa_family == AF_INET) {
                        a.family = AF_INET;
                        memcpy(a.bytes, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, 4);
                } else if (i->ifa_addr->sa_family == AF_INET6) {
                        a.family = AF_INET6;
                        memcpy(a.bytes, &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr, 16);
                } else
                        continue;

                nl = realloc(l, (n + 1) * sizeof(MachineAddress));
                if (!nl) {
                        freeifaddrs(ifa);
                        return -ENOMEM;
                }
                l = nl;
                l[n++] = a;
        }
        freeifaddrs(ifa);

        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

/* In a child: enter the machine's network namespace and send its addresses. */
static int send_addresses_of(void *userdata, int fd) {
        _cleanup_free_ MachineAddress *l = NULL;
        size_t n = 0;
        int r;

        if (setns(*(const int *) userdata, CLONE_NEWNET) < 0)
                return -errno;
        r = collect_addresses(&l, &n);
        if (r < 0)
                return r;
        return n > 0 ? loop_write(fd, l, n * sizeof(MachineAddress)) : 0;
}

int machine_get_addresses(int leader_pidfd, MachineAddress **ret, size_t *ret_n) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        int r;

        if (leader_pidfd < 0)
                return collect_addresses(ret, ret_n);

        /* Enter the machine's network namespace in a short-lived child, so that the daemon
         * itself never changes namespace. */
        r = fork_collect(send_addresses_of, &leader_pidfd, 1024 * 1024, -1, &buf, &size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return pidfd_is_alive(leader_pidfd) ? -EIO : -ESRCH;
        if (size % sizeof(MachineAddress) != 0)
                return -EIO;

        *ret_n = size / sizeof(MachineAddress);
        *ret = (MachineAddress *) (size > 0 ? TAKE_PTR(buf) : NULL);
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
