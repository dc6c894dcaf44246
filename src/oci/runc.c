/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capability-util.h"
#include "cgroup-setup.h"
#include "fd-util.h"
#include "log.h"
#include "oci-config.h"
#include "parse-util.h"
#include "path-util.h"
#include "process-util.h"
#include "runc.h"
#include "runc-hooks.h"
#include "spawn-cgroup.h"
#include "spawn-mount.h"
#include "spawn-oci.h"
#include "string-util.h"

#define DEFAULT_ROOT "/run/berth-runc"

/* ---- logging: --log FILE --log-format json|text ---- */

static FILE *log_file;
static bool log_json = false;

static const char *level_name(int level) {
        return level <= LOG_ERR ? "error" : level == LOG_WARNING ? "warning" : level <= LOG_INFO ? "info" : "debug";
}

/* With --log, every line goes there (JSON lines the shim parses, or logrus-style text);
 * errors also go to stderr, as runc's do. */
static void log_sink(int level, int error, const char *msg, void *userdata) {
        _cleanup_free_ char *time = timestamp_now();

        if (log_file) {
                if (log_json) {
                        json_object *o = json_object_new_object();

                        json_object_object_add(o, "level", json_object_new_string(level_name(level)));
                        json_object_object_add(o, "msg", json_object_new_string(msg));
                        json_object_object_add(o, "time", json_object_new_string(strempty(time)));
                        fprintf(log_file, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                        json_object_put(o);
                } else
                        fprintf(log_file, "time=\"%s\" level=%s msg=\"%s\"\n", strempty(time), level_name(level), msg);
                fflush(log_file);
        }
        if (!log_file || level <= LOG_ERR)
                fprintf(stderr, "%s%s\n", level <= LOG_ERR ? "berth-runc: " : "", msg);
}

/* ---- verbs on an existing container ---- */

static int one_id(int argc, char *argv[], const char *verb) {
        if (optind != argc - 1)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "\"%s\" requires exactly 1 argument(s)", verb);
        return 0;
}

/* Options of the simple verbs: none but --help-like flags each handles itself. */
static int parse_no_options(int argc, char *argv[]) {
        static const struct option options[] = { {} };
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0)
                if (c == '?')
                        return -EINVAL;
        return one_id(argc, argv, argv[0]);
}

/* What the init answered through the FIFO: "0", then its end closes at the exec (the
 * program runs); or "E" and why the startContainer hooks failed, and it exits. */
static int start_outcome(Container *c, int fd, char first) {
        _cleanup_free_ char *why = NULL;

        (void) fd_nonblock(fd, false);
        (void) read_full_fd(fd, 64 * 1024, &why, NULL);     /* until EOF */
        if (first == '0')
                return 0;
        log_error("%s", isempty(why) ? "The container's init failed at start." : why);
        return -EPROTO;
}

/* start: release the init, then the poststart hooks. A failure of the startContainer or
 * poststart hooks kills and removes the container (poststop runs), as runc's create does
 * for a failed poststart hook. */
int container_start(Container *c) {
        _cleanup_free_ char *fifo = path_join(c->dir, "exec.fifo");
        _cleanup_(oci_hooks_done) OciHooks hooks = {};
        _cleanup_close_ int fd = -EBADF;
        ContainerStatus s = container_status(c);
        char b;
        int r;

        if (!fifo)
                return log_oom();
        if (s == STATUS_STOPPED)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "cannot start a container that has stopped");
        if (s != STATUS_CREATED)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "cannot start an already running container");
        r = runc_hooks_load(c, &hooks);
        if (r < 0)
                return r;

        /* non-blocking, so that an init that died meanwhile cannot hang us */
        fd = open(fifo, O_RDONLY|O_NONBLOCK|O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", fifo);
        for (;;) {
                r = poll(&(struct pollfd) { .fd = fd, .events = POLLIN }, 1, 100);

                if (r < 0 && errno != EINTR)
                        return log_error_errno(errno, "Failed to wait for the container's init: %m");
                if (r > 0 && read(fd, &b, 1) == 1)
                        break;
                if (container_status(c) == STATUS_STOPPED) {
                        if (read(fd, &b, 1) == 1)      /* it answered, then ended */
                                break;
                        (void) unlink(fifo);
                        return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "cannot start a container that has stopped");
                }
        }
        if (unlink(fifo) < 0)
                return log_error_errno(errno, "Failed to remove %s: %m", fifo);
        r = start_outcome(c, fd, b);
        if (r >= 0)
                r = runc_hooks_poststart(c, &hooks);
        if (r < 0)
                (void) container_destroy(c, true);
        return r;
}

