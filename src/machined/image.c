/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "copy-util.h"
#include "fd-util.h"
#include "image.h"
#include "machine-name.h"
#include "machine-query.h"
#include "mount-util.h"
#include "path-util.h"
#include "string-util.h"

static const char * const image_type_table[_IMAGE_TYPE_MAX] = {
        [IMAGE_DIRECTORY] = "directory",
        [IMAGE_SUBVOLUME] = "subvolume",
        [IMAGE_RAW]       = "raw",
        [IMAGE_BLOCK]     = "block",
};

const char *image_type_to_string(ImageType t) {
        return t >= 0 && t < _IMAGE_TYPE_MAX ? image_type_table[t] : NULL;
}

void image_pool_done(ImagePool *pool) {
        free(pool->path);
        strv_free(pool->search);
        free(pool->lock_dir);
        *pool = (ImagePool) {};
}

Image *image_free(Image *i) {
        if (!i)
                return NULL;
        free(i->name);
        free(i->path);
        free(i);
        return NULL;
}

void image_list_free(Image **l, size_t n) {
        for (size_t i = 0; i < n; i++)
                image_free(l[i]);
        free(l);
}

bool image_name_is_valid(const char *s) {
        if (!s)
                return false;
        return machine_name_is_valid(s[0] == '.' ? s + 1 : s);
}

static uint64_t timespec_usec(int64_t sec, uint32_t nsec) {
        return sec <= 0 ? 0 : (uint64_t) sec * 1000000ULL + nsec / 1000U;
}

static int fd_get_immutable(int fd) {
        int flags = 0;

        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
                return -errno;
        return !!(flags & FS_IMMUTABLE_FL);
}

static int fd_set_immutable(int fd, bool b) {
        int flags = 0, nflags;

        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
                return -errno;
        nflags = b ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
        if (nflags == flags)
                return 0;
        return RET_NERRNO(ioctl(fd, FS_IOC_SETFLAGS, &nflags));
}

