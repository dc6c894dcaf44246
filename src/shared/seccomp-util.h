/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

typedef struct SyscallGroup {
        const char *name;        /* "@clock" */
        const char *help;
        const char *const *syscalls;
} SyscallGroup;

const SyscallGroup *syscall_group_find(const char *name);
const SyscallGroup *syscall_group_table(size_t *ret_n);

/* Parse one --system-call-filter= value: space-separated names or @groups, optionally
 * prefixed with '~' (deny list). Appends the expanded names to *allow or *deny. On an
 * unknown name returns -EINVAL and the name in *ret_bad. */
int syscall_filter_parse(const char *value, char ***allow, char ***deny, char **ret_bad);

/* Build and load the filter: an allow list like systemd-nspawn's (the defaults, with the
 * groups and calls that need a capability only if 'capabilities' has it), plus 'allow',
 * minus 'deny', for every ABI the host runs; any other call fails with EPERM. ioctl(TIOCSTI)
 * and ioctl(TIOCLINUX) are always denied so that a payload can never push input into a
 * terminal it shares with the caller. */
int seccomp_load_filter(uint64_t capabilities, char * const *allow, char * const *deny);

/* The expanded default allow list for a capability bounding set (for tests). */
int seccomp_default_allow(uint64_t capabilities, char ***ret);
