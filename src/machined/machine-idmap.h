/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-bus.h>

#include "macro.h"

/* A machine's user namespace mappings (/proc/LEADER/uid_map and gid_map), to translate
 * user and group IDs between the machine and the host: MapFromMachineUser and friends,
 * and file ownership in CopyToMachine/CopyFromMachine. Parsing is pure (unit tested). */

#define ID_MAP_LINES_MAX 340U   /* the kernel's limit (user_namespaces(7)) */
#define ID_OVERFLOW 65534U      /* what an unmapped ID shows as (/proc/sys/fs/overflowuid) */

typedef struct IdMapEntry {
        uint32_t inside, outside, count;
} IdMapEntry;

typedef struct IdMap {
        IdMapEntry entries[ID_MAP_LINES_MAX];
        size_t n;
} IdMap;

/* -EBADMSG: not a map the kernel would write. */
int id_map_parse(const char *text, IdMap *ret);
/* The whole 32-bit range mapped onto itself: the machine has no user namespace. */
bool id_map_is_identity(const IdMap *map) _pure_;
/* -ESRCH: not mapped. */
int id_map_to_outside(const IdMap *map, uint32_t inside, uint32_t *ret);
int id_map_to_inside(const IdMap *map, uint32_t outside, uint32_t *ret);

/* which: "uid_map" or "gid_map". Only returned if the leader (pidfd) still lives. */
int machine_read_id_map(pid_t leader, int leader_pidfd, const char *which, IdMap *ret);

/* D-Bus: MapFromMachineUser/Group (su → u), MapToMachineUser/Group (u → sou). */
int bus_method_map_from_machine_user(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_map_from_machine_group(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_map_to_machine_user(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_map_to_machine_group(sd_bus_message *message, void *userdata, sd_bus_error *error);
