/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* io.berth.Supervisor1: berthd starts, watches and stops berth-spawn for machines of the
 * image pool when there is no systemd to run berth-spawn@.service (supervisor.h). */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "fd-util.h"
#include "image-pool.h"
#include "log.h"
#include "machine-name.h"
#include "machine-query.h"
#include "manager.h"
#include "path-util.h"
#include "process-util.h"
#include "string-util.h"
#include "supervisor.h"

#define SUPERVISE_DIR "supervise"                  /* next to the state directory */
#define START_TIMEOUT_USEC (90 * 1000000ULL)       /* the unit's TimeoutStartSec= (default) */
#define STOP_TIMEOUT_USEC (90 * 1000000ULL)        /* the unit's TimeoutStopSec=90s */
#define LOG_CHECK_USEC (10 * 1000000ULL)           /* how often log sizes are checked */
#define LOG_TAIL_MAX 1000U

typedef struct Supervised Supervised;

struct Supervisor {
        Manager *manager;
        char *spawn_path;
        char *enabled_dir;
        char *log_dir;
        char *bus_address;
        char *dir;                    /* <state-dir>/../supervise */
        bool journal;                 /* journald runs: console output goes there */
        Supervised *list;
        sd_event_source *log_timer;
        sd_event_source *start_enabled;
};

struct Supervised {
        Supervisor *supervisor;
        char *name;
        pid_t pid;
        int pidfd;
        uint64_t starttime;           /* of pid: a reused PID is a different process */
        char *cgroup;                 /* "machine.slice/berth-spawn@NAME.service", or NULL */
        char *log_path;               /* NULL: the journal */
        bool ready;
        sd_event_source *exit_source;
        /* StartMachine waits for the READY=1 that berth-spawn relays from the guest */
        sd_bus_message *start_request;
        int notify_fd;
        char *notify_path;
        sd_event_source *notify_source;
        sd_event_source *timeout_source;
        sd_bus_message *stop_request;
        Supervised *prev, *next;
};

/* berth-spawn@.service's ExecStart= (units/berth-spawn@.service.in), which
 * test-berthd-supervise compares with what runs; the image and --keep-unit follow. */
static const char * const spawn_unit_options[] = {
        "--quiet", "--boot", "--notify-ready=yes", "--link-journal=try-guest", "--network-veth", "-U",
};

static Supervised *supervised_free(Supervised *sv) {
        if (!sv)
                return NULL;
        if (sv->supervisor) {
                Supervisor *s = sv->supervisor;

                if (sv->prev)
                        sv->prev->next = sv->next;
                else
                        s->list = sv->next;
                if (sv->next)
                        sv->next->prev = sv->prev;
        }
        sd_event_source_disable_unref(sv->exit_source);
        sd_event_source_disable_unref(sv->notify_source);
        sd_event_source_disable_unref(sv->timeout_source);
        safe_close(sv->notify_fd);
        if (sv->notify_path)
                (void) unlink(sv->notify_path);
        safe_close(sv->pidfd);
        sd_bus_message_unref(sv->start_request);
        sd_bus_message_unref(sv->stop_request);
        free(sv->notify_path);
        free(sv->log_path);
        free(sv->cgroup);
        free(sv->name);
        free(sv);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Supervised *, supervised_free);

static Supervised *supervisor_find(Supervisor *s, const char *name) {
        for (Supervised *sv = s->list; sv; sv = sv->next)
                if (streq(sv->name, name))
                        return sv;
        return NULL;
}

static void supervisor_link(Supervisor *s, Supervised *sv) {
        sv->supervisor = s;
        sv->next = s->list;
        if (s->list)
                s->list->prev = sv;
        s->list = sv;
}

static int supervised_new(const char *name, Supervised **ret) {
        Supervised *sv = calloc(1, sizeof(Supervised));

        if (!sv)
                return -ENOMEM;
        sv->pidfd = sv->notify_fd = -EBADF;
        sv->name = strdup(name);
        if (!sv->name) {
                free(sv);
                return -ENOMEM;
        }
        *ret = sv;
        return 0;
}

/* --- the record a restarted berthd reads ----------------------------------------------- */

