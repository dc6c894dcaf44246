/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "fd-util.h"
#include "log.h"
#include "parse-util.h"
#include "spawn-cgroup.h"
#include "string-util.h"

#define CPU_PERIOD_USEC 100000ULL

/* ---- --property= ---- */

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (isempty(s) || s[0] == '-' || s[0] == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno > 0 || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int resource_parse_bytes(const char *s, uint64_t *ret) {
        static const struct { char suffix; uint64_t factor; } units[] = {
                { 'K', 1ULL << 10 }, { 'M', 1ULL << 20 }, { 'G', 1ULL << 30 }, { 'T', 1ULL << 40 },
        };
        _cleanup_free_ char *n = NULL;
        size_t l = strlen(s);
        uint64_t v, f = 1;

        if (streq(s, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (l > 1 && s[l - 1] == '%') {
                struct sysinfo si;

                n = strndup(s, l - 1);
                if (!n || parse_u64(n, &v) < 0 || v > 100 || sysinfo(&si) < 0)
                        return -EINVAL;
                *ret = (uint64_t) si.totalram * si.mem_unit / 100 * v;
                return 0;
        }
        for (size_t i = 0; l > 1 && i < ELEMENTSOF(units); i++)
                if (s[l - 1] == units[i].suffix) {
                        f = units[i].factor;
                        l--;
                }
        n = strndup(s, l);
        if (!n || parse_u64(n, &v) < 0 || v > UINT64_MAX / f)
                return -EINVAL;
        *ret = v * f;
        return 0;
}

int resource_limits_parse(ResourceLimits *l, const char *assignment) {
        _cleanup_free_ char *name = NULL;
        const char *eq = strchr(assignment, '='), *v;
        uint64_t x;
        int r = -EINVAL;

        if (!eq)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --property= assignment '%s': expected NAME=VALUE.", assignment);
        name = strndup(assignment, (size_t) (eq - assignment));
        if (!name)
                return log_oom();
        v = eq + 1;

        if (streq(name, "MemoryMax") || streq(name, "MemoryLimit")) {
                r = resource_parse_bytes(v, &l->memory_max);
                l->memory_max_set = r >= 0;
        } else if (streq(name, "MemoryHigh")) {
                r = resource_parse_bytes(v, &l->memory_high);
                l->memory_high_set = r >= 0;
        } else if (streq(name, "TasksMax")) {
                if (streq(v, "infinity")) {
                        l->tasks_max = UINT64_MAX;
                        r = 0;
                } else if ((r = parse_u64(v, &x)) >= 0 && x > 0)
                        l->tasks_max = x;
                else
                        r = -EINVAL;
                l->tasks_max_set = r >= 0;
        } else if (streq(name, "CPUQuota")) {
                size_t n = strlen(v);
                _cleanup_free_ char *p = n > 1 && v[n - 1] == '%' ? strndup(v, n - 1) : NULL;

                if (p && (r = parse_u64(p, &x)) >= 0 && x > 0 && x <= 100000) {
                        l->cpu_quota_per_sec_usec = x * 10000;
                        l->cpu_quota_set = true;
                } else
                        r = -EINVAL;
        } else if (streq(name, "CPUWeight") || streq(name, "IOWeight")) {
                if ((r = parse_u64(v, &x)) >= 0 && x >= 1 && x <= 10000)
                        *(streq(name, "CPUWeight") ? &l->cpu_weight : &l->io_weight) = x;
                else
                        r = -EINVAL;
        } else
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "Unsupported property '%s' (supported: MemoryMax, MemoryHigh, TasksMax, CPUQuota, CPUWeight, IOWeight).",
                                       name);

        if (r < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid value '%s' for property %s.", v, name);
        return 0;
}

bool resource_limits_any(const ResourceLimits *l) {
        return l->memory_max_set || l->memory_high_set || l->tasks_max_set || l->cpu_quota_set ||
               l->cpu_weight > 0 || l->io_weight > 0;
}

int slice_to_path(const char *slice, char **ret) {
        _cleanup_free_ char *path = NULL, *base = NULL;
        const char *dash;

        if (!endswith(slice, ".slice") || strchr(slice, '/') || slice[0] == '-' || streq(slice, "-.slice") ||
            strstr(slice, "--") || strstr(slice, "-.slice") || strlen(slice) > 200)
                return -EINVAL;

        /* a-b-c.slice lives in a.slice/a-b.slice/a-b-c.slice */
        base = strndup(slice, strlen(slice) - STRLEN(".slice"));
        if (!base)
                return -ENOMEM;
        path = strdup("");
        if (!path)
                return -ENOMEM;
        for (dash = strchr(base, '-');; dash = strchr(dash + 1, '-')) {
                _cleanup_free_ char *prefix = dash ? strndup(base, (size_t) (dash - base)) : strdup(base);
                char *p;

                if (!prefix)
                        return -ENOMEM;
                p = strjoin(path, isempty(path) ? "" : "/", prefix, ".slice");
                if (!p)
                        return -ENOMEM;
                free(path);
                path = p;
                if (!dash)
                        break;
        }
        *ret = TAKE_PTR(path);
        return 0;
}

/* ---- creating the cgroups ---- */

static char *scope_name(const SpawnConfig *c) {
        char esc[4 * 64 + 1], *w = esc;

        /* escaped as systemd escapes unit names */
        for (const char *p = c->machine; *p && w < esc + sizeof(esc) - 5; p++) {
                bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                             *p == '_' || (*p == '.' && p != c->machine);
                if (plain)
                        *w++ = *p;
                else
                        w += sprintf(w, "\\x%02x", (unsigned char) *p);
        }
        *w = 0;
        return strjoin("machine-", esc, ".scope");
}

/* Our own cgroup in the cgroup2 hierarchy ("0::/path" in /proc/self/cgroup). */
static int v2_own_cgroup(char **ret) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
        char line[4096];

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (startswith(line, "0::")) {
                        line[strcspn(line, "\n")] = 0;
                        *ret = strdup(line + 3);
                        return *ret ? 0 : -ENOMEM;
                }
        return -ENOENT;
}

static bool v2_has_controller(const char *root, const char *controller) {
        _cleanup_free_ char *f = strjoin(root, "/cgroup.controllers"), *data = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_strv_free_ char **l = NULL;

        if (!f || (fd = open(f, O_RDONLY|O_CLOEXEC)) < 0 || read_full_fd(fd, 4096, &data, NULL) < 0)
                return false;
        if (strv_split_full(data, " \n", false, &l) < 0)
                return false;
        return strv_contains(l, controller);
}

/* The caller's own cgroup in the v1 hierarchy holding 'controller', from /proc/self/cgroup. */
static int v1_caller_cgroup(const char *controller, char **ret_mount, char **ret_path) {
        _cleanup_free_ char *mnt = strjoin("/sys/fs/cgroup/", controller);
        _cleanup_fclose_ FILE *f = NULL;
        char line[4096];
        struct statfs fs;

        if (!mnt)
                return -ENOMEM;
        if (statfs(mnt, &fs) < 0 || fs.f_type != 0x27e0eb /* CGROUP_SUPER_MAGIC */)
                return -EOPNOTSUPP;
        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                char *ctrl = strchr(line, ':'), *path;
                _cleanup_strv_free_ char **l = NULL;

                if (!ctrl || !(path = strchr(ctrl + 1, ':')))
                        continue;
                *path++ = 0;
                path[strcspn(path, "\n")] = 0;
                if (strv_split_full(ctrl + 1, ",", false, &l) < 0)
                        return -ENOMEM;
                if (!strv_contains(l, controller))
                        continue;
                *ret_path = strdup(path);
                *ret_mount = TAKE_PTR(mnt);
                return *ret_path ? 0 : -ENOMEM;
        }
        return -EOPNOTSUPP;
}

static int write_attr(const char *dir, const char *attr, const char *value) {
        _cleanup_free_ char *f = strjoin(dir, "/", attr);
        _cleanup_close_ int fd = -EBADF;

        if (!f)
                return -ENOMEM;
        fd = open(f, O_WRONLY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return write_string_fd(fd, value);
}

static int write_u64(const char *dir, const char *attr, uint64_t v, const char *infinity) {
        char buf[32];

        if (v == UINT64_MAX)
                return write_attr(dir, attr, infinity);
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v);
        return write_attr(dir, attr, buf);
}

/* Create 'path' with its parents; a leftover of a SIGKILLed machine of this name is
 * reclaimed if nothing runs in it. */
static int create_fresh(const SpawnConfig *c, const char *path, bool v2, int *ret_fd) {
        int r, fd = -EBADF;

        r = cgroup_create(path, &fd);
        if (r == -EEXIST) {
                if (v2 ? cgroup_is_populated(path) : !cgroup_v1_is_empty(path))
                        return log_error_errno(SYNTHETIC_ERRNO(EBUSY), "A machine named '%s' is already running (cgroup %s).",
                                               c->machine, path);
                r = v2 ? cgroup_destroy(path) : RET_NERRNO(rmdir(path));
                if (r >= 0)
                        r = cgroup_create(path, &fd);
        }
        if (r < 0)
                return log_error_errno(r, "Failed to create cgroup %s: %m", path);
        if (ret_fd)
                *ret_fd = fd;
        else
                safe_close(fd);
        return 0;
}

/* Enable the controllers we need in every ancestor of the machine's cgroup. */
static void v2_enable_controllers(const char *root, const char *slice_path, const char *controllers) {
        _cleanup_free_ char *dir = strdup(root), *rest = strdup(slice_path);
        char *saveptr = NULL;

        if (!dir || !rest)
                return;
        (void) write_attr(dir, "cgroup.subtree_control", controllers);
        for (char *seg = strtok_r(rest, "/", &saveptr); seg; seg = strtok_r(NULL, "/", &saveptr)) {
                char *d = strjoin(dir, "/", seg);
                if (!d)
                        return;
                free(dir);
                dir = d;
                (void) write_attr(dir, "cgroup.subtree_control", controllers);
        }
}

typedef struct Limit {
        const char *controller;
        bool wanted;
} Limit;

static int apply_v2(const ResourceLimits *l, const char *dir) {
        char buf[64];
        int r = 0;

        if (l->memory_max_set && r >= 0)
                r = write_u64(dir, "memory.max", l->memory_max, "max");
        if (l->memory_high_set && r >= 0)
                r = write_u64(dir, "memory.high", l->memory_high, "max");
        if (l->tasks_max_set && r >= 0)
                r = write_u64(dir, "pids.max", l->tasks_max, "max");
        if (l->cpu_quota_set && r >= 0) {
                snprintf(buf, sizeof(buf), "%llu %llu",
                         (unsigned long long) (l->cpu_quota_per_sec_usec * CPU_PERIOD_USEC / 1000000ULL),
                         (unsigned long long) CPU_PERIOD_USEC);
                r = write_attr(dir, "cpu.max", buf);
        }
        if (l->cpu_weight > 0 && r >= 0)
                r = write_u64(dir, "cpu.weight", l->cpu_weight, "");
        if (l->io_weight > 0 && r >= 0) {
                snprintf(buf, sizeof(buf), "default %llu", (unsigned long long) l->io_weight);
                r = write_attr(dir, "io.weight", buf);
        }
        return r;
}

static int apply_v1(const ResourceLimits *l, const char *controller, const char *dir) {
        char buf[32];

        if (streq(controller, "memory")) {
                int r = 0;
                if (l->memory_max_set)
                        r = write_u64(dir, "memory.limit_in_bytes", l->memory_max, "-1");
                /* v1 has no "high" limit; the soft limit is its nearest relative. */
                if (l->memory_high_set && r >= 0)
                        r = write_u64(dir, "memory.soft_limit_in_bytes", l->memory_high, "-1");
                return r;
        }
        if (streq(controller, "pids"))
                return write_u64(dir, "pids.max", l->tasks_max, "max");
        if (streq(controller, "cpu")) {
                int r = 0;
                if (l->cpu_quota_set) {
                        r = write_u64(dir, "cpu.cfs_period_us", CPU_PERIOD_USEC, "");
                        if (r >= 0)
                                r = write_u64(dir, "cpu.cfs_quota_us",
                                              l->cpu_quota_per_sec_usec * CPU_PERIOD_USEC / 1000000ULL, "");
                }
                /* weight 100 is the default like 1024 shares */
                if (l->cpu_weight > 0 && r >= 0)
                        r = write_u64(dir, "cpu.shares", MAX(l->cpu_weight * 1024 / 100, 2ULL), "");
                return r;
        }
        if (streq(controller, "blkio")) {
                /* IOWeight 1..10000 (default 100) onto blkio's 10..1000 (default 500) */
                uint64_t w = MIN(MAX(l->io_weight * 5, 10ULL), 1000ULL);
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long) w);
                if (write_attr(dir, "blkio.bfq.weight", buf) >= 0)
                        return 0;
                return write_attr(dir, "blkio.weight", buf);
        }
        return -EINVAL;
}

