/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <grp.h>
#include <termios.h>
#include <unistd.h>

#include "capability-util.h"
#include "fd-util.h"
#include "machine-enter.h"
#include "process-util.h"
#include "seccomp-cache.h"
#include "string-util.h"

#define ENTER_REPLY_TIMEOUT_MSEC 10000
#define PTY_PATH_MAX 64

void machine_restrictions_done(MachineRestrictions *r) {
        strv_free(r->syscall_allow);
        strv_free(r->syscall_deny);
        *r = (MachineRestrictions) {};
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* The values of KEY= in the state file: space-separated, with \xHH escapes (see
 * spawn-state.c's put_escaped()). */
static int state_list(const char *text, const char *key, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t k = strlen(key);

        for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                const char *p;

                if (strncmp(line, key, k) != 0 || line[k] != '=')
                        continue;
                p = line + k + 1;
                while (*p && *p != '\n') {
                        size_t n = strcspn(p, " \n");
                        char *v = malloc(n + 1), *o = v;

                        if (!v)
                                return -ENOMEM;
                        for (size_t i = 0; i < n; i++) {
                                if (p[i] == '\\' && i + 3 < n + 1 && p[i + 1] == 'x' &&
                                    unhex(p[i + 2]) >= 0 && unhex(p[i + 3]) >= 0) {
                                        *o++ = (char) (unhex(p[i + 2]) << 4 | unhex(p[i + 3]));
                                        i += 3;
                                } else
                                        *o++ = p[i];
                        }
                        *o = 0;
                        if (strv_push(&l, v) < 0)
                                return -ENOMEM;
                        p += n;
                        if (*p == ' ')
                                p++;
                }
                break;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int state_one(const char *text, const char *key, char **ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = state_list(text, key, &l);
        if (r < 0)
                return r;
        if (strv_length(l) != 1)
                return -EBADMSG;
        *ret = strdup(l[0]);
        return *ret ? 0 : -ENOMEM;
}

int machine_restrictions_parse(const char *text, pid_t supervisor, MachineRestrictions *ret) {
        _cleanup_(machine_restrictions_done) MachineRestrictions res = {};
        _cleanup_free_ char *sup = NULL, *init = NULL, *bounding = NULL, *nnp = NULL;
        char *end;
        int r;

        r = state_one(text, "SUPERVISOR", &sup);
        if (r < 0)
                return r;
        if (supervisor > 0 && strtol(sup, &end, 10) != supervisor)
                return -ESTALE;

        /* Written by berth-spawn before these keys existed, or for a command: no init. */
        res.init_kind = state_one(text, "INIT", &init) >= 0 ? init_kind_from_string(init) : INIT_NONE;
        if (res.init_kind < 0)
                res.init_kind = INIT_UNKNOWN;

        r = state_one(text, "BOUNDING_SET", &bounding);
        if (r < 0)
                return r;
        errno = 0;
        res.bounding_set = strtoull(bounding, &end, 16);
        if (errno != 0 || *end || !startswith(bounding, "0x"))
                return -EBADMSG;
        r = state_one(text, "NO_NEW_PRIVILEGES", &nnp);
        if (r < 0)
                return r;
        if (!streq(nnp, "0") && !streq(nnp, "1"))
                return -EBADMSG;
        res.no_new_privileges = streq(nnp, "1");
        r = state_list(text, "SYSCALL_ALLOW", &res.syscall_allow);
        if (r >= 0)
                r = state_list(text, "SYSCALL_DENY", &res.syscall_deny);
        if (r < 0)
                return r;

        res.known = true;
        *ret = res;
        res = (MachineRestrictions) {};
        return 0;
}

int machine_restrictions_load(const char *dir, const char *name, pid_t supervisor, MachineRestrictions *ret) {
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        int r;

        dfd = open(dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        fd = openat(dfd, name, O_RDONLY|O_CLOEXEC|O_NOFOLLOW|O_NONBLOCK);
        if (fd < 0)
                return -errno;
        /* only root's word counts: it decides what a shell in the machine may do */
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0022))
                return -EPERM;
        r = read_full_fd(fd, 1 << 20, &text, NULL);
        if (r < 0)
                return r;
        return machine_restrictions_parse(text, supervisor, ret);
}

void machine_entry_done(MachineEntry *e) {
        safe_close(e->rootfd);
        safe_close(e->cgroup_fd);
        for (size_t i = 0; i < e->n_v1_cgroup_fds; i++)
                safe_close(e->v1_cgroup_fds[i]);
        seccomp_filter_done(&e->filter);
        *e = (MachineEntry) MACHINE_ENTRY_NULL;
}

static int proc_open(pid_t pid, const char *what, int flags) {
        char fn[64];
        int fd;

        snprintf(fn, sizeof(fn), "/proc/%i/%s", (int) pid, what);
        fd = open(fn, flags|O_CLOEXEC|O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        return fd;
}

static int proc_read(pid_t pid, const char *what, char **ret) {
        _cleanup_close_ int fd = proc_open(pid, what, O_RDONLY);

        if (fd < 0)
                return fd;
        return read_full_fd(fd, 64 * 1024, ret, NULL);
}

/* A field of /proc/PID/status ("CapBnd:\t000001ffffffffff"). */
static int status_field(const char *status, const char *key, char *buf, size_t size) {
        _cleanup_free_ char *k = strjoin("\n", key, ":");
        const char *p;
        size_t n;

        if (!k)
                return -ENOMEM;
        p = strstr(status, k);
        if (!p)
                return -ENOENT;
        p += strlen(k);
        p += strspn(p, " \t");
        n = strcspn(p, "\n");
        if (n >= size)
                return -EBADMSG;
        memcpy(buf, p, n);
        buf[n] = 0;
        return 0;
}

/* The leader's cgroup in the hierarchy whose /proc/PID/cgroup line starts with 'prefix'
 * ("0::" for cgroup2, ":name=systemd:" after the hierarchy number for v1), opened below
 * that hierarchy's root. */
static int leader_cgroup_open(const char *text, const char *prefix, int rootfd, int *ret) {
        _cleanup_free_ char *path = NULL;
        const char *p = text;
        size_t n;
        int fd;

        for (;;) {
                p = strstr(p, prefix);
                if (!p)
                        return -EOPNOTSUPP;
                if (streq(prefix, "0::") ? (p == text || p[-1] == '\n') : true)
                        break;
                p++;
        }
        p += strlen(prefix);
        if (*p != '/')
                return -EBADMSG;
        p++;
        n = strcspn(p, "\n");
        path = n > 0 ? strndup(p, n) : strdup(".");
        if (!path)
                return -ENOMEM;
        if (streq(path, "..") || startswith(path, "../") || strstr(path, "/../") || endswith(path, "/.."))
                return -EBADMSG;
        fd = openat(rootfd, path, O_RDONLY|O_DIRECTORY|O_CLOEXEC|O_NOFOLLOW);   /* clone3() takes no O_PATH fd */
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

/* Hybrid hosts: every v1 hierarchy the leader is in ("5:pids:/machine.slice/…",
 * "1:name=systemd:/…"), mounted as /sys/fs/cgroup/<controllers> (name=systemd: systemd),
 * as berth-spawn and berthd set them up. */
static int leader_v1_cgroups_open(const char *text, MachineEntry *e) {
        for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                _cleanup_free_ char *hierarchy = NULL, *prefix = NULL, *dir = NULL;
                _cleanup_close_ int rootfd = -EBADF;
                const char *c = strchr(line, ':'), *end;
                int r;

                if (!c || startswith(line, "0::"))
                        continue;
                end = strchr(c + 1, ':');
                if (!end || end == c + 1)
                        continue;
                hierarchy = strndup(c + 1, end - c - 1);
                if (!hierarchy)
                        return -ENOMEM;
                if (strchr(hierarchy, '/') || strstr(hierarchy, ".."))
                        return -EBADMSG;
                dir = strjoin("/sys/fs/cgroup/", startswith(hierarchy, "name=") ?: hierarchy);
                prefix = strjoin(":", hierarchy, ":");
                if (!dir || !prefix)
                        return -ENOMEM;
                rootfd = open(dir, O_PATH|O_DIRECTORY|O_CLOEXEC);
                if (rootfd < 0)
                        continue;       /* not mounted where we look: not ours to keep in step */
                if (e->n_v1_cgroup_fds >= MACHINE_ENTRY_V1_MAX)
                        return -E2BIG;
                r = leader_cgroup_open(line, prefix, rootfd, &e->v1_cgroup_fds[e->n_v1_cgroup_fds]);
                if (r < 0)
                        return r;
                e->n_v1_cgroup_fds++;
        }
        return 0;
}

int machine_entry_prepare(pid_t leader, int leader_pidfd, const CgroupLayout *cgroups, const MachineRestrictions *res,
                          MachineEntry *ret) {
        _cleanup_(machine_entry_done) MachineEntry e = MACHINE_ENTRY_NULL;
        _cleanup_free_ char *status = NULL, *cgroup = NULL;
        char buf[64];
        int r;

        e.leader = leader;
        e.leader_pidfd = leader_pidfd;

        r = namespaces_differing(leader, &e.ns_flags);
        if (r < 0)
                return r;
        e.rootfd = proc_open(leader, "root", O_PATH|O_DIRECTORY);
        if (e.rootfd < 0)
                return e.rootfd;
        r = proc_read(leader, "cgroup", &cgroup);
        if (r < 0)
                return r;
        if (cgroups->unified_fd < 0)
                return -EOPNOTSUPP;
        r = leader_cgroup_open(cgroup, "0::", cgroups->unified_fd, &e.cgroup_fd);
        if (r < 0)
                return r;
        r = leader_v1_cgroups_open(cgroup, &e);
        if (r < 0)
                return r;
        r = proc_read(leader, "status", &status);
        if (r < 0)
                return r;

        if (res && res->known) {
                e.bounding_set = res->bounding_set;
                e.no_new_privileges = res->no_new_privileges;
                r = seccomp_filter_get(SECCOMP_CACHE_DIR, res->bounding_set, res->syscall_allow, res->syscall_deny,
                                       &e.filter);
                if (r < 0)
                        return r;
                e.have_filter = true;
        } else {
                /* Not started by berth-spawn: what can be read off the leader. */
                r = status_field(status, "CapBnd", buf, sizeof(buf));
                if (r < 0)
                        return r;
                errno = 0;
                e.bounding_set = strtoull(buf, NULL, 16);
                if (errno != 0)
                        return -EBADMSG;
                e.no_new_privileges = status_field(status, "NoNewPrivs", buf, sizeof(buf)) >= 0 && streq(buf, "1");
                if (status_field(status, "Seccomp", buf, sizeof(buf)) >= 0 && !streq(buf, "0"))
                        return -EPERM;
        }

        /* All of it read while the leader lived: it was that leader's (see leader_open()). */
        if (leader_pidfd >= 0 && pidfd_signal(leader_pidfd, 0) < 0)
                return -ESRCH;

        *ret = e;
        e = (MachineEntry) MACHINE_ENTRY_NULL;
        return 0;
}

/* --- the child side: runs in the forked processes only --- */

typedef struct EnterReply {
        int32_t error;
        char pty_path[PTY_PATH_MAX];
} EnterReply;

static int send_reply(int sock, int error, int master, const char *pty_path) {
        EnterReply reply = { .error = error };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = &reply, .iov_len = sizeof(reply) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (pty_path)
                snprintf(reply.pty_path, sizeof(reply.pty_path), "%s", pty_path);
        if (master >= 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &master, sizeof(int));
        }
        return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* The machine's /dev/ptmx, which must be a pty multiplexer: the machine's root could have
 * put anything there. Opened non-blocking so a FIFO cannot hang us. */
static int open_ptmx(int *ret_master, char *ret_path, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int unlock = 0, n;

        fd = open("/dev/ptmx", O_RDWR|O_NOCTTY|O_CLOEXEC|O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2)
                return -ENOTTY;
        if (ioctl(fd, TIOCSPTLCK, &unlock) < 0 || ioctl(fd, TIOCGPTN, &n) < 0)
                return -errno;
        if (fd_nonblock(fd, false) < 0)
                return -errno;
        snprintf(ret_path, size, "/dev/pts/%i", n);
        *ret_master = TAKE_FD(fd);
        return 0;
}

static void reset_signals(void) {
        sigset_t mask;

        sigemptyset(&mask);
        (void) sigprocmask(SIG_SETMASK, &mask, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
}

/* The pty becomes the process's controlling terminal and its stdin, stdout and stderr. */
static int attach_pty(int master) {
        _cleanup_close_ int slave = -EBADF;

        if (setsid() < 0)
                return -errno;
        slave = ioctl(master, TIOCGPTPEER, O_RDWR|O_NOCTTY);
        if (slave < 0)
                return -errno;
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
                return -errno;
        for (int fd = 0; fd < 3; fd++)
                if (dup2(slave, fd) < 0)
                        return -errno;
        return 0;
}

/* As berth-spawn's payload gets them (spawn-inner.c, inner_drop_privileges()): the filter
 * without no_new_privs needs CAP_SYS_ADMIN, so it goes first; with it, last. */
static int drop_privileges(const MachineEntry *e, const UserRecord *u) {
        uid_t uid = u ? u->uid : 0;
        gid_t gid = u ? u->gid : 0;
        int r;

        if (e->have_filter && !e->no_new_privileges) {
                r = seccomp_filter_load(&e->filter);
                if (r < 0)
                        return r;
        }
        r = capability_bounding_restrict(e->bounding_set);
        if (r < 0)
                return r;
        if (setgroups(u ? u->n_groups : 0, u ? u->groups : NULL) < 0)
                return -errno;
        if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return -errno;
        r = capability_set_final(uid != 0 ? 0 : e->bounding_set);
        if (r < 0)
                return r;
        if (e->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (e->have_filter && e->no_new_privileges) {
                r = seccomp_filter_load(&e->filter);
                if (r < 0)
                        return r;
        }
        return 0;
}

static _noreturn_ void exec_in_machine(const MachineEntry *e, const EnterRequest *req, int master) {
        static const char *const logins[] = { "/bin/login", "/usr/bin/login", "/sbin/login" };
        const UserRecord *u = req->mode == ENTER_SHELL ? req->user : NULL;
        int r;

        r = attach_pty(master);
        if (r >= 0)
                r = close_all_fds_except(NULL, 0) < 0 ? -EBADF : 0;
        if (r < 0) {
                dprintf(STDERR_FILENO, "Failed to set up the terminal: %s\n", strerror(-r));
                _exit(EXIT_FAILURE);
        }
        r = drop_privileges(e, u);
        if (r < 0) {
                dprintf(STDERR_FILENO, "Failed to take the machine's privileges: %s\n", strerror(-r));
                _exit(EXIT_FAILURE);
        }
        if (!u || isempty(u->home) || chdir(u->home) < 0)
                (void) chdir("/");

        if (req->mode == ENTER_LOGIN) {
                char *argv[] = { (char *) "login", NULL };
                for (size_t i = 0; i < ELEMENTSOF(logins); i++)
                        execve(logins[i], argv, req->env);
                dprintf(STDERR_FILENO, "No login program in the machine (tried /bin/login, /usr/bin/login, /sbin/login).\n");
                _exit(127);
        }
        execve(req->path, req->argv, req->env);
        dprintf(STDERR_FILENO, "Failed to execute %s: %s\n", req->path, strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
}

static int cmp_int(const void *a, const void *b) {
        return *(const int *) a < *(const int *) b ? -1 : *(const int *) a > *(const int *) b;
}

/* berthd's child: it stays in the host's PID namespace (setns() of a PID namespace only
 * applies to children), so it forks the process that runs in the machine and waits for
 * it, to pass its exit status on to berthd. */
static _noreturn_ void enter_child(const MachineEntry *e, const EnterRequest *req, int sock) {
        _cleanup_close_ int master = -EBADF;
        char pty_path[PTY_PATH_MAX];
        int keep[] = { sock, e->leader_pidfd, e->rootfd };
        siginfo_t si = {};
        pid_t pid;
        int r;

        reset_signals();
        /* hybrid hosts: the v1 hierarchies too (name=systemd, where berthd keeps machines) */
        r = 0;
        for (size_t i = 0; r >= 0 && i < e->n_v1_cgroup_fds; i++)
                r = write_string_file_at(e->v1_cgroup_fds[i], "cgroup.procs", "0");
        qsort(keep, ELEMENTSOF(keep), sizeof(int), cmp_int);
        if (r >= 0)
                r = close_all_fds_except(keep, ELEMENTSOF(keep));
        if (r >= 0 && e->ns_flags != 0 && setns(e->leader_pidfd, e->ns_flags) < 0)
                r = -errno;
        if (r >= 0 && (fchdir(e->rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0))
                r = -errno;
        if (r >= 0)
                r = open_ptmx(&master, pty_path, sizeof(pty_path));
        if (r < 0) {
                (void) send_reply(sock, r, -EBADF, NULL);
                _exit(EXIT_FAILURE);
        }

        if (req->mode == ENTER_PTY) {
                r = send_reply(sock, 0, master, pty_path);
                _exit(r < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }

        pid = fork();
        if (pid < 0) {
                (void) send_reply(sock, -errno, -EBADF, NULL);
                _exit(EXIT_FAILURE);
        }
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                exec_in_machine(e, req, master);
        }

        /* From here on berthd owns the pty; we only wait. */
        (void) send_reply(sock, 0, master, pty_path);
        master = safe_close(master);
        safe_close(sock);
        safe_close(e->rootfd);
        safe_close(e->leader_pidfd);
        while (waitid(P_PID, pid, &si, WEXITED) < 0)
                if (errno != EINTR)
                        _exit(EXIT_FAILURE);
        _exit(exit_status_from_siginfo(&si));
}

static int receive_reply(int sock, int *ret_master, char **ret_path) {
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        EnterReply reply = {};
        struct iovec iov = { .iov_base = &reply, .iov_len = sizeof(reply) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        struct pollfd p = { .fd = sock, .events = POLLIN };
        _cleanup_close_ int master = -EBADF;
        ssize_t n;

        /* The child only opens a pty before it answers: a few milliseconds. */
        if (poll(&p, 1, ENTER_REPLY_TIMEOUT_MSEC) <= 0)
                return -ETIMEDOUT;
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC|MSG_DONTWAIT);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                    c->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(&master, CMSG_DATA(c), sizeof(int));
        if (n != (ssize_t) sizeof(reply))
                return -EIO;        /* the child died before it could answer */
        if (reply.error < 0)
                return reply.error;
        if (master < 0)
                return -EIO;
        reply.pty_path[PTY_PATH_MAX - 1] = 0;
        *ret_path = strdup(reply.pty_path);
        if (!*ret_path)
                return -ENOMEM;
        *ret_master = TAKE_FD(master);
        return 0;
}

int machine_entry_run(const MachineEntry *e, const EnterRequest *req, int *ret_master, char **ret_pty_path,
                      int *ret_pidfd) {
        _cleanup_close_pair_ int pair[2] = EBADF_PAIR;
        _cleanup_close_ int pidfd = -EBADF;
        siginfo_t si;
        pid_t pid;
        int r;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;

        /* Cloned straight into the leader's cgroup: never in berthd's for an instant. */
        pid = clone_with_flags(CLONE_PIDFD, e->cgroup_fd, &pidfd);
        if (pid < 0)
                return pid;
        if (pid == 0) {
                pair[0] = safe_close(pair[0]);
                enter_child(e, req, pair[1]);
        }
        pair[1] = safe_close(pair[1]);

        r = receive_reply(pair[0], ret_master, ret_pty_path);
        if (r < 0) {
                (void) pidfd_signal(pidfd, SIGKILL);
                (void) pidfd_wait(pidfd, &si);
                return r;
        }
        if (req->mode == ENTER_PTY) {
                (void) pidfd_wait(pidfd, &si);
                if (ret_pidfd)
                        *ret_pidfd = -EBADF;
                return 0;
        }
        *ret_pidfd = TAKE_FD(pidfd);
        return 0;
}
