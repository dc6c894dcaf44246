/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* SELinux without libselinux: berth only needs to know whether the kernel has it and to
 * set the context the next execve() gives the calling thread. */

/* selinuxfs is mounted: SELinux is the host's (enforcing or permissive) LSM. */
bool selinux_enabled(void);
/* Write 'context' to /proc/thread-self/attr/exec, as libselinux's setexeccon() does;
 * -errno on failure (EINVAL where no LSM takes it). */
int selinux_set_exec_context(const char *context);
