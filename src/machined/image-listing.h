/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "image-pool.h"

/* berthd's copy of the image listing (image_discover()), so that ListImages does not look
 * at every image again on every call (1.4 s with 20,000 images).
 *
 * Which images exist is exact at every call: inotify watches every search path directory
 * (read synchronously before the listing is used, so a mkdir or btrfs snapshot made
 * before the call is always seen), and each directory's device, inode, mtime and ctime are
 * compared too (a file system mounted over a directory, a replaced directory). berthd's
 * own changes drop the copy (image_listing_invalidate()). What changes inside an image
 * behind berthd's back without touching the directory (its ModificationTimestamp, usage,
 * a read-only flag set with chattr or btrfs property) shows within
 * IMAGE_LISTING_MAX_AGE_USEC. Without inotify (no watches left) nothing is kept. */

#define IMAGE_LISTING_MAX_AGE_USEC (5ULL * 1000000ULL)

typedef struct ImageDirStamp {
        bool exists;
        dev_t dev;
        ino_t ino;
        struct timespec mtime, ctime;
} ImageDirStamp;

typedef struct ImageListing {
        Image **images;       /* sorted by name, as image_discover() */
        char **bus_paths;     /* the object path of each image */
        size_t n;
        bool valid;
        uint64_t built_usec;  /* CLOCK_MONOTONIC */
        ImageDirStamp *stamps; /* one per search path directory */
        int inotify_fd;
} ImageListing;

void image_listing_init(ImageListing *l);
void image_listing_done(ImageListing *l);
void image_listing_invalidate(ImageListing *l);
/* Make sure l is current (rebuilding it if not). Non-logging. */
int image_listing_update(ImageListing *l, const ImagePool *pool);
