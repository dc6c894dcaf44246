/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fd-util.h"
#include "log.h"
#include "macro.h"
#include "spawn-device-policy.h"
#include "string-util.h"

static const DeviceAllow machine_devices[] = {
        { "/dev/null",    { true, 'c', 1, 3, "rwm" } },
        { "/dev/zero",    { true, 'c', 1, 5, "rwm" } },
        { "/dev/full",    { true, 'c', 1, 7, "rwm" } },
        { "/dev/random",  { true, 'c', 1, 8, "rwm" } },
        { "/dev/urandom", { true, 'c', 1, 9, "rwm" } },
        { "/dev/tty",     { true, 'c', 5, 0, "rwm" } },
        { "/dev/console", { true, 'c', 5, 1, "rwm" } },
        { "/dev/ptmx",    { true, 'c', 5, 2, "rwm" } },
        { "/dev/net/tun", { true, 'c', 10, 200, "rwm" } },
        /* FUSE inside is the machine's own file system, no way to the host's devices */
        { "/dev/fuse",    { true, 'c', 10, 229, "rwm" } },
        { "char-pts",     { true, 'c', 136, -1, "rw" } },
};

bool device_policy_wanted(const SpawnConfig *c) {
        if (c->cgroup_path || c->device_policy == DEVICE_POLICY_AUTO)
                return false;
        return c->private_users == PRIVATE_USERS_NO || c->device_policy != DEVICE_POLICY_DEFAULT ||
                c->n_device_allow > 0;
}

void device_allow_clear(SpawnConfig *c) {
        for (size_t i = 0; i < c->n_device_allow; i++)
                free(c->device_allow[i].spec);
        c->device_allow = mfree(c->device_allow);
        c->n_device_allow = 0;
}

static bool access_valid(const char *a) {
        return !isempty(a) && strlen(a) <= 3 && strspn(a, "rwm") == strlen(a);
}

int device_property_parse(SpawnConfig *c, const char *assignment) {
        const char *v = strchr(assignment, '=') + 1;
        _cleanup_free_ char *spec = NULL;
        const char *access = "rwm";
        DeviceAllowSpec *a;
        size_t n;

        if (startswith(assignment, "DevicePolicy=")) {
                if (streq(v, "auto"))
                        c->device_policy = DEVICE_POLICY_AUTO;
                else if (streq(v, "closed"))
                        c->device_policy = DEVICE_POLICY_CLOSED;
                else if (streq(v, "strict"))
                        c->device_policy = DEVICE_POLICY_STRICT;
                else
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid value '%s' for property DevicePolicy (auto, closed or strict).", v);
                return 0;
        }

        if (isempty(v)) {
                device_allow_clear(c);
                return 0;
        }
        n = strcspn(v, " \t");
        spec = strndup(v, n);
        if (!spec)
                return log_oom();
        if (v[n]) {
                access = v + n + strspn(v + n, " \t");
                if (!access_valid(access))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Invalid access '%s' in DeviceAllow=%s (a subset of rwm).", access, v);
        }
        if (!startswith(spec, "/dev/") && !startswith(spec, "char-") && !startswith(spec, "block-"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "Invalid DeviceAllow=%s: a device node under /dev/, or char-NAME or block-NAME.", v);
        if ((startswith(spec, "char-") || startswith(spec, "block-")) && isempty(strchr(spec, '-') + 1))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid DeviceAllow=%s: no device class name.", v);

        a = reallocarray(c->device_allow, c->n_device_allow + 1, sizeof(*a));
        if (!a)
                return log_oom();
        c->device_allow = a;
        a = &c->device_allow[c->n_device_allow++];
        *a = (DeviceAllowSpec) { .spec = TAKE_PTR(spec) };
        snprintf(a->access, sizeof(a->access), "%s", access);
        return 0;
}

static int list_add(DeviceAllow *ret, size_t max, size_t *n, const char *path, char type, int64_t major,
                    int64_t minor, const char *access) {
        if (*n >= max)
                return log_error_errno(SYNTHETIC_ERRNO(E2BIG),
                                       "More than %zu device rules for the machine's device policy.", max);
        ret[*n] = (DeviceAllow) {
                .path = path,
                .rule = { .allow = true, .type = type, .major = major, .minor = minor },
        };
        snprintf(ret[*n].rule.access, sizeof(ret[*n].rule.access), "%s", access);
        (*n)++;
        return 0;
}

/* A class, as systemd resolves one: each major whose /proc/devices name in the section of
 * that type matches the glob. */
static int list_add_class(const DeviceAllowSpec *a, DeviceAllow *ret, size_t max, size_t *n) {
        _cleanup_fclose_ FILE *f = NULL;
        bool block = startswith(a->spec, "block-");
        const char *glob = strchr(a->spec, '-') + 1;
        bool in_section = false;
        size_t before = *n;
        char line[256];
        int r;

        f = fopen("/proc/devices", "re");
        if (!f)
                return log_error_errno(errno, "Failed to open /proc/devices: %m");
        while (fgets(line, sizeof(line), f)) {
                char name[128];
                unsigned major;

                if (startswith(line, "Character devices:") || startswith(line, "Block devices:")) {
                        in_section = startswith(line, block ? "Block" : "Character");
                        continue;
                }
                if (!in_section || sscanf(line, "%u %127s", &major, name) != 2 || fnmatch(glob, name, 0) != 0)
                        continue;
                r = list_add(ret, max, n, a->spec, block ? 'b' : 'c', major, -1, a->access);
                if (r < 0)
                        return r;
        }
        if (*n == before)
                log_warning("DeviceAllow=%s: no %s device class of that name in /proc/devices, ignored.",
                            a->spec, block ? "block" : "character");
        return 0;
}

static int list_add_node(const DeviceAllowSpec *a, DeviceAllow *ret, size_t max, size_t *n) {
        struct stat st;

        if (stat(a->spec, &st) < 0) {
                log_warning_errno(errno, "DeviceAllow=%s: cannot find the device node, ignored: %m", a->spec);
                return 0;
        }
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
                log_warning("DeviceAllow=%s: not a device node, ignored.", a->spec);
                return 0;
        }
        return list_add(ret, max, n, a->spec, S_ISCHR(st.st_mode) ? 'c' : 'b', major(st.st_rdev),
                        minor(st.st_rdev), a->access);
}

int device_policy_list(const SpawnConfig *c, DeviceAllow *ret, size_t max, size_t *ret_n) {
        size_t n = 0;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(machine_devices) && n < max; i++)
                ret[n++] = machine_devices[i];
        for (size_t i = 0; i < c->n_mounts; i++) {
                const CustomMount *m = &c->mounts[i];
                struct stat st;

                /* a tree-relative source is the machine's own; a missing one fails the bind */
                if (m->type != CUSTOM_MOUNT_BIND || m->source_in_tree || !m->source ||
                    stat(m->source, &st) < 0 || (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)))
                        continue;
                r = list_add(ret, max, &n, m->source, S_ISCHR(st.st_mode) ? 'c' : 'b', major(st.st_rdev),
                             minor(st.st_rdev), m->read_only ? "r" : "rw");
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < c->n_device_allow; i++) {
                const DeviceAllowSpec *a = &c->device_allow[i];

                r = startswith(a->spec, "/dev/") ? list_add_node(a, ret, max, &n) : list_add_class(a, ret, max, &n);
                if (r < 0)
                        return r;
        }
        *ret_n = n;
        return 0;
}
