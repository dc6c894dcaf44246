/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "dissect.h"
#include "loop-util.h"
#include "spawn-config.h"

/* -i/--image=: dissect the image, attach it to a loop device, unlock LUKS and set up
 * dm-verity where asked, and mount its file systems in a mount namespace of berth-spawn's
 * own; c->directory then names the assembled tree and the rest of the pipeline runs as
 * for a directory. Loop and dm devices are released (autoclear, deferred removal) as soon
 * as everything is mounted, so they go away with the mounts, also if we are killed. */

typedef struct MountedImage {
        int fd;
        bool read_only;
        bool overlay;                        /* --ephemeral, --volatile=overlay */
        DissectedImage m;
        LoopDevice loop;
        uint8_t *root_hash, *usr_hash;
        size_t root_hash_size, usr_hash_size;
        void *root_hash_sig;                 /* --root-hash-sig= or IMAGE.roothash.p7s, NULL if none */
        size_t root_hash_sig_size;
        char *verity_data;                   /* hash tree file of a bare file system */
        bool verity[_PARTITION_MAX];
        const char *where[_PARTITION_MAX];   /* mount point chosen for each partition */
        char *dm_names[_PARTITION_MAX];
        size_t n_dm;
        int dm_lock;                         /* /run/berth/dm.lock, shared while we set devices up */
        char **devices;                      /* loop and dm devices used, for the state file */
} MountedImage;

#define MOUNTED_IMAGE_NULL { .fd = -EBADF, .dm_lock = -EBADF, .loop = LOOP_DEVICE_NULL }

/* Returns the mount point of the image's root in *ret_directory. */
int mounted_image_setup(const SpawnConfig *c, MountedImage *img, char **ret_directory);
void mounted_image_release_devices(MountedImage *img);
void mounted_image_done(MountedImage *img);
