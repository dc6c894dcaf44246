/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capability-util.h"
#include "string-util.h"

/* libcap is used for names only: its cap_from_name() knows every capability the library
 * was built with, and we fall back to numbers for newer ones. */
#include <sys/capability.h>

uint64_t capability_default_set(void) {
        static const int caps[] = {
                CAP_AUDIT_CONTROL, CAP_AUDIT_WRITE, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
                CAP_FOWNER, CAP_FSETID, CAP_IPC_OWNER, CAP_KILL, CAP_LEASE, CAP_LINUX_IMMUTABLE,
                CAP_MKNOD, CAP_NET_BIND_SERVICE, CAP_NET_BROADCAST, CAP_NET_RAW, CAP_SETFCAP,
                CAP_SETGID, CAP_SETPCAP, CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_CHROOT,
                CAP_SYS_NICE, CAP_SYS_PTRACE, CAP_SYS_RESOURCE, CAP_SYS_TTY_CONFIG,
        };
        uint64_t s = 0;

        for (size_t i = 0; i < ELEMENTSOF(caps); i++)
                s |= UINT64_C(1) << caps[i];
        return s;
}

unsigned capability_last_cap(void) {
        static unsigned cached = 0;
        FILE *f;

        if (cached > 0)
                return cached;

        cached = CAP_LAST_CAP;
        f = fopen("/proc/sys/kernel/cap_last_cap", "re");
        if (f) {
                unsigned v;
                if (fscanf(f, "%u", &v) == 1 && v < 64)
                        cached = v;
                fclose(f);
        }
        return cached;
}

uint64_t capability_all(void) {
        unsigned last = capability_last_cap();
        return last >= 63 ? UINT64_MAX : (UINT64_C(1) << (last + 1)) - 1;
}

int capability_from_name(const char *s) {
        _cleanup_free_ char *full = NULL;
        cap_value_t v;

        if (isempty(s))
                return -EINVAL;
        if (!startswith(s, "CAP_") && !startswith(s, "cap_")) {
                full = strjoin("cap_", s);
                if (!full)
                        return -ENOMEM;
                s = full;
        }
        if (cap_from_name(s, &v) < 0 || v < 0 || (unsigned) v > capability_last_cap())
                return -EINVAL;
        return v;
}

void capability_dump_names(void) {
        for (unsigned c = 0; c <= capability_last_cap(); c++) {
                char *n = cap_to_name((cap_value_t) c);

                if (n)
                        puts(n);
                cap_free(n);
        }
}

int capability_set_from_string(const char *list, uint64_t *ret, char **ret_bad) {
        _cleanup_strv_free_ char **l = NULL;
        uint64_t s = 0;
        int r;

        r = strv_split_full(list, ",", false, &l);
        if (r < 0)
                return r;

        STRV_FOREACH(i, l) {
                if (streq(*i, "all")) {
                        s |= capability_all();
                        continue;
                }
                r = capability_from_name(*i);
                if (r < 0) {
                        if (ret_bad)
                                *ret_bad = strdup(*i);
                        return r;
                }
                s |= UINT64_C(1) << r;
        }
        *ret = s;
        return 0;
}

int capability_bounding_restrict(uint64_t bounding) {
        unsigned last = capability_last_cap();

        for (unsigned c = 0; c <= last; c++)
                if (!(bounding & (UINT64_C(1) << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        return -errno;
        return 0;
}

int capability_set_final(uint64_t keep) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};

        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -errno;

        /* We cannot grant what we do not hold ourselves (e.g. when berth-spawn itself
         * runs with a reduced bounding set): keep the intersection. */
        if (syscall(SYS_capget, &h, d) < 0)
                return -errno;
        keep &= (uint64_t) d[0].permitted | (uint64_t) d[1].permitted << 32;

        /* inheritable stays empty */
        d[0].inheritable = d[1].inheritable = 0;
        d[0].effective = d[0].permitted = (uint32_t) keep;
        d[1].effective = d[1].permitted = (uint32_t) (keep >> 32);
        return RET_NERRNO((int) syscall(SYS_capset, &h, d));
}

int capability_ambient_raise(uint64_t ambient) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};

        if (ambient == 0)
                return 0;
        if (syscall(SYS_capget, &h, d) < 0)
                return -errno;
        d[0].inheritable |= (uint32_t) ambient;
        d[1].inheritable |= (uint32_t) (ambient >> 32);
        if (syscall(SYS_capset, &h, d) < 0)
                return -errno;
        for (unsigned c = 0; c <= capability_last_cap(); c++)
                if ((ambient & (UINT64_C(1) << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
                        return -errno;
        return 0;
}

int capability_set_oci(uint64_t permitted, uint64_t effective, uint64_t inheritable, uint64_t ambient) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};

        if (syscall(SYS_capget, &h, d) < 0)
                return -errno;
        uint64_t held = (uint64_t) d[0].permitted | (uint64_t) d[1].permitted << 32, bset = 0;

        /* what the kernel lets us grant: the permitted set within what we hold, the
         * inheritable one within our bounding set (which may be narrower than the
         * config's when we run with a reduced one ourselves) */
        for (unsigned cap = 0; cap <= capability_last_cap() && cap < 64; cap++)
                if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) > 0)
                        bset |= UINT64_C(1) << cap;
        permitted &= held;
        inheritable &= bset & (held | (uint64_t) d[0].inheritable | (uint64_t) d[1].inheritable << 32);
        effective &= permitted;
        d[0].permitted = (uint32_t) permitted;
        d[1].permitted = (uint32_t) (permitted >> 32);
        d[0].effective = (uint32_t) effective;
        d[1].effective = (uint32_t) (effective >> 32);
        d[0].inheritable = (uint32_t) inheritable;
        d[1].inheritable = (uint32_t) (inheritable >> 32);
        if (syscall(SYS_capset, &h, d) < 0)
                return -errno;

        /* an ambient capability must be permitted and inheritable; others are skipped,
         * as runc does */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -errno;
        for (unsigned cap = 0; cap < 64; cap++)
                if ((ambient & permitted & inheritable) >> cap & 1)
                        (void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
        return 0;
}
