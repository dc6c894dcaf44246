/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* Lock files that are removed again, safely (the protocol is described in lock-util.c).
 *
 * Take an exclusive flock() on the file at 'path' (created if missing), blocking or not.
 * Owners unlink their lock files before they close them, so a lock on an inode that is no
 * longer at 'path' protects nothing: the lock is taken again until it is on the file that
 * is there. Returns 0 with the fd, -EBUSY if held elsewhere (non-blocking), or -errno. */
int lock_path(const char *path, bool wait, int *ret_fd);
/* Remove the lock file at 'path' if nobody holds it (its holder died): a free flock does not
 * block reuse, but the file is litter. Returns 1 if removed, 0 if there was none, -EBUSY if
 * it is held, or -errno. */
int lock_path_reclaim(const char *path);
/* lock_path_reclaim() on every regular file in 'dir' whose name ends in 'suffix' (any name if
 * NULL): the lock files of owners that died before they recorded them anywhere. Returns how
 * many were removed (0 if 'dir' is missing). */
int lock_dir_reclaim(const char *dir, const char *suffix);

/* A lock that may also be shared, and may be an OFD lock (fcntl F_OFD_SETLK) instead of a
 * flock(): systemd's lock files (make_lock_file()) are OFD locks, and OFD and flock locks
 * do not see each other, so a lock that must exclude systemd's tools has to be one. */
typedef struct LockFile {
        char *path;
        int fd;
        int operation;        /* LOCK_SH or LOCK_EX */
        bool ofd;
} LockFile;

#define LOCK_FILE_NULL { .fd = -EBADF }

/* operation: LOCK_SH or LOCK_EX, optionally | LOCK_NB. Returns 0, -EBUSY if a conflicting
 * lock is held and LOCK_NB was given, or -errno. */
int lock_file_acquire(const char *path, int operation, bool ofd, LockFile *ret);
/* Unlink the file if we are its last holder, then close it. Idempotent. */
void lock_file_release(LockFile *f);
static inline void lock_file_pair_release(LockFile (*p)[2]) {
        lock_file_release(&(*p)[0]);
        lock_file_release(&(*p)[1]);
}
static inline bool lock_file_is_held(const LockFile *f) {
        return f->fd >= 0;
}
