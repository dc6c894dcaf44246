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

/* Does the machine get the policy? Not for an OCI config (there linux.resources.devices
 * is the container's policy) nor with --property=DevicePolicy=auto; by default not with a
 * user namespace either, unless --property=DeviceAllow= or DevicePolicy= asks for one. */
bool device_policy_wanted(const SpawnConfig *c);
/* What it allows, in ret[max]: the list above, then each --property=DeviceAllow= as the
 * host resolves it now (a class glob may give several, a missing node none: warned about
 * and left out, as systemd does); -E2BIG (logged) for too many. */
int device_policy_list(const SpawnConfig *c, DeviceAllow *ret, size_t max, size_t *ret_n);

/* --property=DevicePolicy=auto|closed|strict and --property=DeviceAllow=SPEC [ACCESS]
 * (ACCESS defaults to rwm; an empty value drops the DeviceAllow= given before it). */
int device_property_parse(SpawnConfig *c, const char *assignment);
void device_allow_clear(SpawnConfig *c);
