/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "copy-util.h"
#include "fd-util.h"
#include "string-util.h"

typedef struct HardLink {
        dev_t dev;
        ino_t ino;
        char *path;       /* relative to the destination's root dirfd */
} HardLink;

typedef struct CopyContext {
        int dest_root;
        dev_t dev;
        HardLink *links;
        size_t n_links;
} CopyContext;

static int copy_xattrs(int from, int to) {
        char names[8192], value[65536];
        ssize_t n = flistxattr(from, names, sizeof(names));

        if (n < 0)
                return errno == ENOTSUP || errno == EOPNOTSUPP ? 0 : -errno;
        for (char *k = names; k < names + n; k += strlen(k) + 1) {
                ssize_t v = fgetxattr(from, k, value, sizeof(value));
                if (v < 0)
                        continue;
                if (fsetxattr(to, k, value, (size_t) v, 0) < 0 && errno != ENOTSUP && errno != EOPNOTSUPP)
                        return -errno;
        }
        return 0;
}

static int copy_data(int from, int to, off_t size) {
        if (ioctl(to, FICLONE, from) >= 0)
                return 0;
        while (size > 0) {
                ssize_t k = copy_file_range(from, NULL, to, NULL, (size_t) MIN(size, (off_t) (1 << 30)), 0);
                if (k < 0) {
                        char buf[65536];
                        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
                                return -errno;
                        /* plain read/write fallback */
                        while ((k = read(from, buf, sizeof(buf))) > 0)
                                if (loop_write(to, buf, (size_t) k) < 0)
                                        return -errno;
                        return k < 0 ? -errno : 0;
                }
                if (k == 0)
                        break;
                size -= k;
        }
        return 0;
}

/* Ownership, mode (after chown, which clears set-ID bits), xattrs, times. */
static int copy_metadata(int from_dir, const char *name, int to_dir, const struct stat *st) {
        const struct timespec ts[2] = { st->st_atim, st->st_mtim };

        if (fchownat(to_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISLNK(st->st_mode)) {
                _cleanup_close_ int a = -EBADF, b = -EBADF;
                char pa[64], pb[64];

                if (fchmodat(to_dir, name, st->st_mode & 07777, 0) < 0)
                        return -errno;
                a = openat(from_dir, name, O_PATH|O_NOFOLLOW|O_CLOEXEC);
                b = openat(to_dir, name, O_PATH|O_NOFOLLOW|O_CLOEXEC);
                if (a >= 0 && b >= 0 && (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) {
                        /* xattrs need a real fd; O_PATH fds are re-opened via /proc */
                        _cleanup_close_ int ra = -EBADF, rb = -EBADF;
                        snprintf(pa, sizeof(pa), "/proc/self/fd/%i", a);
                        snprintf(pb, sizeof(pb), "/proc/self/fd/%i", b);
                        ra = open(pa, O_RDONLY|O_CLOEXEC|O_NOCTTY);
                        rb = open(pb, O_RDONLY|O_CLOEXEC|O_NOCTTY);
                        if (ra >= 0 && rb >= 0) {
                                int r = copy_xattrs(ra, rb);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return RET_NERRNO(utimensat(to_dir, name, ts, AT_SYMLINK_NOFOLLOW));
}

static int copy_dir_contents(CopyContext *cx, int from, int to, const char *rel);

static int copy_entry(CopyContext *cx, int from, int to, const char *rel, const char *name, const struct stat *st) {
        _cleanup_free_ char *path = strjoin(rel, isempty(rel) ? "" : "/", name);
        int r;

        if (!path)
                return -ENOMEM;

        /* a second name of an inode we copied already */
        if (!S_ISDIR(st->st_mode) && st->st_nlink > 1)
                for (size_t i = 0; i < cx->n_links; i++)
                        if (cx->links[i].dev == st->st_dev && cx->links[i].ino == st->st_ino)
                                return RET_NERRNO(linkat(cx->dest_root, cx->links[i].path, to, name, 0));

        if (S_ISDIR(st->st_mode)) {
                _cleanup_close_ int sfd = -EBADF, dfd = -EBADF;

                if (mkdirat(to, name, 0700) < 0)
                        return -errno;
                sfd = openat(from, name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
                dfd = openat(to, name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
                if (sfd < 0 || dfd < 0)
                        return -errno;
                if (st->st_dev == cx->dev) {      /* never descend into another mount */
                        r = copy_dir_contents(cx, sfd, dfd, path);
                        if (r < 0)
                                return r;
                }
        } else if (S_ISREG(st->st_mode)) {
                _cleanup_close_ int sfd = -EBADF, dfd = -EBADF;

                sfd = openat(from, name, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY);
                if (sfd < 0)
                        return -errno;
                dfd = openat(to, name, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600);
                if (dfd < 0)
                        return -errno;
                r = copy_data(sfd, dfd, st->st_size);
                if (r < 0)
                        return r;
        } else if (S_ISLNK(st->st_mode)) {
                char target[4096];
                ssize_t n = readlinkat(from, name, target, sizeof(target) - 1);

                if (n < 0)
                        return -errno;
                target[n] = 0;
                if (symlinkat(target, to, name) < 0)
                        return -errno;
        } else if (mknodat(to, name, st->st_mode & (S_IFMT|07777), st->st_rdev) < 0)
                return -errno;

        r = copy_metadata(from, name, to, st);
        if (r < 0)
                return r;

        if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
                HardLink *l = realloc(cx->links, sizeof(HardLink) * (cx->n_links + 1));
                if (!l)
                        return -ENOMEM;
                cx->links = l;
                cx->links[cx->n_links++] = (HardLink) { st->st_dev, st->st_ino, TAKE_PTR(path) };
        }
        return 0;
}

static int copy_dir_contents(CopyContext *cx, int from, int to, const char *rel) {
        _cleanup_closedir_ DIR *d = NULL;
        int r;

        d = opendir_at(from, ".");
        if (!d)
                return -errno;
        FOREACH_DIRENT(de, d) {
                struct stat st;

                if (fstatat(from, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                r = copy_entry(cx, from, to, rel, de->d_name, &st);
                if (r < 0)
                        return r;
        }
        return 0;
}

int copy_tree(const char *source, const char *dest) {
        _cleanup_close_ int from = -EBADF, to = -EBADF, parent = -EBADF;
        CopyContext cx = { .dest_root = -EBADF };
        struct stat st;
        int r;

        from = open(source, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (from < 0 || fstat(from, &st) < 0)
                return -errno;
        if (mkdir(dest, 0700) < 0)
                return -errno;
        to = open(dest, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        if (to < 0)
                return -errno;

        cx.dest_root = to;
        cx.dev = st.st_dev;
        r = copy_dir_contents(&cx, from, to, "");
        if (r >= 0) {
                const struct timespec ts[2] = { st.st_atim, st.st_mtim };
                if (fchown(to, st.st_uid, st.st_gid) < 0 || fchmod(to, st.st_mode & 07777) < 0 ||
                    futimens(to, ts) < 0)
                        r = -errno;
        }
        for (size_t i = 0; i < cx.n_links; i++)
                free(cx.links[i].path);
        free(cx.links);
        return r;
}
