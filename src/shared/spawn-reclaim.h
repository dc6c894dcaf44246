/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The leftovers of a machine whose berth-spawn was killed, and their removal: shared by
 * berth-spawn (every start reclaims) and berthd (when a machine's leader dies).
 *
 * A running berth-spawn holds the lock /run/berth/spawn/.NAME.lock for its machine's whole
 * life and lists what it made in /run/berth/spawn/NAME (see spawn-state.h). A state file
 * whose lock is free was left by a berth-spawn that was killed: what it lists (firewall
 * rules, host veth link, address and UID-range locks, cgroups) is litter once the
 * machine's processes are gone. */

#include <stdint.h>

#define SPAWN_STATE_DIR "/run/berth/spawn"
#define SPAWN_NET_DIR "/run/berth/network"             /* machine, address, zone locks */
#define SPAWN_UID_RANGE_DIR "/run/berth/uid-ranges"      /* one lock per UID range */

/* The firewall rules and machine lock file of a machine whose berth-spawn is gone, unless
 * its machine lock is held (-EBUSY: a machine of that name runs again). Non-logging;
 * returns the number of rules removed. */
int host_network_reclaim_machine(const char *machine);

/* Remove the leftovers of every machine whose berth-spawn was killed (the lock of its state
 * file is free): its firewall rules, host veth link, address and UID-range locks, cgroups
 * (if empty) and state file. A killed machine named own_name (the one being started) is
 * given up to 5 s to finish dying first; others still dying are left for a later start.
 * Best effort; one warning per machine reclaimed. Cheap when nothing is stale. */
void spawn_reclaim_stale(const char *own_name);

/* The same for the one machine 'name', without waiting. Returns 1 if its leftovers were
 * removed, 0 if it has none (no state file), -EBUSY if its berth-spawn still runs (holds
 * the lock), -EAGAIN if its processes are still there, or another -errno (logged) if part
 * of it could not be removed; what is left then stays listed for the next try. */
int spawn_reclaim_machine(const char *name);
