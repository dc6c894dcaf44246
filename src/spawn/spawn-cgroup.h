/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "cgroup-setup.h"
#include "spawn-config.h"

/* The machine's cgroups and resource limits (--property=, --slice=).
 *
 * cgroup2: <root>/<slice path>/machine-NAME.scope, the layout systemd-machined uses; the
 * payload starts there (clone3 CLONE_INTO_CGROUP) and its cgroup namespace is rooted there.
 * Hosts with v1 controllers (hybrid layouts): limits the v1 controllers hold go into
 * <caller's cgroup>/<slice path>/machine-NAME.scope of the memory, pids, cpu and blkio
 * hierarchies, which the payload joins before it unshares its cgroup namespace. */

/* One --property=NAME=VALUE; logs and returns -EINVAL on a bad one. */
int resource_limits_parse(ResourceLimits *l, const char *assignment);
int resource_parse_bytes(const char *s, uint64_t *ret);
bool resource_limits_any(const ResourceLimits *l);


typedef struct MachineCGroup {
        char *v2_path;             /* NULL when the machine needs no cgroup of its own */
        int v2_fd;                 /* for CLONE_INTO_CGROUP */
        char **v1_paths;           /* v1 cgroups the payload joins itself */
} MachineCGroup;

#define MACHINE_CGROUP_NULL { .v2_fd = -EBADF }

/* Does the machine get a cgroup of its own? (booted, limits, a slice, --keep-unit, a
 * device policy) */
bool machine_cgroup_needed(const SpawnConfig *c);
/* in_unit: berth-spawn runs in the scope systemd made for the machine, which has the limits
 * already: the machine's cgroup is a "payload" child of it, as with --keep-unit. */
int machine_cgroup_create(const SpawnConfig *c, bool in_unit, MachineCGroup *ret);
void machine_cgroup_destroy(MachineCGroup *g);
/* Apply the limits set in 'l' to an existing machine cgroup (berth-runc update). */
int machine_cgroup_update(const MachineCGroup *g, const ResourceLimits *l);

/* The v1 hierarchies of this process (controller lists; optionally its cgroup in each):
 * none on a pure cgroup2 host. */
int cgroup_v1_hierarchies(char ***ret_controllers, char ***ret_paths);
/* Its directory below /sys/fs/cgroup ("name=systemd" -> "systemd"). */
const char *cgroup_v1_dir(const char *controllers);

/* In the payload, before unsharing the cgroup namespace. */
int machine_cgroup_join_v1(char * const *paths);
