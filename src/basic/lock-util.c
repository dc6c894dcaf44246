/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "fd-util.h"
#include "lock-util.h"

int lock_path(const char *path, bool wait, int *ret_fd) {
        for (;;) {
                struct stat a, b;
                int fd = open(path, O_RDWR|O_CREAT|O_CLOEXEC|O_NOFOLLOW|O_NOCTTY, 0600);

                if (fd < 0)
                        return -errno;
                if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
                        int r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                        safe_close(fd);
                        return r;
                }
                if (fstat(fd, &a) >= 0 && stat(path, &b) >= 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
                        *ret_fd = fd;
                        return 0;
                }
                safe_close(fd);
        }
}
