/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "capability-util.h"
#include "fd-util.h"
#include "log.h"
#include "mount-util.h"
#include "os-release.h"
#include "process-util.h"
#include "seccomp-util.h"
#include "selinux-util.h"
#include "spawn-bind-user.h"
#include "spawn-cgroup.h"
#include "spawn-files.h"
#include "spawn-hooks.h"
#include "spawn-inner.h"
#include "spawn-mount.h"
#include "spawn-network.h"
#include "spawn-process.h"
#include "spawn-state.h"
#include "spawn-sync.h"
#include "string-util.h"
#include "user-util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct Inner {
        const SpawnConfig *config;
        const SpawnState *state;
        int sock;
        MountContext mounts;
        HostFiles files;
        int *home_fds;           /* --bind-user=: the cloned home directories */
        UserRecord user;
        bool have_user;
        char *exec_path;
        char **argv;
        char **env;
        int hook_state_fd;       /* OCI: the state for the startContainer hooks, or -EBADF */
        int fifo_fd;             /* detached: our end of the start FIFO, open until the exec */
} Inner;

/* If berth-spawn dies, the machine dies with it: a detached one (berth-runc) is its
 * caller's child and outlives the launcher. A parent that died before the signal was
 * armed sends none, and the usual check, getppid(), says nothing in a PID namespace of
 * our own (it is always 0). The sync socket tells instead: berth-spawn holds its other
 * end until the payload has started, so a hang-up means it is gone. */
static int inner_arm_parent_death(Inner *i) {
        struct pollfd p = { .fd = i->sock, .events = POLLIN };

        if (i->config->detached)
                return 0;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                return log_error_errno(errno, "Failed to set the parent death signal: %m");
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP|POLLERR)))
                return -ESRCH;          /* nobody to tell */
        return 0;
}

/* Detached (berth-runc create): the init waits for "start" as long as its caller likes,
 * and keeps nothing of the caller's but stdio and the --preserve-fds range meanwhile, as
 * runc's init: a lock or a pipe of the caller's would stay held until start. */
static int inner_close_inherited_fds(Inner *i) {
        const SpawnConfig *c = i->config;
        const SpawnState *s = i->state;
        _cleanup_free_ int *keep = NULL;
        size_t n = 0;
        int r;

        if (!c->detached)
                return 0;
        keep = calloc(3 + c->n_mounts, sizeof(int));
        if (!keep)
                return log_oom();
        keep[n++] = i->sock;
        keep[n++] = s->start_fifo_fd;
        keep[n++] = s->userns_fd;
        for (size_t k = 0; s->bind_userns_fds && k < c->n_mounts; k++)
                keep[n++] = s->bind_userns_fds[k];
        r = close_all_fds_from_except(3U + c->preserve_fds, keep, n);
        if (r < 0)
                return log_error_errno(r, "Failed to close the caller's file descriptors: %m");
        return 0;
}

static int inner_prepare_process(Inner *i) {
        sigset_t all;
        int r;

        sync_log_to_socket(i->sock);

        r = inner_close_inherited_fds(i);
        if (r < 0)
                return r;
        r = inner_arm_parent_death(i);
        if (r < 0)
                return r;

        sigfillset(&all);
        if (sigprocmask(SIG_UNBLOCK, &all, NULL) < 0)
                return log_error_errno(errno, "Failed to unblock signals: %m");
        umask(0);

        /* cgroup2 placement happened at clone time; v1 controllers (hybrid hosts) are
         * joined here, so that the new cgroup namespace is rooted at the machine's
         * cgroup in every hierarchy. */
        r = machine_cgroup_join_v1(i->state->cgroup.v1_paths);
        if (r < 0)
                return r;
        /* $SYSTEMD_NSPAWN_USE_CGNS=0: the host's cgroup paths, see inner_mount_cgroup();
         * OCI: the runtime's cgroup namespace, or one joined by path */
        if (!i->config->no_cgns && !(spawn_config_namespaces_kept(i->config) & CLONE_NEWCGROUP) &&
            unshare(CLONE_NEWCGROUP) < 0)
                return log_error_errno(errno, "Failed to create a cgroup namespace: %m");
        return 0;
}

/* OCI linux.namespaces[].path (but pid, joined by the launcher before the clone, and
 * network, below): every path is opened first, while the paths are the host's, then
 * joined, the mount namespace last. The machine is then set up inside them, as runc
 * does: in a joined mount namespace, pivot_root moves every process of it whose root
 * is its root. */
static int inner_join_namespaces(Inner *i) {
        const SpawnConfig *c = i->config;
        int fds[NAMESPACE_JOIN_MAX];
        size_t n = 0;
        int r = 0;

        for (size_t k = 0; k < c->n_namespace_joins; k++) {
                if (c->namespace_joins[k].type == CLONE_NEWPID)
                        continue;
                fds[n] = open(c->namespace_joins[k].path, O_RDONLY|O_CLOEXEC|O_NOCTTY);
                if (fds[n] < 0) {
                        r = log_error_errno(errno, "Failed to open namespace '%s': %m", c->namespace_joins[k].path);
                        goto finish;
                }
                n++;
        }
        for (int pass = 0; pass < 2 && r >= 0; pass++)
                for (size_t k = 0, j = 0; k < c->n_namespace_joins; k++) {
                        const NamespaceJoin *ns = &c->namespace_joins[k];

                        if (ns->type == CLONE_NEWPID)
                                continue;
                        /* the mount namespace in the second pass */
                        if ((ns->type == CLONE_NEWNS) == (pass == 1) && setns(fds[j], ns->type) < 0) {
                                r = log_error_errno(errno, "Failed to join namespace '%s': %m", ns->path);
                                break;
                        }
                        j++;
                }
finish:
        while (n > 0)
                safe_close(fds[--n]);
        return r;
}

