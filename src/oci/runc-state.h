/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include <sys/types.h>

#include "macro.h"

/* A container's record under --root: ROOT/ID/state.json (written atomically, so it
 * survives the berth-runc that wrote it and any other can act on it) and, between create
 * and start, ROOT/ID/exec.fifo, which the container's init waits to be opened. */

typedef enum ContainerStatus {
        STATUS_CREATING,
        STATUS_CREATED,
        STATUS_RUNNING,
        STATUS_PAUSED,
        STATUS_STOPPED,
} ContainerStatus;

typedef struct Container {
        char *id;
        char *dir;               /* ROOT/ID */
        char *bundle;
        char *rootfs;
        pid_t pid;
        uint64_t pid_start;      /* the init's start time (/proc/PID/stat), against PID reuse */
        char *created;           /* RFC 3339, UTC, nanoseconds */
        char *owner;
        char **annotations;      /* KEY=VALUE */
        char *cgroup;            /* absolute path of its cgroup2 directory */
        char **cgroup_v1;        /* absolute paths of its v1 cgroups (hybrid hosts) */
        uint64_t root_mount_id;  /* without a mount namespace of its own: its mount of rootfs
                                  * in the runtime's (path_mount_id()), 0 otherwise */
} Container;

void container_done(Container *c);

/* The ID becomes a directory name: [A-Za-z0-9_.-], not starting with '.', at most 1024. */
bool container_id_is_valid(const char *id);

char *container_dir(const char *root, const char *id);
/* -ENOENT (logged as "container does not exist") when there is none. */
int container_load(const char *root, const char *id, Container *ret);
int container_save(const Container *c);
ContainerStatus container_status(const Container *c);
const char *container_status_to_string(ContainerStatus s);
/* The state JSON of the runtime spec (+ runc's rootfs, created, owner); _as: with the
 * status given instead of the one found now (the hooks during create). */
char *container_state_json(const Container *c, int flags);
char *container_state_json_as(const Container *c, ContainerStatus s, int flags);
/* as "state" prints it */
#define RUNC_STATE_JSON_FLAGS (JSON_C_TO_STRING_PRETTY|JSON_C_TO_STRING_SPACED|JSON_C_TO_STRING_NOSLASHESCAPE)

/* The start time of a process, field 22 of /proc/PID/stat; 0 if it is gone. With
 * ret_zombie, whether it already exited. */
uint64_t process_start_time(pid_t pid, bool *ret_zombie);
/* RFC 3339 with nanoseconds, as runc writes "created". */
char *timestamp_now(void);
