/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "process-util.h"

pid_t clone_with_flags(uint64_t flags, int cgroup_fd, int *ret_pidfd) {
        int pidfd = -EBADF;
        struct clone_args args = {
                .flags = flags | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
                .pidfd = (uint64_t) (uintptr_t) &pidfd,
                /* with CLONE_PARENT the kernel takes our own exit signal and refuses another */
                .exit_signal = flags & CLONE_PARENT ? 0 : SIGCHLD,
                .cgroup = cgroup_fd >= 0 ? (uint64_t) cgroup_fd : 0,
        };
        long pid;

        pid = syscall(SYS_clone3, &args, sizeof(args));
        if (pid < 0)
                return -errno;
        if (pid > 0 && ret_pidfd)
                *ret_pidfd = pidfd;
        return (pid_t) pid;
}

int pidfd_signal(int pidfd, int sig) {
        return RET_NERRNO((int) syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0));
}

int pidfd_wait(int pidfd, siginfo_t *ret) {
        siginfo_t si = {};

        for (;;) {
                if (waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED) >= 0)
                        break;
                if (errno != EINTR)
                        return -errno;
        }
        *ret = si;
        return 0;
}

int exit_status_from_siginfo(const siginfo_t *si) {
        if (si->si_code == CLD_EXITED)
                return si->si_status;
        return 128 + si->si_status;
}

static int cmp_int(const void *a, const void *b) {
        return (*(const int *) a > *(const int *) b) - (*(const int *) a < *(const int *) b);
}

int close_all_fds_from_except(unsigned from, const int *keep, size_t n_keep) {
        _cleanup_free_ int *sorted = NULL;

        if (n_keep > 0) {
                sorted = malloc(n_keep * sizeof(int));
                if (!sorted)
                        return -ENOMEM;
                memcpy(sorted, keep, n_keep * sizeof(int));
                qsort(sorted, n_keep, sizeof(int), cmp_int);
        }
        /* close every gap with close_range() */
        for (size_t i = 0; i <= n_keep; i++) {
                unsigned to = i < n_keep ? (unsigned) sorted[i] : ~0U;

                if (i < n_keep && sorted[i] < 0)
                        continue;
                if (to < from)
                        continue;
                if (to > from && syscall(SYS_close_range, from, to == ~0U ? ~0U : to - 1, 0) < 0)
                        return -errno;
                from = to == ~0U ? to : to + 1;
        }
        return 0;
}

int close_all_fds_except(const int *keep, size_t n_keep) {
        return close_all_fds_from_except(3, keep, n_keep);
}

static char **saved_argv = NULL;
static int saved_argc = 0;

void process_save_argv(int argc, char **argv) {
        saved_argc = argc;
        saved_argv = argv;
}

void process_rename(const char *name) {
        size_t avail;

        (void) prctl(PR_SET_NAME, name);
        if (saved_argc <= 0 || !saved_argv || !saved_argv[0])
                return;

        /* argv strings are contiguous: overwrite all of them. */
        avail = (size_t) (saved_argv[saved_argc - 1] + strlen(saved_argv[saved_argc - 1]) - saved_argv[0]);
        memset(saved_argv[0], 0, avail + 1);
        strncpy(saved_argv[0], name, avail);
}

static int child_wait(pid_t child, int *ret_status) {
        while (waitpid(child, ret_status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

int worker_child_setup(pid_t parent) {
        sigset_t mask;

        sigemptyset(&mask);
        (void) sigprocmask(SIG_SETMASK, &mask, NULL);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                return -EIO;
        return 0;
}

int fork_collect(ForkCollectFunc f, void *userdata, size_t max, int timeout_msec, char **ret, size_t *ret_size) {
        _cleanup_close_pair_ int pair[2] = EBADF_PAIR;
        _cleanup_free_ char *buf = NULL;
        struct pollfd p = { .events = POLLIN };
        pid_t parent = getpid(), child;
        size_t size = 0;
        int status, r;

        if (pipe2(pair, O_CLOEXEC) < 0)
                return -errno;
        child = fork();
        if (child < 0)
                return -errno;
        if (child == 0) {
                pair[0] = safe_close(pair[0]);
                if (worker_child_setup(parent) < 0)
                        _exit(EIO);
                r = f(userdata, pair[1]);
                /* the exit code carries the errno (they all fit in 1..255) */
                _exit(r < 0 ? MIN(-r, 255) : EXIT_SUCCESS);
        }

        pair[1] = safe_close(pair[1]);
        p.fd = pair[0];
        r = poll(&p, 1, timeout_msec);
        if (r == 0)
                r = -ETIMEDOUT;
        else if (r < 0)
                r = -errno;
        else
                /* blocks until the child has written everything and exited */
                r = read_full_fd(pair[0], max, &buf, &size);
        if (r < 0)
                (void) kill(child, SIGKILL);
        if (child_wait(child, &status) < 0 && r >= 0)
                r = -ECHILD;
        if (r < 0)
                return r;
        if (!WIFEXITED(status))
                return -EIO;
        if (WEXITSTATUS(status) != 0)
                return -WEXITSTATUS(status);

        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int namespaces_differing(pid_t leader, int *ret) {
        static const struct {
                const char *name;
                int flag;
        } table[] = {
                { "user", CLONE_NEWUSER }, { "mnt", CLONE_NEWNS }, { "pid", CLONE_NEWPID },
                { "uts", CLONE_NEWUTS }, { "ipc", CLONE_NEWIPC }, { "net", CLONE_NEWNET },
                { "cgroup", CLONE_NEWCGROUP },
        };
        int flags = 0;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                char ours[64], theirs[64];
                struct stat a, b;

                snprintf(ours, sizeof(ours), "/proc/self/ns/%s", table[i].name);
                snprintf(theirs, sizeof(theirs), "/proc/%i/ns/%s", (int) leader, table[i].name);
                if (stat(ours, &a) < 0)
                        return -errno;
                if (stat(theirs, &b) < 0)
                        return errno == ENOENT ? -ESRCH : -errno;
                /* joining the user namespace we are in is an error, the others a waste */
                if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
                        flags |= table[i].flag;
        }
        *ret = flags;
        return 0;
}
