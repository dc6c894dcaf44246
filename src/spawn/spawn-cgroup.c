/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "bpf-devices.h"
#include "cgroup-setup.h"
#include "fd-util.h"
#include "log.h"
#include "parse-util.h"
#include "spawn-cgroup.h"
#include "spawn-device-policy.h"
#include "string-util.h"

#define CPU_PERIOD_USEC 100000ULL

/* ---- --property= ---- */

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
                if (!n || safe_atou64(n, &v) < 0 || v > 100 || sysinfo(&si) < 0)
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
        if (!n || safe_atou64(n, &v) < 0 || v > UINT64_MAX / f)
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
                } else if ((r = safe_atou64(v, &x)) >= 0 && x > 0)
                        l->tasks_max = x;
                else
                        r = -EINVAL;
                l->tasks_max_set = r >= 0;
        } else if (streq(name, "CPUQuota")) {
                size_t n = strlen(v);
                _cleanup_free_ char *p = n > 1 && v[n - 1] == '%' ? strndup(v, n - 1) : NULL;

                if (p && (r = safe_atou64(p, &x)) >= 0 && x > 0 && x <= 100000) {
                        l->cpu_quota_per_sec_usec = x * 10000;
                        l->cpu_quota_set = true;
                } else
                        r = -EINVAL;
        } else if (streq(name, "CPUWeight") || streq(name, "IOWeight")) {
                if ((r = safe_atou64(v, &x)) >= 0 && x >= 1 && x <= 10000)
                        *(streq(name, "CPUWeight") ? &l->cpu_weight : &l->io_weight) = x;
                else
                        r = -EINVAL;
        } else
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "Unsupported property '%s' (supported: MemoryMax, MemoryHigh, TasksMax, CPUQuota, CPUWeight, IOWeight, DevicePolicy, DeviceAllow).",
                                       name);

        if (r < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid value '%s' for property %s.", v, name);
        return 0;
}

bool resource_limits_any(const ResourceLimits *l) {
        return l->memory_max_set || l->memory_high_set || l->tasks_max_set || l->cpu_quota_set ||
               l->cpu_weight > 0 || l->io_weight > 0 || l->cpu_shares > 0 || l->cpu_rt_period_set ||
               l->cpu_rt_runtime_set || l->cpuset_cpus[0] || l->cpuset_mems[0] || l->n_devices > 0;
}

/* ---- creating the cgroups ---- */

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

static bool v1_mounted(const char *dir) {
        _cleanup_free_ char *mnt = strjoin("/sys/fs/cgroup/", dir);
        struct statfs fs;

        return mnt && statfs(mnt, &fs) >= 0 && fs.f_type == 0x27e0eb /* CGROUP_SUPER_MAGIC */;
}

/* The v1 hierarchies this process is in and that are mounted in /sys/fs/cgroup, from
 * /proc/self/cgroup (a hierarchy unmounted again lingers there): each one's controller list
 * ("cpu,cpuacct", "name=systemd") and, when ret_paths is given, the process's cgroup in it.
 * None on a pure cgroup2 host. */
int cgroup_v1_hierarchies(char ***ret_controllers, char ***ret_paths) {
        _cleanup_strv_free_ char **controllers = NULL, **paths = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char line[4096];

        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                char *ctrl = strchr(line, ':'), *path;

                if (!ctrl || !(path = strchr(ctrl + 1, ':')))
                        continue;
                *path++ = 0;
                path[strcspn(path, "\n")] = 0;
                if (isempty(ctrl + 1))
                        continue;            /* the cgroup2 line */
                if (!v1_mounted(cgroup_v1_dir(ctrl + 1)))
                        continue;            /* a hierarchy not mounted in /sys/fs/cgroup */
                if (strv_extend(&controllers, ctrl + 1) < 0 || strv_extend(&paths, path) < 0)
                        return -ENOMEM;
        }
        *ret_controllers = TAKE_PTR(controllers);
        if (ret_paths)
                *ret_paths = TAKE_PTR(paths);
        return 0;
}

/* A v1 hierarchy's directory below /sys/fs/cgroup, as systemd names it: "name=systemd" is
 * "systemd", co-mounted controllers keep their list ("cpu,cpuacct"). */
const char *cgroup_v1_dir(const char *controllers) {
        return startswith(controllers, "name=") ?: controllers;
}

