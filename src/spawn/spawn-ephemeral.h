/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "spawn-config.h"

/* --ephemeral: on a btrfs subvolume the machine runs on a snapshot next to the tree,
 * deleted when it ends; elsewhere the child builds an overlay with a tmpfs upper layer,
 * which leaves nothing on disk at all.
 *
 * A snapshot's owner holds a lock in /run/berth/ephemeral/; snapshots whose lock is free
 * (their berth-spawn was SIGKILLed, or the host rebooted) are removed at the next start. */

typedef struct Ephemeral {
        char *snapshot;
        char *lock_path;
        int lock_fd;
} Ephemeral;

#define EPHEMERAL_NULL { .lock_fd = -EBADF }

typedef struct SpawnState SpawnState;

/* Sets SpawnState.directory to the snapshot, or .root_overlay off btrfs. */
int ephemeral_setup(const SpawnConfig *c, SpawnState *s);
void ephemeral_cleanup(Ephemeral *e);
