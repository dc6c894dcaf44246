/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "image-pool.h"
#include "macro.h"

/* berthd's changes to the images of its pool (see image-pool.h for what an image is,
 * where they are found, and their locks): rename, mark read-only, remove, clone, limits,
 * and the temporaries of interrupted clones. Callers hold the image's locks and check the
 * rules (in_pool, read_only, in use) first. Non-logging. */

int image_rename(const ImagePool *pool, const Image *i, const char *new_name);
int image_set_read_only(const Image *i, bool read_only);
/* Remove an image's tree or file (a read-only one too: callers check the rules). */
int image_remove(const ImagePool *pool, const Image *i);
/* In a worker only (it may block on the image's file system, and mounts raw images). */
int image_read_os_release(const Image *i, char ***ret);
int image_set_limit(const Image *i, uint64_t limit);

/* Clone src to dst in the pool through tmp_name: a btrfs snapshot when src is a
 * subvolume the pool's file system can snapshot, else a copy (reflinked where possible).
 * Blocking: runs in a worker. On failure nothing is left under either name. */
int image_clone(const ImagePool *pool, const Image *src, const char *dst, const char *tmp_name,
                bool read_only, char *msg, size_t msg_size);

/* Remove ".#NAME.XXXXXX" temporaries of the pool whose image lock (NAME) nobody holds,
 * i.e. whose worker is gone. skip: temporaries of operations still in progress. */
int image_pool_remove_stale_temporaries(const ImagePool *pool, char * const *skip, char ***ret_removed);