/* The caller's own cgroup in the v1 hierarchy holding 'controller', from /proc/self/cgroup. */
static int v1_caller_cgroup(const char *controller, char **ret_mount, char **ret_path) {
        _cleanup_free_ char *mnt = strjoin("/sys/fs/cgroup/", controller);
        _cleanup_fclose_ FILE *f = NULL;
        char line[4096];

        if (!mnt)
                return -ENOMEM;
        if (!v1_mounted(controller))
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

static int create_fresh(const SpawnConfig *c, const char *path, bool v2, int *ret_fd) {
        int r;

        r = cgroup_create_fresh(path, v2, ret_fd);
        if (r == -EBUSY)
                return log_error_errno(r, "A machine named '%s' is already running (cgroup %s).", c->machine, path);
        if (r < 0)
                return log_error_errno(r, "Failed to create cgroup %s: %m", path);
        return 0;
}

/* Enable one controller in every ancestor of the machine's cgroup (creating the slices
 * on the way), one write per controller: the kernel refuses a whole "+a +b" write when one
 * of them cannot be enabled, and a controller that cannot be should cost only its own
 * properties. A cgroup below the root that holds processes of its own is left alone: the
 * kernel refuses domain controllers there (EBUSY), and it would accept the threaded ones
 * (cpu, pids) but then turn every new child into "domain invalid", where no process can
 * start. Returns -EBUSY for that, or the kernel's error, with the cgroup concerned. */
static int v2_enable_controller(const char *root, const char *slice_path, const char *controller,
                                char **ret_where) {
        _cleanup_free_ char *dir = strdup(root), *rest = strdup(slice_path), *plus = strjoin("+", controller);
        char *saveptr = NULL, *seg = NULL;
        int r;

        if (!dir || !rest || !plus)
                return -ENOMEM;
        for (;;) {
                if (seg && !cgroup_has_no_procs(dir))
                        r = -EBUSY;
                else
                        r = cgroup_write_attr(dir, "cgroup.subtree_control", plus);
                if (r < 0) {
                        *ret_where = TAKE_PTR(dir);
                        return r;
                }
                seg = strtok_r(seg ? NULL : rest, "/", &saveptr);
                if (!seg)
                        return 0;
                char *d = strjoin(dir, "/", seg);
                if (!d)
                        return -ENOMEM;
                free(dir);
                dir = d;
                if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                        *ret_where = TAKE_PTR(dir);
                        return -errno;
                }
        }
}

/* The controllers a machine's own manager gets to manage in its subtree, as systemd
 * delegates them to a unit with Delegate=yes (cgroup2 names). */
static const char *const delegated_controllers[] = { "cpu", "cpuset", "io", "memory", "pids" };

/* A booted machine in berth's own scope (no systemd to ask): every delegated controller the
 * host's cgroup2 offers is enabled down to the scope, so that the machine's systemd can enable
 * them in its own subtree, as it would under systemd-nspawn on a systemd host. Best effort:
 * one that cannot be enabled (a slice with processes of its own) leaves the machine running,
 * its systemd just cannot set limits of that controller. */
static int v2_delegate_scope(const char *root, const char *slice_path) {
        for (size_t i = 0; i < ELEMENTSOF(delegated_controllers); i++) {
                _cleanup_free_ char *where = NULL;
                int r;

                if (!v2_has_controller(root, delegated_controllers[i]))
                        continue;
                r = v2_enable_controller(root, slice_path, delegated_controllers[i], &where);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        log_debug_errno(r, "The %s controller is not delegated to the machine (not enabled in %s): %m",
                                        delegated_controllers[i], strna(where));
        }
        return 0;
}

/* Does the cgroup 'dir' hold no process but berth-spawn (none: it moved on already)? */
static bool v2_only_us(const char *dir) {
        _cleanup_free_ char *procs = strjoin(dir, "/cgroup.procs"), *data = NULL, *us = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (!procs || asprintf(&us, "%i\n", (int) getpid()) < 0)
                return false;
        fd = open(procs, O_RDONLY|O_CLOEXEC);
        return fd >= 0 && read_full_fd(fd, 4096, &data, NULL) >= 0 && (isempty(data) || streq(data, us));
}

/* berth-spawn in a unit (--keep-unit, or the scope systemd made for it, both Delegate=yes):
 * the unit's controllers are passed on to the machine's "payload" child, as systemd-nspawn
 * does, so that the machine's systemd can manage them. The unit's cgroup must then hold no
 * process (the kernel's "no internal processes" rule): berth-spawn moves into a "supervisor"
 * child of it first, when it is the unit's only process (else the unit is not a delegated
 * one of its own, a login session's scope, say, and stays as it is). Best effort, as for a
 * scope of berth's own. */
static int v2_delegate_unit(const char *unit_dir) {
        _cleanup_free_ char *supervisor = NULL;
        bool any = false;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(delegated_controllers); i++)
                any = any || v2_has_controller(unit_dir, delegated_controllers[i]);
        if (!any)
                return 0;       /* nothing to pass on (a hybrid host): berth-spawn stays where it is */
        if (!v2_only_us(unit_dir)) {
                log_debug("berth-spawn is not alone in %s, not delegating its controllers.", unit_dir);
                return 0;
        }

        supervisor = strjoin(unit_dir, "/supervisor");
        if (!supervisor)
                return log_oom();
        if (mkdir(supervisor, 0755) < 0 && errno != EEXIST)
                return log_debug_errno(errno, "Failed to create %s, not delegating controllers: %m", supervisor), 0;
        r = cgroup_write_attr(supervisor, "cgroup.procs", "0");
        if (r < 0)
                return log_debug_errno(r, "Failed to move into %s, not delegating controllers: %m", supervisor), 0;
        for (size_t i = 0; i < ELEMENTSOF(delegated_controllers); i++) {
                _cleanup_free_ char *plus = strjoin("+", delegated_controllers[i]);

                if (!plus)
                        return log_oom();
                if (!v2_has_controller(unit_dir, delegated_controllers[i]))
                        continue;
                r = cgroup_write_attr(unit_dir, "cgroup.subtree_control", plus);
                if (r < 0)
                        log_debug_errno(r, "The %s controller is not delegated to the machine (not enabled in %s): %m",
                                        delegated_controllers[i], unit_dir);
        }
        return 0;
}

