/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <sys/file.h>

#include "image-pool.h"
#include "log.h"
#include "spawn-image-lock.h"

static int hold_one(const char *path, LockFile *ret) {
        int r;

        r = image_path_lock(path, LOCK_SH|LOCK_NB, ret);
        if (r == -EBUSY)
                return log_error_errno(r, "Image '%s' is busy: it is being removed, renamed or marked read-only, "
                                       "or another program uses it exclusively (systemd-nspawn without --read-only). "
                                       "Try again later.", path);
        if (r < 0)
                return log_error_errno(r, "Failed to lock image '%s' (in " IMAGE_LOCK_DIR "): %m", path);
        return 0;
}

int image_hold_acquire(const SpawnConfig *c, ImageHold *h) {
        if (c->no_image_lock)
                return 0;       /* $SYSTEMD_NSPAWN_LOCK=0 */
        if (c->image)
                return hold_one(c->image, &h->original);
        return hold_one(c->from_template ? c->template : c->directory, &h->original);
}

int image_hold_acquire_made(const SpawnConfig *c, ImageHold *h) {
        if (!c->from_template || c->no_image_lock)
                return 0;
        return hold_one(c->directory, &h->made);
}

void image_hold_release(ImageHold *h) {
        lock_file_release(&h->made);
        lock_file_release(&h->original);
}