static int supervised_save(Supervised *sv) {
        Supervisor *s = sv->supervisor;
        _cleanup_free_ char *path = path_join(s->dir, sv->name);
        char text[4096];
        int dirfd, r;

        if (!path)
                return -ENOMEM;
        r = snprintf(text, sizeof(text), "PID=%d\nSTARTTIME=%" PRIu64 "\nCGROUP=%s\nLOG=%s\n",
                     (int) sv->pid, sv->starttime, strempty(sv->cgroup), strempty(sv->log_path));
        if (r < 0 || (size_t) r >= sizeof(text))
                return -ENAMETOOLONG;
        dirfd = open(s->dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dirfd < 0)
                return -errno;
        r = write_file_atomic_at(dirfd, sv->name, text, 0644);
        safe_close(dirfd);
        return r;
}

static void supervised_forget(Supervised *sv) {
        _cleanup_free_ char *path = path_join(sv->supervisor->dir, sv->name);

        if (path && unlink(path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove %s, ignoring: %m", path);
}

/* --- logs -------------------------------------------------------------------------------- */

static char *log_path_of(Supervisor *s, const char *name, const char *suffix) {
        return strjoin(s->log_dir, "/", name, ".log", suffix);
}

/* Bounded: beyond SUPERVISOR_LOG_MAX the file's contents move to NAME.log.1 and it starts
 * empty again. berth-spawn writes with O_APPEND, so it goes on at the new end (as
 * logrotate's copytruncate); the file keeps its inode, which berth-spawn holds open. */
static int log_rotate(const char *dir, const char *name) {
        _cleanup_free_ char *path = strjoin(dir, "/", name), *old = strjoin(name, ".1"), *data = NULL;
        _cleanup_close_ int fd = -EBADF, dirfd = -EBADF;
        size_t n;
        struct stat st;
        int r;

        if (!path || !old)
                return -ENOMEM;
        fd = open(path, O_RDWR|O_CLOEXEC|O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t) st.st_size <= SUPERVISOR_LOG_MAX)
                return 0;
        r = read_full_fd(fd, 4 * SUPERVISOR_LOG_MAX, &data, &n);
        if (r < 0)
                return r;
        dirfd = open(dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dirfd < 0)
                return -errno;
        r = write_file_atomic_at(dirfd, old, data, 0640);
        if (r < 0)
                return r;
        return RET_NERRNO(ftruncate(fd, 0));
}

static int on_log_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Supervisor *s = userdata;
        int r;

        for (Supervised *sv = s->list; sv; sv = sv->next) {
                if (!sv->log_path)
                        continue;
                _cleanup_free_ char *dir = strdup(sv->log_path), *file = path_basename(sv->log_path);

                if (!dir || !file)
                        return log_oom();
                *strrchr(dir, '/') = 0;
                r = log_rotate(dir, file);
                if (r < 0)
                        log_warning_errno(r, "Failed to rotate %s, ignoring: %m", sv->log_path);
        }
        (void) sd_event_source_set_time_relative(source, LOG_CHECK_USEC);
        return 0;
}

/* Where the machine's console output goes: a journal stream, or NAME.log. */
static int log_open(Supervisor *s, const char *name, char **ret_path) {
        _cleanup_free_ char *path = NULL, *ident = NULL;
        int fd, r;

        if (s->journal) {
                ident = strjoin("berth-spawn@", name);
                if (!ident)
                        return -ENOMEM;
                fd = sd_journal_stream_fd(ident, LOG_INFO, false);
                if (fd >= 0) {
                        *ret_path = NULL;
                        return fd;
                }
                log_warning_errno(fd, "Failed to connect to the journal, writing to %s instead: %m", s->log_dir);
        }
        path = log_path_of(s, name, "");
        if (!path)
                return -ENOMEM;
        r = mkdir_parents_and_self(s->log_dir, 0750);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", s->log_dir);
        r = log_rotate(s->log_dir, path + strlen(s->log_dir) + 1);
        if (r < 0)
                log_warning_errno(r, "Failed to rotate %s, ignoring: %m", path);
        fd = open(path, O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC|O_NOFOLLOW|O_NOCTTY, 0640);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        *ret_path = TAKE_PTR(path);
        return fd;
}