/* The unit's cgroup: berth-spawn's own at the first call, before it moves into the unit's
 * "supervisor" child; remembered for the boots after a reboot in place. */
static int v2_unit_cgroup(char **ret) {
        static char *unit = NULL;
        int r;

        if (!unit) {
                r = v2_own_cgroup(&unit);
                if (r < 0)
                        return r;
        }
        *ret = strdup(unit);
        return *ret ? 0 : -ENOMEM;
}

/* What the kernel offers for one controller: where its files for this machine are, or
 * why there are none (then the properties it would carry are skipped with a warning). */
typedef struct Controller {
        const char *name;          /* cgroup2 name; v1 is the same but io, which is blkio */
        bool wanted;
        bool v2;                   /* found in cgroup2, else in its v1 hierarchy */
        const char *dir;           /* the machine's cgroup holding its files; NULL: unavailable */
        char *why;                 /* when unavailable: the reason, for the warning */
} Controller;

/* The value is set as the kernel's file wants it, or the kernel lacks the file. Writes
 * the first of 'files' that exists; -ENOENT when none does, the kernel's error else. */
static int write_first(const char *dir, const char * const *files, const char *value, const char **ret_file) {
        int r = -ENOENT;

        for (; *files; files++) {
                r = cgroup_write_attr(dir, *files, value);
                if (r != -ENOENT) {
                        *ret_file = *files;
                        return r;
                }
        }
        return r;
}

enum { CTRL_MEMORY, CTRL_PIDS, CTRL_CPU, CTRL_IO, CTRL_CPUSET, CTRL_DEVICES, _CTRL_MAX };
enum { PROP_MEMORY_MAX, PROP_MEMORY_HIGH, PROP_TASKS_MAX, PROP_CPU_QUOTA, PROP_CPU_WEIGHT, PROP_IO_WEIGHT,
       PROP_CPU_RT_PERIOD, PROP_CPU_RT_RUNTIME, PROP_CPUSET_CPUS, PROP_CPUSET_MEMS, _PROP_MAX };

/* The v1 hierarchy's name of a controller: blkio for io, else the same. */
static const char *controller_v1_name(unsigned i, const char *name) {
        return i == CTRL_IO ? "blkio" : name;
}

/* Each --property= with its controller and files: one file (or candidates, the first that
 * exists is written) per layout. memory.high has no v1 counterpart: as with systemd, the
 * property is skipped there (the v1 soft limit is another thing: a reclaim target under
 * global pressure, not a throttle). An I/O weight file exists only with a scheduler that
 * supports weights (BFQ, or the iocost controller of cgroup2). */
static const struct {
        const char *name;
        unsigned controller;
        const char *v2_files[3], *v1_files[3];
} properties[_PROP_MAX] = {
        [PROP_MEMORY_MAX]  = { "MemoryMax",  CTRL_MEMORY, { "memory.max" },  { "memory.limit_in_bytes" } },
        [PROP_MEMORY_HIGH] = { "MemoryHigh", CTRL_MEMORY, { "memory.high" }, { NULL } },
        [PROP_TASKS_MAX]   = { "TasksMax",   CTRL_PIDS,   { "pids.max" },    { "pids.max" } },
        [PROP_CPU_QUOTA]   = { "CPUQuota",   CTRL_CPU,    { "cpu.max" },     { "cpu.cfs_quota_us" } },
        [PROP_CPU_WEIGHT]  = { "CPUWeight",  CTRL_CPU,    { "cpu.weight" },  { "cpu.shares" } },
        [PROP_IO_WEIGHT]   = { "IOWeight",   CTRL_IO,     { "io.weight", "io.bfq.weight" },
                                                          { "blkio.bfq.weight", "blkio.weight" } },
        /* OCI linux.resources.cpu: the realtime budget exists in v1 only (CONFIG_RT_GROUP_SCHED) */
        [PROP_CPU_RT_PERIOD]  = { "CPURealtimePeriod",  CTRL_CPU,    { NULL }, { "cpu.rt_period_us" } },
        [PROP_CPU_RT_RUNTIME] = { "CPURealtimeRuntime", CTRL_CPU,    { NULL }, { "cpu.rt_runtime_us" } },
        [PROP_CPUSET_CPUS]    = { "AllowedCPUs",        CTRL_CPUSET, { "cpuset.cpus" }, { "cpuset.cpus" } },
        [PROP_CPUSET_MEMS]    = { "AllowedMemoryNodes", CTRL_CPUSET, { "cpuset.mems" }, { "cpuset.mems" } },
};

