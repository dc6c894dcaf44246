/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "cgroup-setup.h"
#include "spawn-config.h"

/* The closed device policy of a machine whose root has CAP_MKNOD in the host's user
 * namespace (no -U): without it, a node it makes for any host disk could be opened. What
 * it may open: systemd-nspawn's list (null, zero, full, random, urandom, tty, /dev/net/tun,
 * the pty peers), berth's own /dev nodes (console, ptmx), /dev/fuse, and each device node
 * the user binds in (--bind: read and write, --bind-ro: read). */

typedef struct DeviceAllow {
        const char *path;        /* a host node, or a class as systemd's DeviceAllow= takes it */
        CgroupDeviceRule rule;   /* the same as a cgroup rule (an allow rule) */
} DeviceAllow;

#define DEVICE_ALLOW_MAX (CGROUP_DEVICE_RULES_MAX - 1U)

/* Does the machine get the policy? (no user namespace, and not an OCI config: there
 * linux.resources.devices is the container's policy) */
bool device_policy_wanted(const SpawnConfig *c);
/* What it allows, in ret[max]; -E2BIG (logged) for too many bound device nodes. */
int device_policy_list(const SpawnConfig *c, DeviceAllow *ret, size_t max, size_t *ret_n);
