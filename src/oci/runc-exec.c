/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capability-util.h"
#include "fd-util.h"
#include "log.h"
#include "oci-config.h"
#include "parse-util.h"
#include "path-util.h"
#include "process-util.h"
#include "runc.h"
#include "seccomp-cache.h"
#include "seccomp-oci.h"
#include "spawn-oci.h"
#include "string-util.h"

extern char **environ;

typedef struct ExecArgs {
        const char *process;     /* --process FILE: the whole Process object */
        bool detach;
        const char *pid_file;
        const char *console_socket;
        bool tty;
        const char *cwd;
        char **env;
        const char *user;        /* UID[:GID] */
        unsigned preserve_fds;
        const char *id;
        char **args;
} ExecArgs;

static void exec_args_done(ExecArgs *a) {
        strv_free(a->env);
}

static int parse_exec_args(int argc, char *argv[], ExecArgs *a) {
        enum { ARG_PID_FILE = 0x100, ARG_CONSOLE_SOCKET, ARG_CWD, ARG_PRESERVE_FDS, ARG_IGNORED, ARG_IGNORED_ARG };
        static const struct option options[] = {
                { "process",        required_argument, NULL, 'p' },
                { "detach",         no_argument,       NULL, 'd' },
                { "pid-file",       required_argument, NULL, ARG_PID_FILE },
                { "console-socket", required_argument, NULL, ARG_CONSOLE_SOCKET },
                { "tty",            no_argument,       NULL, 't' },
                { "cwd",            required_argument, NULL, ARG_CWD },
                { "env",            required_argument, NULL, 'e' },
                { "user",           required_argument, NULL, 'u' },
                { "preserve-fds",   required_argument, NULL, ARG_PRESERVE_FDS },
                { "no-new-privs",   no_argument,       NULL, ARG_IGNORED },
                { "process-label",  required_argument, NULL, ARG_IGNORED_ARG },
                { "apparmor",       required_argument, NULL, ARG_IGNORED_ARG },
                {}
        };
        uint64_t n;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+p:dte:u:", options, NULL)) >= 0)
                switch (c) {
                case 'p':
                        a->process = optarg;
                        break;
                case 'd':
                        a->detach = true;
                        break;
                case ARG_PID_FILE:
                        a->pid_file = optarg;
                        break;
                case ARG_CONSOLE_SOCKET:
                        a->console_socket = optarg;
                        break;
                case 't':
                        a->tty = true;
                        break;
                case ARG_CWD:
                        a->cwd = optarg;
                        break;
                case 'e':
                        if (!strchr(optarg, '=') || strv_extend(&a->env, optarg) < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid --env value '%s'", optarg);
                        break;
                case 'u':
                        a->user = optarg;
                        break;
                case ARG_PRESERVE_FDS:
                        if (safe_atou64(optarg, &n) < 0 || n > 1024)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid --preserve-fds value '%s'", optarg);
                        a->preserve_fds = (unsigned) n;
                        break;
                case ARG_IGNORED:
                case ARG_IGNORED_ARG:
                        break;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }
        if (optind >= argc)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "\"exec\" requires a minimum of 1 argument(s)");
        a->id = argv[optind];
        a->args = argv + optind + 1;
        if (!a->process && !a->args[0])
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "exec: no command given (arguments or --process)");
        return 0;
}

/* The process to run: --process as given, else the container's own process with the
 * command line's arguments and overrides. */