static bool property_is_set(const ResourceLimits *l, unsigned p) {
        switch (p) {
        case PROP_MEMORY_MAX:  return l->memory_max_set;
        case PROP_MEMORY_HIGH: return l->memory_high_set;
        case PROP_TASKS_MAX:   return l->tasks_max_set;
        case PROP_CPU_QUOTA:   return l->cpu_quota_set;
        case PROP_IO_WEIGHT:   return l->io_weight > 0;
        case PROP_CPU_WEIGHT:  return l->cpu_weight > 0 || l->cpu_shares > 0;
        case PROP_CPU_RT_PERIOD:  return l->cpu_rt_period_set;
        case PROP_CPU_RT_RUNTIME: return l->cpu_rt_runtime_set;
        case PROP_CPUSET_CPUS: return l->cpuset_cpus[0] != 0;
        case PROP_CPUSET_MEMS: return l->cpuset_mems[0] != 0;
        default:               return false;
        }
}

static void format_u64(uint64_t v, const char *infinity, char *buf, size_t n) {
        if (v == UINT64_MAX)
                snprintf(buf, n, "%s", infinity);
        else
                snprintf(buf, n, "%llu", (unsigned long long) v);
}

/* The CFS period the quota is applied with: an OCI config's, else 100 ms. */
static uint64_t cpu_period(const ResourceLimits *l) {
        return l->cpu_period_usec > 0 ? l->cpu_period_usec : CPU_PERIOD_USEC;
}

/* The value as the kernel's file for this layout wants it (v1: for CPUQuota the quota
 * only; the period is written before it). */
static void property_format(const ResourceLimits *l, unsigned p, bool v2, char *buf, size_t n) {
        uint64_t quota = l->cpu_quota_per_sec_usec * cpu_period(l) / 1000000ULL;

        switch (p) {
        case PROP_MEMORY_MAX:
                return format_u64(l->memory_max, v2 ? "max" : "-1", buf, n);
        case PROP_MEMORY_HIGH:
                return format_u64(l->memory_high, "max", buf, n);
        case PROP_TASKS_MAX:
                return format_u64(l->tasks_max, "max", buf, n);
        case PROP_CPU_QUOTA:
                if (v2)
                        snprintf(buf, n, "%llu %llu", (unsigned long long) quota, (unsigned long long) cpu_period(l));
                else
                        snprintf(buf, n, "%llu", (unsigned long long) quota);
                return;
        case PROP_CPU_WEIGHT:
                if (!v2 && l->cpu_shares > 0)
                        return format_u64(l->cpu_shares, "", buf, n);
                /* v1: weight 100 is the default, as 1024 shares are */
                return format_u64(v2 ? l->cpu_weight : MAX(l->cpu_weight * 1024 / 100, 2ULL), "", buf, n);
        case PROP_CPU_RT_PERIOD:
                return format_u64(l->cpu_rt_period_usec, "", buf, n);
        case PROP_CPU_RT_RUNTIME:
                snprintf(buf, n, "%lli", (long long) l->cpu_rt_runtime_usec);
                return;
        case PROP_CPUSET_CPUS:
                snprintf(buf, n, "%s", l->cpuset_cpus);
                return;
        case PROP_CPUSET_MEMS:
                snprintf(buf, n, "%s", l->cpuset_mems);
                return;
        case PROP_IO_WEIGHT:
                if (v2)
                        snprintf(buf, n, "default %llu", (unsigned long long) l->io_weight);
                else    /* IOWeight 1..10000 (default 100) onto blkio's 10..1000 (default 500) */
                        snprintf(buf, n, "%llu", (unsigned long long) MIN(MAX(l->io_weight * 5, 10ULL), 1000ULL));
                return;
        default:
                abort();
        }
}

/* The value as the user wrote it, for messages. */
static void property_format_user(const ResourceLimits *l, unsigned p, char *buf, size_t n) {
        if (p >= PROP_CPU_RT_PERIOD)
                property_format(l, p, false, buf, n);
        else if (p == PROP_CPU_QUOTA)
                snprintf(buf, n, "%llu%%", (unsigned long long) (l->cpu_quota_per_sec_usec / 10000));
        else if (p == PROP_CPU_WEIGHT || p == PROP_IO_WEIGHT)
                format_u64(p == PROP_CPU_WEIGHT ? l->cpu_weight : l->io_weight, "", buf, n);
        else
                format_u64(p == PROP_MEMORY_MAX ? l->memory_max : p == PROP_MEMORY_HIGH ? l->memory_high : l->tasks_max,
                           "infinity", buf, n);
}

/* Each property is warned about once per berth-spawn, not again at every reboot. */
static unsigned warned;

static void property_skip(const ResourceLimits *l, unsigned p, const char *why) {
        char value[64];

        if (warned & (1u << p))
                return;
        warned |= 1u << p;
        property_format_user(l, p, value, sizeof(value));
        log_warning("--property=%s=%s is not applied: %s.", properties[p].name, value, why);
}

/* Write every requested property into the machine's cgroups. A property whose controller
 * or file the kernel lacks is skipped with one warning line, as systemd does; a value the
 * kernel refuses is an error. */