/* OCI linux.sysctl, validated by spawn-oci.c: written through a proc instance of our own
 * (the machine's /proc/sys is read-only by now), in the machine's namespaces. */
static int inner_apply_sysctl(Inner *i) {
        _cleanup_close_ int proc = -EBADF;
        int r;

        if (!i->config->sysctl || !i->config->sysctl[0])
                return 0;
        r = fs_create_detached("proc", "proc", NULL, MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC, &proc);
        if (r < 0)
                return log_error_errno(r, "Failed to mount a proc instance for linux.sysctl: %m");
        STRV_FOREACH(kv, i->config->sysctl) {
                _cleanup_free_ char *path = NULL;
                _cleanup_close_ int fd = -EBADF;
                const char *eq = strchr(*kv, '=');
                size_t len;

                path = strjoin("sys/", *kv);
                if (!path || !eq)
                        return log_oom();
                path[4 + (eq - *kv)] = 0;
                for (char *p = path + 4; *p; p++)
                        if (*p == '.')
                                *p = '/';
                fd = openat(proc, path, O_WRONLY|O_CLOEXEC|O_NOCTTY);
                len = strlen(eq + 1);
                if (fd < 0 || write(fd, eq + 1, len) != (ssize_t) len)
                        return log_error_errno(errno, "Failed to set sysctl %.*s to '%s': %m", (int) (eq - *kv), *kv, eq + 1);
        }
        return 0;
}

/* --network-namespace-path=: joined first, while the path is the host's, so that /sys is
 * mounted for this namespace's devices. */
static int inner_join_netns(Inner *i) {
        const char *path = i->config->network_namespace_path;
        _cleanup_close_ int fd = -EBADF;

        if (!path)
                return 0;
        fd = open(path, O_RDONLY|O_CLOEXEC|O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open network namespace '%s': %m", path);
        if (setns(fd, CLONE_NEWNET) < 0)
                return log_error_errno(errno, "Failed to join network namespace '%s': %m", path);
        return 0;
}

static int inner_open_host_resources(Inner *i) {
        int r;

        r = mount_prepare_custom(i->config, i->state, &i->mounts);
        if (r >= 0)
                r = bind_users_open_homes(&i->state->bind_users, &i->home_fds);
        if (r < 0)
                return r;
        return host_files_prepare(i->config, i->state->directory, &i->files);
}

/* OCI process.user: numeric IDs, used whether or not the tree's passwd knows them (its
 * entry, if any, gives HOME). */
static int inner_lookup_uid(Inner *i) {
        const SpawnConfig *c = i->config;
        char uid[16];

        snprintf(uid, sizeof(uid), "%u", (unsigned) c->uid);
        if (user_record_lookup(i->mounts.rootfd, uid, &i->user) < 0) {
                user_record_done(&i->user);
                i->user = (UserRecord) { .home = strdup("/") };
                if (!i->user.home)
                        return log_oom();
        }
        free(i->user.groups);
        i->user.uid = c->uid;
        i->user.gid = c->gid;
        i->user.n_groups = c->n_groups;
        i->user.groups = calloc(c->n_groups + 1, sizeof(gid_t));
        if (!i->user.groups)
                return log_oom();
        if (c->n_groups > 0)
                memcpy(i->user.groups, c->groups, c->n_groups * sizeof(gid_t));
        i->have_user = true;
        return 0;
}

static int inner_lookup_user(Inner *i) {
        const char *name = i->config->user ?: "root";
        int r;

        if (i->config->uid_set)
                return inner_lookup_uid(i);

        r = user_record_lookup(i->mounts.rootfd, name, &i->user);
        if (r >= 0) {
                i->have_user = true;
                return 0;
        }
        if (!i->config->user)
                return 0;      /* no passwd entry for root: run as uid 0 without one */
        if (r == -ESRCH)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "User '%s' not found in the machine's /etc/passwd.", name);
        return log_error_errno(r, "Failed to look up user '%s' in the machine: %m", name);
}

static int is_executable_in_root(int rootfd, const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        r = chase_in_root(rootfd, path, 0, &fd);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                return -EACCES;
        return 0;
}

static int inner_find_init(Inner *i) {
        static const char *const inits[] = {
                "/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init",
        };
        const SpawnConfig *c = i->config;

        for (size_t k = 0; k < ELEMENTSOF(inits); k++) {
                if (is_executable_in_root(i->mounts.rootfd, inits[k]) < 0)
                        continue;

                /* Arguments after the tree go to init. */
                i->argv = strv_copy((char *[]) { (char *) inits[k], NULL });
                i->exec_path = strdup(inits[k]);
                if (!i->argv || !i->exec_path)
                        return log_oom();
                STRV_FOREACH(a, c->command)
                        if (strv_extend(&i->argv, *a) < 0)
                                return log_oom();
                return 0;
        }
        return log_error_errno(SYNTHETIC_ERRNO(ENOENT),
                               "No init found in the machine (tried /usr/lib/systemd/systemd, /lib/systemd/systemd, /sbin/init).");
}