static int exec_process(const Container *c, const ExecArgs *a, OciConfig *ret) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        size_t size;
        int r;

        if (a->process) {
                _cleanup_close_ int fd = open(a->process, O_RDONLY|O_CLOEXEC);

                if (fd < 0)
                        return log_error_errno(errno, "Failed to open the process file %s: %m", a->process);
                r = read_full_fd(fd, 4 * 1024 * 1024, &text, &size);
                if (r < 0)
                        return log_error_errno(r, "Failed to read %s: %m", a->process);
                r = oci_process_parse(text, size, ret, &error);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(r, "Invalid process %s: %s", a->process, error);
                return 0;
        }

        r = oci_config_load(c->bundle, ret);
        if (r < 0)
                return r;
        strv_free(ret->args);
        ret->args = strv_copy(a->args);
        if (!ret->args)
                return log_oom();
        ret->terminal = a->tty;
        if (a->cwd) {
                free(ret->cwd);
                if (!(ret->cwd = strdup(a->cwd)))
                        return log_oom();
        }
        STRV_FOREACH(e, a->env)
                if (strv_env_set(&ret->env, *e) < 0)
                        return log_oom();
        if (a->user) {
                const char *colon = strchr(a->user, ':');
                _cleanup_free_ char *u = colon ? strndup(a->user, colon - a->user) : strdup(a->user);

                if (!u)
                        return log_oom();
                if (parse_uid(u, &ret->uid) < 0 || (colon && parse_uid(colon + 1, &ret->gid) < 0))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid --user value '%s'", a->user);
        }
        return 0;
}

/* In the child: a failure is written to the error pipe for the parent to log. */
_printf_(2, 3)
static _noreturn_ void child_fail(int errfd, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        (void) loop_write(errfd, buf, strlen(buf));
        _exit(EXIT_FAILURE);
}

static void child_setup_terminal(int errfd, int console) {
        _cleanup_close_ int master = -EBADF, slave = -EBADF;

        master = open("/dev/pts/ptmx", O_RDWR|O_NOCTTY|O_CLOEXEC);
        if (master < 0 || unlockpt(master) < 0)
                child_fail(errfd, "Failed to allocate a pty in the container: %s", strerror(errno));
        slave = ioctl(master, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC);
        if (slave < 0)
                child_fail(errfd, "Failed to open the pty's peer: %s", strerror(errno));
        if (send_one_fd(console, master, "/dev/ptmx") < 0)
                child_fail(errfd, "Failed to send the pty to the console socket: %s", strerror(errno));
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
                child_fail(errfd, "Failed to make the pty the controlling terminal: %s", strerror(errno));
        for (int fd = 0; fd < 3; fd++)
                if (dup2(slave, fd) < 0)
                        child_fail(errfd, "Failed to connect stdio to the pty: %s", strerror(errno));
}

static void child_drop_privileges(int errfd, const OciConfig *p, const SeccompFilter *filter) {
        int r;

        for (size_t k = 0; k < p->n_rlimits; k++) {
                struct rlimit rl = { .rlim_cur = p->rlimits[k].soft, .rlim_max = p->rlimits[k].hard };
                if (setrlimit(p->rlimits[k].resource, &rl) < 0)
                        child_fail(errfd, "Failed to set resource limit %i: %s", p->rlimits[k].resource, strerror(errno));
        }
        if (!p->no_new_privileges && (r = seccomp_filter_load(filter)) < 0)
                child_fail(errfd, "Failed to load the system call filter: %s", strerror(-r));
        r = capability_bounding_restrict(p->cap_bounding);
        if (r < 0)
                child_fail(errfd, "Failed to restrict the capability bounding set: %s", strerror(-r));
        /* the process's sets apply whatever its user, as runc sets them */
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                child_fail(errfd, "Failed to keep capabilities across the change of user: %s", strerror(errno));
        if (setgroups(p->n_additional_gids, p->additional_gids) < 0 ||
            setresgid(p->gid, p->gid, p->gid) < 0 || setresuid(p->uid, p->uid, p->uid) < 0)
                child_fail(errfd, "Failed to change to user %u:%u: %s", (unsigned) p->uid, (unsigned) p->gid, strerror(errno));
        r = capability_set_oci(p->cap_bounding & p->cap_permitted, p->cap_effective,
                               p->cap_bounding & p->cap_inheritable, p->cap_ambient);
        if (r < 0)
                child_fail(errfd, "Failed to set capabilities: %s", strerror(-r));
        if (p->no_new_privileges) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        child_fail(errfd, "Failed to set no_new_privs: %s", strerror(errno));
                if ((r = seccomp_filter_load(filter)) < 0)
                        child_fail(errfd, "Failed to load the system call filter: %s", strerror(-r));
        }
}