static int cgroup_limits_apply(const ResourceLimits *l, const Controller *ctrl) {
        static const char *const period_files[] = { "cpu.cfs_period_us", NULL };
        char buf[64], why[PATH_MAX + 128];
        int r;

        for (unsigned p = 0; p < _PROP_MAX; p++) {
                const Controller *k = ctrl + properties[p].controller;
                bool v2 = k->v2;
                const char *const *files = v2 ? properties[p].v2_files : properties[p].v1_files, *file = NULL;

                if (!property_is_set(l, p))
                        continue;
                if (!k->dir) {
                        property_skip(l, p, k->why);
                        continue;
                }
                if (!files[0]) {
                        snprintf(why, sizeof(why), "the v1 %s controller has no such limit", k->name);
                        property_skip(l, p, why);
                        continue;
                }
                if (p == PROP_CPU_QUOTA && !v2) {
                        format_u64(cpu_period(l), "", buf, sizeof(buf));
                        files = period_files;
                        r = write_first(k->dir, files, buf, &file);
                        if (r >= 0)
                                files = properties[p].v1_files;
                } else
                        r = 0;
                if (r >= 0) {
                        property_format(l, p, v2, buf, sizeof(buf));
                        r = write_first(k->dir, files, buf, &file);
                }
                if (r == -ENOENT) {
                        snprintf(why, sizeof(why), "this kernel offers %s%s%s%s in %s", files[1] ? "neither " : "no ",
                                 files[0], files[1] ? " nor " : "", strempty(files[1]), k->dir);
                        property_skip(l, p, why);
                        continue;
                }
                if (r < 0) {
                        property_format_user(l, p, why, sizeof(why));
                        return log_error_errno(r, "Failed to set --property=%s=%s (%s in %s): %m",
                                               properties[p].name, why, file, k->dir);
                }
        }
        return 0;
}

/* berth's own /dev nodes, allowed after an OCI config's device rules as runc appends its
 * defaults: null, zero, full, random, urandom, tty, console, ptmx and the pty peers; and,
 * as runc, making a node of any device (opening it is still up to the rules): images whose
 * entrypoint makes its own nodes work as under runc. */
static const CgroupDeviceRule default_device_rules[] = {
        { true, 'c', -1, -1, "m" }, { true, 'b', -1, -1, "m" },
        { true, 'c', 1, 3, "rwm" }, { true, 'c', 1, 5, "rwm" }, { true, 'c', 1, 7, "rwm" },
        { true, 'c', 1, 8, "rwm" }, { true, 'c', 1, 9, "rwm" }, { true, 'c', 5, 0, "rwm" },
        { true, 'c', 5, 1, "rwm" }, { true, 'c', 5, 2, "rwm" }, { true, 'c', 136, -1, "rwm" },
};

static int device_rule_write(const char *dir, const CgroupDeviceRule *d) {
        char rule[80], major[24] = "*", minor[24] = "*";

        if (d->major >= 0)
                snprintf(major, sizeof(major), "%lli", (long long) d->major);
        if (d->minor >= 0)
                snprintf(minor, sizeof(minor), "%lli", (long long) d->minor);
        snprintf(rule, sizeof(rule), "%c %s:%s %s", d->type, major, minor, d->access);
        return cgroup_write_attr(dir, d->allow ? "devices.allow" : "devices.deny", rule);
}

/* The config's rules in their order, then berth's defaults: the list either layout gets. */
static size_t device_rules_all(const ResourceLimits *l, CgroupDeviceRule *ret) {
        memcpy(ret, l->devices, l->n_devices * sizeof(*ret));
        memcpy(ret + l->n_devices, default_device_rules, sizeof(default_device_rules));
        return l->n_devices + ELEMENTSOF(default_device_rules);
}

/* cgroup2 has no devices controller: the rules become an eBPF program attached to the
 * machine's cgroup2 directory (bpf-devices.c), before the payload starts in it. At
 * creation what no rule allows is denied, as runc's program does. An update attaches one
 * more program, of its own rules over "allow", beside the first: the kernel grants an
 * access only when every program does, so an update can deny more, but its allow rules
 * cannot reopen what the rules of creation denied (v1 can). A kernel that refuses device
 * programs to this process costs the rules, with a warning, as with systemd. */