static int verb_start(const RuncGlobals *g, int argc, char *argv[]) {
        _cleanup_(container_done) Container c = {};
        int r;

        r = parse_no_options(argc, argv);
        if (r >= 0)
                r = container_load(g->root, argv[optind], &c);
        if (r >= 0)
                r = container_start(&c);
        return r;
}

static int verb_state(const RuncGlobals *g, int argc, char *argv[]) {
        _cleanup_(container_done) Container c = {};
        _cleanup_free_ char *json = NULL;
        int r;

        r = parse_no_options(argc, argv);
        if (r >= 0)
                r = container_load(g->root, argv[optind], &c);
        if (r < 0)
                return r;
        json = container_state_json(&c, RUNC_STATE_JSON_FLAGS);
        if (!json)
                return log_oom();
        printf("%s\n", json);
        return 0;
}

/* Every process of the container's cgroup, from cgroup.procs. */
static int cgroup_pids(const Container *c, pid_t **ret, size_t *ret_n) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ pid_t *l = NULL;
        size_t n = 0;
        int pid;

        if (!c->cgroup)
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "container %s has no cgroup", c->id);
        path = path_join(c->cgroup, "cgroup.procs");
        if (!path)
                return log_oom();
        f = fopen(path, "re");
        if (!f && errno == ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (!f)
                return log_error_errno(errno, "Failed to read %s: %m", path);
        while (fscanf(f, "%i", &pid) == 1) {
                pid_t *m = realloc(l, sizeof(pid_t) * (n + 1));
                if (!m)
                        return log_oom();
                l = m;
                l[n++] = pid;
        }
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

static int container_signal(const Container *c, int sig, bool all) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n;
        int r;

        if (!all) {
                if (kill(c->pid, sig) < 0)
                        return log_error_errno(errno, errno == ESRCH ? "no such process" : "Failed to signal the container: %m");
                return 0;
        }
        /* a frozen cgroup delays the signal until it thaws; SIGKILL goes through */
        r = cgroup_pids(c, &pids, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                (void) kill(pids[i], sig);
        return 0;
}

static int verb_kill(const RuncGlobals *g, int argc, char *argv[]) {
        static const struct option options[] = {
                { "all", no_argument, NULL, 'a' },
                {}
        };
        _cleanup_(container_done) Container c = {};
        bool all = false;
        int sig = SIGTERM, o, r;

        optind = 0;
        while ((o = getopt_long(argc, argv, "a", options, NULL)) >= 0)
                if (o == 'a')
                        all = true;
                else
                        return -EINVAL;
        if (optind != argc - 1 && optind != argc - 2)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "\"kill\" requires a minimum of 1 and a maximum of 2 argument(s)");
        if (optind == argc - 2) {
                sig = signal_from_string(argv[optind + 1]);
                if (sig < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "unknown signal \"%s\"", argv[optind + 1]);
        }
        r = container_load(g->root, argv[optind], &c);
        if (r < 0)
                return r;
        if (container_status(&c) == STATUS_STOPPED && !all)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "container not running");
        return container_signal(&c, sig, all);
}

static int cgroup_freeze(const Container *c, bool freeze) {
        _cleanup_free_ char *events = NULL;
        int r;

        if (!c->cgroup)
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "container %s has no cgroup", c->id);
        r = cgroup_write_attr(c->cgroup, "cgroup.freeze", freeze ? "1" : "0");
        if (r < 0)
                return log_error_errno(r, "Failed to %s the container's cgroup %s: %m", freeze ? "freeze" : "thaw", c->cgroup);
        /* wait until every process is (un)frozen, as cgroup.events reports */
        events = path_join(c->cgroup, "cgroup.events");
        if (!events)
                return log_oom();
        for (int i = 0; i < 1000; i++) {
                _cleanup_close_ int fd = open(events, O_RDONLY|O_CLOEXEC);
                _cleanup_free_ char *text = NULL;

                if (fd < 0 || read_full_fd(fd, 4096, &text, NULL) < 0)
                        return log_error_errno(errno, "Failed to read %s: %m", events);
                if (strstr(text, freeze ? "frozen 1" : "frozen 0"))
                        return 0;
                usleep(1000);
        }
        return log_error_errno(SYNTHETIC_ERRNO(ETIMEDOUT), "The container's cgroup did not %s in time.", freeze ? "freeze" : "thaw");
}