/* Has the container a user namespace of its own? Joining our own is an error (EINVAL). */
static bool own_userns(pid_t pid) {
        char path[64];
        struct stat a, b;

        snprintf(path, sizeof(path), "/proc/%i/ns/user", (int) pid);
        return stat(path, &a) >= 0 && stat("/proc/self/ns/user", &b) >= 0 && a.st_ino != b.st_ino;
}

/* The new process: into the container's cgroups and namespaces (its PID namespace was
 * joined by the parent for it), then the container's own drop of privileges. In a
 * container without a mount namespace of its own (rootfd >= 0: ours), joining it would
 * make the namespace's root ours: the init's root is taken instead, as it chrooted. */
static _noreturn_ void exec_child(int errfd, int pidfd, int rootfd, int console, const Container *c, const OciConfig *p,
                                  const SeccompFilter *filter, unsigned preserve_fds) {
        /* the user namespace is joined first, whatever the order of the flags (setns(2)) */
        int userns = own_userns(c->pid) ? CLONE_NEWUSER : 0;

        STRV_FOREACH(v1, c->cgroup_v1)
                (void) write_string_file_at(AT_FDCWD, path_join(*v1, "cgroup.procs") ?: "/", "0");
        if (setns(pidfd, userns|(rootfd >= 0 ? 0 : CLONE_NEWNS)|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET|CLONE_NEWCGROUP) < 0)
                child_fail(errfd, "Failed to join the container's namespaces: %s", strerror(errno));
        if (rootfd >= 0 && (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0))
                child_fail(errfd, "Failed to change to the container's root: %s", strerror(errno));
        if (p->terminal)
                child_setup_terminal(errfd, console);
        if (p->oom_score_adj_set) {
                char v[16];
                snprintf(v, sizeof(v), "%i", p->oom_score_adj);
                (void) write_string_file_at(AT_FDCWD, "/proc/self/oom_score_adj", v);
        }
        child_drop_privileges(errfd, p, filter);
        if (chdir(p->cwd) < 0)
                child_fail(errfd, "Failed to change to directory '%s' in the container: %s", p->cwd, strerror(errno));
        umask(p->umask >= 0 ? (mode_t) p->umask : 0022);
        int r = fd_cloexec_from(3U + preserve_fds);
        if (r < 0)
                child_fail(errfd, "Failed to mark file descriptors close-on-exec: %s", strerror(-r));
        (void) fd_cloexec(errfd, true);

        environ = p->env ?: (char *[]) { NULL };
        if (!strv_env_get(environ, "PATH"))
                (void) setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
        execvp(p->args[0], p->args);
        child_fail(errfd, "exec failed: %s: %s", p->args[0], strerror(errno));
}