static int devices_apply_bpf(const CgroupDeviceRule *rules, size_t n_rules, const char *what,
                             const char *v2_path, int v2_fd, bool update) {
        _cleanup_free_ struct bpf_insn *insns = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n;
        bool refused;
        int r;

        r = bpf_devices_compile(rules, n_rules, /* default_allow= */ update, &insns, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to compile %zu device rules into an eBPF program: %m", n_rules);
        if (v2_fd < 0) {
                fd = open(v2_path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
                if (fd < 0)
                        return log_error_errno(errno, "Failed to open cgroup %s: %m", v2_path);
                v2_fd = fd;
        }
        r = bpf_devices_attach(v2_fd, insns, n, &refused);
        if (r < 0 && refused) {
                /* once per berth-spawn, as the properties, not again at every reboot */
                static bool warned_devices;

                if (!warned_devices)
                        log_warning_errno(r, "%s is not applied: this host has no v1 devices "
                                          "controller for the machine, and the kernel refuses cgroup device "
                                          "programs (eBPF) to berth: %m", what);
                warned_devices = true;
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to attach the device program (%zu rules) to %s: %m", n_rules, v2_path);
        log_debug("Attached a device program of %zu rules (%zu instructions) to %s.", n_rules, n, v2_path);
        return 0;
}

/* The rules in their order into the v1 devices controller; on cgroup2 (no v1 devices
 * hierarchy for the machine), as an eBPF program. */
static int devices_apply(const CgroupDeviceRule *rules, size_t n, const char *what, const Controller *k,
                         const MachineCGroup *g, bool update) {
        int r;

        if (n == 0)
                return 0;
        if (!k->dir || k->v2)
                return devices_apply_bpf(rules, n, what, g->v2_path, g->v2_fd, update);
        for (size_t i = 0; i < n; i++) {
                r = device_rule_write(k->dir, &rules[i]);
                if (r < 0)
                        return log_error_errno(r, "Failed to apply device rule %zu in %s: %m", i, k->dir);
        }
        return 0;
}

/* The device rules a new machine's cgroup gets: an OCI config's, then berth's defaults;
 * else the closed policy of a machine without a user namespace (spawn-device-policy.h),
 * after a rule denying everything the v1 cgroup would inherit from its parent. None in a
 * unit (--keep-unit, or the scope systemd made): its DevicePolicy= is the machine's. */
static int devices_for_machine(const SpawnConfig *c, bool in_unit, CgroupDeviceRule *rules, size_t *ret_n,
                               const char **ret_what) {
        DeviceAllow allow[DEVICE_ALLOW_MAX];
        size_t n;
        int r;

        *ret_what = "linux.resources.devices";
        if (c->limits.n_devices > 0) {
                *ret_n = device_rules_all(&c->limits, rules);
                return 0;
        }
        *ret_n = 0;
        if (in_unit || !device_policy_wanted(c))
                return 0;
        r = device_policy_list(c, allow, ELEMENTSOF(allow), &n);
        if (r < 0)
                return r;
        rules[0] = (CgroupDeviceRule) { .allow = false, .type = 'a', .major = -1, .minor = -1, .access = "rwm" };
        for (size_t i = 0; i < n; i++)
                rules[i + 1] = allow[i].rule;
        *ret_n = n + 1;
        *ret_what = "The machine's device policy";
        return 0;
}

/* A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and no process can
 * join it until both are set: each level below 'base' down to 'dir' takes its parent's. */
static int cpuset_v1_inherit(const char *base, const char *dir) {
        _cleanup_free_ char *rest = strdup(dir + strlen(base)), *cur = strdup(base);
        char *saveptr = NULL;

        if (!rest || !cur)
                return log_oom();
        for (char *seg = strtok_r(rest, "/", &saveptr); seg; seg = strtok_r(NULL, "/", &saveptr)) {
                _cleanup_free_ char *next = strjoin(cur, "/", seg);

                if (!next)
                        return log_oom();
                for (size_t i = 0; i < 2; i++) {
                        const char *attr = i == 0 ? "cpuset.cpus" : "cpuset.mems";
                        _cleanup_free_ char *pf = strjoin(cur, "/", attr), *nf = strjoin(next, "/", attr);
                        _cleanup_free_ char *mine = NULL, *parent = NULL;
                        _cleanup_close_ int fd = -EBADF, pfd = -EBADF;
                        int r;

                        if (!pf || !nf)
                                return log_oom();
                        if ((fd = open(nf, O_RDONLY|O_CLOEXEC)) < 0 || read_full_fd(fd, 4096, &mine, NULL) < 0)
                                return log_error_errno(errno, "Failed to read %s: %m", nf);
                        mine[strcspn(mine, "\n")] = 0;
                        if (!isempty(mine))
                                continue;
                        if ((pfd = open(pf, O_RDONLY|O_CLOEXEC)) < 0 || read_full_fd(pfd, 4096, &parent, NULL) < 0)
                                return log_error_errno(errno, "Failed to read %s: %m", pf);
                        parent[strcspn(parent, "\n")] = 0;
                        r = cgroup_write_attr(next, attr, parent);
                        if (r < 0)
                                return log_error_errno(r, "Failed to set %s to the parent's: %m", nf);
                }
                free(cur);
                cur = TAKE_PTR(next);
        }
        return 0;
}

/* The machine's cgroup in one v1 hierarchy mounted at 'mnt': below the caller's own cgroup
 * 'own' there, with --keep-unit (slice NULL) directly in it. Created once per hierarchy;
 * 'cpuset' for the hierarchy holding that controller. */
static int v1_machine_cgroup(const SpawnConfig *c, MachineCGroup *g, const char *mnt, const char *own,
                             const char *slice, const char *scope, bool cpuset, const char **ret) {
        _cleanup_free_ char *dir = NULL;
        int r;

        dir = strjoin(mnt, streq(own, "/") ? "" : own, "/", slice ?: "", slice ? "/" : "", scope);
        if (!dir)
                return log_oom();
        if (!strv_contains(g->v1_paths, dir)) {
                /* recorded first, so that a failure below still removes it */
                r = create_fresh(c, dir, false, NULL);
                if (r < 0)
                        return r;
                if (strv_extend(&g->v1_paths, dir) < 0)
                        return log_oom();
                if (cpuset) {
                        _cleanup_free_ char *base = strjoin(mnt, streq(own, "/") ? "" : own);

                        r = base ? cpuset_v1_inherit(base, dir) : log_oom();
                        if (r < 0)
                                return r;
                }
        }
        STRV_FOREACH(p, g->v1_paths)
                if (streq(*p, dir) && ret)
                        *ret = *p;
        return 0;
}

/* $SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0: the machine has a cgroup in every v1 hierarchy, as
 * the scope systemd makes does, so that its cgroup namespace is rooted at the machine's own
 * cgroup in each of the hierarchies mounted inside. */
static int v1_machine_cgroups_all(const SpawnConfig *c, MachineCGroup *g, const char *slice, const char *scope) {
        _cleanup_strv_free_ char **controllers = NULL, **paths = NULL;
        int r;

        r = cgroup_v1_hierarchies(&controllers, &paths);
        if (r < 0)
                return log_error_errno(r, "Failed to read the v1 hierarchies from /proc/self/cgroup: %m");
        for (size_t k = 0; controllers && controllers[k]; k++) {
                _cleanup_free_ char *mnt = strjoin("/sys/fs/cgroup/", cgroup_v1_dir(controllers[k]));
                _cleanup_strv_free_ char **l = NULL;

                if (!mnt || strv_split_full(controllers[k], ",", false, &l) < 0)
                        return log_oom();
                r = v1_machine_cgroup(c, g, mnt, paths[k], slice, scope, strv_contains(l, "cpuset"), NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool machine_cgroup_needed(const SpawnConfig *c) {
        /* a plain command needs no cgroup of its own, unless for its device policy */
        return c->boot || resource_limits_any(&c->limits) || c->slice || c->keep_unit || c->cgroup_path ||
               c->legacy_cgroup || device_policy_wanted(c);
}

int machine_cgroup_create(const SpawnConfig *c, bool in_unit, MachineCGroup *g) {
        static const ResourceLimits none = RESOURCE_LIMITS_NULL;
        /* in the scope systemd made, systemd applied the limits (to the whole scope) */
        const ResourceLimits *l = in_unit ? &none : &c->limits;
        Controller ctrl[_CTRL_MAX] = {
                [CTRL_MEMORY] = { "memory", l->memory_max_set || l->memory_high_set },
                [CTRL_PIDS]   = { "pids",   l->tasks_max_set },
                [CTRL_CPU]    = { "cpu",    l->cpu_quota_set || l->cpu_weight > 0 },
                [CTRL_IO]     = { "io",     l->io_weight > 0 },
                [CTRL_CPUSET] = { "cpuset", l->cpuset_cpus[0] || l->cpuset_mems[0] },
                /* wanted for the rules of devices_for_machine(); systemd's scope cannot
                 * carry OCI device rules (DeviceAllow= has no deny rules and no wildcard
                 * numbers): they are the machine's own, also in_unit */
                [CTRL_DEVICES] = { "devices" },
        };
        CgroupDeviceRule rules[CGROUP_DEVICE_RULES_MAX + ELEMENTSOF(default_device_rules)];
        const char *rules_what;
        size_t n_rules;
        _cleanup_(cgroup_layout_done) CgroupLayout layout = CGROUP_LAYOUT_NULL;
        _cleanup_free_ char *slice = NULL, *scope = NULL;
        const char *root;
        int r;

        if (!machine_cgroup_needed(c))
                return 0;
        in_unit = in_unit || c->keep_unit;
        r = devices_for_machine(c, in_unit, rules, &n_rules, &rules_what);
        if (r < 0)
                return r;
        ctrl[CTRL_DEVICES].wanted = n_rules > 0;

        r = cgroup_layout_open(&layout);
        if (r < 0)
                return log_error_errno(r, "The machine needs a cgroup2 hierarchy (at /sys/fs/cgroup or /sys/fs/cgroup/unified): %m");
        root = layout.unified_path;
        /* an OCI container gets every controller's cgroup, for later updates */
        if (c->cgroup_path)
                for (size_t i = 0; i < _CTRL_MAX; i++)
                        ctrl[i].wanted = true;

        if (c->cgroup_path) {
                /* an OCI cgroupsPath: its last component is the machine's cgroup */
                const char *e = strrchr(c->cgroup_path, '/');

                slice = e ? strndup(c->cgroup_path, e - c->cgroup_path) : strdup("");
                scope = strdup(e ? e + 1 : c->cgroup_path);
        } else if (in_unit) {
                /* --keep-unit: the machine stays in berth-spawn's own cgroup (its service's,
                 * under systemd), in a "payload" child, as systemd-nspawn does; the same in
                 * the scope systemd made for berth-spawn. */
                _cleanup_free_ char *own = NULL;

                r = v2_unit_cgroup(&own);
                if (r < 0)
                        return log_error_errno(r, "Failed to find berth-spawn's own cgroup for --keep-unit: %m");
                slice = strdup(streq(own, "/") ? "" : own + 1);
                scope = strdup("payload");
        } else {
                r = slice_to_path(c->slice ?: "machine.slice", &slice);
                if (r < 0)
                        return log_error_errno(r, "Invalid slice '%s': %m", c->slice);
                scope = machine_scope_name(c->machine);
        }
        if (!slice || !scope)
                return log_oom();

        g->v2_path = strjoin(root, isempty(slice) ? "" : "/", slice, "/", scope);
        if (!g->v2_path)
                return log_oom();

        /* Where each wanted controller is: cgroup2 first (enabled down the path to the
         * machine), else its v1 hierarchy, else nowhere. */
        for (size_t i = 0; i < _CTRL_MAX; i++) {
                _cleanup_free_ char *mnt = NULL, *own = NULL, *where = NULL;
                const char *v1name = controller_v1_name(i, ctrl[i].name);

                if (!ctrl[i].wanted)
                        continue;
                if (v2_has_controller(root, ctrl[i].name)) {
                        ctrl[i].v2 = true;
                        r = v2_enable_controller(root, slice, ctrl[i].name, &where);
                        if (r == -ENOMEM)
                                return log_oom();
                        if (r < 0) {
                                char e[256];
                                snprintf(e, sizeof(e), "the %s controller cannot be enabled in %s (%s)",
                                         ctrl[i].name, where ?: root,
                                         r == -EBUSY ? "it holds processes of its own" : strerror(-r));
                                ctrl[i].why = strdup(e);
                                if (!ctrl[i].why)
                                        return log_oom();
                        } else
                                ctrl[i].dir = g->v2_path;
                        continue;
                }
                r = v1_caller_cgroup(v1name, &mnt, &own);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        ctrl[i].why = strjoin("this host offers the ", v1name, " controller neither in cgroup2 nor in cgroup v1");
                        if (!ctrl[i].why)
                                return log_oom();
                        continue;
                }
                r = v1_machine_cgroup(c, g, mnt, own, in_unit ? NULL : slice, scope, i == CTRL_CPUSET, &ctrl[i].dir);
                if (r < 0)
                        return r;
        }
        if (c->legacy_cgroup) {
                r = v1_machine_cgroups_all(c, g, in_unit ? NULL : slice, scope);
                if (r < 0)
                        return r;
        }

        /* the machine's own manager gets its subtree's controllers: in a unit always (they
         * are the unit's), in a scope of berth's own when it is booted */
        if (in_unit && !c->cgroup_path) {
                _cleanup_free_ char *unit_dir = strjoin(root, isempty(slice) ? "" : "/", slice);

                r = unit_dir ? v2_delegate_unit(unit_dir) : log_oom();
        } else if (c->boot && !c->cgroup_path)
                r = v2_delegate_scope(root, slice);
        else
                r = 0;
        if (r < 0)
                goto finish;

        r = create_fresh(c, g->v2_path, true, &g->v2_fd);
        if (r < 0) {
                g->v2_path = (free(g->v2_path), NULL);
                goto finish;
        }
        r = cgroup_limits_apply(l, ctrl);
        if (r >= 0)
                r = devices_apply(rules, n_rules, rules_what, &ctrl[CTRL_DEVICES], g, /* update= */ false);
finish:
        for (size_t i = 0; i < _CTRL_MAX; i++)
                free(ctrl[i].why);
        return r;
}

int machine_cgroup_update(const MachineCGroup *g, const ResourceLimits *l) {
        Controller ctrl[_CTRL_MAX] = {
                [CTRL_MEMORY] = { "memory" },
                [CTRL_PIDS]   = { "pids" },
                [CTRL_CPU]    = { "cpu" },
                [CTRL_IO]     = { "io" },
                [CTRL_CPUSET] = { "cpuset" },
                [CTRL_DEVICES] = { "devices" },
        };

        if (!g->v2_path)
                return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "The machine has no cgroup to update.");
        /* a controller is the cgroup2's if enabled for it (listed in its parent's
         * subtree_control, hence in its own cgroup.controllers), else its v1 hierarchy's */
        for (size_t i = 0; i < _CTRL_MAX; i++) {
                _cleanup_free_ char *prefix = strjoin("/sys/fs/cgroup/", controller_v1_name(i, ctrl[i].name), "/");

                if (!prefix)
                        return log_oom();
                if (v2_has_controller(g->v2_path, ctrl[i].name)) {
                        ctrl[i].v2 = true;
                        ctrl[i].dir = g->v2_path;
                        continue;
                }
                STRV_FOREACH(p, g->v1_paths)
                        if (startswith(*p, prefix))
                                ctrl[i].dir = *p;
                if (!ctrl[i].dir)
                        ctrl[i].why = strjoin("the machine has no cgroup with the ", ctrl[i].name, " controller");
        }
        CgroupDeviceRule rules[CGROUP_DEVICE_RULES_MAX + ELEMENTSOF(default_device_rules)];
        size_t n_rules = l->n_devices > 0 ? device_rules_all(l, rules) : 0;
        int r = cgroup_limits_apply(l, ctrl);
        if (r >= 0)
                r = devices_apply(rules, n_rules, "linux.resources.devices", &ctrl[CTRL_DEVICES], g, /* update= */ true);
        for (size_t i = 0; i < _CTRL_MAX; i++)
                free(ctrl[i].why);
        return r;
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
                int r = cgroup_write_attr(*p, "cgroup.procs", "0");
                if (r < 0)
                        return log_error_errno(r, "Failed to join cgroup %s: %m", *p);
        }
        return 0;
}
