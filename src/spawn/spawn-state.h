/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "init-kind.h"
#include "spawn-bind-user.h"
#include "seccomp-util.h"
#include "spawn-cgroup.h"
#include "spawn-config.h"
#include "spawn-ephemeral.h"
#include "spawn-image.h"
#include "spawn-image-lock.h"
#include "spawn-network.h"
#include "spawn-reclaim.h"
#include "spawn-userns.h"

/* What the launch pipeline picked and made, as opposed to the SpawnConfig (what the user
 * asked for), which the pipeline only reads. Each step fills in its part; the child gets a
 * read-only view. The parts another process needs to show or tear the machine down are
 * persisted in /run/berth/spawn/NAME (see spawn_state_save()). */
typedef struct SpawnState {
        char *directory;            /* the tree the machine runs on: -D, the image's mount
                                     * point or the ephemeral snapshot */
        bool root_overlay;          /* the root is an overlay with a tmpfs upper layer */

        uint32_t uid_shift;         /* host UID of the machine's root; 0/0 without -U */
        uint32_t uid_range;
        uint32_t gid_shift;         /* host GID of the machine's root group: uid_shift but
                                     * with OCI's own maps (PRIVATE_USERS_MAPPED) */
        int userns_fd;              /* the machine's user namespace, or -EBADF */
        UsersOwnership users_ownership; /* the config's, with auto resolved */
        bool idmap_root;            /* the root is an idmapped mount */
        BindUsers bind_users;       /* --bind-user=: the users, their UIDs inside, the databases */
        int *bind_userns_fds;       /* per custom mount (c->mounts[i]): the user namespace
                                     * of its idmapped mount (rootidmap), or -EBADF */

        char *journal_bind_source;  /* --link-journal: host directory bound into the machine */
        char *journal_bind_target;
        char **overlay_work_dirs;   /* per custom mount (c->mounts[i]), NULL where none */

        bool wait_for_go;           /* the child waits for the parent's SYNC_GO */
        pid_t leader;               /* the machine's PID 1, 0 while there is none */
        int start_fifo_fd;          /* detached: O_PATH fd of the FIFO whose opening by
                                     * "berth-runc start" lets the payload run; not owned */
        InitKind init_kind;         /* with --boot: the tree's init, for berthd's poweroff */
        uint64_t root_mount_id;     /* detached, without a mount namespace of its own: the
                                     * machine's mount of its tree in ours (path_mount_id()) */
        /* detached (berth-runc create): runs the create-time OCI hooks when the init
         * stops for them (SYNC_HOOKS), logging a failure; *ret_state_fd is the state
         * for the startContainer hooks or -EBADF */
        int (*run_hooks)(void *userdata, pid_t pid, int pidfd, int *ret_state_fd);
        void *run_hooks_userdata;

        /* the resources, each owned by its step */
        ImageHold image_hold;       /* the image's lock, for the machine's whole life */
        MountedImage image;
        Ephemeral ephemeral;
        UserNamespace userns;
        HostNetwork net;
        MachineCGroup cgroup;       /* the current boot's */
        SeccompFilter seccomp_payload; /* the compiled system call filters the child loads */
        SeccompFilter seccomp_stub;    /* with --as-pid2: the stub init's */
        struct sock_filter *seccomp_sync; /* --suppress-sync: its program, else NULL */
        size_t n_seccomp_sync;

        int file_lock;              /* held while the file is ours */
        char *file_lock_path;       /* /run/berth/spawn/.NAME.lock */
        char *file_path;            /* /run/berth/spawn/NAME, once claimed */
} SpawnState;

void spawn_state_init(SpawnState *s);
void spawn_state_done(SpawnState *s);

/* Take the name's state file: reclaims a stale one left by a berth-spawn that was killed.
 * Without it (another berth-spawn runs a machine of that name) the machine runs without
 * a state file. Logs; never fails the launch except for -ENOMEM. */
int spawn_state_claim(const SpawnConfig *c, SpawnState *s);
/* (Re)write the state file atomically (temporary file + rename), after each step that
 * changes what it says. Logs a warning on failure; the machine runs on regardless. */
void spawn_state_save(const SpawnConfig *c, const SpawnState *s);
/* Remove the state file at teardown. */
void spawn_state_remove(SpawnState *s);

/* The file's text: KEY=VALUE lines (env-file style). Exported for the unit tests. */
int spawn_state_serialize(const SpawnConfig *c, const SpawnState *s, pid_t supervisor, char **ret);
