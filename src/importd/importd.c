/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fd-util.h"
#include "image-pool.h"
#include "importd.h"
#include "log.h"
#include "parse-util.h"
#include "path-util.h"
#include "string-util.h"

typedef struct Args {
        const char *bus_address;
        const char *state_dir;
        const char *pool;
        const char *name_lock_dir;
        const char *worker;
        const char *keyring;
} Args;

static void help(void) {
        printf("berth-importd [OPTIONS...]\n\n"
               "Image import, export and download service: serves org.freedesktop.import1.\n\n"
               "  -h --help                Show this help\n"
               "     --version             Show package version\n"
               "     --bus-address=ADDR    Connect to this bus instead of the system bus\n"
               "     --state-dir=PATH      Runtime state (the workers' notify socket) in PATH\n"
               "                           instead of " IMPORTD_DEFAULT_STATE_DIR "\n"
               "     --pool=DIR            Put images in DIR instead of " IMAGE_POOL_DEFAULT "\n"
               "     --name-lock-dir=DIR   Image name locks shared with berthd\n"
               "                           (default " IMPORTD_DEFAULT_NAME_LOCK_DIR ")\n"
               "     --worker=PATH         The worker program (default: berth-import next to this one)\n"
               "     --keyring=FILE        Keyring for --verify=signature pulls\n");
}

static int parse_argv(int argc, char *argv[], Args *args) {
        enum { ARG_VERSION = 0x100, ARG_BUS_ADDRESS, ARG_STATE_DIR, ARG_POOL, ARG_NAME_LOCK_DIR, ARG_WORKER, ARG_KEYRING };
        static const struct option options[] = {
                { "help",          no_argument,       NULL, 'h'               },
                { "version",       no_argument,       NULL, ARG_VERSION       },
                { "bus-address",   required_argument, NULL, ARG_BUS_ADDRESS   },
                { "state-dir",     required_argument, NULL, ARG_STATE_DIR     },
                { "pool",          required_argument, NULL, ARG_POOL          },
                { "name-lock-dir", required_argument, NULL, ARG_NAME_LOCK_DIR },
                { "worker",        required_argument, NULL, ARG_WORKER        },
                { "keyring",       required_argument, NULL, ARG_KEYRING       },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        puts("berth " PROJECT_VERSION);
                        return 0;
                case ARG_BUS_ADDRESS:
                        args->bus_address = optarg;
                        break;
                case ARG_STATE_DIR:
                case ARG_POOL:
                case ARG_NAME_LOCK_DIR:
                case ARG_WORKER:
                case ARG_KEYRING:
                        if (!path_is_absolute(optarg))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Not an absolute path: %s", optarg);
                        *(c == ARG_STATE_DIR ? &args->state_dir : c == ARG_POOL ? &args->pool :
                          c == ARG_NAME_LOCK_DIR ? &args->name_lock_dir : c == ARG_WORKER ? &args->worker :
                          &args->keyring) = optarg;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unhandled option");
                }
        if (optind < argc)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "berth-importd takes no positional arguments.");
        return 1;
}

/* The number after KEY in a notify datagram (one "KEY=VALUE" per line). */
static int notify_field(const char *buf, const char *key, uint64_t *ret) {
        const char *p = startswith(buf, key);
        _cleanup_free_ char *nl = strjoin("\n", key);

        if (!p && nl && (p = strstr(buf, nl)))
                p += strlen(nl);
        return p ? safe_atou64(strndupa(p, strcspn(p, "\n")), ret) : -ENOENT;
}

/* X_IMPORT_PROGRESS=N from a worker, identified by the sender's PID (SCM_CREDENTIALS,
 * which the kernel fills in: a worker cannot speak for another). */
static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        char buf[4096], control[CMSG_SPACE(sizeof(struct ucred))];
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                             .msg_controllen = sizeof(control) };
        struct ucred *cred = NULL;
        uint64_t v;
        Transfer *t;
        ssize_t n;

        n = recvmsg(fd, &mh, MSG_DONTWAIT|MSG_CMSG_CLOEXEC);
        if (n < 0)
                return 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
                        cred = (struct ucred *) CMSG_DATA(c);
        if (!cred || (mh.msg_flags & MSG_TRUNC))
                return 0;
        t = manager_find_transfer_by_pid(m, cred->pid);
        if (!t)
                return 0;
        buf[n] = 0;
        if (notify_field(buf, IMPORT_PROGRESS_KEY, &v) >= 0 && v <= 100)
                t->progress = (unsigned) v;
        if (notify_field(buf, IMPORT_BYTES_KEY, &v) >= 0)
                t->bytes = v;
        return 0;
}

