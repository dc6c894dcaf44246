/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup-setup.h"
#include "fd-util.h"
#include "log.h"
#include "parse-util.h"
#include "path-util.h"
#include "runc.h"
#include "runc-hooks.h"
#include "seccomp-oci.h"
#include "spawn-mount.h"
#include "spawn-oci.h"
#include "spawn-run.h"
#include "spawn-state.h"
#include "string-util.h"

int console_socket_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Console socket path too long: %s", path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create a socket: %m");
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = log_error_errno(errno, "Failed to connect to the console socket %s: %m", path);
                safe_close(fd);
                return r;
        }
        return fd;
}

int pid_file_write(const char *path, pid_t pid) {
        const char *base = strrchr(path, '/');
        _cleanup_free_ char *dir = base ? strndup(path, base == path ? 1 : (size_t) (base - path)) : strdup(".");
        _cleanup_close_ int dfd = -EBADF;
        char value[16];
        int r;

        if (!dir)
                return log_oom();
        dfd = open(dir, O_DIRECTORY|O_CLOEXEC);
        if (dfd < 0)
                return log_error_errno(errno, "Failed to open the directory of the PID file %s: %m", path);
        snprintf(value, sizeof(value), "%i", (int) pid);
        r = write_file_atomic_at(dfd, base ? base + 1 : path, value, 0644);
        if (r < 0)
                return log_error_errno(r, "Failed to write the PID file %s: %m", path);
        return 0;
}

/* The process's user on the host, who opens the FIFO at start: through the config's maps
 * with a user namespace (spawn-oci.c checked that it is mapped). */
static uid_t host_uid(const SpawnConfig *c, uid_t uid) {
        return c->private_users == PRIVATE_USERS_MAPPED ? id_map_outside(&c->uid_map, uid) : uid;
}

static gid_t host_gid(const SpawnConfig *c, gid_t gid) {
        return c->private_users == PRIVATE_USERS_MAPPED ? id_map_outside(&c->gid_map, gid) : gid;
}

/* The FIFO the init opens for writing once set up; "start" opens it for reading. Its
 * O_PATH fd is kept above the --preserve-fds range. The init opens it after the change to
 * process.user, so it belongs to that user (mode 0600 whatever the umask), and no one else
 * can write to it. */
static int start_fifo_make(const char *dir, unsigned preserve_fds, uid_t uid, gid_t gid) {
        _cleanup_free_ char *path = path_join(dir, "exec.fifo");
        _cleanup_close_ int fd = -EBADF;
        int moved;

        if (!path)
                return log_oom();
        if (mkfifo(path, 0600) < 0)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        if (chown(path, uid, gid) < 0 || chmod(path, 0600) < 0)
                return log_error_errno(errno, "Failed to hand %s to the container's user: %m", path);
        fd = open(path, O_PATH|O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        moved = fcntl(fd, F_DUPFD_CLOEXEC, 3 + preserve_fds);
        if (moved < 0)
                return log_error_errno(errno, "Failed to move the FIFO's file descriptor: %m");
        return moved;
}

void container_files_remove(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_DIRECTORY|O_CLOEXEC);

        if (fd < 0)
                return;
        (void) unlinkat(fd, "exec.fifo", 0);
        (void) unlinkat(fd, "state.json", 0);
        (void) unlinkat(fd, RUNC_SECCOMP_FILE, 0);
        (void) unlinkat(fd, RUNC_HOOKS_FILE, 0);
}

static void container_dir_remove(const char *dir) {
        container_files_remove(dir);
        (void) rmdir(dir);
}

/* The compiled linux.seccomp profile, for "exec" (see seccomp-oci.h). */
static int seccomp_profile_save(const char *dir, const SeccompFilter *f) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!seccomp_filter_is_set(f))
                return 0;
        fd = open(dir, O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", dir);
        r = seccomp_filter_save(fd, RUNC_SECCOMP_FILE, f);
        if (r < 0)
                return log_error_errno(r, "Failed to save the system call filter in %s: %m", dir);
        return 0;
}

typedef struct CreateArgs {
        const char *bundle;
        const char *pid_file;
        const char *console_socket;
        unsigned preserve_fds;
        const char *id;
        bool detach;             /* run --detach */
} CreateArgs;