/* Look at dir/entry and describe it as image 'name', or return -ENOENT if it is no image. */
static int image_make_at(int dirfd, const char *dir, const char *entry, const char *name, bool in_pool,
                         Image **ret) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct statvfs sv;
        struct statx sx;
        int r;

        if (statx(dirfd, entry, AT_SYMLINK_NOFOLLOW, STATX_TYPE|STATX_MODE|STATX_BTIME|STATX_MTIME|STATX_BLOCKS,
                  &sx) < 0)
                return -errno;

        i = calloc(1, sizeof(Image));
        if (!i)
                return -ENOMEM;
        *i = (Image) {
                .type = _IMAGE_TYPE_INVALID,
                .in_pool = in_pool,
                .read_only = !in_pool,
                .crtime = (sx.stx_mask & STATX_BTIME) ? timespec_usec(sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec) : 0,
                .mtime = timespec_usec(sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec),
                .usage = UINT64_MAX,
                .limit = UINT64_MAX,
        };

        if (S_ISDIR(sx.stx_mode) && streq(entry, name)) {
                fd = openat(dirfd, entry, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                r = btrfs_subvolume_get_read_only_fd(fd);
                if (r >= 0) {
                        i->type = IMAGE_SUBVOLUME;
                        i->read_only = i->read_only || r > 0;
                        /* Usage and limit only where quotas already run: never enabled here. */
                        (void) btrfs_qgroup_get_fd(fd, &i->usage, &i->limit);
                } else
                        /* A plain tree: its size is a walk over every file, too slow for a
                         * listing, so Usage stays unknown (UINT64_MAX), as in machined. */
                        i->type = IMAGE_DIRECTORY;
        } else if (S_ISREG(sx.stx_mode) && endswith(entry, ".raw") && strlen(entry) == strlen(name) + STRLEN(".raw")) {
                fd = openat(dirfd, entry, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
                if (fd < 0)
                        return -errno;
                i->type = IMAGE_RAW;
                i->read_only = i->read_only || !(sx.stx_mode & 0222);
                i->usage = sx.stx_blocks * 512ULL;
        } else
                return -ENOENT;

        if (fd_get_immutable(fd) > 0)
                i->read_only = true;
        if (fstatvfs(fd, &sv) >= 0 && (sv.f_flag & ST_RDONLY))
                i->read_only = true;

        i->name = strdup(name);
        i->path = path_join(dir, entry);
        if (!i->name || !i->path)
                return -ENOMEM;
        *ret = TAKE_PTR(i);
        return 0;
}

static int image_make_host(Image **ret) {
        _cleanup_(image_freep) Image *i = calloc(1, sizeof(Image));

        if (!i)
                return -ENOMEM;
        *i = (Image) {
                .type = IMAGE_DIRECTORY,
                .read_only = true,
                .usage = UINT64_MAX,
                .limit = UINT64_MAX,
        };
        i->name = strdup(".host");
        i->path = strdup("/");
        if (!i->name || !i->path)
                return -ENOMEM;
        *ret = TAKE_PTR(i);
        return 0;
}

static int image_find_in(const char *dir, const char *name, bool in_pool, Image **ret) {
        _cleanup_close_ int dirfd = -EBADF;
        _cleanup_free_ char *raw = NULL;
        int r;

        dirfd = open(dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dirfd < 0)
                return errno == ENOENT ? -ENOENT : -errno;

        r = image_make_at(dirfd, dir, name, name, in_pool, ret);
        if (r != -ENOENT)
                return r;
        raw = strjoin(name, ".raw");
        if (!raw)
                return -ENOMEM;
        return image_make_at(dirfd, dir, raw, name, in_pool, ret);
}

int image_find(const ImagePool *pool, const char *name, Image **ret) {
        int r;

        if (!image_name_is_valid(name))
                return -EINVAL;
        if (streq(name, ".host"))
                return image_make_host(ret);

        r = image_find_in(pool->path, name, true, ret);
        if (r != -ENOENT)
                return r;
        STRV_FOREACH(d, pool->search) {
                r = image_find_in(*d, name, false, ret);
                if (r != -ENOENT)
                        return r;
        }
        return -ENOENT;
}

static bool image_list_has(Image **l, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(l[i]->name, name))
                        return true;
        return false;
}

static int image_list_add(Image ***l, size_t *n, Image *i) {
        Image **nl = reallocarray(*l, *n + 1, sizeof(Image *));

        if (!nl) {
                image_free(i);
                return -ENOMEM;
        }
        nl[(*n)++] = i;
        *l = nl;
        return 0;
}

static int image_discover_in(const char *dir, bool in_pool, Image ***l, size_t *n) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        int r;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *name = NULL;
                Image *i;

                if (endswith(de->d_name, ".raw"))
                        name = strndup(de->d_name, strlen(de->d_name) - STRLEN(".raw"));
                else
                        name = strdup(de->d_name);
                if (!name)
                        return -ENOMEM;
                /* Also skips ".", "..", ".#" temporaries and anything we could not name safely. */
                if (!image_name_is_valid(name) || streq(name, ".host") || image_list_has(*l, *n, name))
                        continue;
                r = image_make_at(dirfd(d), dir, de->d_name, name, in_pool, &i);
                if (r == -ENOENT && !streq(name, de->d_name) && image_name_is_valid(de->d_name) &&
                    !image_list_has(*l, *n, de->d_name))
                        r = image_make_at(dirfd(d), dir, de->d_name, de->d_name, in_pool, &i);   /* a directory "x.raw" */
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                r = image_list_add(l, n, i);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int image_cmp(const void *a, const void *b) {
        return strcmp((*(Image * const *) a)->name, (*(Image * const *) b)->name);
}