static int inner_find_command(Inner *i) {
        const SpawnConfig *c = i->config;
        _cleanup_strv_free_ char **dirs = NULL;
        const char *cmd, *path;
        int r;

        if (c->boot)
                return inner_find_init(i);
        if (c->command)
                i->argv = strv_copy(c->command);
        else {
                const char *shell = i->have_user && !isempty(i->user.shell) ? i->user.shell : "/bin/sh";
                i->argv = strv_copy((char *[]) { (char *) shell, NULL });
        }
        if (!i->argv)
                return log_oom();
        cmd = i->argv[0];

        if (strchr(cmd, '/')) {
                if (cmd[0] != '/')
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Command '%s' must be an absolute path or a plain name.", cmd);
                r = is_executable_in_root(i->mounts.rootfd, cmd);
                if (r < 0)
                        return log_error_errno(r, "Command '%s' not usable inside the machine: %m", cmd);
                i->exec_path = strdup(cmd);
                return i->exec_path ? 0 : log_oom();
        }

        path = strv_env_get(c->setenv, "PATH") ?: DEFAULT_PATH;
        r = strv_split_full(path, ":", false, &dirs);
        if (r < 0)
                return log_oom();
        STRV_FOREACH(d, dirs) {
                _cleanup_free_ char *p = NULL;

                if ((*d)[0] != '/')
                        continue;
                p = strjoin(*d, "/", cmd);
                if (!p)
                        return log_oom();
                if (is_executable_in_root(i->mounts.rootfd, p) >= 0) {
                        i->exec_path = TAKE_PTR(p);
                        return 0;
                }
        }
        return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "Command '%s' not found in the machine (PATH=%s).", cmd, path);
}

static int bind_to_console(int rootfd, int source_fd) {
        _cleanup_close_ int target = -EBADF, mfd = -EBADF;
        int r;

        r = chase_in_root(rootfd, "/dev/console", 0, &target);
        if (r < 0)
                return r;
        r = mount_clone_detached(source_fd, "", false, false, &mfd);
        if (r < 0)
                return r;
        return mount_attach(mfd, target);
}

static int inner_setup_console(Inner *i) {
        _cleanup_close_ int master = -EBADF, slave = -EBADF, null = -EBADF;
        int r;

        if (i->config->console == CONSOLE_PIPE) {
                /* stdio is the caller's; the payload gets no controlling terminal. */
                r = chase_in_root(i->mounts.rootfd, "/dev/null", 0, &null);
                if (r >= 0)
                        r = bind_to_console(i->mounts.rootfd, null);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up /dev/console: %m");
                if (setsid() < 0)
                        return log_error_errno(errno, "Failed to start a new session: %m");
                return 0;
        }

        /* The pty comes from the machine's own devpts instance, so that names inside
         * (ttyname(), /dev/pts/0) are right; the parent receives the master. */
        master = open("/dev/pts/ptmx", O_RDWR|O_NOCTTY|O_CLOEXEC);
        if (master < 0)
                return log_error_errno(errno, "Failed to allocate a pty for the console: %m");
        if (unlockpt(master) < 0)
                return log_error_errno(errno, "Failed to unlock the console pty: %m");
        slave = ioctl(master, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC);
        if (slave < 0)
                return log_error_errno(errno, "Failed to open the console pty's peer: %m");

        /* Without a terminal on the other side, pass output through byte for byte:
         * no "\n" -> "\r\n" translation in what ends up in a pipe or a log. */
        if (i->config->console != CONSOLE_INTERACTIVE) {
                struct termios t;

                if (tcgetattr(slave, &t) < 0)
                        return log_error_errno(errno, "Failed to read the console's settings: %m");
                t.c_oflag &= ~OPOST;
                if (tcsetattr(slave, TCSANOW, &t) < 0)
                        return log_error_errno(errno, "Failed to change the console's settings: %m");
        }

        r = sync_send(i->sock, SYNC_PTY_MASTER, 0, 0, NULL, master);
        if (r < 0)
                return log_error_errno(r, "Failed to pass the console pty to berth-spawn: %m");

        /* Start with the caller's window size, set here so that the payload never sees
         * 0x0 before the parent got the master (the parent follows SIGWINCH later). */
        if (i->config->console == CONSOLE_INTERACTIVE) {
                struct winsize ws;
                if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) >= 0 || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) >= 0)
                        (void) ioctl(slave, TIOCSWINSZ, &ws);
        }

        /* the console belongs to the machine's root, group tty */
        if (i->mounts.userns && fchown(slave, i->mounts.uid_shift, mount_host_gid(&i->mounts, 5)) < 0)
                return log_error_errno(errno, "Failed to hand the console to the machine's root: %m");

        r = bind_to_console(i->mounts.rootfd, slave);
        if (r < 0)
                return log_error_errno(r, "Failed to bind the pty to /dev/console: %m");

        if (setsid() < 0)
                return log_error_errno(errno, "Failed to start a new session: %m");
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
                return log_error_errno(errno, "Failed to make the console the controlling terminal: %m");
        for (int fd = 0; fd < 3; fd++)
                if (dup2(slave, fd) < 0)
                        return log_error_errno(errno, "Failed to connect stdio to the console: %m");
        return 0;
}

