/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "lock-util.h"
#include "string-util.h"

/* The protocol, shared by every user of these files (and by systemd's make_lock_file() and
 * release_lock_file(), so that berth and systemd-nspawn can share /run/systemd/nspawn/locks):
 *
 *  1. Acquire: open the file (creating it), lock it, then check that 'path' still names the
 *     inode we locked. If not, a previous holder unlinked it before we got the lock: that
 *     lock protects nothing, so close it and start again.
 *  2. Release: unlink the file only while holding an exclusive lock, then close it. A
 *     shared holder first tries to convert its lock to an exclusive one, without waiting:
 *     that succeeds only when nobody else holds a lock on the file, so it may unlink it. If
 *     the conversion fails another holder still uses the file, and it stays.
 *
 * Why nobody's lock is ever unlinked under them: whoever holds a lock checked, after taking
 * it, that the file was the one at 'path'; an unlink needs an exclusive lock, which is not
 * granted while any other lock on the file is held. Whoever opened the file just before an
 * unlink sees the mismatch in step 1 and retries on the new file.
 *
 * Two last shared holders releasing at the same time may both fail to convert (each sees
 * the other's lock): the file then stays behind, empty and unlocked, and the next
 * exclusive holder removes it. A failed conversion keeps an OFD lock, and may drop a
 * flock() (Linux removes the old lock first); both are fine, the file is closed next. */

static int lock_fd(int fd, int operation, bool ofd) {
        bool wait = !(operation & LOCK_NB);
        int r;

        if (!ofd)
                r = RET_NERRNO(flock(fd, operation));
        else {
                struct flock fl = {
                        .l_type = (operation & ~LOCK_NB) == LOCK_EX ? F_WRLCK : F_RDLCK,
                        .l_whence = SEEK_SET,      /* l_start = l_len = 0: the whole file */
                };

                r = RET_NERRNO(fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl));
        }
        return r == -EWOULDBLOCK || r == -EACCES ? -EBUSY : r;
}

static int lock_path_fd(const char *path, int operation, bool ofd, int *ret_fd) {
        for (;;) {
                struct stat a, b;
                int fd = open(path, O_RDWR|O_CREAT|O_CLOEXEC|O_NOFOLLOW|O_NOCTTY, 0600), r;

                if (fd < 0)
                        return -errno;
                r = lock_fd(fd, operation, ofd);
                if (r < 0) {
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

int lock_path(const char *path, bool wait, int *ret_fd) {
        return lock_path_fd(path, LOCK_EX | (wait ? 0 : LOCK_NB), false, ret_fd);
}

int lock_path_reclaim(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (access(path, F_OK) < 0)
                return errno == ENOENT ? 0 : -errno;
        r = lock_path(path, false, &fd);
        if (r < 0)
                return r;
        /* unlinked under the lock (step 2 of the protocol) */
        return unlink(path) < 0 && errno != ENOENT ? -errno : 1;
}

int lock_dir_reclaim(const char *dir, const char *suffix) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;

                if (de->d_type != DT_REG || (suffix && !endswith(de->d_name, suffix)))
                        continue;
                p = strjoin(dir, "/", de->d_name);
                if (!p)
                        return -ENOMEM;
                if (lock_path_reclaim(p) > 0)
                        n++;
        }
        return n;
}

int lock_file_acquire(const char *path, int operation, bool ofd, LockFile *ret) {
        _cleanup_free_ char *p = strdup(path);
        int fd, r;

        if (!p)
                return -ENOMEM;
        if ((operation & ~LOCK_NB) != LOCK_SH && (operation & ~LOCK_NB) != LOCK_EX)
                return -EINVAL;
        r = lock_path_fd(path, operation, ofd, &fd);
        if (r < 0)
                return r;
        *ret = (LockFile) {
                .path = TAKE_PTR(p),
                .fd = fd,
                .operation = operation & ~LOCK_NB,
                .ofd = ofd,
        };
        return 0;
}

void lock_file_release(LockFile *f) {
        if (f->fd >= 0 && f->path) {
                if (f->operation == LOCK_SH && lock_fd(f->fd, LOCK_EX|LOCK_NB, f->ofd) >= 0)
                        f->operation = LOCK_EX;
                if (f->operation == LOCK_EX)
                        (void) unlink(f->path);
        }
        safe_close(f->fd);
        free(f->path);
        *f = (LockFile) LOCK_FILE_NULL;
}