int image_discover(const ImagePool *pool, Image ***ret, size_t *ret_n) {
        Image **l = NULL, *host;
        size_t n = 0;
        int r;

        r = image_discover_in(pool->path, true, &l, &n);
        STRV_FOREACH(d, pool->search) {
                if (r < 0)
                        break;
                r = image_discover_in(*d, false, &l, &n);
        }
        if (r >= 0)
                r = image_make_host(&host);
        if (r >= 0)
                r = image_list_add(&l, &n, host);
        if (r < 0) {
                image_list_free(l, n);
                return r;
        }
        qsort(l, n, sizeof(Image *), image_cmp);
        *ret = l;
        *ret_n = n;
        return 0;
}

int image_lock(const ImagePool *pool, const char *name, int operation, int *ret_fd) {
        _cleanup_close_ int dirfd = -EBADF, fd = -EBADF;
        int r;

        if (!image_name_is_valid(name))
                return -EINVAL;
        r = mkdir_parents_and_self(pool->lock_dir, 0700);
        if (r < 0)
                return r;
        dirfd = open(pool->lock_dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC|O_NOFOLLOW);
        if (dirfd < 0)
                return -errno;
        /* The lock files stay: unlinking them safely would need a dance for a few bytes in /run. */
        fd = openat(dirfd, name, O_RDWR|O_CREAT|O_CLOEXEC|O_NOFOLLOW|O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        if (flock(fd, operation|LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static char *image_entry(const Image *i, const char *name) {
        return i->type == IMAGE_RAW ? strjoin(name, ".raw") : strdup(name);
}

int image_rename(const ImagePool *pool, const Image *i, const char *new_name) {
        _cleanup_free_ char *from = NULL, *to = NULL;
        _cleanup_close_ int dirfd = -EBADF;

        if (!i->in_pool || image_is_host(i))
                return -EROFS;
        if (!image_name_is_valid(new_name) || streq(new_name, ".host"))
                return -EINVAL;
        from = image_entry(i, i->name);
        to = image_entry(i, new_name);
        if (!from || !to)
                return -ENOMEM;
        dirfd = open(pool->path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dirfd < 0)
                return -errno;
        return RET_NERRNO(renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE));
}

int image_set_read_only(const Image *i, bool read_only) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (!i->in_pool || image_is_host(i))
                return -EROFS;

        fd = open(i->path, (i->type == IMAGE_RAW ? O_RDONLY : O_RDONLY|O_DIRECTORY)|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        if (fd < 0)
                return -errno;
        switch (i->type) {
        case IMAGE_SUBVOLUME:
                return btrfs_subvolume_set_read_only_fd(fd, read_only);
        case IMAGE_DIRECTORY:
                /* The mode of the top directory means something inside the machine; the
                 * immutable flag does not (machined does the same). */
                return fd_set_immutable(fd, read_only);
        case IMAGE_RAW:
                if (fstat(fd, &st) < 0)
                        return -errno;
                return RET_NERRNO(fchmod(fd, (st.st_mode & 07555) | (read_only ? 0 : 0200)));
        default:
                return -EOPNOTSUPP;
        }
}

/* Remove dirfd/entry whatever it is: a subvolume, a tree, a file, also when marked read-only. */
static int remove_entry_at(int dirfd, const char *dir, const char *entry) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        if (fstatat(dirfd, entry, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return RET_NERRNO(unlinkat(dirfd, entry, 0));

        fd = openat(dirfd, entry, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        if (fd < 0)
                return -errno;
        (void) fd_set_immutable(fd, false);

        if (S_ISDIR(st.st_mode) && btrfs_subvolume_get_read_only_fd(fd) >= 0) {
                path = path_join(dir, entry);
                if (!path)
                        return -ENOMEM;
                fd = safe_close(fd);
                r = btrfs_subvolume_remove(path);
                if (r != -EPERM && r != -ENOTTY)
                        return r;
                /* Without user_subvol_rm_allowed unprivileged deletion fails; we are root,
                 * so this is some other refusal: fall back to removing the contents. */
        }
        return rm_rf_at(dirfd, entry);
}

int image_remove(const ImagePool *pool, const Image *i) {
        _cleanup_free_ char *entry = NULL;
        _cleanup_close_ int dirfd = -EBADF;

        if (!i->in_pool || image_is_host(i))
                return -EROFS;
        entry = image_entry(i, i->name);
        if (!entry)
                return -ENOMEM;
        dirfd = open(pool->path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dirfd < 0)
                return -errno;
        return remove_entry_at(dirfd, pool->path, entry);
}

int image_read_os_release(const Image *i, char ***ret) {
        _cleanup_close_ int fd = -EBADF;

        if (i->type != IMAGE_DIRECTORY && i->type != IMAGE_SUBVOLUME)
                return -EOPNOTSUPP;   /* raw images would need to be dissected */
        fd = open(i->path, O_PATH|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return os_release_read_at(fd, ret);
}

int image_set_limit(const Image *i, uint64_t limit) {
        _cleanup_close_ int fd = -EBADF;

        if (i->type != IMAGE_SUBVOLUME)
                return -EOPNOTSUPP;
        fd = open(i->path, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return btrfs_qgroup_set_limit_fd(fd, limit);
}

int image_tmp_name(const char *dst, char **ret) {
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        uint8_t rnd[6];
        char suffix[8] = ".";

        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
                return -EIO;
        for (size_t k = 0; k < sizeof(rnd); k++)
                suffix[k + 1] = chars[rnd[k] % (sizeof(chars) - 1)];
        *ret = strjoin(".#", dst, suffix);
        return *ret ? 0 : -ENOMEM;
}

static int copy_file_to(const char *source, int dirfd, const char *name) {
        _cleanup_close_ int from = -EBADF, to = -EBADF;
        struct stat st;

        from = open(source, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY);
        if (from < 0 || fstat(from, &st) < 0)
                return -errno;
        to = openat(dirfd, name, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600);
        if (to < 0)
                return -errno;
        if (ioctl(to, FICLONE, from) < 0) {
                off_t left = st.st_size;

                while (left > 0) {
                        ssize_t k = copy_file_range(from, NULL, to, NULL, (size_t) MIN(left, (off_t) (1 << 30)), 0);
                        if (k < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
                                char buf[65536];

                                /* another file system type: plain read/write from where we are */
                                while ((k = read(from, buf, sizeof(buf))) > 0)
                                        if (loop_write(to, buf, (size_t) k) < 0)
                                                return -errno;
                                if (k < 0)
                                        return -errno;
                                break;
                        }
                        if (k < 0)
                                return -errno;
                        if (k == 0)
                                break;
                        left -= k;
                }
        }
        if (fchown(to, st.st_uid, st.st_gid) < 0 || fchmod(to, st.st_mode & 07777) < 0)
                return -errno;
        return 0;
}

int image_clone(const ImagePool *pool, const Image *src, const char *dst, const char *tmp_name,
                bool read_only, char *msg, size_t msg_size) {
        _cleanup_free_ char *tmp_path = NULL, *final = NULL;
        _cleanup_close_ int dirfd = -EBADF, fd = -EBADF;
        bool snapshot = false;
        int r;

        dirfd = open(pool->path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dirfd < 0) {
                r = -errno;
                snprintf(msg, msg_size, "Failed to open pool %s: %s", pool->path, strerror(-r));
                return r;
        }
        tmp_path = path_join(pool->path, tmp_name);
        final = image_entry(src, dst);
        if (!tmp_path || !final)
                return -ENOMEM;

        if (src->type == IMAGE_SUBVOLUME) {
                /* O(1) and atomic; another file system or no btrfs: copy instead. */
                r = btrfs_snapshot(src->path, tmp_path, read_only);
                if (r >= 0)
                        snapshot = true;
                else if (r != -EXDEV && r != -ENOTTY && r != -EOPNOTSUPP) {
                        snprintf(msg, msg_size, "Failed to snapshot image '%s': %s", src->name, strerror(-r));
                        goto fail;
                }
        }
        if (!snapshot) {
                r = src->type == IMAGE_RAW ? copy_file_to(src->path, dirfd, tmp_name) : copy_tree(src->path, tmp_path);
                if (r < 0) {
                        snprintf(msg, msg_size, "Failed to copy image '%s': %s", src->name, strerror(-r));
                        goto fail;
                }
                if (read_only && src->type == IMAGE_RAW) {
                        r = RET_NERRNO(fchmodat(dirfd, tmp_name, 0444, 0));
                        if (r < 0) {
                                snprintf(msg, msg_size, "Failed to mark the copy read-only: %s", strerror(-r));
                                goto fail;
                        }
                }
                /* The data must be on disk before the name says the image is complete. */
                if (syncfs(dirfd) < 0) {
                        r = -errno;
                        snprintf(msg, msg_size, "Failed to sync pool: %s", strerror(-r));
                        goto fail;
                }
        }

        r = RET_NERRNO(renameat2(dirfd, tmp_name, dirfd, final, RENAME_NOREPLACE));
        if (r < 0) {
                if (r == -EEXIST)
                        snprintf(msg, msg_size, "Image '%s' already exists.", dst);
                else
                        snprintf(msg, msg_size, "Failed to rename the copy to '%s': %s", dst, strerror(-r));
                goto fail;
        }

        /* An immutable directory cannot be renamed: mark it only under its final name
         * (the caller holds that name's lock, so nobody sees it writable meanwhile). */
        if (read_only && !snapshot && src->type != IMAGE_RAW) {
                fd = openat(dirfd, final, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
                r = fd < 0 ? -errno : fd_set_immutable(fd, true);
                if (r < 0) {
                        snprintf(msg, msg_size, "Failed to mark '%s' read-only: %s", dst, strerror(-r));
                        (void) remove_entry_at(dirfd, pool->path, final);
                        return r;
                }
        }
        return 0;

fail:
        (void) remove_entry_at(dirfd, pool->path, tmp_name);
        return r;
}

/* ".#NAME.XXXXXX" → NAME, or NULL when entry is no temporary of ours. */
static char *tmp_owner(const char *entry) {
        const char *s = startswith(entry, ".#"), *dot;
        char *name;

        if (!s)
                return NULL;
        dot = strrchr(s, '.');
        if (!dot || dot == s || strlen(dot) != 7)
                return NULL;
        name = strndup(s, (size_t) (dot - s));
        if (name && !image_name_is_valid(name)) {
                free(name);
                return NULL;
        }
        return name;
}

int image_pool_remove_stale_temporaries(const ImagePool *pool, char * const *skip, char ***ret_removed) {
        _cleanup_strv_free_ char **removed = NULL;
        _cleanup_closedir_ DIR *d = opendir(pool->path);
        struct dirent *de;
        int r, ret = 0;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *owner = tmp_owner(de->d_name);
                _cleanup_close_ int lock = -EBADF;

                if (!owner || strv_contains(skip, de->d_name))
                        continue;
                /* A worker that is still copying holds the lock of the name it copies to
                 * (also one of a berthd that was SIGKILLed and not yet reaped). */
                if (image_lock(pool, owner, LOCK_EX, &lock) < 0)
                        continue;
                r = remove_entry_at(dirfd(d), pool->path, de->d_name);
                if (r < 0) {
                        ret = ret ?: r;
                        continue;
                }
                if (ret_removed && strv_extend(&removed, de->d_name) < 0)
                        return -ENOMEM;
        }
        if (ret_removed)
                *ret_removed = TAKE_PTR(removed);
        return ret;
}
