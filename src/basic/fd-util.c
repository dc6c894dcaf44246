/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"

int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

void close_pair(int p[static 2]) {
        p[0] = safe_close(p[0]);
        p[1] = safe_close(p[1]);
}

DIR *opendir_at(int dirfd, const char *path) {
        int fd = openat(dirfd, path, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        DIR *d;

        if (fd < 0)
                return NULL;
        d = fdopendir(fd);
        if (!d) {
                int saved = errno;

                safe_close(fd);
                errno = saved;
        }
        return d;
}

int fd_cloexec(int fd, bool cloexec) {
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0)
                return -errno;
        flags = cloexec ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
        return RET_NERRNO(fcntl(fd, F_SETFD, flags));
}

int fd_cloexec_from(unsigned first) {
        _cleanup_closedir_ DIR *d = NULL;

        if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) >= 0)
                return 0;
        /* a kernel before 5.11, or a system call filter (an OCI profile older than
         * close_range) that refuses it: one fcntl() per open fd instead */
        d = opendir("/proc/self/fd");
        if (!d)
                return -errno;
        FOREACH_DIRENT(de, d) {
                int fd = atoi(de->d_name);

                if (fd >= 0 && (unsigned) fd >= first && fd != dirfd(d) && fd_cloexec(fd, true) < 0)
                        return -errno;
        }
        return 0;
}

int fd_nonblock(int fd, bool nonblock) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return -errno;
        flags = nonblock ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
        return RET_NERRNO(fcntl(fd, F_SETFL, flags));
}

int loop_write(int fd, const void *buf, size_t n) {
        const char *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                if (allocated - size < 4096) {
                        size_t n = MAX(allocated * 2, (size_t) 4096);
                        char *p;

                        if (n > max + 1)
                                n = max + 1;
                        if (n <= size)
                                return -EFBIG;
                        p = realloc(buf, n + 1);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = n;
                }

                ssize_t k = read(fd, buf + size, allocated - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > max)
                        return -EFBIG;
        }

        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int write_string_fd(int fd, const char *s) {
        return loop_write(fd, s, strlen(s));
}

int write_string_file_at(int dirfd, const char *path, const char *s) {
        _cleanup_close_ int fd = -EBADF;

        fd = openat(dirfd, path, O_WRONLY|O_CLOEXEC|O_NOCTTY|O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        return write_string_fd(fd, s);
}

int fd_get_immutable(int fd) {
        int flags = 0;

        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
                return -errno;
        return !!(flags & FS_IMMUTABLE_FL);
}

int fd_set_immutable(int fd, bool b) {
        int flags = 0, nflags;

        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
                return -errno;
        nflags = b ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
        if (nflags == flags)
                return 0;
        return RET_NERRNO(ioctl(fd, FS_IOC_SETFLAGS, &nflags));
}

/* Write a temporary file next to 'name' and rename it into place: a crash leaves either the
 * old or the new contents, never a torn file. The temporary file is ".#NAME", which readers
 * of a state directory skip. */
int write_file_atomic_at(int dirfd, const char *name, const char *s, mode_t mode) {
        _cleanup_close_ int fd = -EBADF;
        char tmp[NAME_MAX + 1];
        int r;

        if ((size_t) snprintf(tmp, sizeof(tmp), ".#%s", name) >= sizeof(tmp))
                return -ENAMETOOLONG;
        fd = openat(dirfd, tmp, O_WRONLY|O_CREAT|O_TRUNC|O_NOFOLLOW|O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        r = write_string_fd(fd, s);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(dirfd, tmp, 0);
        return r;
}

int send_one_fd(int sock, int fd, const char *payload) {
        char control[CMSG_SPACE(sizeof(int))] = {};
        struct iovec iov = { .iov_base = (char *) payload, .iov_len = strlen(payload) + 1 };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control,
                .msg_controllen = sizeof(control),
        };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}