static int verb_pause_resume(const RuncGlobals *g, int argc, char *argv[]) {
        _cleanup_(container_done) Container c = {};
        bool pause = streq(argv[0], "pause");
        ContainerStatus s;
        int r;

        r = parse_no_options(argc, argv);
        if (r >= 0)
                r = container_load(g->root, argv[optind], &c);
        if (r < 0)
                return r;
        s = container_status(&c);
        if (pause && s != STATUS_RUNNING && s != STATUS_CREATED)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "container not running");
        if (!pause && s != STATUS_PAUSED)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "container not paused");
        return cgroup_freeze(&c, pause);
}

int container_destroy(Container *c, bool force) {
        _cleanup_(oci_hooks_done) OciHooks hooks = {};
        ContainerStatus s = container_status(c);
        int r;

        if ((s == STATUS_RUNNING || s == STATUS_PAUSED) && !force)
                return log_error_errno(SYNTHETIC_ERRNO(EBUSY), "cannot delete container %s that is not stopped: %s",
                                       c->id, container_status_to_string(s));
        /* read before the state directory goes; a corrupt file costs the hooks, not the delete */
        (void) runc_hooks_load(c, &hooks);
        /* a stopped init's PID may be another process's by now */
        if (s != STATUS_STOPPED)
                (void) kill(c->pid, SIGKILL);
        if (s == STATUS_PAUSED)
                (void) cgroup_write_attr(c->cgroup, "cgroup.freeze", "0");
        /* Everything in its cgroup goes, also after the init: in the runtime's PID namespace
         * the init's children outlive it (runc kills them too). A zombie init is out of
         * the cgroup already. */
        if (c->cgroup) {
                r = cgroup_destroy(c->cgroup);
                if (r < 0)
                        return log_error_errno(r, "Failed to remove the container's cgroup %s: %m", c->cgroup);
        }
        STRV_FOREACH(p, c->cgroup_v1) {
                for (int i = 0; i < 200 && rmdir(*p) < 0 && errno == EBUSY; i++)
                        usleep(5000);
        }
        r = mount_root_release(c->rootfs, &c->root_mount_id);
        if (r < 0)
                return r;
        container_files_remove(c->dir);
        if (rmdir(c->dir) < 0 && errno != ENOENT)
                return log_error_errno(errno, "Failed to remove %s: %m", c->dir);
        runc_hooks_poststop(c, &hooks);
        return 0;
}

static int verb_delete(const RuncGlobals *g, int argc, char *argv[]) {
        static const struct option options[] = {
                { "force", no_argument, NULL, 'f' },
                {}
        };
        _cleanup_(container_done) Container c = {};
        _cleanup_free_ char *state = NULL;
        bool force = false;
        int o, r;

        optind = 0;
        while ((o = getopt_long(argc, argv, "f", options, NULL)) >= 0)
                if (o == 'f')
                        force = true;
                else
                        return -EINVAL;
        r = one_id(argc, argv, "delete");
        if (r < 0)
                return r;
        /* --force on a container that is not there is success, as with runc */
        if (force && container_id_is_valid(argv[optind])) {
                _cleanup_free_ char *dir = container_dir(g->root, argv[optind]);
                state = dir ? path_join(dir, "state.json") : NULL;
                if (!state)
                        return log_oom();
                if (access(state, F_OK) < 0 && errno == ENOENT)
                        return 0;
        }
        r = container_load(g->root, argv[optind], &c);
        if (r < 0)
                return r;
        return container_destroy(&c, force);
}

static int verb_ps(const RuncGlobals *g, int argc, char *argv[]) {
        static const struct option options[] = {
                { "format", required_argument, NULL, 'f' },
                {}
        };
        _cleanup_(container_done) Container c = {};
        _cleanup_free_ pid_t *pids = NULL;
        const char *format = "table";
        size_t n;
        int o, r;

        optind = 0;
        while ((o = getopt_long(argc, argv, "+f:", options, NULL)) >= 0)
                if (o == 'f')
                        format = optarg;
                else
                        return -EINVAL;
        if (!streq(format, "table") && !streq(format, "json"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid format option");
        if (optind >= argc)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "\"ps\" requires a minimum of 1 argument(s)");
        r = container_load(g->root, argv[optind], &c);
        if (r < 0)
                return r;
        if (container_status(&c) == STATUS_STOPPED)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "container not running");
        r = cgroup_pids(&c, &pids, &n);
        if (r < 0)
                return r;
        if (streq(format, "json")) {
                putchar('[');
                for (size_t i = 0; i < n; i++)
                        printf("%s%i", i > 0 ? "," : "", (int) pids[i]);
                printf("]\n");
                return 0;
        }
        printf("PID\n");
        for (size_t i = 0; i < n; i++)
                printf("%i\n", (int) pids[i]);
        return 0;
}

