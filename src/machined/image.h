/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "macro.h"

/* The image pool: machine images in one writable directory (/var/lib/machines, or
 * berthd --pool=) plus, with the default pool, the read-only search paths machined uses.
 * Images are directories, btrfs subvolumes and NAME.raw files; the host is image ".host".
 * Nothing is cached: every lookup looks at the file system again. Non-logging. */

typedef enum ImageType {
        IMAGE_DIRECTORY,
        IMAGE_SUBVOLUME,
        IMAGE_RAW,
        IMAGE_BLOCK,
        _IMAGE_TYPE_MAX,
        _IMAGE_TYPE_INVALID = -EINVAL,
} ImageType;

const char *image_type_to_string(ImageType t) _pure_;

typedef struct ImagePool {
        char *path;          /* the writable pool */
        char **search;       /* read-only search paths, looked at after the pool */
        char *lock_dir;      /* image lock files (flock), one per image name */
} ImagePool;

void image_pool_done(ImagePool *pool);

typedef struct Image {
        char *name;
        char *path;
        ImageType type;
        bool read_only;
        bool in_pool;        /* in the writable pool: may be renamed, removed, changed */
        uint64_t crtime;     /* µs, 0 when unknown */
        uint64_t mtime;
        uint64_t usage;      /* bytes, UINT64_MAX when unknown */
        uint64_t limit;
} Image;

Image *image_free(Image *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(Image *, image_free);
void image_list_free(Image **l, size_t n);

static inline bool image_is_host(const Image *i) {
        return i->path[0] == '/' && i->path[1] == 0;
}

/* Image names are machine names (so that an image can be booted under its own name),
 * optionally with one leading '.' for hidden images. ".#…" (temporaries) never passes. */
bool image_name_is_valid(const char *s) _pure_;

/* -ENOENT if there is no such image; -EINVAL for an invalid name. */
int image_find(const ImagePool *pool, const char *name, Image **ret);
/* Every image, sorted by name; a name in the pool hides the same name in a search path. */
int image_discover(const ImagePool *pool, Image ***ret, size_t *ret_n);

/* flock() the lock file of an image name, without waiting: -EBUSY when a conflicting
 * lock is held. operation is LOCK_SH (clone source) or LOCK_EX (anything that changes
 * or replaces the image). Returns the fd that holds the lock. */
int image_lock(const ImagePool *pool, const char *name, int operation, int *ret_fd);

int image_rename(const ImagePool *pool, const Image *i, const char *new_name);
int image_set_read_only(const Image *i, bool read_only);
/* Remove an image's tree or file (a read-only one too: callers check the rules). */
int image_remove(const ImagePool *pool, const Image *i);
int image_read_os_release(const Image *i, char ***ret);
int image_set_limit(const Image *i, uint64_t limit);

/* A clone is made under ".#DST.XXXXXX" and renamed into place when complete. Creates the
 * name (without creating anything on disk). */
int image_tmp_name(const char *dst, char **ret);
/* Clone src to dst in the pool through tmp_name: a btrfs snapshot when src is a
 * subvolume the pool's file system can snapshot, else a copy (reflinked where possible).
 * Blocking: runs in a worker. On failure nothing is left under either name. */
int image_clone(const ImagePool *pool, const Image *src, const char *dst, const char *tmp_name,
                bool read_only, char *msg, size_t msg_size);

/* Remove ".#NAME.XXXXXX" temporaries of the pool whose image lock (NAME) nobody holds,
 * i.e. whose worker is gone. skip: temporaries of operations still in progress. */
int image_pool_remove_stale_temporaries(const ImagePool *pool, char * const *skip, char ***ret_removed);