/* The last n lines of a log file. */
static int log_tail_file(const char *path, unsigned n, char ***ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *data = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        size_t size, count;
        off_t end;
        int r;

        fd = open(path, O_RDONLY|O_CLOEXEC|O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? (*ret = NULL, 0) : -errno;
        end = lseek(fd, 0, SEEK_END);
        if (end < 0)
                return -errno;
        /* machinectl status shows 10 lines; this is plenty for any n asked for */
        if (lseek(fd, end > 256 * 1024 ? end - 256 * 1024 : 0, SEEK_SET) < 0)
                return -errno;
        r = read_full_fd(fd, 256 * 1024, &data, &size);
        if (r < 0)
                return r;
        r = strv_split_full(data, "\n", false, &lines);
        if (r < 0)
                return r;
        /* a console ends its lines with "\r\n" */
        STRV_FOREACH(l, lines) {
                size_t k = strlen(*l);

                while (k > 0 && (*l)[k - 1] == '\r')
                        (*l)[--k] = 0;
        }
        count = strv_length(lines);
        if (count > n) {
                char **tail = strv_copy(lines + count - n);

                if (!tail)
                        return -ENOMEM;
                strv_free(lines);
                lines = tail;
        }
        *ret = TAKE_PTR(lines);
        return 0;
}

static int log_tail_journal(const char *name, unsigned n, char ***ret) {
        _cleanup_strv_free_ char **lines = NULL;
        _cleanup_free_ char *match = strjoin("SYSLOG_IDENTIFIER=berth-spawn@", name);
        sd_journal *j = NULL;
        unsigned count = 0;
        int r;

        if (!match)
                return -ENOMEM;
        r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0)
                return r;
        r = sd_journal_add_match(j, match, 0);
        if (r >= 0)
                r = sd_journal_seek_tail(j);
        while (r >= 0 && count < n && sd_journal_previous(j) > 0) {
                const void *d;
                size_t l;
                char *line;

                if (sd_journal_get_data(j, "MESSAGE", &d, &l) < 0 || l < 8)
                        continue;
                line = strndup((const char *) d + 8, l - 8);
                if (!line || strv_push(&lines, line) < 0) {
                        r = -ENOMEM;
                        break;
                }
                count++;
        }
        sd_journal_close(j);
        if (r < 0)
                return r;
        /* newest first above: turn around */
        for (size_t a = 0, b = count; b > a + 1; a++, b--) {
                char *t = lines[a];

                lines[a] = lines[b - 1];
                lines[b - 1] = t;
        }
        *ret = TAKE_PTR(lines);
        return 0;
}

/* --- start, exit, stop ------------------------------------------------------------------- */

static void supervised_reply_start(Supervised *sv, const sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *request = TAKE_PTR(sv->start_request);
        int r;

        sv->timeout_source = sd_event_source_disable_unref(sv->timeout_source);
        sv->notify_source = sd_event_source_disable_unref(sv->notify_source);
        sv->notify_fd = safe_close(sv->notify_fd);
        if (sv->notify_path) {
                (void) unlink(sv->notify_path);
                free(sv->notify_path);
                sv->notify_path = NULL;
        }
        if (!request)
                return;
        r = error ? sd_bus_reply_method_error(request, error) :
                    sd_bus_reply_method_return(request, "u", (uint32_t) sv->pid);
        if (r < 0)
                log_debug_errno(r, "Failed to answer StartMachine for '%s', ignoring: %m", sv->name);
}

static int on_spawn_exit(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Supervised *sv = userdata;
        Manager *m = sv->supervisor->manager;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        siginfo_t si = {};
        int status = -1;

        /* Our own child: reap it and learn its status. A taken-over one is not our child
         * (ECHILD): the pidfd says it is gone, and init reaps it. */
        if (waitid(P_PIDFD, (id_t) sv->pidfd, &si, WEXITED|WNOHANG) >= 0 && si.si_pid > 0)
                status = exit_status_from_siginfo(&si);
        if (status >= 0)
                log_info("berth-spawn of machine '%s' (PID %d) exited with status %d.", sv->name, (int) sv->pid, status);
        else
                log_info("berth-spawn of machine '%s' (PID %d) is gone.", sv->name, (int) sv->pid);

        if (sv->start_request) {
                (void) sd_bus_error_setf(&error, SD_BUS_ERROR_FAILED,
                                         "berth-spawn of machine '%s' exited (status %d) before the machine was ready; see %s.",
                                         sv->name, status, sv->log_path ?: "the journal");
                supervised_reply_start(sv, &error);
        }
        if (sv->stop_request) {
                (void) sd_bus_reply_method_return(sv->stop_request, "");
                sv->stop_request = sd_bus_message_unref(sv->stop_request);
        }
        /* what the payload left behind is killed, as KillMode=mixed does after the main process */
        if (sv->cgroup)
                manager_release_cgroup(m, sv->cgroup, true);
        supervised_forget(sv);
        supervised_free(sv);
        return 0;
}

