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

/* Build and load the filter: the default deny list plus 'deny', minus 'allow'; denied
 * calls fail with EPERM. ioctl(TIOCSTI) and ioctl(TIOCLINUX) are always denied so that a
 * payload can never push input into a terminal it shares with the caller. */
int seccomp_load_filter(char * const *allow, char * const *deny);

/* The expanded default deny list (for --help, tests and the man page). */
int seccomp_default_deny(char ***ret);
