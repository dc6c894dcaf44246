/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "spawn-config.h"

/* --register=: announce the machine to org.freedesktop.machine1 (berthd, or
 * systemd-machined) with RegisterMachineWithNetwork, and take it back at the end.
 *
 * libsystemd is loaded with dlopen() only when a registration is attempted: the launcher
 * stays small and fast when there is no bus (as here) or --register=no. */

typedef struct Registration {
        void *dl;
        void *bus;            /* sd_bus* */
        bool registered;
} Registration;

/* Returns 1 when registered, 0 when skipped (--register=auto and no registry), or a
 * negative errno after logging (always fatal: --register=yes, or a registry that refused). */
/* root: the tree the machine runs on (SpawnState.directory) */
int spawn_register_machine(const SpawnConfig *c, const char *root, pid_t leader, int host_ifindex /* 0: none */, Registration *reg);
void spawn_unregister_machine(const SpawnConfig *c, Registration *reg);

/* Is it worth trying at all? (cheap: no dlopen, no connection) */
bool registration_wanted(const SpawnConfig *c);

/* Under systemd (PID 1) without --keep-unit: ask it (StartTransientUnit on
 * org.freedesktop.systemd1, as systemd-machined does for systemd-nspawn) for the machine's
 * scope, machine-NAME.scope in the slice, delegated, with berth-spawn in it and the
 * --property= limits on it; the machine then gets a "payload" child of it, as with --keep-unit. Returns 1 when berth-spawn is in its
 * scope, 0 when not asked (no systemd, no libsystemd, no bus, no cgroup needed: berth-spawn
 * makes the scope itself), or a negative errno after logging. */
int spawn_systemd_scope(const SpawnConfig *c);