/* The init's root if it shares our mount namespace (see exec_child()), else -EBADF. */
static int shared_root_open(pid_t pid, int *ret) {
        char path[64];
        struct stat ours, theirs;

        snprintf(path, sizeof(path), "/proc/%i/ns/mnt", (int) pid);
        if (stat("/proc/self/ns/mnt", &ours) < 0 || stat(path, &theirs) < 0)
                return log_error_errno(errno, "Failed to look at the container's mount namespace: %m");
        *ret = -EBADF;
        if (ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino)
                return 0;
        snprintf(path, sizeof(path), "/proc/%i/root", (int) pid);
        *ret = open(path, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (*ret < 0)
                return log_error_errno(errno, "Failed to open the container's root %s: %m", path);
        return 0;
}

/* The container's linux.seccomp profile as create compiled it, else berth's own filter
 * for the process's bounding set. */
static int exec_filter_get(const Container *c, const OciConfig *p, SeccompFilter *ret) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = open(c->dir, O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", c->dir);
        r = seccomp_filter_read(fd, RUNC_SECCOMP_FILE, ret);
        if (r >= 0)
                return 0;
        if (r != -ENOENT)
                return log_error_errno(r, "Failed to read the container's system call filter %s/%s: %m",
                                       c->dir, RUNC_SECCOMP_FILE);
        r = seccomp_filter_get(SECCOMP_CACHE_DIR, p->cap_bounding, NULL, NULL, ret);
        if (r < 0)
                return log_error_errno(r, "Failed to compile the system call filter: %m");
        return 0;
}

int verb_exec(const RuncGlobals *g, int argc, char *argv[]) {
        _cleanup_(exec_args_done) ExecArgs a = {};
        _cleanup_(container_done) Container c = {};
        _cleanup_(oci_config_done) OciConfig p = { .umask = -1 };
        _cleanup_close_ int pidfd = -EBADF, cgfd = -EBADF, console = -EBADF, rootfd = -EBADF;
        _cleanup_close_pair_ int errpipe[2] = EBADF_PAIR;
        _cleanup_(seccomp_filter_done) SeccompFilter filter = SECCOMP_FILTER_NULL;
        _cleanup_free_ char *error = NULL;
        ContainerStatus s;
        pid_t pid;
        int r, status;

        r = parse_exec_args(argc, argv, &a);
        if (r < 0)
                return r;
        r = container_load(g->root, a.id, &c);
        if (r < 0)
                return r;
        s = container_status(&c);
        if (s == STATUS_STOPPED)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "cannot exec in a stopped container");
        if (s == STATUS_PAUSED)
                return log_error_errno(SYNTHETIC_ERRNO(EBUSY), "cannot exec in a paused container (thaw it first)");
        r = exec_process(&c, &a, &p);
        if (r < 0)
                return r;
        if (p.terminal && !a.console_socket && a.detach)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "cannot allocate tty if runc will detach without setting console socket");
        if (p.terminal && !a.console_socket)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP), "exec --tty needs --console-socket with berth-runc");
        if (a.console_socket && (console = console_socket_connect(a.console_socket)) < 0)
                return console;

        r = exec_filter_get(&c, &p, &filter);
        if (r < 0)
                return r;

        pidfd = (int) syscall(SYS_pidfd_open, c.pid, 0);
        if (pidfd < 0 || process_start_time(c.pid, NULL) != c.pid_start)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "container not running");
        r = shared_root_open(c.pid, &rootfd);
        if (r < 0)
                return r;
        if (c.cgroup && (cgfd = open(c.cgroup, O_DIRECTORY|O_CLOEXEC)) < 0)
                return log_error_errno(errno, "Failed to open the container's cgroup %s: %m", c.cgroup);
        /* our children are born in the container's PID namespace */
        if (setns(pidfd, CLONE_NEWPID) < 0)
                return log_error_errno(errno, "Failed to join the container's PID namespace: %m");
        if (pipe2(errpipe, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Failed to create a pipe: %m");

        fflush(stdout);
        fflush(stderr);
        /* detached: the caller's child, as the container's init is */
        pid = clone_with_flags(a.detach ? CLONE_PARENT : 0, cgfd, NULL);
        if (pid < 0)
                return log_error_errno(pid, "Failed to start the process in the container: %m");
        if (pid == 0) {
                errpipe[0] = safe_close(errpipe[0]);
                exec_child(errpipe[1], pidfd, rootfd, console, &c, &p, &filter, a.preserve_fds);
        }
        errpipe[1] = safe_close(errpipe[1]);

        /* EOF without a word: the exec succeeded */
        r = read_full_fd(errpipe[0], 4096, &error, NULL);
        if (r >= 0 && !isempty(error)) {
                if (!a.detach)
                        (void) waitpid(pid, NULL, 0);
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s", error);
        }
        if (a.pid_file) {
                r = pid_file_write(a.pid_file, pid);
                if (r < 0) {
                        /* the caller is told it failed: the process does not run on (runc's too) */
                        (void) kill(pid, SIGKILL);
                        if (!a.detach)
                                (void) waitpid(pid, NULL, 0);
                        return r;
                }
        }
        if (a.detach)
                return 0;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return log_error_errno(errno, "Failed to wait for the process: %m");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
