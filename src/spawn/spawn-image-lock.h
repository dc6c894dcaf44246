/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "lock-util.h"
#include "spawn-config.h"

/* The machine's hold on its image: a shared image_path_lock() on what the command line
 * named, for as long as berth-spawn runs (the payload never sees the fds: O_CLOEXEC, and it
 * closes every stray fd anyway). That is the tree of -D (with --ephemeral the original, not
 * the throwaway snapshot), the raw image or device of -i, and with --template both the
 * template and the tree made from it.
 *
 * berthd takes the same lock exclusively to remove, rename or mark an image read-only, so
 * it leaves the image of a running machine alone whether the machine registered or not;
 * systemd-machined and systemd-nspawn use the same lock files, so the three exclude each
 * other (a writable nspawn machine holds its tree exclusively). */

typedef struct ImageHold {
        LockFile original;    /* -D, -i, or the --template tree */
        LockFile made;        /* the tree --template made */
} ImageHold;

#define IMAGE_HOLD_NULL { LOCK_FILE_NULL, LOCK_FILE_NULL }

/* Before the image is set up: lock what -D, -i or --template name. */
int image_hold_acquire(const SpawnConfig *c, ImageHold *h);
/* After --template made the machine's tree: lock that too. */
int image_hold_acquire_made(const SpawnConfig *c, ImageHold *h);
void image_hold_release(ImageHold *h);
