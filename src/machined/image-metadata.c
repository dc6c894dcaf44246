/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dissect-mount.h"
#include "fd-util.h"
#include "image-metadata.h"
#include "mount-util.h"
#include "os-release.h"
#include "path-util.h"
#include "process-util.h"
#include "string-util.h"

/* Runs in a disposable worker (bus-worker.h): mounts the image in a mount namespace of
 * its own, which goes away with the process. */
static int raw_image_mount(const char *path, int *ret_rootfd) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        fd = open(path, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;

        /* A slave of the host's namespace: the host never sees the image's mounts. */
        if (unshare(CLONE_NEWNS) < 0)
                return -errno;
        if (mount(NULL, "/", NULL, MS_SLAVE|MS_REC, NULL) < 0)
                return -errno;
        r = mkdir_parents_and_self(IMAGE_MOUNT_POINT, 0755);
        if (r < 0)
                return r;
        return dissected_image_mount_read_only(fd, IMAGE_MOUNT_POINT, DISSECT_MOUNT_ROOT_AND_USR, ret_rootfd);
}

int image_raw_read_os_release(const char *path, char ***ret) {
        _cleanup_close_ int rootfd = -EBADF;
        int r;

        r = raw_image_mount(path, &rootfd);
        if (r < 0)
                return r;
        return os_release_read_at(rootfd, ret);
}

int image_raw_read_file(const char *path, const char *file, size_t max, char **ret) {
        _cleanup_close_ int rootfd = -EBADF;
        int r;

        r = raw_image_mount(path, &rootfd);
        if (r < 0)
                return r;
        return read_regular_file_in_root(rootfd, file, max, ret, NULL);
}
