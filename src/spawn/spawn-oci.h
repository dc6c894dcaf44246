/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "oci-config.h"
#include "spawn-config.h"

/* An OCI bundle's config (oci-config.h) as the SpawnConfig berth-spawn's launch pipeline
 * runs: the payload's process, root, mounts, capabilities, resources. What berth cannot
 * express fails here with the field named, before anything is made. 'name' becomes the
 * machine's name (the container ID); 'systemd_cgroup' reads linux.cgroupsPath as
 * "SLICE:PREFIX:NAME" (runc --systemd-cgroup). Logs. */
int spawn_config_from_oci(SpawnConfig *c, const OciConfig *o, const char *bundle, const char *name,
                          bool systemd_cgroup);

/* berth-spawn --oci-bundle=: the bundle's config fills in what the command line left
 * unset (the command line takes precedence, as with systemd-nspawn); its mounts come
 * before the command line's. Logs. */
int spawn_config_apply_oci_bundle(SpawnConfig *c);

/* linux.resources as berth's limits; -1 is "unlimited", absent fields stay unset. */
void resource_limits_from_oci(ResourceLimits *l, const OciResources *r);

/* Read BUNDLE/config.json; logs "config.json: FIELD: reason" on a bad one. */
int oci_config_load(const char *bundle, OciConfig *ret);
