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
#include "os-release.h"
#include "path-util.h"
#include "process-util.h"
#include "string-util.h"

#define WORKER_TIMEOUT_MSEC (30 * 1000)
#define REPLY_SIZE_MAX (256U * 1024U)

/* In the worker: mount, read, send "KEY\0VALUE\0..." to out_fd. */
static int worker_read_os_release(void *userdata, int out_fd) {
        const int image_fd = *(const int *) userdata;
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_close_ int rootfd = -EBADF;
        int r;

        /* A slave of the host's namespace: the host never sees the image's mounts, and they
         * go away with this process. */
        if (unshare(CLONE_NEWNS) < 0)
                return -errno;
        if (mount(NULL, "/", NULL, MS_SLAVE|MS_REC, NULL) < 0)
                return -errno;
        r = mkdir_parents_and_self(IMAGE_MOUNT_POINT, 0755);
        if (r < 0)
                return r;
        r = dissected_image_mount_read_only(image_fd, IMAGE_MOUNT_POINT, DISSECT_MOUNT_ROOT_AND_USR, &rootfd);
        if (r < 0)
                return r;
        r = os_release_read_at(rootfd, &l);
        if (r < 0)
                return r;

        for (size_t i = 0; l[i]; i++) {
                r = loop_write(out_fd, l[i], strlen(l[i]) + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int reply_to_strv(const char *buf, size_t size, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r;

        if (size > 0 && buf[size - 1] != 0)
                return -EBADMSG;
        for (const char *p = buf; p < buf + size; p += strlen(p) + 1) {
                char *s = strdup(p);

                if (!s)
                        return -ENOMEM;
                r = strv_push(&l, s);
                if (r < 0)
                        return r;
                n++;
        }
        if (n % 2 != 0)
                return -EBADMSG;
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

int image_raw_read_os_release(const char *path, char ***ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        struct stat st;
        int r;

        fd = open(path, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;

        r = fork_collect(worker_read_os_release, &fd, REPLY_SIZE_MAX, WORKER_TIMEOUT_MSEC, &buf, &size);
        if (r < 0)
                return r;
        return reply_to_strv(buf, size, ret);
}
