/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A user namespace's uid_map or gid_map as lines of "inside outside count" (user_namespaces(7));
 * an OCI config's linux.uidMappings and a mount's uidMappings are the same: containerID,
 * hostID, size. */

#define ID_MAP_LINES_MAX 340U     /* the kernel's limit since Linux 4.15 */
#define ID_UNMAPPED UINT32_MAX

typedef struct IdMapping {
        uint32_t inside, outside, count;
} IdMapping;

typedef struct IdMap {
        IdMapping *items;
        size_t n;
} IdMap;

void id_map_done(IdMap *m);
int id_map_copy(const IdMap *m, IdMap *ret);
/* The ID outside for 'id' inside, or ID_UNMAPPED. */
uint32_t id_map_outside(const IdMap *m, uint32_t id);
/* The text the kernel wants in one write(); NULL on OOM. */
char *id_map_to_string(const IdMap *m);