/* This process's cgroup2 path ("/machine.slice/..."), from /proc/self/cgroup. */
static int own_cgroup(char **ret) {
        _cleanup_free_ char *text = NULL;
        const char *l;
        int r;

        r = read_regular_file_in_root(AT_FDCWD, "/proc/self/cgroup", 65536, &text, NULL);
        if (r < 0)
                return r;
        l = startswith(text, "0::") ? text : strstr(text, "\n0::");
        if (!l)
                return -ENOENT;
        l += l == text ? 3 : 4;
        *ret = strndup(l, strcspn(l, "\n"));
        return *ret ? 0 : -ENOMEM;
}

/* $SYSTEMD_NSPAWN_USE_CGNS=0, as systemd-nspawn: no cgroup namespace, so the mount shows
 * the host's whole hierarchy; it is read-only but for the machine's own cgroup, bound
 * writable on itself for a booted init. */
static int inner_mount_cgroup_host(Inner *i, int target) {
        _cleanup_free_ char *own = NULL, *where = NULL;
        _cleanup_close_ int sub = -EBADF, mfd = -EBADF;
        int r;

        r = mount_fs_fd(target, "cgroup2", "cgroup2", NULL, MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return log_error_errno(r, "Failed to mount the host's cgroup2 hierarchy on /sys/fs/cgroup: %m");
        if (!i->config->boot)
                return 0;
        r = own_cgroup(&own);
        if (r < 0)
                return log_error_errno(r, "Failed to find the machine's cgroup in /proc/self/cgroup: %m");
        where = strjoin("/sys/fs/cgroup", own);
        if (!where)
                return log_oom();
        r = chase_in_root(i->mounts.rootfd, where, 0, &sub);
        if (r >= 0)
                r = mount_clone_detached(sub, "", false, false, &mfd);
        if (r >= 0)
                r = mount_set_attr(mfd, 0, MOUNT_ATTR_RDONLY, false);
        if (r >= 0)
                r = mount_attach(mfd, sub);
        if (r < 0)
                return log_error_errno(r, "Failed to make the machine's cgroup %s writable: %m", where);
        return 0;
}

/* $SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0, as systemd-nspawn: the legacy layout, a tmpfs with
 * one v1 mount per hierarchy of the host, each rooted at the machine's own cgroup by the
 * cgroup namespace (it joined them in inner_prepare_process()), and a symlink per
 * co-mounted controller ("cpu" -> "cpu,cpuacct"). Writable for a booted init, which
 * manages its subtree; the tmpfs itself is read-only once populated. */
static int inner_mount_cgroup_legacy(Inner *i, int target) {
        _cleanup_close_ int fs = -EBADF;
        unsigned attr = MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC;
        int r;

        r = mount_fs_fd(target, "tmpfs", "tmpfs", "mode=755", attr);
        if (r >= 0)
                r = chase_in_root(i->mounts.rootfd, "/sys/fs/cgroup", 0, &fs);
        if (r < 0)
                return log_error_errno(r, "Failed to mount a tmpfs on /sys/fs/cgroup: %m");
        /* the host's list: /sys/fs/cgroup here is the machine's */
        STRV_FOREACH(k, i->config->legacy_cgroup_hierarchies) {
                _cleanup_strv_free_ char **l = NULL;
                _cleanup_close_ int sub = -EBADF;
                const char *dir = cgroup_v1_dir(*k);

                if (mkdirat(fs, dir, 0755) < 0 || (sub = openat(fs, dir, O_PATH|O_DIRECTORY|O_CLOEXEC)) < 0)
                        return log_error_errno(errno, "Failed to make /sys/fs/cgroup/%s: %m", dir);
                r = mount_fs_fd(sub, "cgroup", "cgroup", *k, attr | (i->config->boot ? 0 : MOUNT_ATTR_RDONLY));
                if (r < 0)
                        return log_error_errno(r, "Failed to mount the %s cgroup hierarchy on /sys/fs/cgroup/%s: %m", *k, dir);
                if (strv_split_full(*k, ",", false, &l) < 0)
                        return log_oom();
                STRV_FOREACH(c, l)
                        if (l[1] && symlinkat(dir, fs, *c) < 0)
                                return log_error_errno(errno, "Failed to link /sys/fs/cgroup/%s to %s: %m", *c, dir);
        }
        r = mount_set_attr(fs, MOUNT_ATTR_RDONLY, 0, false);
        if (r < 0)
                return log_error_errno(r, "Failed to make the tmpfs on /sys/fs/cgroup read-only: %m");
        return 0;
}

/* The machine's own view of cgroup2, rooted at its cgroup by the cgroup namespace:
 * writable for a booted init, which manages its subtree, read-only otherwise. */
static int inner_mount_cgroup(Inner *i) {
        _cleanup_close_ int target = -EBADF;
        unsigned attr = MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC;
        int r;

        if (!i->config->boot)
                attr |= MOUNT_ATTR_RDONLY;

        r = chase_in_root(i->mounts.rootfd, "/sys/fs/cgroup", 0, &target);
        if (r >= 0 && i->config->no_cgns)
                return inner_mount_cgroup_host(i, target);
        if (r >= 0 && i->config->legacy_cgroup)
                return inner_mount_cgroup_legacy(i, target);
        if (r >= 0)
                r = mount_fs_fd(target, "cgroup2", "cgroup2", NULL, attr);
        if (r < 0 && i->config->boot)
                return log_error_errno(r, "Failed to mount the cgroup2 hierarchy on /sys/fs/cgroup: %m");
        if (r < 0)
                log_debug_errno(r, "No cgroup2 hierarchy for the machine, ignoring: %m");
        return 0;
}

static int inner_setup_notify(Inner *i) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/host/notify" };
        int r;

        /* Bound inside the machine (its own /run), read by the parent; in every machine,
         * as with systemd-nspawn, so that any payload can report READY=1 and STATUS=. */
        fd = socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create the notification socket: %m");
        (void) unlink(sa.sun_path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Failed to bind the notification socket %s: %m", sa.sun_path);
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int) { 1 }, sizeof(int)) < 0)
                return log_error_errno(errno, "Failed to enable credentials on the notification socket: %m");

        r = sync_send(i->sock, SYNC_NOTIFY_SOCKET, 0, 0, NULL, fd);
        if (r < 0)
                return log_error_errno(r, "Failed to pass the notification socket to berth-spawn: %m");
        return 0;
}