static int notify_socket_open(Manager *m) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int one = 1, r;

        r = mkdir_parents_and_self(m->state_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", m->state_dir);
        m->notify_path = path_join(m->state_dir, "notify");
        if (!m->notify_path)
                return log_oom();
        if (strlen(m->notify_path) >= sizeof(sa.sun_path))
                return log_error_errno(SYNTHETIC_ERRNO(ENAMETOOLONG), "Socket path too long: %s", m->notify_path);
        strcpy(sa.sun_path, m->notify_path);
        m->notify_fd = socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0);
        if (m->notify_fd < 0)
                return log_error_errno(errno, "Failed to create the notify socket: %m");
        (void) unlink(m->notify_path);
        if (bind(m->notify_fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            setsockopt(m->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return log_error_errno(errno, "Failed to set up the notify socket %s: %m", m->notify_path);
        r = sd_event_add_io(m->event, &m->notify_source, m->notify_fd, EPOLLIN, on_notify, m);
        return r < 0 ? log_error_errno(r, "Failed to watch the notify socket: %m") : 0;
}

static char *default_worker(void) {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        char *slash;

        if (n <= 0)
                return strdup("/usr/libexec/berth-import");
        self[n] = 0;
        slash = strrchr(self, '/');
        *slash = 0;
        return path_join(self, "berth-import");
}

static Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        while (m->transfers)
                transfer_free(m->transfers);
        polkit_registry_done(&m->polkit);
        sd_event_source_disable_unref(m->notify_source);
        safe_close(m->notify_fd);
        if (m->notify_path)
                (void) unlink(m->notify_path);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        free(m->state_dir);
        free(m->pool);
        free(m->name_lock_dir);
        free(m->worker);
        free(m->keyring);
        free(m->notify_path);
        free(m);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

static int manager_new(const Args *args, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof(Manager));

        if (!m)
                return log_oom();
        m->notify_fd = -EBADF;
        m->state_dir = strdup(args->state_dir ?: IMPORTD_DEFAULT_STATE_DIR);
        m->pool = strdup(args->pool ?: IMAGE_POOL_DEFAULT);
        m->name_lock_dir = strdup(args->name_lock_dir ?: IMPORTD_DEFAULT_NAME_LOCK_DIR);
        m->worker = args->worker ? strdup(args->worker) : default_worker();
        m->keyring = args->keyring ? strdup(args->keyring) : NULL;
        if (!m->state_dir || !m->pool || !m->name_lock_dir || !m->worker || (args->keyring && !m->keyring))
                return log_oom();
        *ret = TAKE_PTR(m);
        return 0;
}

static int manager_connect(Manager *m, const char *address) {
        int r;

        if (address) {
                r = sd_bus_new(&m->bus);
                if (r >= 0)
                        r = sd_bus_set_address(m->bus, address);
                if (r >= 0)
                        (void) sd_bus_set_bus_client(m->bus, true);
                if (r >= 0)
                        r = sd_bus_start(m->bus);
        } else
                r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the bus: %m");
        r = manager_bus_register(m);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        m->polkit.bus = m->bus;
        m->polkit.event = m->event;
        r = sd_bus_request_name(m->bus, IMPORT1_BUS_NAME, 0);
        if (r == -EEXIST)
                return log_error_errno(r, "Bus name " IMPORT1_BUS_NAME " is taken (is systemd-importd running?).");
        if (r < 0)
                return log_error_errno(r, "Failed to acquire bus name " IMPORT1_BUS_NAME ": %m");
        return 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        Args args = {};
        sigset_t mask;
        int r;

        log_setup("berth-importd");
        r = parse_argv(argc, argv, &args);
        if (r <= 0)
                return r;
        r = manager_new(&args, &m);
        if (r < 0)
                return r;

        /* SIGCHLD for sd_event_add_child(), SIGTERM/SIGINT to stop; workers unblock them. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        r = sd_event_default(&m->event);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");
        (void) umask(0022);

        r = notify_socket_open(m);
        if (r < 0)
                return r;
        r = manager_connect(m, args.bus_address);
        if (r < 0)
                return r;
        log_info("Serving " IMPORT1_BUS_NAME " (pool %s, worker %s).", m->pool, m->worker);
        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