static int on_notify(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Supervised *sv = userdata;
        char buf[4096];
        ssize_t n;

        n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : log_warning_errno(errno, "Failed to read notification: %m");
        buf[n] = 0;
        /* one READY=1 line among others */
        for (char *line = buf, *end; line && *line; line = end ? end + 1 : NULL) {
                end = strchr(line, '\n');
                if (end)
                        *end = 0;
                if (streq(line, "READY=1")) {
                        sv->ready = true;
                        log_info("Machine '%s' is ready.", sv->name);
                        supervised_reply_start(sv, NULL);
                        return 0;
                }
        }
        return 0;
}

static int supervisor_stop(Supervised *sv, sd_bus_message *request);

static int on_start_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        Supervised *sv = userdata;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        log_warning("Machine '%s' did not become ready in time, stopping it.", sv->name);
        (void) sd_bus_error_setf(&error, SD_BUS_ERROR_TIMEOUT, "Machine '%s' did not become ready in time.", sv->name);
        supervised_reply_start(sv, &error);
        /* as systemd after TimeoutStartSec=: stop it, with SIGKILL after the stop timeout */
        if (supervisor_stop(sv, NULL) < 0)
                (void) pidfd_signal(sv->pidfd, SIGKILL);
        return 0;
}

static int on_stop_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        Supervised *sv = userdata;
        Manager *m = sv->supervisor->manager;

        log_warning("Machine '%s' did not stop in time, killing it.", sv->name);
        if (sv->cgroup)
                (void) cgroup_kill_scope(&m->cgroups, sv->cgroup, SIGKILL);
        (void) pidfd_signal(sv->pidfd, SIGKILL);
        return 0;
}

static int supervised_watch(Supervised *sv) {
        return sd_event_add_io(sv->supervisor->manager->event, &sv->exit_source, sv->pidfd, EPOLLIN, on_spawn_exit, sv);
}

