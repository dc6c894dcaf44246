/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "macro.h"

/* Scope cgroups for machines when systemd is not PID 1. Paths are relative to the
 * hierarchy root ("machine.slice/machine-NAME.scope"). On a pure cgroup v2 host the
 * unified hierarchy is /sys/fs/cgroup; on a hybrid host it is /sys/fs/cgroup/unified and
 * the name=systemd v1 hierarchy at /sys/fs/cgroup/systemd is kept in step, so that tools
 * reading either see the machine. */

typedef struct CgroupLayout {
        int unified_fd;           /* cgroup2 root, or -EBADF */
        int named_fd;             /* name=systemd v1 root on hybrid hosts, or -EBADF */
        bool has_kill;            /* cgroup.kill (Linux 5.14+) */
} CgroupLayout;

#define CGROUP_LAYOUT_NULL { .unified_fd = -EBADF, .named_fd = -EBADF }

int cgroup_layout_open(CgroupLayout *ret);
void cgroup_layout_done(CgroupLayout *l);

/* Create the scope (and machine.slice) and move pid into it. */
int cgroup_create_scope(const CgroupLayout *l, const char *path, pid_t pid);
/* Signal every process in the scope; SIGKILL uses cgroup.kill when available. */
int cgroup_kill_scope(const CgroupLayout *l, const char *path, int sig);
/* Remove the scope (machine.slice stays). -EBUSY while populated. */
int cgroup_remove_scope(const CgroupLayout *l, const char *path);
/* Whether the scope exists and has processes: 1 populated, 0 empty, -ENOENT gone. */
int cgroup_scope_populated(const CgroupLayout *l, const char *path);
/* The cgroup v2 path of pid, relative to the root, without leading slash ("" for root). */
int cgroup_pid_get_path(pid_t pid, char **ret);