int machine_cgroup_create(const SpawnConfig *c, MachineCGroup *g) {
        const ResourceLimits *l = &c->limits;
        const Limit limits[] = {
                { "memory", l->memory_max_set || l->memory_high_set },
                { "pids",   l->tasks_max_set },
                { "cpu",    l->cpu_quota_set || l->cpu_weight > 0 },
                { "io",     l->io_weight > 0 },
        };
        _cleanup_free_ char *slice = NULL, *scope = NULL, *enable = NULL;
        const char *root;
        bool v2_limits = false;
        int r;

        if (!c->boot && !resource_limits_any(l) && !c->slice && !c->keep_unit)
                return 0;     /* a plain command needs no cgroup of its own */

        r = cgroup2_root(&root);
        if (r < 0)
                return log_error_errno(r, "The machine needs a cgroup2 hierarchy (at /sys/fs/cgroup or /sys/fs/cgroup/unified): %m");

        if (c->keep_unit) {
                /* --keep-unit: the machine stays in berth-spawn's own cgroup (its service's,
                 * under systemd), in a "payload" child, as systemd-nspawn does. */
                _cleanup_free_ char *own = NULL;

                r = v2_own_cgroup(&own);
                if (r < 0)
                        return log_error_errno(r, "Failed to find berth-spawn's own cgroup for --keep-unit: %m");
                slice = strdup(streq(own, "/") ? "" : own + 1);
                scope = strdup("payload");
        } else {
                r = slice_to_path(c->slice ?: "machine.slice", &slice);
                if (r < 0)
                        return log_error_errno(r, "Invalid slice '%s': %m", c->slice);
                scope = scope_name(c);
        }
        enable = strdup("");
        if (!slice || !scope || !enable)
                return log_oom();

        g->v2_path = strjoin(root, isempty(slice) ? "" : "/", slice, "/", scope);
        if (!g->v2_path)
                return log_oom();

        for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
                _cleanup_free_ char *mnt = NULL, *own = NULL, *dir = NULL;
                const char *v1name = streq(limits[i].controller, "io") ? "blkio" : limits[i].controller;

                if (!limits[i].wanted)
                        continue;
                if (v2_has_controller(root, limits[i].controller)) {
                        char *e = strjoin(enable, " +", limits[i].controller);
                        if (!e)
                                return log_oom();
                        free(enable);
                        enable = e;
                        v2_limits = true;
                        continue;
                }
                r = v1_caller_cgroup(v1name, &mnt, &own);
                if (r < 0)
                        return log_error_errno(r, "The %s controller is needed for the requested --property=, but this host offers it neither in cgroup2 nor in cgroup v1: %m",
                                               limits[i].controller);
                /* below the caller's own cgroup; with --keep-unit directly in it */
                dir = c->keep_unit ? strjoin(mnt, streq(own, "/") ? "" : own, "/", scope) :
                                     strjoin(mnt, streq(own, "/") ? "" : own, "/", slice, "/", scope);
                if (!dir)
                        return log_oom();
                if (!strv_contains(g->v1_paths, dir)) {
                        r = create_fresh(c, dir, false, NULL);
                        if (r < 0)
                                return r;
                        if (strv_extend(&g->v1_paths, dir) < 0)
                                return log_oom();
                }
                r = apply_v1(l, v1name, dir);
                if (r < 0)
                        return log_error_errno(r, "Failed to apply the %s limits in %s: %m", v1name, dir);
        }

        if (v2_limits)
                v2_enable_controllers(root, slice, enable + 1);
        r = create_fresh(c, g->v2_path, true, &g->v2_fd);
        if (r < 0) {
                g->v2_path = (free(g->v2_path), NULL);
                return r;
        }
        if (v2_limits) {
                r = apply_v2(l, g->v2_path);
                if (r < 0)
                        return log_error_errno(r, "Failed to apply resource limits in %s: %m", g->v2_path);
        }
        return 0;
}

void machine_cgroup_destroy(MachineCGroup *g) {
        int r;

        if (g->v2_path) {
                r = cgroup_destroy(g->v2_path);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove cgroup %s, ignoring: %m", g->v2_path);
        }
        STRV_FOREACH(p, g->v1_paths) {
                /* the PID namespace is gone, so are its processes; v1 removal may lag a bit */
                for (int i = 0; i < 50 && rmdir(*p) < 0 && errno == EBUSY; i++)
                        usleep(10000);
        }
        free(g->v2_path);
        strv_free(g->v1_paths);
        safe_close(g->v2_fd);
        *g = (MachineCGroup) MACHINE_CGROUP_NULL;
}

int machine_cgroup_join_v1(char * const *paths) {
        STRV_FOREACH(p, paths) {
                int r = write_attr(*p, "cgroup.procs", "0");
                if (r < 0)
                        return log_error_errno(r, "Failed to join cgroup %s: %m", *p);
        }
        return 0;
}