static int notify_socket_open(Supervised *sv) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        Supervisor *s = sv->supervisor;

        sv->notify_path = strjoin(s->dir, "/", sv->name, ".notify");
        if (!sv->notify_path)
                return -ENOMEM;
        if (strlen(sv->notify_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, sv->notify_path);
        (void) unlink(sv->notify_path);
        sv->notify_fd = socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0);
        if (sv->notify_fd < 0)
                return -errno;
        if (bind(sv->notify_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        return sd_event_add_io(s->manager->event, &sv->notify_source, sv->notify_fd, EPOLLIN, on_notify, sv);
}

static int spawn_argv(Supervisor *s, const char *name, const Image *image, bool keep_unit, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *machine = strjoin("--machine=", name);
        _cleanup_free_ char *where = strjoin(image->type == IMAGE_RAW || image->type == IMAGE_BLOCK ?
                                             "--image=" : "--directory=", image->path);

        if (!machine || !where || strv_extend(&argv, s->spawn_path) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(spawn_unit_options); i++)
                if (strv_extend(&argv, spawn_unit_options[i]) < 0)
                        return -ENOMEM;
        /* --keep-unit: the machine's cgroup is a child of berth-spawn@NAME.service's, as
         * in the unit; without a cgroup of its own it would be below berthd's */
        if ((keep_unit && strv_extend(&argv, "--keep-unit") < 0) ||
            strv_extend(&argv, machine) < 0 || strv_extend(&argv, where) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(argv);
        return 0;
}

/* In the child: wait until the parent has moved us into our cgroup, then become
 * berth-spawn in a session of our own, with nothing of berthd's but what we pass. */
_noreturn_ static void spawn_exec(Supervisor *s, char **argv, int log_fd, int sync_fd, const char *notify_path) {
        sigset_t none;
        char c;
        int null;

        (void) read(sync_fd, &c, 1);
        (void) setsid();
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) signal(sig, SIG_DFL);
        null = open("/dev/null", O_RDONLY|O_CLOEXEC);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
            dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
                _exit(EXIT_FAILURE);
        (void) close_all_fds_except(NULL, 0);
        if (setenv("NOTIFY_SOCKET", notify_path, 1) < 0 ||
            (s->bus_address && setenv("DBUS_SYSTEM_BUS_ADDRESS", s->bus_address, 1) < 0))
                _exit(EXIT_FAILURE);
        execv(argv[0], argv);
        fprintf(stderr, "Failed to execute %s: %m\n", argv[0]);
        _exit(127);
}

static int supervised_launch(Supervised *sv, const Image *image) {
        Supervisor *s = sv->supervisor;
        Manager *m = s->manager;
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_close_ int log_fd = -EBADF;
        _cleanup_close_pair_ int sync[2] = { -EBADF, -EBADF };
        _cleanup_free_ char *cgroup = NULL, *unit = NULL;
        _cleanup_close_ int check = -EBADF;
        pid_t pid;
        int r;

        r = notify_socket_open(sv);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the notification socket for '%s': %m", sv->name);
        log_fd = log_open(s, sv->name, &sv->log_path);
        if (log_fd < 0)
                return log_fd;
        if (m->cgroups.unified_fd >= 0) {
                unit = strjoin("berth-spawn@", sv->name, ".service");
                cgroup = unit ? strjoin("machine.slice/", unit) : NULL;
                if (!cgroup)
                        return log_oom();
        }
        r = spawn_argv(s, sv->name, image, cgroup, &argv);
        if (r < 0)
                return log_oom();
        if (pipe2(sync, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Failed to create a pipe: %m");

        pid = clone_with_flags(CLONE_PIDFD, -EBADF, &sv->pidfd);
        if (pid < 0)
                return log_error_errno(pid, "Failed to fork berth-spawn for '%s': %m", sv->name);
        if (pid == 0) {
                sync[1] = safe_close(sync[1]);
                spawn_exec(s, argv, log_fd, sync[0], sv->notify_path);
        }
        sv->pid = pid;

        if (cgroup) {
                r = cgroup_create_scope(&m->cgroups, cgroup, pid);
                if (r < 0) {
                        (void) pidfd_signal(sv->pidfd, SIGKILL);
                        (void) waitid(P_PIDFD, (id_t) sv->pidfd, &(siginfo_t) {}, WEXITED);
                        return log_error_errno(r, "Failed to create cgroup %s: %m", cgroup);
                }
                sv->cgroup = TAKE_PTR(cgroup);
        }
        /* the child may exec now */
        sync[1] = safe_close(sync[1]);

        /* the start time tells this process from a later one with the same PID */
        r = leader_open(pid, &check, &sv->starttime, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "berth-spawn of '%s' died at once: %m", sv->name);
        return 0;
}

/* Start machine NAME of the pool; request (may be NULL) is answered when it is ready. */
static int supervisor_start(Supervisor *s, const char *name, sd_bus_message *request, sd_bus_error *error) {
        Manager *m = s->manager;
        _cleanup_(supervised_freep) Supervised *sv = NULL;
        _cleanup_(image_freep) Image *image = NULL;
        int r;

        /* under systemd, berth-spawn here would live in berthd.service's cgroup and die
         * with it: systemd runs berth-spawn@NAME.service instead (berthctl start) */
        if (m->use_systemd)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "systemd is PID 1: start berth-spawn@%s.service instead.", name);
        r = image_find(&m->pool, name, &image);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_IMAGE, "No image '%s' known.", name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to look up image '%s': %m", name);
        if (manager_get_machine(m, name))
                return sd_bus_error_setf(error, BUS_ERROR_MACHINE_EXISTS, "Machine '%s' is already running.", name);

        r = supervised_new(name, &sv);
        if (r < 0)
                return r;
        supervisor_link(s, sv);
        r = supervised_launch(sv, image);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to start machine '%s': %m", name);
        r = supervised_watch(sv);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to watch berth-spawn of '%s': %m", name);
        r = supervised_save(sv);
        if (r < 0)
                /* a berthd restarted before it ends would not know it; it still runs */
                log_warning_errno(r, "Failed to record machine '%s' in %s, ignoring: %m", name, s->dir);
        r = sd_event_add_time_relative(m->event, &sv->timeout_source, CLOCK_MONOTONIC, START_TIMEOUT_USEC, 0,
                                       on_start_timeout, sv);
        if (r < 0)
                log_warning_errno(r, "Failed to arm the start timeout of '%s', ignoring: %m", name);
        log_info("Started berth-spawn of machine '%s' as PID %d.", name, (int) sv->pid);
        sv->start_request = sd_bus_message_ref(request);
        TAKE_PTR(sv);
        return 0;
}

static int supervisor_stop(Supervised *sv, sd_bus_message *request) {
        int r;

        /* SIGTERM: berth-spawn powers the guest off, as systemctl stop does (KillMode=mixed) */
        r = pidfd_signal(sv->pidfd, SIGTERM);
        if (r < 0 && r != -ESRCH)
                return r;
        if (!sv->timeout_source || sv->start_request) {
                sv->timeout_source = sd_event_source_disable_unref(sv->timeout_source);
                r = sd_event_add_time_relative(sv->supervisor->manager->event, &sv->timeout_source,
                                               CLOCK_MONOTONIC, STOP_TIMEOUT_USEC, 0, on_stop_timeout, sv);
                if (r < 0)
                        return r;
        }
        sd_bus_message_unref(sv->stop_request);
        sv->stop_request = sd_bus_message_ref(request);
        return 0;
}

/* --- enabled machines -------------------------------------------------------------------- */

static int enabled_set(Supervisor *s, const char *name, bool enable) {
        _cleanup_close_ int dirfd = -EBADF;
        int r;

        r = mkdir_parents_and_self(s->enabled_dir, 0755);
        if (r < 0)
                return r;
        dirfd = open(s->enabled_dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dirfd < 0)
                return -errno;
        if (!enable)
                return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        return write_file_atomic_at(dirfd, name, "# berthd starts this machine when it starts (berthctl enable)\n", 0644);
}

static bool enabled_get(Supervisor *s, const char *name) {
        _cleanup_free_ char *path = path_join(s->enabled_dir, name);

        return path && access(path, F_OK) >= 0;
}

static int on_start_enabled(sd_event_source *source, void *userdata) {
        Supervisor *s = userdata;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        s->start_enabled = sd_event_source_disable_unref(s->start_enabled);
        if (s->manager->use_systemd)    /* machines.target starts them */
                return 0;
        d = opendir(s->enabled_dir);
        if (!d) {
                if (errno != ENOENT)
                        log_warning_errno(errno, "Failed to read %s, ignoring: %m", s->enabled_dir);
                return 0;
        }
        while ((de = readdir(d))) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

                if (!machine_name_is_valid(de->d_name) || supervisor_find(s, de->d_name) ||
                    manager_get_machine(s->manager, de->d_name))
                        continue;
                if (supervisor_start(s, de->d_name, NULL, &error) < 0 || sd_bus_error_is_set(&error))
                        log_warning("Failed to start enabled machine '%s': %s", de->d_name,
                                    error.message ?: "out of memory");
        }
        return 0;
}

/* --- taking over after a restart --------------------------------------------------------- */

static int supervisor_adopt_one(Supervisor *s, int dirfd, const char *name) {
        _cleanup_(supervised_freep) Supervised *sv = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t starttime = 0;
        int pid = 0, r;
        char cgroup[4096] = "", logp[4096] = "";
        size_t n;

        fd = openat(dirfd, name, O_RDONLY|O_CLOEXEC|O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        r = read_full_fd(fd, 16384, &text, &n);
        if (r < 0)
                return r;
        if (sscanf(text, "PID=%d\nSTARTTIME=%" SCNu64 "\nCGROUP=%4095[^\n]\n", &pid, &starttime, cgroup) < 2)
                return -EBADMSG;
        if (strstr(text, "\nLOG="))
                (void) sscanf(strstr(text, "\nLOG=") + 5, "%4095[^\n]", logp);
        if (strstr(text, "\nCGROUP=\n"))
                cgroup[0] = 0;

        r = supervised_new(name, &sv);
        if (r < 0)
                return r;
        supervisor_link(s, sv);
        if ((cgroup[0] && !(sv->cgroup = strdup(cgroup))) || (logp[0] && !(sv->log_path = strdup(logp))))
                return -ENOMEM;
        r = leader_open(pid, &sv->pidfd, &sv->starttime, NULL, NULL);
        if (r < 0 || sv->starttime != starttime) {
                log_info("berth-spawn of machine '%s' (PID %d) ended while berthd was away.", name, pid);
                if (sv->cgroup)
                        manager_release_cgroup(s->manager, sv->cgroup, true);
                supervised_forget(sv);
                return 0;
        }
        sv->pid = pid;
        sv->ready = true;
        r = supervised_watch(sv);
        if (r < 0)
                return r;
        log_info("Took over berth-spawn of machine '%s' (PID %d).", name, pid);
        TAKE_PTR(sv);
        return 0;
}

int supervisor_startup(Supervisor *s) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r;

        d = opendir(s->dir);
        if (!d)
                return log_error_errno(errno, "Failed to open %s: %m", s->dir);
        while ((de = readdir(d))) {
                if (!machine_name_is_valid(de->d_name))
                        continue;       /* ".", "..", NAME.notify of a start in progress */
                r = supervisor_adopt_one(s, dirfd(d), de->d_name);
                if (r < 0)
                        log_warning_errno(r, "Failed to take over machine '%s' from %s, ignoring: %m",
                                          de->d_name, s->dir);
        }
        r = sd_event_add_time_relative(s->manager->event, &s->log_timer, CLOCK_MONOTONIC, LOG_CHECK_USEC, 0,
                                       on_log_timer, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->log_timer, SD_EVENT_ON);
        if (r >= 0)
                r = sd_event_add_defer(s->manager->event, &s->start_enabled, on_start_enabled, s);
        if (r < 0)
                return log_error_errno(r, "Failed to set up machine supervision: %m");
        return 0;
}

/* --- D-Bus ------------------------------------------------------------------------------- */

/* The machine name argument, then root or polkit's authorization for 'what'. Returns > 0
 * to go on, 0 while polkit is asked (the call comes again with its answer), or < 0. */
static int read_name_authorized(Supervisor *s, sd_bus_message *message, const char *what, const char **ret,
                                sd_bus_error *error) {
        int r;

        r = sd_bus_message_read(message, "s", ret);
        if (r < 0)
                return r;
        if (!machine_name_is_valid(*ret))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid machine name.");
        return bus_verify_polkit_async(&s->manager->polkit, message, POLKIT_ACTION_MANAGE_MACHINES, what, error);
}

static int method_start(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Supervisor *s = userdata;
        Supervised *sv;
        const char *name;
        int r;

        r = read_name_authorized(s, message, "start machines", &name, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        sv = supervisor_find(s, name);
        if (sv && sv->start_request)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED, "Machine '%s' is being started.", name);
        if (sv)   /* like StartUnit of an active unit: nothing to do */
                return sd_bus_reply_method_return(message, "u", (uint32_t) sv->pid);
        r = supervisor_start(s, name, message, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        return 1;
}

static int method_stop(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Supervisor *s = userdata;
        Supervised *sv;
        const char *name;
        int r;

        r = read_name_authorized(s, message, "stop machines", &name, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        sv = supervisor_find(s, name);
        if (!sv)   /* like StopUnit of an inactive unit */
                return sd_bus_reply_method_return(message, "");
        r = supervisor_stop(sv, message);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to stop machine '%s': %m", name);
        return 1;
}

static int method_enable(sd_bus_message *message, void *userdata, sd_bus_error *error, bool enable) {
        Supervisor *s = userdata;
        _cleanup_(image_freep) Image *image = NULL;
        const char *name;
        int r;

        r = read_name_authorized(s, message, enable ? "enable machines" : "disable machines", &name, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (enable) {
                r = image_find(&s->manager->pool, name, &image);
                if (r == -ENOENT)
                        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_IMAGE, "No image '%s' known.", name);
                if (r < 0)
                        return sd_bus_error_set_errnof(error, r, "Failed to look up image '%s': %m", name);
        }
        r = enabled_set(s, name, enable);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to %s machine '%s' in %s: %m",
                                               enable ? "enable" : "disable", name, s->enabled_dir);
        log_info("%s machine '%s'.", enable ? "Enabled" : "Disabled", name);
        return sd_bus_reply_method_return(message, "");
}

static int method_enable_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_enable(message, userdata, error, true);
}

static int method_disable_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_enable(message, userdata, error, false);
}

