/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* Where the cgroup2 hierarchy is on this host: /sys/fs/cgroup on pure v2 hosts,
 * /sys/fs/cgroup/unified on hybrid ones (v1 controllers plus a cgroup2 tree). */
int cgroup2_root(const char **ret);

/* Create path (and its parents) in the cgroup2 tree; returns an O_DIRECTORY fd usable
 * for clone3(CLONE_INTO_CGROUP). EEXIST is passed on for the last component. */
int cgroup_create(const char *path, int *ret_fd);
/* Kill everything in the cgroup and remove it with all its children. */
int cgroup_destroy(const char *path);
bool cgroup_is_populated(const char *path);
/* v1: no process left in cgroup.procs */
bool cgroup_v1_is_empty(const char *path);
