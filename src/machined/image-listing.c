/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "image-listing.h"
#include "machine1-bus.h"
#include "string-util.h"
#include "time-util.h"

/* Every change of a directory's entries (also chmod of a raw image), and of the directory
 * itself. Not IN_MODIFY: a VM writing to its raw image would drop the copy at every write
 * (its usage is as old as the listing at most). */
#define IMAGE_LISTING_INOTIFY_MASK                                                      \
        (IN_CREATE|IN_DELETE|IN_MOVED_FROM|IN_MOVED_TO|IN_ATTRIB|                       \
         IN_DELETE_SELF|IN_MOVE_SELF|IN_UNMOUNT|IN_ONLYDIR)

void image_listing_init(ImageListing *l) {
        *l = (ImageListing) { .inotify_fd = -EBADF };
}

static void image_listing_free_images(ImageListing *l) {
        image_list_free(l->images, l->n);
        strv_free(l->bus_paths);
        l->images = NULL;
        l->bus_paths = NULL;
        l->n = 0;
}

void image_listing_done(ImageListing *l) {
        image_listing_free_images(l);
        free(l->stamps);
        safe_close(l->inotify_fd);
        image_listing_init(l);
}

void image_listing_invalidate(ImageListing *l) {
        l->valid = false;
}

static ImageDirStamp dir_stamp(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return (ImageDirStamp) {};
        return (ImageDirStamp) {
                .exists = true,
                .dev = st.st_dev,
                .ino = st.st_ino,
                .mtime = st.st_mtim,
                .ctime = st.st_ctim,
        };
}

static bool dir_stamp_equal(const ImageDirStamp *a, const ImageDirStamp *b) {
        return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
               a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
               a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Any inotify event (or an overflow, or an error) means the listing may be out of date. */
static bool inotify_drain(int fd) {
        _Alignas(struct inotify_event) char buf[4096];
        bool changed = false;
        ssize_t k;

        while ((k = read(fd, buf, sizeof(buf))) > 0)
                changed = true;
        return changed || (k < 0 && errno != EAGAIN);
}

static bool image_listing_is_current(ImageListing *l, const ImagePool *pool) {
        size_t k = 0;

        if (!l->valid || l->inotify_fd < 0)
                return false;
        if (inotify_drain(l->inotify_fd))
                return false;
        if (now_usec(CLOCK_MONOTONIC) - l->built_usec > IMAGE_LISTING_MAX_AGE_USEC)
                return false;
        STRV_FOREACH(d, pool->search) {
                ImageDirStamp s = dir_stamp(*d);

                if (!dir_stamp_equal(&s, &l->stamps[k++]))
                        return false;
        }
        return true;
}

/* Watches first, then stamps, then the listing: a change at any point after the watch
 * was added shows as an event at the next call. A directory that does not exist yet is
 * only stamped (its appearance changes the stamp). */
static int image_listing_watch(ImageListing *l, const ImagePool *pool) {
        _cleanup_close_ int fd = -EBADF;
        size_t n = strv_length(pool->search), k = 0;
        ImageDirStamp *stamps;

        fd = inotify_init1(IN_NONBLOCK|IN_CLOEXEC);
        if (fd < 0)
                return -errno;
        STRV_FOREACH(d, pool->search)
                if (inotify_add_watch(fd, *d, IMAGE_LISTING_INOTIFY_MASK) < 0 && errno != ENOENT && errno != ENOTDIR)
                        return -errno;
        stamps = reallocarray(NULL, n ?: 1, sizeof(ImageDirStamp));
        if (!stamps)
                return -ENOMEM;
        STRV_FOREACH(d, pool->search)
                stamps[k++] = dir_stamp(*d);
        free(l->stamps);
        l->stamps = stamps;
        safe_close(l->inotify_fd);
        l->inotify_fd = TAKE_FD(fd);
        return 0;
}

static int image_listing_rebuild(ImageListing *l, const ImagePool *pool) {
        int r;

        l->valid = false;
        image_listing_free_images(l);
        l->built_usec = now_usec(CLOCK_MONOTONIC);
        r = image_listing_watch(l, pool);
        if (r < 0) {
                /* No inotify: correct listings only, rebuilt every time. */
                l->inotify_fd = safe_close(l->inotify_fd);
        }
        r = image_discover(pool, &l->images, &l->n);
        if (r < 0) {
                l->images = NULL;
                l->n = 0;
                return r;
        }
        l->bus_paths = calloc(l->n + 1, sizeof(char *));
        if (!l->bus_paths)
                return -ENOMEM;
        for (size_t k = 0; k < l->n; k++) {
                l->bus_paths[k] = machine1_image_path(l->images[k]->name);
                if (!l->bus_paths[k])
                        return -ENOMEM;
        }
        l->valid = l->inotify_fd >= 0;
        return 0;
}

int image_listing_update(ImageListing *l, const ImagePool *pool) {
        if (image_listing_is_current(l, pool))
                return 0;
        return image_listing_rebuild(l, pool);
}