static int verb_update(const RuncGlobals *g, int argc, char *argv[]) {
        static const struct option options[] = {
                { "resources", required_argument, NULL, 'r' },
                { "memory",    required_argument, NULL, 'm' },
                { "pids-limit", required_argument, NULL, 'p' },
                {}
        };
        _cleanup_(container_done) Container c = {};
        _cleanup_free_ char *text = NULL, *error = NULL;
        const char *resources = NULL;
        OciResources res = {};
        ResourceLimits l;
        MachineCGroup cg = MACHINE_CGROUP_NULL;
        size_t size = 0;
        int o, r;

        optind = 0;
        while ((o = getopt_long(argc, argv, "+r:", options, NULL)) >= 0)
                switch (o) {
                case 'r':
                        resources = optarg;
                        break;
                case 'm': {
                        uint64_t v;
                        if (resource_parse_bytes(optarg, &v) < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid value for memory: %s", optarg);
                        res.memory_limit = (int64_t) v;
                        res.memory_limit_set = true;
                        break;
                }
                case 'p':
                        if (streq(optarg, "-1"))
                                res.pids_limit = -1;
                        else if (safe_atou64(optarg, (uint64_t *) &res.pids_limit) < 0 || res.pids_limit < 0)
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid value for pids-limit: %s", optarg);
                        res.pids_limit_set = true;
                        break;
                default:
                        return -EINVAL;
                }
        r = one_id(argc, argv, "update");
        if (r < 0)
                return r;
        if (resources) {
                _cleanup_close_ int fd = streq(resources, "-") ? dup(STDIN_FILENO) : open(resources, O_RDONLY|O_CLOEXEC);

                if (fd < 0)
                        return log_error_errno(errno, "Failed to open %s: %m", resources);
                r = read_full_fd(fd, 1024 * 1024, &text, &size);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the resources: %m");
                r = oci_resources_parse(text, size, &res, &error);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(r, "Invalid resources: %s", error);
        }
        r = container_load(g->root, argv[optind], &c);
        if (r < 0)
                return r;
        if (container_status(&c) == STATUS_STOPPED)
                return log_error_errno(SYNTHETIC_ERRNO(ESRCH), "container not running");
        resource_limits_from_oci(&l, &res);
        cg.v2_path = c.cgroup;
        cg.v1_paths = c.cgroup_v1;
        return machine_cgroup_update(&cg, &l);
}

static int verb_list(const RuncGlobals *g, int argc, char *argv[]) {
        static const struct option options[] = {
                { "format", required_argument, NULL, 'f' },
                { "quiet",  no_argument,       NULL, 'q' },
                {}
        };
        _cleanup_closedir_ DIR *d = NULL;
        const char *format = "table";
        bool quiet = false, first = true;
        int o;

        optind = 0;
        while ((o = getopt_long(argc, argv, "f:q", options, NULL)) >= 0)
                if (o == 'f')
                        format = optarg;
                else if (o == 'q')
                        quiet = true;
                else
                        return -EINVAL;
        if (!streq(format, "table") && !streq(format, "json"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid format option");

        d = opendir(g->root);
        if (!d && errno != ENOENT)
                return log_error_errno(errno, "Failed to open %s: %m", g->root);
        if (streq(format, "table") && !quiet)
                printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
        if (streq(format, "json"))
                putchar('[');
        for (struct dirent *de; d && (de = readdir(d)); ) {
                _cleanup_(container_done) Container c = {};
                int level = log_get_max_level();

                if (!container_id_is_valid(de->d_name))
                        continue;
                /* a half-created or half-deleted entry is skipped, not an error */
                log_set_max_level(LOG_CRIT);
                int r = container_load(g->root, de->d_name, &c);
                log_set_max_level(level);
                if (r < 0)
                        continue;
                if (quiet)
                        printf("%s\n", c.id);
                else if (streq(format, "json")) {
                        _cleanup_free_ char *j = container_state_json(&c, JSON_C_TO_STRING_PLAIN|JSON_C_TO_STRING_NOSLASHESCAPE);
                        printf("%s%s", first ? "" : ",", strempty(j));
                } else {
                        ContainerStatus s = container_status(&c);
                        printf("%-12s %-8i %-10s %-40s %-30s %s\n", c.id, s == STATUS_STOPPED ? 0 : (int) c.pid,
                               container_status_to_string(s), c.bundle, c.created, isempty(c.owner) ? "root" : c.owner);
                }
                first = false;
        }
        if (streq(format, "json"))
                printf("]\n");
        return 0;
}

static int verb_features(const RuncGlobals *g, int argc, char *argv[]) {
        /* what berth-runc honours today; see spawn-oci.c for what it refuses */
        static const char features[] =
                "{\n"
                "  \"ociVersionMin\": \"1.0.0\",\n"
                "  \"ociVersionMax\": \"1.1.0\",\n"
                "  \"hooks\": [\"prestart\", \"createRuntime\", \"createContainer\", \"startContainer\", \"poststart\", \"poststop\"],\n"
                "  \"mountOptions\": [\"bind\", \"rbind\", \"ro\", \"rw\", \"nosuid\", \"nodev\", \"noexec\", \"mode\", \"size\",\n"
                "                   \"idmap\", \"ridmap\"],\n"
                "  \"linux\": {\n"
                "    \"namespaces\": [\"cgroup\", \"ipc\", \"mount\", \"network\", \"pid\", \"user\", \"uts\"],\n"
                "    \"capabilities\": [%s],\n"
                "    \"cgroup\": { \"v1\": true, \"v2\": true, \"systemd\": false, \"systemdUser\": false },\n"
                "    \"seccomp\": {\n"
                "      \"enabled\": true,\n"
                "      \"actions\": [\"SCMP_ACT_ALLOW\", \"SCMP_ACT_ERRNO\", \"SCMP_ACT_KILL\", \"SCMP_ACT_KILL_PROCESS\",\n"
                "                  \"SCMP_ACT_KILL_THREAD\", \"SCMP_ACT_LOG\", \"SCMP_ACT_TRACE\", \"SCMP_ACT_TRAP\"],\n"
                "      \"operators\": [\"SCMP_CMP_EQ\", \"SCMP_CMP_GE\", \"SCMP_CMP_GT\", \"SCMP_CMP_LE\", \"SCMP_CMP_LT\",\n"
                "                    \"SCMP_CMP_MASKED_EQ\", \"SCMP_CMP_NE\"],\n"
                "      \"archs\": [\"SCMP_ARCH_AARCH64\", \"SCMP_ARCH_ARM\", \"SCMP_ARCH_PPC64LE\", \"SCMP_ARCH_RISCV64\",\n"
                "                \"SCMP_ARCH_S390X\", \"SCMP_ARCH_X32\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X86_64\"],\n"
                "      \"knownFlags\": [\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_SPEC_ALLOW\", \"SECCOMP_FILTER_FLAG_LOG\"],\n"
                "      \"supportedFlags\": [\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_SPEC_ALLOW\", \"SECCOMP_FILTER_FLAG_LOG\"]\n"
                "    },\n"
                "    \"apparmor\": { \"enabled\": false },\n"
                "    \"selinux\": { \"enabled\": false },\n"
                "    \"mountExtensions\": { \"idmap\": { \"enabled\": true } }\n"
                "  },\n"
                "  \"annotations\": { \"org.opencontainers.runc.version\": \"berth-runc " PROJECT_VERSION "\" }\n"
                "}\n";
        _cleanup_free_ char *caps = NULL;

        for (unsigned cap = 0; cap <= capability_last_cap(); cap++) {
                char *name = cap_to_name(cap), *n;

                if (!name)
                        return log_oom();
                for (char *p = name; *p; p++)
                        *p = toupper(*p);
                n = strjoin(strempty(caps), caps ? ", " : "", "\"", name, "\"");
                cap_free(name);
                if (!n)
                        return log_oom();
                free(caps);
                caps = n;
        }
        printf(features, strempty(caps));
        return 0;
}

static int verb_not_supported(const RuncGlobals *g, int argc, char *argv[]) {
        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP), "%s is not supported by berth-runc", argv[0]);
}

typedef struct Verb {
        const char *name;
        int (*func)(const RuncGlobals *g, int argc, char *argv[]);
} Verb;

static const Verb verbs[] = {
        { "create",     verb_create },
        { "start",      verb_start },
        { "run",        verb_run },
        { "state",      verb_state },
        { "kill",       verb_kill },
        { "delete",     verb_delete },
        { "exec",       verb_exec },
        { "ps",         verb_ps },
        { "pause",      verb_pause_resume },
        { "resume",     verb_pause_resume },
        { "update",     verb_update },
        { "list",       verb_list },
        { "features",   verb_features },
        { "checkpoint", verb_not_supported },
        { "restore",    verb_not_supported },
};

static void help(void) {
        printf("berth-runc [GLOBAL OPTIONS] COMMAND [OPTIONS] ID...\n\n"
               "An OCI runtime with runc's command line, on berth-spawn's launch pipeline.\n\n"
               "Commands: create start run state kill delete exec ps pause resume update list features\n\n"
               "Global options:\n"
               "  --root DIR          state directory (default " DEFAULT_ROOT ")\n"
               "  --log FILE          log file\n"
               "  --log-format FMT    text or json\n"
               "  --systemd-cgroup    linux.cgroupsPath is SLICE:PREFIX:NAME\n"
               "  --debug             debug messages\n"
               "  -h --help           this help\n"
               "  -v --version        the version\n");
}

static int parse_globals(int argc, char *argv[], RuncGlobals *g, const char **log_path, const char **log_format) {
        enum { ARG_ROOT = 0x100, ARG_LOG, ARG_LOG_FORMAT, ARG_SYSTEMD_CGROUP, ARG_DEBUG, ARG_CRIU, ARG_ROOTLESS };
        static const struct option options[] = {
                { "root",           required_argument, NULL, ARG_ROOT },
                { "log",            required_argument, NULL, ARG_LOG },
                { "log-format",     required_argument, NULL, ARG_LOG_FORMAT },
                { "systemd-cgroup", no_argument,       NULL, ARG_SYSTEMD_CGROUP },
                { "debug",          no_argument,       NULL, ARG_DEBUG },
                { "criu",           required_argument, NULL, ARG_CRIU },
                { "rootless",       required_argument, NULL, ARG_ROOTLESS },
                { "help",           no_argument,       NULL, 'h' },
                { "version",        no_argument,       NULL, 'v' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "+hv", options, NULL)) >= 0)
                switch (c) {
                case ARG_ROOT:
                        g->root = optarg;
                        break;
                case ARG_LOG:
                        *log_path = optarg;
                        break;
                case ARG_LOG_FORMAT:
                        if (!streq(optarg, "json") && !streq(optarg, "text"))
                                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid log-format: %s", optarg);
                        *log_format = optarg;
                        break;
                case ARG_SYSTEMD_CGROUP:
                        g->systemd_cgroup = true;
                        break;
                case ARG_DEBUG:
                        g->debug = true;
                        break;
                case ARG_CRIU:
                case ARG_ROOTLESS:
                        break;
                case 'h':
                        help();
                        return 1;
                case 'v':
                        printf("berth-runc version " PROJECT_VERSION "\nspec: 1.1.0\n");
                        return 1;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }
        return 0;
}

