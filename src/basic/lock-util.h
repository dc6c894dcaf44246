/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* Take an exclusive flock() on the file at 'path' (created if missing), blocking or not.
 * Owners unlink their lock files before they close them, so a lock on an inode that is no
 * longer at 'path' protects nothing: the lock is taken again until it is on the file that
 * is there. Returns 0 with the fd, -EBUSY if held elsewhere (non-blocking), or -errno. */
int lock_path(const char *path, bool wait, int *ret_fd);
