/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "spawn-config.h"

/* -U / --private-users=: the machine's user namespace.
 *
 * The parent picks the UID range (pick: a free 64K block, held by a lock file under
 * /run/berth/uid-ranges/ for the machine's lifetime, so concurrent machines never share
 * one), creates the user namespace with a short-lived helper and passes its fd to the
 * child, which uses it for an idmapped root mount (ownership map) and then joins it
 * before running the payload. With ownership chown the tree is shifted to the range on
 * disk once (and left so: the next start with the same range has nothing to do). */

typedef struct UserNamespace {
        int lock_fd;
        char *lock_path;
} UserNamespace;

#define USER_NAMESPACE_NULL { .lock_fd = -EBADF }

typedef struct SpawnState SpawnState;

/* Pick the range, create the namespace (SpawnState.userns_fd) and resolve the ownership. */
int userns_setup(const SpawnConfig *c, SpawnState *s);
void userns_done(SpawnState *s);
/* --bind=...:rootidmap: one user namespace per such bind (SpawnState.bind_userns_fds). */
int userns_setup_bind_idmaps(const SpawnConfig *c, SpawnState *s);
void userns_bind_idmaps_done(const SpawnConfig *c, SpawnState *s);

/* Hand a cgroup directory (and the files a delegate writes) to the machine's root. */
int userns_chown_cgroup(const SpawnState *s, const char *path);
