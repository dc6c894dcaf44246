/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <signal.h>
#include <stdint.h>

#include "image-pool.h"
#include "lock-util.h"
#include "macro.h"

/* What every berth-import worker shares: the new image built under a hidden temporary and
 * renamed into place, cancellation, and progress reports to berth-importd. Non-logging
 * unless said otherwise. */

typedef enum ImportKind {
        IMPORT_TREE,          /* a directory, or a btrfs subvolume when the pool is on btrfs */
        IMPORT_RAW,           /* NAME.raw */
} ImportKind;

typedef struct ImportTarget {
        const ImagePool *pool;
        int pool_fd;
        char *name;           /* the final image name */
        char *entry;          /* its entry in the pool: NAME or NAME.raw */
        char *tmp_name;       /* ".#NAME.XXXXXX" while it is built */
        char *tmp_path;
        ImportKind kind;
        bool force;
        bool read_only;
        LockFile name_lock;
} ImportTarget;

/* Set by SIGTERM/SIGINT (berth-importd's Cancel): long loops check it and stop with -ECANCELED. */
extern volatile sig_atomic_t import_cancelled;
void import_install_cancel_handler(void);

/* Take NAME's name lock, refuse an existing image (-EEXIST) unless force, and create the
 * empty temporary: a subvolume if the pool is on btrfs (tree), else a directory, or an
 * empty file (raw). Logging. */
int import_target_begin(ImportTarget *t, const ImagePool *pool, const char *name, ImportKind kind,
                        bool force, bool read_only);
/* The same, but the temporary is made by the caller (a snapshot or copy): only its name. */
int import_target_begin_empty(ImportTarget *t, const ImagePool *pool, const char *name, ImportKind kind,
                              bool force, bool read_only);
/* Mark read-only if asked, replace an existing image if force, rename into place. Logging. */
int import_target_finish(ImportTarget *t);
/* Remove the temporary if it is still there, release the lock. */
void import_target_done(ImportTarget *t);

/* Report progress (percent, rate-limited) and bytes so far to berth-importd. */
void import_report(uint64_t done, uint64_t total);

/* Whether the pool (open as pool_fd) is on btrfs. */
bool import_pool_is_btrfs(int pool_fd);

/* Whether the pool directory is closed to other users (mode 0700 or tighter for others):
 * only then may set-ID files be created in it (see berth-importd(8)). */
bool import_pool_is_private(const ImagePool *pool);