static int method_get_log(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Supervisor *s = userdata;
        _cleanup_strv_free_ char **lines = NULL;
        _cleanup_free_ char *path = NULL;
        const char *name;
        uint32_t n;
        Supervised *sv;
        int r;

        r = sd_bus_message_read(message, "su", &name, &n);
        if (r < 0)
                return r;
        if (!machine_name_is_valid(name))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid machine name.");
        /* the console may show anything: as readable as the journal is, root (or polkit) only */
        r = bus_verify_polkit_async(&s->manager->polkit, message, POLKIT_ACTION_MANAGE_MACHINES, "read machine logs", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        n = MIN(n, LOG_TAIL_MAX);
        sv = supervisor_find(s, name);
        if (sv ? !sv->log_path : s->journal)
                r = log_tail_journal(name, n, &lines);
        else {
                path = log_path_of(s, name, "");
                r = path ? log_tail_file(sv && sv->log_path ? sv->log_path : path, n, &lines) : -ENOMEM;
        }
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to read the log of machine '%s': %m", name);
        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_append_strv(reply, lines);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Supervisor *s = userdata;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(susbs)");
        for (Supervised *sv = s->list; r >= 0 && sv; sv = sv->next)
                r = sd_bus_message_append(reply, "(susbs)", sv->name, (uint32_t) sv->pid,
                                          sv->stop_request ? "stopping" : sv->ready ? "running" : "starting",
                                          enabled_get(s, sv->name), sv->log_path ?: "");
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int property_get_enabled(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Supervisor *s = userdata;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_(closedirp) DIR *d = opendir(s->enabled_dir);
        struct dirent *de;

        while (d && (de = readdir(d)))
                if (machine_name_is_valid(de->d_name) && strv_extend(&names, de->d_name) < 0)
                        return -ENOMEM;
        return sd_bus_message_append_strv(reply, names);
}

static const sd_bus_vtable supervisor_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("EnabledDirectory", "s", NULL, offsetof(Supervisor, enabled_dir), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LogDirectory", "s", NULL, offsetof(Supervisor, log_dir), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("EnabledMachines", "as", property_get_enabled, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("StartMachine",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("u", pid),
                                method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopMachine",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("EnableMachine",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_enable_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DisableMachine",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_disable_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineLog",
                                SD_BUS_ARGS("s", name, "u", lines),
                                SD_BUS_RESULT("as", lines),
                                method_get_log, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListSupervisedMachines",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(susbs)", machines),
                                method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int supervisor_register(Supervisor *s) {
        int r;

        r = sd_bus_add_object_vtable(s->manager->bus, NULL, MACHINE1_MANAGER_PATH, SUPERVISOR_INTERFACE,
                                     supervisor_vtable, s);
        if (r < 0)
                return log_error_errno(r, "Failed to add the " SUPERVISOR_INTERFACE " interface: %m");
        return 0;
}

/* --- lifetime ---------------------------------------------------------------------------- */

int supervisor_new(Manager *m, const SupervisorConfig *config, Supervisor **ret) {
        _cleanup_(supervisor_freep) Supervisor *s = NULL;
        _cleanup_free_ char *parent = NULL;
        char *slash;
        int r;

        s = calloc(1, sizeof(Supervisor));
        if (!s)
                return log_oom();
        s->manager = m;
        /* /run/berth/machines → /run/berth/supervise */
        parent = strdup(m->state_dir);
        if (!parent)
                return log_oom();
        slash = strrchr(parent, '/');
        if (slash)
                slash[slash == parent] = 0;
        s->dir = path_join(parent, SUPERVISE_DIR);
        s->spawn_path = strdup(config->spawn_path ?: BINDIR "/berth-spawn");
        s->enabled_dir = strdup(config->enabled_dir ?: SUPERVISOR_DEFAULT_ENABLED_DIR);
        s->log_dir = strdup(config->log_dir ?: SUPERVISOR_DEFAULT_LOG_DIR);
        if (!s->dir || !s->spawn_path || !s->enabled_dir || !s->log_dir ||
            (config->bus_address && !(s->bus_address = strdup(config->bus_address))))
                return log_oom();
        r = mkdir_parents_and_self(s->dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", s->dir);
        s->journal = access("/run/systemd/journal/stdout", F_OK) >= 0;
        *ret = TAKE_PTR(s);
        return 0;
}

Supervisor *supervisor_free(Supervisor *s) {
        if (!s)
                return NULL;
        /* the machines run on: a later berthd takes them over from s->dir */
        while (s->list) {
                Supervised *sv = s->list;

                if (sv->start_request)
                        supervised_reply_start(sv, &SD_BUS_ERROR_MAKE_CONST(SD_BUS_ERROR_FAILED, "berthd is stopping."));
                supervised_free(sv);
        }
        sd_event_source_disable_unref(s->log_timer);
        sd_event_source_disable_unref(s->start_enabled);
        free(s->dir);
        free(s->spawn_path);
        free(s->enabled_dir);
        free(s->log_dir);
        free(s->bus_address);
        free(s);
        return NULL;
}