/* From here on the machine's own root: join its user namespace, then take mount, UTS
 * and IPC namespaces owned by it, so that its init may mount and set the hostname.
 * Everything mounted so far stays locked underneath (the masks cannot be undone). */
static int inner_enter_userns(Inner *i) {
        _cleanup_close_ int target = -EBADF;
        int r;

        if (i->state->userns_fd < 0)
                return 0;

        if (setns(i->state->userns_fd, CLONE_NEWUSER) < 0)
                return log_error_errno(errno, "Failed to join the machine's user namespace: %m");
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                return log_error_errno(errno, "Failed to become root of the machine's user namespace: %m");
        if (unshare(CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC) < 0)
                return log_error_errno(errno, "Failed to create namespaces owned by the machine: %m");

        /* the old root fd refers to the previous mount namespace, which is gone */
        safe_close(i->mounts.rootfd);
        i->mounts.rootfd = open("/", O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (i->mounts.rootfd < 0)
                return log_error_errno(errno, "Failed to open the machine's root: %m");

        /* the POSIX message queues of the new IPC namespace */
        r = chase_in_root(i->mounts.rootfd, "/dev/mqueue", 0, &target);
        if (r >= 0)
                r = mount_fs_fd(target, "mqueue", "mqueue", NULL, MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return log_error_errno(r, "Failed to mount /dev/mqueue for the machine's IPC namespace: %m");
        return 0;
}

/* Own network namespace: unshared here, after the user namespace was joined, so that it
 * belongs to the machine (its root may configure it). /sys is mounted again to show this
 * namespace's devices; the cgroup mount on top of it is carried over. */
static int inner_setup_network(Inner *i) {
        const SpawnConfig *c = i->config;
        _cleanup_close_ int cg = -EBADF, target = -EBADF;
        SyncMessage m;
        int r;

        if (!c->private_network)
                return 0;

        /* recursive: with $SYSTEMD_NSPAWN_USE_CGNS=0 the machine's own cgroup is a bind below */
        r = mount_clone_detached(i->mounts.rootfd, "sys/fs/cgroup", true, false, &cg);
        if (r < 0)
                cg = -EBADF;       /* no cgroup mount to carry over */

        if (unshare(CLONE_NEWNET) < 0)
                return log_error_errno(errno, "Failed to create a network namespace: %m");

        r = chase_in_root(i->mounts.rootfd, "/sys", 0, &target);
        if (r >= 0)
                r = mount_fs_fd(target, "sysfs", "sysfs", NULL,
                                (mount_sysfs_writable(c) ? 0 : MOUNT_ATTR_RDONLY)|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC);
        if (r < 0)
                return log_error_errno(r, "Failed to mount /sys for the machine's network namespace: %m");
        if (cg >= 0) {
                target = safe_close(target);
                r = chase_in_root(i->mounts.rootfd, "/sys/fs/cgroup", 0, &target);
                if (r >= 0)
                        r = mount_attach(cg, target);
                if (r < 0)
                        return log_error_errno(r, "Failed to mount /sys/fs/cgroup again: %m");
        }

        if (!network_has_links(c))
                return network_inside_setup(NULL);

        /* the parent creates the link into this namespace and sends the addresses */
        r = sync_send(i->sock, SYNC_NETNS, 0, 0, NULL, -EBADF);
        if (r < 0)
                return log_error_errno(r, "Failed to tell berth-spawn about the network namespace: %m");
        r = sync_wait_for_message(i->sock, SYNC_NET_CONFIG, &m);
        if (r < 0)
                return log_error_errno(r, "berth-spawn did not set up the machine's network: %m");
        return network_inside_setup(m.text);
}

static int inner_set_hostname(Inner *i) {
        const char *h = i->config->hostname;

        if (!h)
                return 0;      /* OCI without hostname: the host's name, copied */
        if (sethostname(h, strlen(h)) < 0)
                return log_error_errno(errno, "Failed to set hostname '%s': %m", h);
        return 0;
}

/* $container_host_id, _version_id, _build_id, _variant_id: the host's os-release ID fields,
 * as systemd-nspawn passes them (systemd's CONTAINER_INTERFACE). */
static int inner_add_host_os_release(Inner *i) {
        static const char *const keys[] = { "ID", "VERSION_ID", "BUILD_ID", "VARIANT_ID" };
        _cleanup_strv_free_ char **kv = NULL;
        int r;

        if (!i->files.os_release)
                return 0;
        r = os_release_parse(i->files.os_release, &kv);
        if (r < 0)
                return r == -ENOMEM ? log_oom() : 0;
        for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                for (char **p = kv; p && p[0] && p[1]; p += 2) {
                        _cleanup_free_ char *lower = NULL, *a = NULL;

                        if (!streq(p[0], keys[k]) || isempty(p[1]))
                                continue;
                        lower = strdup(keys[k]);
                        if (!lower)
                                return log_oom();
                        for (char *x = lower; *x; x++)
                                *x = (char) tolower((unsigned char) *x);
                        a = strjoin("container_host_", lower, "=", p[1]);
                        if (!a || strv_push(&i->env, TAKE_PTR(a)) < 0)
                                return log_oom();
                }
        return 0;
}

static int inner_build_environment(Inner *i) {
        const SpawnConfig *c = i->config;
        char uuid[37];
        int r = 0;

        i->env = calloc(1, sizeof(char *));
        if (!i->env)
                return log_oom();

#define ENV_ADD(...)                                                    \
        do {                                                            \
                char *_a = strjoin_internal(__VA_ARGS__, NULL);                       \
                if (!_a || strv_push(&i->env, _a) < 0)                  \
                        return log_oom();                               \
        } while (0)

        ENV_ADD("container=berth");
        ENV_ADD("container_uuid=", id128_to_uuid_string(&c->uuid, uuid));
        ENV_ADD("PATH=", DEFAULT_PATH);
        if (i->have_user && !i->user.name)
                ENV_ADD("HOME=", i->user.home);
        else if (i->have_user) {
                ENV_ADD("HOME=", i->user.home);
                ENV_ADD("USER=", i->user.name);
                ENV_ADD("LOGNAME=", i->user.name);
                ENV_ADD("SHELL=", i->user.shell);
        } else {
                /* no passwd entry for root: what systemd-nspawn sets */
                ENV_ADD("HOME=/root");
                ENV_ADD("USER=root");
                ENV_ADD("LOGNAME=root");
        }
        /* Only a terminal on the other side makes TERM meaningful; without one,
         * programs should not emit escape sequences into a pipe or a log. */
        if (c->console == CONSOLE_INTERACTIVE)
                ENV_ADD("TERM=", getenv("TERM") ?: "vt220");
        ENV_ADD("NOTIFY_SOCKET=/run/host/notify");
        r = inner_add_host_os_release(i);
        if (r < 0)
                return r;
        if (c->credentials.n > 0)
                ENV_ADD("CREDENTIALS_DIRECTORY=" CREDENTIALS_DIRECTORY);
#undef ENV_ADD

        STRV_FOREACH(e, c->setenv) {
                r = strv_env_set(&i->env, *e);
                if (r < 0)
                        return log_oom();
        }
        return 0;
}

static int inner_change_user(Inner *i) {
        uid_t uid = i->have_user ? i->user.uid : 0;
        gid_t gid = i->have_user ? i->user.gid : 0;

        if (setgroups(i->have_user ? i->user.n_groups : 0, i->have_user ? i->user.groups : NULL) < 0)
                return log_error_errno(errno, "Failed to set supplementary groups: %m");
        if (setresgid(gid, gid, gid) < 0)
                return log_error_errno(errno, "Failed to change to group %u: %m", (unsigned) gid);
        if (setresuid(uid, uid, uid) < 0)
                return log_error_errno(errno, "Failed to change to user %u: %m", (unsigned) uid);
        return 0;
}

/* --suppress-sync: loaded before the allow list, which may deny seccomp() itself. */
static int inner_load_sync_filter(Inner *i, bool stub) {
        int r;

        if (stub || !i->state->seccomp_sync)
                return 0;
        r = seccomp_program_load(i->state->seccomp_sync, i->state->n_seccomp_sync, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to load the --suppress-sync filter: %m");
        return 0;
}

/* -Z: the label the payload's execve() gives it, set where systemd-nspawn calls setexeccon():
 * in the payload's process (not the --as-pid2 stub), before the change of user. As with
 * systemd-nspawn, a kernel without SELinux refuses it and the machine does not start. */
static int inner_set_exec_context(Inner *i) {
        const char *ctx = i->config->selinux_context;
        int r;

        if (!ctx)
                return 0;
        r = selinux_set_exec_context(ctx);
        if (r < 0)
                return log_error_errno(r, "Failed to set the SELinux exec context '%s'%s: %m", ctx,
                                       selinux_enabled() ? "" : " (SELinux is not enabled on this host)");
        return 0;
}

/* The order follows the kernel's rules: seccomp without no_new_privs needs CAP_SYS_ADMIN,
 * so it goes first; with no_new_privs it goes last so the filter never has to allow setup
 * calls. The bounding set is cut while CAP_SETPCAP is still held, then the user changes. */
static int inner_drop_privileges(Inner *i, bool stub) {
        const SpawnConfig *c = i->config;
        uint64_t bounding = stub ? STUB_BOUNDING_SET : spawn_config_bounding_set(c);
        bool nnp = stub || c->no_new_privileges;
        int r;

        if (!nnp) {
                r = inner_load_sync_filter(i, stub);
                if (r < 0)
                        return r;
                r = seccomp_filter_load(&i->state->seccomp_payload);
                if (r < 0)
                        return log_error_errno(r, "Failed to load the system call filter: %m");
        }

        r = capability_bounding_restrict(bounding);
        if (r < 0)
                return log_error_errno(r, "Failed to restrict the capability bounding set: %m");

        /* the ambient capabilities, and an OCI process's sets whatever its user (as runc
         * sets them), must stay permitted across the change of user */
        if (!stub && (c->process.capability_ambient != 0 || c->capability_effective_set) &&
            prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return log_error_errno(errno, "Failed to keep capabilities across the change of user: %m");
        if (!stub) {
                r = inner_change_user(i);
                if (r < 0)
                        return r;
                /* a change of user resets the parent death signal (capabilities only
                 * shrink from here, which keeps it) */
                r = inner_arm_parent_death(i);
                if (r < 0)
                        return r;
        }

        if (!stub && c->capability_effective_set)
                /* OCI: the config's sets as given */
                r = capability_set_oci(bounding & c->capability_permitted, c->capability_effective,
                                       bounding & c->capability_inheritable, c->capability_ambient);
        else
                /* a non-root payload keeps only its ambient capabilities (--ambient-capability=) */
                r = capability_set_final(!stub && i->have_user && i->user.uid != 0 ? c->process.capability_ambient : bounding);
        if (r < 0)
                return log_error_errno(r, "Failed to set capabilities: %m");
        if (!stub) {
                r = capability_ambient_raise(c->process.capability_ambient);
                if (r < 0)
                        return log_error_errno(r, "Failed to raise the ambient capabilities: %m");
        }

        if (nnp) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        return log_error_errno(errno, "Failed to set no_new_privs: %m");
                r = inner_load_sync_filter(i, stub);
                if (r < 0)
                        return r;
                r = seccomp_filter_load(stub ? &i->state->seccomp_stub : &i->state->seccomp_payload);
                if (r < 0)
                        return log_error_errno(r, "Failed to load the system call filter: %m");
        }
        return 0;
}

/* Detached (berth-runc create): tell the launcher we are ready, then block until
 * "berth-runc start" opens the FIFO for reading. The launcher is gone by then: the FIFO
 * carries the startContainer hooks' outcome to start, else the exit status is all. */
static void inner_wait_for_start(Inner *i) {
        char path[64];

        if (sync_send(i->sock, SYNC_CREATED, 0, 0, NULL, -EBADF) < 0)
                _exit(EXIT_FAILURE);
        snprintf(path, sizeof(path), "/proc/self/fd/%i", i->state->start_fifo_fd);
        /* open until the exec closes it: "berth-runc start" waits for that */
        i->fifo_fd = open(path, O_WRONLY|O_CLOEXEC);
        /* The launcher that read our log lines is gone: from here on they go where
         * berth-runc's own go (stderr, which is the container's, and --log), as runc's init
         * reports an exec that fails after start. */
        sync_log_restore();
        if (i->fifo_fd < 0 || inner_hooks_start_container(i->config, i->hook_state_fd, i->fifo_fd) < 0)
                _exit(EXIT_FAILURE);
        i->hook_state_fd = safe_close(i->hook_state_fd);
}

static int inner_enter_workdir(Inner *i) {
        const char *dir = i->config->chdir;

        if (!dir && i->config->user && i->have_user && chdir(i->user.home) >= 0)
                return 0;
        if (chdir(dir ?: "/") < 0)
                return log_error_errno(errno, "Failed to change to directory '%s' inside the machine: %m", dir ?: "/");
        return 0;
}

static _noreturn_ void inner_exec(Inner *i) {
        umask(i->config->umask_set ? i->config->umask : 0022);
        /* Every fd but stdio is closed by execve(); the sync socket stays usable until then
         * so that an exec failure can still be reported. */
        int r = fd_cloexec_from(3U + i->config->preserve_fds);
        if (r < 0) {
                log_error_errno(r, "Failed to mark file descriptors close-on-exec: %m");
                _exit(EXIT_FAILURE);
        }

        execve(i->exec_path, i->argv, i->env);
        log_error_errno(errno, "Failed to execute '%s' inside the machine: %m", i->exec_path);
        _exit(EXIT_FAILURE);
}

/* The stub outlives the set-up inside the machine, next to a payload that is root there:
 * whatever it holds, the payload can take through /proc/1/fd or pidfd_getfd(). Keep only
 * stdio and the socket for the exit status, and become non-dumpable, which hides even
 * those from a payload without CAP_SYS_PTRACE over berth-spawn's user namespace (-U). */
static int inner_stub_isolate(Inner *i) {
        int r;

        mount_context_done(&i->mounts);
        host_files_done(&i->files);
        bind_users_close_homes(&i->state->bind_users, TAKE_PTR(i->home_fds));
        r = close_all_fds_except(&i->sock, 1);
        if (r < 0)
                return log_error_errno(r, "Failed to close the stub init's file descriptors: %m");
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return log_error_errno(errno, "Failed to make the stub init non-dumpable: %m");
        return 0;
}

/* --as-pid2: PID 1 stays ours, reaping orphans and forwarding signals to the payload. */
static _noreturn_ void inner_stub_init(Inner *i, pid_t payload) {
        sigset_t all;

        process_rename("(berth-stubinit)");
        sigfillset(&all);
        if (inner_stub_isolate(i) < 0 || inner_drop_privileges(i, true) < 0)
                _exit(EXIT_FAILURE);

        for (;;) {
                siginfo_t si;
                int status;
                pid_t pid;

                if (sigwaitinfo(&all, &si) < 0)
                        continue;
                if (si.si_signo != SIGCHLD) {
                        (void) kill(payload, si.si_signo);
                        continue;
                }
                while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                        if (pid != payload)
                                continue;
                        if (WIFEXITED(status)) {
                                (void) sync_send(i->sock, SYNC_EXIT_STATUS, CLD_EXITED, WEXITSTATUS(status), NULL, -EBADF);
                                _exit(WEXITSTATUS(status));
                        }
                        (void) sync_send(i->sock, SYNC_EXIT_STATUS, CLD_KILLED, WTERMSIG(status), NULL, -EBADF);
                        _exit(128 + WTERMSIG(status));
                }
        }
}

static int inner_fork_payload(Inner *i) {
        sigset_t all, old;
        pid_t pid;

        /* Block everything before forking so that no signal for the payload is lost
         * between the fork and the stub's wait loop. */
        sigfillset(&all);
        if (sigprocmask(SIG_BLOCK, &all, &old) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");

        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork the payload: %m");
        if (pid > 0)
                inner_stub_init(i, pid);

        if (sigprocmask(SIG_SETMASK, &old, NULL) < 0)
                return log_error_errno(errno, "Failed to unblock signals: %m");
        return 0;
}

void spawn_inner(const SpawnConfig *c, const SpawnState *s, int sock) {
        Inner i = {
                .config = c,
                .state = s,
                .sock = sock,
                .mounts = {
                        .rootfd = -EBADF,
                        .hidden_fd = -EBADF,
                        .journal_fd = -EBADF,
                        .userns = s->userns_fd >= 0,
                        .uid_shift = s->uid_shift,
                        .gid_shift = s->gid_shift,
                        .uid_map = &c->uid_map,
                        .gid_map = &c->gid_map,
                        .apifs_context = c->selinux_apifs_context,
                },
                .files = HOST_FILES_NULL,
                .hook_state_fd = -EBADF,
                .fifo_fd = -EBADF,
        };
        int r;

        r = inner_prepare_process(&i);
        if (r >= 0)
                r = inner_join_netns(&i);
        if (r >= 0)
                r = inner_join_namespaces(&i);
        if (r >= 0)
                r = inner_open_host_resources(&i);     /* host paths, before they vanish */
        if (r >= 0)
                r = mount_switch_root(c, s, &i.mounts);
        if (r >= 0)
                r = mount_api_filesystems(c, &i.mounts);
        if (r >= 0)                                  /* before the lookup: -u may name one */
                r = bind_users_apply(&s->bind_users, i.home_fds, i.mounts.rootfd, i.mounts.hidden_fd, s->uid_shift);
        if (r >= 0)
                r = inner_lookup_user(&i);           /* reads through /proc/self/fd */
        if (r >= 0)
                r = inner_mount_cgroup(&i);
        if (r >= 0)
                r = mount_custom(c, s, &i.mounts);
        if (r >= 0)
                r = inner_find_command(&i);           /* last check before writing to the tree */
        if (r >= 0)
                r = inner_setup_console(&i);
        if (r >= 0)
                r = process_apply_limits(&c->process);  /* still allowed to raise limits */
        if (r >= 0)
                r = inner_enter_userns(&i);
        if (r >= 0)
                r = inner_setup_network(&i);
        if (r >= 0)                                  /* every namespace and mount exists */
                r = inner_hooks_creating(c, i.sock, &i.hook_state_fd);
        if (r >= 0)
                r = inner_set_hostname(&i);
        if (r >= 0)
                r = inner_apply_sysctl(&i);
        if (r >= 0)
                r = host_files_apply(c, &i.files, i.mounts.rootfd);
        if (r >= 0)
                r = host_files_apply_run_host(c, &i.files, i.mounts.rootfd);
        if (r >= 0)
                r = credentials_mount(&c->credentials, i.mounts.rootfd);
        if (r >= 0)
                r = inner_setup_notify(&i);
        if (r >= 0)
                r = inner_build_environment(&i);
        if (r >= 0 && c->as_pid2)
                r = inner_fork_payload(&i);
        if (r >= 0)
                r = inner_set_exec_context(&i);
        if (r >= 0)
                r = inner_drop_privileges(&i, false);
        if (r >= 0)
                r = inner_enter_workdir(&i);     /* as the payload's user; before "started" */
        if (r >= 0)
                r = process_apply_personality(&c->process);
        if (r < 0)
                _exit(EXIT_FAILURE);

        mount_context_done(&i.mounts);
        host_files_done(&i.files);
        bind_users_close_homes(&s->bind_users, TAKE_PTR(i.home_fds));
        /* the parent registers the machine meanwhile; do not run before that is done */
        if (s->wait_for_go && sync_wait_for(i.sock, SYNC_GO) < 0)
                _exit(EXIT_FAILURE);
        if (c->detached)
                inner_wait_for_start(&i);
        else
                (void) sync_send(i.sock, SYNC_STARTED, 0, 0, NULL, -EBADF);
        inner_exec(&i);
}
