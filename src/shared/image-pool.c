/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libmount.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "fd-util.h"
#include "image-pool.h"
#include "machine-name.h"
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

int image_pool_init(ImagePool *pool, const char *pool_path, const char *name_lock_dir) {
        static const char * const search[] = { IMAGE_SEARCH_PATH_DEFAULT };

        *pool = (ImagePool) {};
        pool->path = strdup(pool_path ?: IMAGE_POOL_DEFAULT);
        if (!pool->path)
                goto oom;
        /* An explicit pool stands alone (berthd --pool=, for tests and private pools). */
        if (pool_path) {
                if (strv_extend(&pool->search, pool_path) < 0)
                        goto oom;
        } else
                for (size_t k = 0; k < ELEMENTSOF(search); k++)
                        if (strv_extend(&pool->search, search[k]) < 0)
                                goto oom;
        if (name_lock_dir) {
                pool->name_lock_dir = strdup(name_lock_dir);
                if (!pool->name_lock_dir)
                        goto oom;
        }
        return 0;
oom:
        image_pool_done(pool);
        return -ENOMEM;
}

void image_pool_done(ImagePool *pool) {
        free(pool->path);
        strv_free(pool->search);
        free(pool->name_lock_dir);
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

#define BTRFS_SUBVOLUME_ROOT_INO 256

static uint64_t timespec_usec(int64_t sec, uint32_t nsec) {
        return sec <= 0 ? 0 : (uint64_t) sec * 1000000ULL + nsec / 1000U;
}

/* *ret_subvolume_read_only: the subvolume's flag, asked once (it costs three syscalls). */
static ImageType image_type_of(int fd, const struct statx *sx, bool is_raw_name, bool in_pool,
                               bool *ret_subvolume_read_only) {
        int r;

        if (S_ISDIR(sx->stx_mode) && !is_raw_name) {
                /* Only a subvolume's root directory has inode 256: skip the syscalls for the rest
                 * (and for an entry left unopened, fd < 0). */
                if (fd < 0 || ((sx->stx_mask & STATX_INO) && sx->stx_ino != BTRFS_SUBVOLUME_ROOT_INO))
                        return IMAGE_DIRECTORY;
                r = btrfs_subvolume_get_read_only_fd(fd);
                *ret_subvolume_read_only = r > 0;
                return r >= 0 ? IMAGE_SUBVOLUME : IMAGE_DIRECTORY;
        }
        if (S_ISREG(sx->stx_mode) && is_raw_name)
                return IMAGE_RAW;
        if (S_ISBLK(sx->stx_mode) && is_raw_name && !in_pool)
                return IMAGE_BLOCK;
        return _IMAGE_TYPE_INVALID;
}

/* Whether the mount with this ID is a network or FUSE file system: one whose server may
 * never answer, so that even opening its root can block for ever. /proc/self/mountinfo
 * says so without touching the file system itself. */
static bool mount_may_hang(uint64_t mnt_id) {
        struct libmnt_table *t = mnt_new_table_from_file("/proc/self/mountinfo");
        struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
        struct libmnt_fs *fs;
        bool r = false;

        while (t && it && mnt_table_next_fs(t, it, &fs) == 0) {
                const char *type;

                if ((uint64_t) mnt_fs_get_id(fs) != mnt_id)
                        continue;
                type = mnt_fs_get_fstype(fs) ?: "";
                r = mnt_fs_is_netfs(fs) || startswith(type, "fuse") || streq(type, "virtiofs");
                break;
        }
        mnt_free_iter(it);
        mnt_unref_table(t);
        return r;
}

/* Look at dir/entry and describe it as image 'name', or return -ENOENT if it is no image.
 * An entry that is the root of a network or FUSE mount is described from what the kernel
 * has cached (AT_STATX_DONT_SYNC asks no server) and never opened: listing the pool must
 * not hang on a server that does not answer. */
static int image_make_at(int dirfd, const char *dir, const char *entry, const char *name, bool in_pool,
                         Image **ret) {
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_close_ int fd = -EBADF;
        /* Outside the pool symlinks are followed: /etc/machines is meant for them. */
        int nofollow = in_pool ? O_NOFOLLOW : 0;
        bool is_raw_name = !streq(entry, name), subvolume_read_only = false;
        struct statvfs sv;
        struct statx sx;
        bool unopened;

        if (is_raw_name && (!endswith(entry, ".raw") || strlen(entry) != strlen(name) + STRLEN(".raw")))
                return -ENOENT;
        if (statx(dirfd, entry, (in_pool ? AT_SYMLINK_NOFOLLOW : 0)|AT_STATX_DONT_SYNC,
                  STATX_TYPE|STATX_MODE|STATX_INO|STATX_BTIME|STATX_MTIME|STATX_BLOCKS|STATX_MNT_ID, &sx) < 0)
                return -errno;
        if (!S_ISDIR(sx.stx_mode) && !S_ISREG(sx.stx_mode) && !S_ISBLK(sx.stx_mode))
                return -ENOENT;
        unopened = (sx.stx_attributes_mask & sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) &&
                   (sx.stx_mask & STATX_MNT_ID) && mount_may_hang(sx.stx_mnt_id);
        if (!unopened) {
                fd = openat(dirfd, entry, (S_ISDIR(sx.stx_mode) ? O_DIRECTORY : 0)|O_RDONLY|nofollow|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
                if (fd < 0)
                        return errno == ELOOP ? -ENOENT : -errno;
        }

        i = calloc(1, sizeof(Image));
        if (!i)
                return -ENOMEM;
        *i = (Image) {
                .type = image_type_of(fd, &sx, is_raw_name, in_pool, &subvolume_read_only),
                .in_pool = in_pool,
                .read_only = !in_pool,
                .crtime = (sx.stx_mask & STATX_BTIME) ? timespec_usec(sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec) : 0,
                .mtime = timespec_usec(sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec),
                .usage = UINT64_MAX,
                .limit = UINT64_MAX,
        };

        switch (i->type) {
        case IMAGE_SUBVOLUME:
                i->read_only = i->read_only || subvolume_read_only;
                /* Usage and limit only where quotas already run: never enabled here. */
                (void) btrfs_qgroup_get_fd(fd, &i->usage, &i->limit);
                break;
        case IMAGE_DIRECTORY:
                /* A plain tree: its size is a walk over every file, too slow for a listing,
                 * so Usage stays unknown (UINT64_MAX), as in machined. */
                break;
        case IMAGE_RAW:
                i->read_only = i->read_only || !(sx.stx_mode & 0222);
                i->usage = sx.stx_blocks * 512ULL;
                break;
        case IMAGE_BLOCK:
                break;
        default:
                return -ENOENT;
        }

        /* statx() reports the immutable flag where the file system supports it: no ioctl. */
        if (unopened)
                ;
        else if (i->type != IMAGE_BLOCK &&
            ((sx.stx_attributes_mask & STATX_ATTR_IMMUTABLE) ? (sx.stx_attributes & STATX_ATTR_IMMUTABLE)
                                                              : fd_get_immutable(fd) > 0))
                i->read_only = true;
        if (!unopened && fstatvfs(fd, &sv) >= 0 && (sv.f_flag & ST_RDONLY))
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

static bool image_pool_is_pool(const ImagePool *pool, const char *dir) {
        return streq(dir, pool->path);
}

static int image_find_in(const char *dir, const char *name, bool in_pool, Image **ret) {
        _cleanup_close_ int dirfd = -EBADF;
        _cleanup_free_ char *raw = NULL;
        int r;

        dirfd = open(dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dirfd < 0)
                return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;

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

        STRV_FOREACH(d, pool->search) {
                r = image_find_in(*d, name, image_pool_is_pool(pool, *d), ret);
                if (r != -ENOENT)
                        return r;
        }
        return -ENOENT;
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

/* Every image in dir, unsorted, possibly two with one name ("x" and "x.raw"). */
static int image_discover_in(const char *dir, bool in_pool, Image ***l, size_t *n) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        int r;

        if (!d)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
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
                if (!image_name_is_valid(name) || streq(name, ".host"))
                        continue;
                r = image_make_at(dirfd(d), dir, de->d_name, name, in_pool, &i);
                if (r == -ENOENT && !streq(name, de->d_name) && image_name_is_valid(de->d_name))
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

typedef struct ImageRank {
        Image *image;
        size_t dir;           /* index in the search path */
} ImageRank;

/* By name; for one name the image image_find() returns first: the earlier search path
 * directory, then "x" before "x.raw". */
static int image_rank_cmp(const void *a, const void *b) {
        const ImageRank *x = a, *y = b;
        int c = strcmp(x->image->name, y->image->name);

        if (c != 0)
                return c;
        if (x->dir != y->dir)
                return x->dir < y->dir ? -1 : 1;
        return (x->image->type == IMAGE_RAW || x->image->type == IMAGE_BLOCK) -
               (y->image->type == IMAGE_RAW || y->image->type == IMAGE_BLOCK);
}

/* Sort l by name and drop the images a name found earlier hides: one sort instead of a
 * search per entry (that was quadratic: 20,000 images took a second in strcmp()). */
static int image_list_sort_unique(Image **l, size_t *n, const size_t *dir_end, size_t n_dirs) {
        _cleanup_free_ ImageRank *rank = NULL;
        size_t k = 0, out = 0;

        if (*n == 0)
                return 0;
        rank = reallocarray(NULL, *n, sizeof(ImageRank));
        if (!rank)
                return -ENOMEM;
        for (size_t i = 0, d = 0; i < *n; i++) {
                while (d < n_dirs && i >= dir_end[d])
                        d++;
                rank[i] = (ImageRank) { l[i], d };
        }
        qsort(rank, *n, sizeof(ImageRank), image_rank_cmp);
        for (k = 0; k < *n; k++) {
                if (out > 0 && streq(l[out - 1]->name, rank[k].image->name)) {
                        image_free(rank[k].image);
                        continue;
                }
                l[out++] = rank[k].image;
        }
        *n = out;
        return 0;
}

int image_discover(const ImagePool *pool, Image ***ret, size_t *ret_n) {
        _cleanup_free_ size_t *dir_end = NULL;
        size_t n = 0, n_dirs = strv_length(pool->search) + 1, k = 0;
        Image **l = NULL, *host;
        int r = 0;

        dir_end = reallocarray(NULL, n_dirs, sizeof(size_t));
        if (!dir_end)
                return -ENOMEM;
        /* The host comes first: nothing in the search path may be called ".host". */
        r = image_make_host(&host);
        if (r >= 0)
                r = image_list_add(&l, &n, host);
        if (r >= 0)
                dir_end[k++] = n;
        STRV_FOREACH(d, pool->search) {
                if (r < 0)
                        break;
                r = image_discover_in(*d, image_pool_is_pool(pool, *d), &l, &n);
                dir_end[k++] = n;
        }
        if (r >= 0)
                r = image_list_sort_unique(l, &n, dir_end, n_dirs);
        if (r < 0) {
                image_list_free(l, n);
                return r;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

int image_path_lock_at(const char *lock_dir, const char *path, int operation, LockFile *ret) {
        char key[64];
        _cleanup_free_ char *p = NULL;
        struct stat st, root;
        int r;

        /* Keyed like systemd's image_path_lock(): one name wherever the image is reached
         * from (a symlink in /etc/machines, a bind mount), also for a tree that is a mount
         * point. stat() follows symlinks on purpose. */
        if (stat(path, &st) < 0)
                return -errno;
        /* The host's root: nobody may change it, and every process runs from it anyway. */
        if (stat("/", &root) >= 0 && st.st_dev == root.st_dev && st.st_ino == root.st_ino) {
                if ((operation & ~LOCK_NB) == LOCK_EX)
                        return -EBUSY;
                *ret = (LockFile) LOCK_FILE_NULL;
                return 0;
        }
        if (S_ISBLK(st.st_mode))
                snprintf(key, sizeof(key), "block-%u:%u", major(st.st_rdev), minor(st.st_rdev));
        else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))
                snprintf(key, sizeof(key), "inode-%" PRIu64 ":%" PRIu64, (uint64_t) st.st_dev, (uint64_t) st.st_ino);
        else
                return -ENOTTY;

        r = mkdir_parents_and_self(lock_dir, 0700);
        if (r < 0)
                return r;
        p = path_join(lock_dir, key);
        if (!p)
                return -ENOMEM;
        return lock_file_acquire(p, operation, /* ofd= */ true, ret);
}

int image_name_lock(const ImagePool *pool, const char *name, int operation, LockFile *ret) {
        _cleanup_free_ char *p = NULL;
        int r;

        if (!image_name_is_valid(name))
                return -EINVAL;
        if (!pool->name_lock_dir)
                return -EOPNOTSUPP;
        r = mkdir_parents_and_self(pool->name_lock_dir, 0700);
        if (r < 0)
                return r;
        p = path_join(pool->name_lock_dir, name);
        if (!p)
                return -ENOMEM;
        return lock_file_acquire(p, operation | LOCK_NB, /* ofd= */ false, ret);
}

/* Remove dirfd/entry whatever it is: a subvolume, a tree, a file, also when marked read-only. */
int image_pool_remove_entry_at(int dirfd, const char *dir, const char *entry) {
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
