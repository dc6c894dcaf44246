/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "log.h"
#include "macro.h"
#include "spawn-device-policy.h"

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
        return c->private_users == PRIVATE_USERS_NO && !c->cgroup_path;
}

int device_policy_list(const SpawnConfig *c, DeviceAllow *ret, size_t max, size_t *ret_n) {
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(machine_devices) && n < max; i++)
                ret[n++] = machine_devices[i];
        for (size_t i = 0; i < c->n_mounts; i++) {
                const CustomMount *m = &c->mounts[i];
                struct stat st;

                /* a tree-relative source is the machine's own; a missing one fails the bind */
                if (m->type != CUSTOM_MOUNT_BIND || m->source_in_tree || !m->source ||
                    stat(m->source, &st) < 0 || (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)))
                        continue;
                if (n >= max)
                        return log_error_errno(SYNTHETIC_ERRNO(E2BIG),
                                               "More than %zu device nodes for the machine's device policy.", max);
                ret[n++] = (DeviceAllow) {
                        .path = m->source,
                        .rule = {
                                .allow = true,
                                .type = S_ISCHR(st.st_mode) ? 'c' : 'b',
                                .major = major(st.st_rdev),
                                .minor = minor(st.st_rdev),
                                .access = "rw",
                        },
                };
                if (m->read_only)
                        ret[n - 1].rule.access[1] = 0;
        }
        *ret_n = n;
        return 0;
}
