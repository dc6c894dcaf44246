/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "lock-util.h"
#include "macro.h"

/* Machine images, as berth-spawn and berthd both see them: where they are searched, what
 * counts as one, their names, which ones berthd may change, and their locks. This is the
 * only place that knows; both programs call it (so an image berth-spawn -M boots is the
 * image ListImages shows). Nothing is cached: every lookup looks at the file system again.
 * Non-logging.
 *
 * An image is a directory or btrfs subvolume NAME, or a raw disk image NAME.raw, in one of
 * the search path's directories; the first directory with the name wins. The host is
 * image ".host". */

/* systemd's image_search_path for machine images (src/shared/discover-image.c), in its
 * order; /etc/machines and /run/machines are meant for symlinks to images elsewhere. */
#define IMAGE_SEARCH_PATH_DEFAULT                                               \
        "/etc/machines", "/run/machines", "/var/lib/machines", "/var/lib/container", \
        "/usr/local/lib/machines", "/usr/lib/machines"
#define IMAGE_POOL_DEFAULT "/var/lib/machines"

/* systemd-nspawn's and systemd-machined's image locks (image_path_lock()): the same files
 * and the same kind of lock (OFD), so that berth and systemd exclude each other. */
#define IMAGE_LOCK_DIR "/run/systemd/nspawn/locks"

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
        char *path;           /* the writable pool: berthd creates, renames and removes images here */
        char **search;        /* every directory searched, in order; includes 'path' */
        char *name_lock_dir;  /* berthd's per-name locks (clone targets, renames), or NULL */
} ImagePool;

/* pool: NULL for the default search path with /var/lib/machines as the pool; a directory
 * (berthd --pool=) to search only there. name_lock_dir may be NULL (no name locks). */
int image_pool_init(ImagePool *pool, const char *pool_path, const char *name_lock_dir);
void image_pool_done(ImagePool *pool);

typedef struct Image {
        char *name;
        char *path;
        ImageType type;
        bool read_only;
        bool in_pool;         /* in the writable pool: berthd may rename, remove, change it */
        uint64_t crtime;      /* µs, 0 when unknown */
        uint64_t mtime;
        uint64_t usage;       /* bytes, UINT64_MAX when unknown */
        uint64_t limit;
} Image;

Image *image_free(Image *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(Image *, image_free);
void image_list_free(Image **l, size_t n);

static inline bool image_is_host(const Image *i) {
        return i->path[0] == '/' && i->path[1] == 0;
}
/* Hidden images ('.'-prefixed) are listed, and are what CleanPool "hidden" removes. */
static inline bool image_is_hidden(const Image *i) {
        return i->name[0] == '.' && !image_is_host(i);
}

/* Image names are machine names (so that an image can be booted under its own name),
 * optionally with one leading '.' for hidden images. ".#…" (temporaries) never passes. */
bool image_name_is_valid(const char *s) _pure_;

/* Rules:
 *  - only the pool's images are writable for berthd; the others are read_only;
 *  - symlinks are followed outside the pool (that is what /etc/machines is for), never
 *    inside it (berthd's changes must not reach through a link);
 *  - a block device NAME.raw is an image outside the pool only.
 * -ENOENT if there is no such image; -EINVAL for an invalid name. */
int image_find(const ImagePool *pool, const char *name, Image **ret);
/* Every image, sorted by name; a name found earlier in the search path hides later ones. */
int image_discover(const ImagePool *pool, Image ***ret, size_t *ret_n);

/* The lock of an image's tree, file or device, wherever it is (keyed by its inode, or by
 * its device number for a block device): shared while a machine runs from it, exclusive
 * while berthd changes it. Without waiting: -EBUSY when a conflicting lock is held. A
 * shared lock of "/" is a no-op (the host runs from it anyway), an exclusive one -EBUSY.
 * image_path_lock_at() is for tests: another lock directory. */
int image_path_lock_at(const char *lock_dir, const char *path, int operation, LockFile *ret);
static inline int image_path_lock(const char *path, int operation, LockFile *ret) {
        return image_path_lock_at(IMAGE_LOCK_DIR, path, operation, ret);
}

/* berthd's lock of an image name (held for clone targets and renames, so a name is never
 * taken twice, and by workers that write a temporary for the name). Without waiting:
 * -EBUSY when a conflicting lock is held. */
int image_name_lock(const ImagePool *pool, const char *name, int operation, LockFile *ret);

/* New images (clones, imports) are made under ".#DST.XXXXXX" and renamed into place when
 * complete; their maker holds DST's name lock, so a temporary whose lock is free is stale.
 * Creates the name (without creating anything on disk). */
int image_tmp_name(const char *dst, char **ret);
/* Remove dirfd/entry (dir is dirfd's path) whatever it is: a subvolume, a tree, a file,
 * also when marked read-only or immutable. 0 if it does not exist. */
int image_pool_remove_entry_at(int dirfd, const char *dir, const char *entry);
