/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "copy-util.h"
#include "fd-util.h"
#include "mount-util.h"
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
        const CopyOptions *options;
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

/* 'len' bytes at 'offset' of 'from' to the same offset of 'to'. */
static int copy_range(int from, int to, off_t offset, off_t len) {
        off_t in = offset, out = offset;

        while (len > 0) {
                ssize_t k = copy_file_range(from, &in, to, &out, (size_t) MIN(len, (off_t) (1 << 30)), 0);
                if (k < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
                        /* another file system type: plain read/write */
                        char buf[65536];

                        k = pread(from, buf, (size_t) MIN(len, (off_t) sizeof(buf)), in);
                        /* a short write (the disk just filled up) is retried: the next one
                         * says why, instead of a stale errno of copy_file_range() */
                        for (ssize_t w = 0, n; k > 0 && w < k; w += n) {
                                n = pwrite(to, buf + w, (size_t) (k - w), out + w);
                                if (n < 0)
                                        return -errno;
                                if (n == 0)
                                        return -EIO;
                        }
                        if (k > 0) {
                                in += k;
                                out += k;
                        }
                }
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;          /* the file shrank meanwhile */
                len -= k;
        }
        return 0;
}

int copy_file_data(int from, int to, off_t size) {
        off_t pos = 0;
        int r;

        if (ioctl(to, FICLONE, from) >= 0)
                return 0;

        /* Only the data segments: a sparse file stays sparse (a 2 GiB hole is not written
         * out as 2 GiB of zeroes), and the size is set at the end. */
        while (pos < size) {
                off_t data, hole;

                data = lseek(from, pos, SEEK_DATA);
                if (data < 0 && errno == ENXIO)
                        break;                  /* only a hole is left */
                if (data < 0 && errno != EINVAL)
                        return -errno;
                if (data < 0)
                        data = pos;             /* no SEEK_DATA support: all data */
                hole = lseek(from, data, SEEK_HOLE);
                if (hole < 0 || hole > size)
                        hole = size;
                r = copy_range(from, to, data, hole - data);
                if (r < 0)
                        return r;
                pos = hole;
        }
        return RET_NERRNO(ftruncate(to, size));
}

/* Ownership, mode (after chown, which clears set-ID bits), xattrs, times. 'fd' is an open
 * fd of the copy (regular file or directory, 'src' the source's) or -EBADF for the other
 * types, which are addressed as to_dir/name. */