static int parse_create_args(int argc, char *argv[], CreateArgs *a) {
        enum { ARG_NO_PIVOT = 0x100, ARG_NO_NEW_KEYRING, ARG_PRESERVE_FDS, ARG_PID_FILE, ARG_CONSOLE_SOCKET, ARG_DETACH };
        static const struct option options[] = {
                { "bundle",         required_argument, NULL, 'b' },
                { "pid-file",       required_argument, NULL, ARG_PID_FILE },
                { "console-socket", required_argument, NULL, ARG_CONSOLE_SOCKET },
                { "no-pivot",       no_argument,       NULL, ARG_NO_PIVOT },
                { "no-new-keyring", no_argument,       NULL, ARG_NO_NEW_KEYRING },
                { "preserve-fds",   required_argument, NULL, ARG_PRESERVE_FDS },
                { "detach",         no_argument,       NULL, 'd' },
                { "keep",           no_argument,       NULL, ARG_DETACH },
                {}
        };
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+b:d", options, NULL)) >= 0)
                switch (c) {
                case 'b':
                        a->bundle = optarg;
                        break;
                case ARG_PID_FILE:
                        a->pid_file = optarg;
                        break;
                case ARG_CONSOLE_SOCKET:
                        a->console_socket = optarg;
                        break;
                case ARG_PRESERVE_FDS: {
                        uint64_t n;
                        if (safe_atou64(optarg, &n) < 0 || n > 1024)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid --preserve-fds value '%s'", optarg);
                        a->preserve_fds = (unsigned) n;
                        break;
                }
                case ARG_NO_PIVOT:         /* berth never chroots: pivot_root always */
                case ARG_NO_NEW_KEYRING:   /* berth makes no session keyring anyway */
                case 'd':
                        a->detach = true;
                        break;
                case ARG_DETACH:
                        break;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }
        if (optind != argc - 1)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "\"%s\" requires exactly 1 argument(s)", argv[0]);
        a->id = argv[optind];
        return 0;
}

/* The record before the init exists: the hooks during create get its state. */
static int container_record(Container *rec, const char *id, const char *dir, const char *bundle,
                            const OciConfig *o, const SpawnConfig *c) {
        *rec = (Container) {
                .id = strdup(id),
                .dir = strdup(dir),
                .bundle = strdup(bundle),
                .rootfs = strdup(c->directory),
                .created = timestamp_now(),
                .owner = strdup(""),
                .annotations = strv_copy(o->annotations ?: (char *[]) { NULL }),
        };
        if (!rec->id || !rec->dir || !rec->bundle || !rec->rootfs || !rec->created || !rec->owner ||
            !rec->annotations)
                return log_oom();
        return 0;
}

/* ... and what the launch made: the init and its cgroups. */
static int container_record_process(Container *rec, const SpawnState *st, pid_t pid) {
        rec->pid = pid;
        rec->pid_start = process_start_time(pid, NULL);
        rec->cgroup = st->cgroup.v2_path ? strdup(st->cgroup.v2_path) : NULL;
        rec->cgroup_v1 = strv_copy(st->cgroup.v1_paths ?: (char *[]) { NULL });
        rec->root_mount_id = st->root_mount_id;
        if (!rec->cgroup_v1 || (st->cgroup.v2_path && !rec->cgroup))
                return log_oom();
        return 0;
}