int main(int argc, char *argv[]) {
        RuncGlobals g = { .root = DEFAULT_ROOT };
        const char *log_path = NULL, *log_format = "text";
        const Verb *verb = NULL;
        int r;

        log_setup("berth-runc");
        process_save_argv(argc, argv);
        log_set_sink(log_sink, NULL);

        r = parse_globals(argc, argv, &g, &log_path, &log_format);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        log_set_max_level(g.debug ? LOG_DEBUG : LOG_INFO);
        log_json = streq(log_format, "json");
        if (log_path) {
                log_file = fopen(log_path, "ae");
                if (!log_file)
                        return log_error_errno(errno, "Failed to open the log file %s: %m", log_path), EXIT_FAILURE;
        }
        if (optind >= argc) {
                help();
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, argv[optind]))
                        verb = &verbs[i];
        if (!verb) {
                log_error("No help topic for '%s'", argv[optind]);
                return EXIT_FAILURE;
        }
        if (geteuid() != 0 && !streq(verb->name, "features") && !streq(verb->name, "list"))
                log_debug("berth-runc is not running as root; most commands will fail.");

        r = verb->func(&g, argc - optind, argv + optind);
        if (log_file)
                fclose(log_file);
        return r < 0 ? EXIT_FAILURE : r;
}