static int copy_metadata(int src, int fd, int to_dir, const char *name, const struct stat *st) {
        const struct timespec ts[2] = { st->st_atim, st->st_mtim };
        int r;

        if (fd < 0) {
                if (fchownat(to_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (!S_ISLNK(st->st_mode) && fchmodat(to_dir, name, st->st_mode & 07777, 0) < 0)
                        return -errno;
                return RET_NERRNO(utimensat(to_dir, name, ts, AT_SYMLINK_NOFOLLOW));
        }

        if (fchown(fd, st->st_uid, st->st_gid) < 0 || fchmod(fd, st->st_mode & 07777) < 0)
                return -errno;
        r = copy_xattrs(src, fd);
        if (r < 0)
                return r;
        return RET_NERRNO(futimens(fd, ts));
}

static int copy_dir_contents(CopyContext *cx, int from, int to, const char *rel);

static int copy_regular(int from, const char *from_name, int to, const char *to_name, const struct stat *st,
                        int *ret_src, int *ret_dst) {
        _cleanup_close_ int sfd = -EBADF, dfd = -EBADF;
        int r;

        sfd = openat(from, from_name, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY);
        if (sfd < 0)
                return -errno;
        dfd = openat(to, to_name, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600);
        if (dfd < 0)
                return -errno;
        r = copy_file_data(sfd, dfd, st->st_size);
        if (r < 0)
                return r;
        *ret_src = TAKE_FD(sfd);
        *ret_dst = TAKE_FD(dfd);
        return 0;
}

static int copy_entry(CopyContext *cx, int from, const char *from_name, int to, const char *to_name,
                      const char *rel, const struct stat *source_st) {
        _cleanup_free_ char *path = strjoin(rel, isempty(rel) ? "" : "/", to_name);
        _cleanup_close_ int sfd = -EBADF, dfd = -EBADF;
        struct stat st = *source_st;
        int r;

        if (!path)
                return -ENOMEM;

        /* a second name of an inode we copied already */
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
                for (size_t i = 0; i < cx->n_links; i++)
                        if (cx->links[i].dev == st.st_dev && cx->links[i].ino == st.st_ino)
                                return RET_NERRNO(linkat(cx->dest_root, cx->links[i].path, to, to_name, 0));

        if (S_ISDIR(st.st_mode)) {
                if (mkdirat(to, to_name, 0700) < 0)
                        return -errno;
                sfd = openat(from, from_name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
                dfd = openat(to, to_name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
                if (sfd < 0 || dfd < 0)
                        return -errno;
                if (st.st_dev == cx->dev) {      /* never descend into another mount */
                        r = copy_dir_contents(cx, sfd, dfd, path);
                        if (r < 0)
                                return r;
                }
        } else if (S_ISREG(st.st_mode)) {
                r = copy_regular(from, from_name, to, to_name, &st, &sfd, &dfd);
                if (r < 0)
                        return r;
        } else if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t n = readlinkat(from, from_name, target, sizeof(target) - 1);

                if (n < 0)
                        return -errno;
                target[n] = 0;
                if (symlinkat(target, to, to_name) < 0)
                        return -errno;
        } else if (mknodat(to, to_name, st.st_mode & (S_IFMT|07777), st.st_rdev) < 0)
                return -errno;

        if (cx->options && cx->options->map_owner)
                cx->options->map_owner(cx->options->userdata, &st.st_uid, &st.st_gid);
        r = copy_metadata(sfd, dfd, to, to_name, &st);
        if (r < 0)
                return r;

        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
                HardLink *l = realloc(cx->links, sizeof(HardLink) * (cx->n_links + 1));
                if (!l)
                        return -ENOMEM;
                cx->links = l;
                cx->links[cx->n_links++] = (HardLink) { st.st_dev, st.st_ino, TAKE_PTR(path) };
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
                r = copy_entry(cx, from, de->d_name, to, de->d_name, rel, &st);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void copy_context_done(CopyContext *cx) {
        for (size_t i = 0; i < cx->n_links; i++)
                free(cx->links[i].path);
        free(cx->links);
}

int copy_tree(const char *source, const char *dest) {
        _cleanup_close_ int from = -EBADF, to = -EBADF;
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
        if (r >= 0)
                r = copy_metadata(from, to, -EBADF, NULL, &st);
        copy_context_done(&cx);
        return r;
}

/* Move the finished copy 'tmp' to 'name' in dir. */
static int copy_install(int dir, const char *tmp, const char *name, bool replace) {
        if (!replace)
                return RET_NERRNO(renameat2(dir, tmp, dir, name, RENAME_NOREPLACE));
        if (renameat(dir, tmp, dir, name) >= 0)
                return 0;
        if (errno != ENOTEMPTY && errno != EEXIST && errno != EISDIR && errno != ENOTDIR)
                return -errno;
        /* A non-empty directory, or another type, is in the way: swap atomically, then
         * remove the old one (now under the temporary name). */
        if (renameat2(dir, tmp, dir, name, RENAME_EXCHANGE) < 0)
                return -errno;
        return rm_rf_at(dir, tmp);
}

int copy_tree_at(int from_dir, const char *from_name, int to_dir, const char *to_name, const CopyOptions *o) {
        _cleanup_free_ char *tmp = NULL;
        CopyContext cx = { .dest_root = to_dir, .options = o };
        struct stat st;
        int r;

        if (fstatat(from_dir, from_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        unsigned nonce = (unsigned) getpid();

        (void) getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK);
        if (asprintf(&tmp, ".#%s.%08x", to_name, nonce) < 0 || strlen(tmp) > NAME_MAX)
                return -ENAMETOOLONG;
        if (!(o && o->replace) && faccessat(to_dir, to_name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0)
                return -EEXIST;         /* fail before copying, not after */

        cx.dev = st.st_dev;
        r = copy_entry(&cx, from_dir, from_name, to_dir, tmp, "", &st);
        if (r >= 0)
                r = copy_install(to_dir, tmp, to_name, o && o->replace);
        if (r < 0)
                (void) rm_rf_at(to_dir, tmp);
        copy_context_done(&cx);
        return r;
}