/* Everything of create but the argument parsing; on success *ret is the saved record. */
static int create_container(const RuncGlobals *g, const CreateArgs *a, bool sibling, Container *ret) {
        _cleanup_(oci_config_done) OciConfig o = { .umask = -1 };
        _cleanup_(spawn_config_done) SpawnConfig c = {};
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int console = -EBADF, fifo = -EBADF;
        char bundle[PATH_MAX];
        RuncHooks hooks = { .hooks = &o.hooks, .record = ret };
        SpawnState st;
        pid_t pid;
        int r;

        if (!container_id_is_valid(a->id))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid container id '%s'", a->id);
        if (!realpath(a->bundle ?: ".", bundle))
                return log_error_errno(errno, "Failed to find the bundle %s: %m", a->bundle ?: ".");
        r = oci_config_load(bundle, &o);
        if (r < 0)
                return r;
        r = spawn_config_from_oci(&c, &o, bundle, a->id, g->systemd_cgroup);
        if (r < 0)
                return r;
        c.preserve_fds = a->preserve_fds;
        if (o.terminal && !a->console_socket)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "cannot allocate tty if runc will detach without setting console socket");
        if (!o.terminal && a->console_socket)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "cannot use console socket if runc will not detach or allocate tty");

        r = mkdir_parents_and_self(g->root, 0711);
        if (r < 0 && r != -EEXIST)
                return log_error_errno(r, "Failed to create the state directory %s: %m", g->root);
        dir = container_dir(g->root, a->id);
        if (!dir)
                return log_oom();
        if (mkdir(dir, 0711) < 0) {
                if (errno == EEXIST)
                        return log_error_errno(SYNTHETIC_ERRNO(EEXIST), "container with id exists: %s", a->id);
                return log_error_errno(errno, "Failed to create %s: %m", dir);
        }

        if (a->console_socket) {
                console = console_socket_connect(a->console_socket);
                r = console;
        } else
                r = 0;
        if (r >= 0)
                r = seccomp_profile_save(dir, &c.oci_seccomp);
        if (r >= 0)
                r = fifo = start_fifo_make(dir, a->preserve_fds, host_uid(&c, o.uid), host_gid(&c, o.gid));
        if (r < 0) {
                container_dir_remove(dir);
                return r;
        }

        r = container_record(ret, a->id, dir, bundle, &o, &c);
        if (r < 0) {
                container_dir_remove(dir);
                return r;
        }
        spawn_state_init(&st);
        st.directory = strdup(c.directory);
        if (!st.directory) {
                container_dir_remove(dir);
                return log_oom();
        }
        st.start_fifo_fd = fifo;
        st.run_hooks = runc_hooks_creating;
        st.run_hooks_userdata = &hooks;
        pid = spawn_create_detached(&c, &st, console, sibling);
        if (pid > 0)
                r = container_record_process(ret, &st, pid);
        if (pid > 0 && r >= 0)
                r = container_save(ret);
        if (pid > 0 && r >= 0)
                r = runc_hooks_save(dir, &o.hooks);
        if (pid > 0 && r >= 0 && a->pid_file)
                r = pid_file_write(a->pid_file, pid);
        if (pid > 0 && r < 0) {
                (void) kill(pid, SIGKILL);
                for (int i = 0; i < 500 && !cgroup_has_no_procs(st.cgroup.v2_path); i++)
                        usleep(10000);
                machine_cgroup_destroy(&st.cgroup);
                (void) mount_root_release(st.directory, &st.root_mount_id);
        }
        if (pid < 0 || r < 0)
                container_dir_remove(dir);
        /* the spec's step after a failed hook: the container is destroyed, then poststop
         * runs, as runc's destroy does after any failed create */
        if ((pid < 0 || r < 0) && (hooks.started || pid > 0))
                runc_hooks_poststop(ret, &o.hooks);
        /* the cgroup is the container's now, recorded in state.json: only our fd goes */
        st.cgroup.v2_fd = safe_close(st.cgroup.v2_fd);
        seccomp_filter_done(&st.seccomp_payload);
        seccomp_filter_done(&st.seccomp_stub);
        free(st.directory);
        free(st.cgroup.v2_path);
        strv_free(st.cgroup.v1_paths);
        return pid < 0 ? pid : r;
}

int verb_create(const RuncGlobals *g, int argc, char *argv[]) {
        _cleanup_(container_done) Container rec = {};
        CreateArgs a = {};
        int r;

        r = parse_create_args(argc, argv, &a);
        if (r < 0)
                return r;
        return create_container(g, &a, true, &rec);
}

/* run = create + start; without --detach the init is our own child (not our parent's):
 * we wait for it, pass on termination signals, delete the container and end with its
 * exit status (128+N after signal N), as runc run does. */
int verb_run(const RuncGlobals *g, int argc, char *argv[]) {
        _cleanup_(container_done) Container rec = {};
        CreateArgs a = {};
        sigset_t mask;
        siginfo_t si;
        int r, status;

        r = parse_create_args(argc, argv, &a);
        if (r < 0)
                return r;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        if (!a.detach)
                (void) sigprocmask(SIG_BLOCK, &mask, NULL);
        r = create_container(g, &a, a.detach, &rec);
        if (r < 0)
                return r;
        r = container_start(&rec);
        if (r < 0) {
                /* an init that died before start leaves nothing behind, as with runc run */
                (void) container_destroy(&rec, true);
                if (!a.detach)
                        (void) waitpid(rec.pid, NULL, 0);
                return r;
        }
        if (a.detach)
                return 0;

        for (;;) {
                if (sigwaitinfo(&mask, &si) < 0)
                        continue;
                if (si.si_signo != SIGCHLD) {
                        (void) kill(rec.pid, si.si_signo);
                        continue;
                }
                if (waitpid(rec.pid, &status, WNOHANG) == rec.pid)
                        break;
        }
        (void) container_destroy(&rec, true);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
