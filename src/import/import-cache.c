/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "copy-util.h"
#include "fd-util.h"
#include "import-cache.h"
#include "import-common.h"
#include "import-export.h"
#include "log.h"
#include "path-util.h"
#include "string-util.h"

#define CACHE_SHA_XATTR "user.berth.sha256"
#define CACHE_ETAG_MAX 128        /* escaped; keeps the name and its temporary under NAME_MAX */

static bool etag_char_plain(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static char *etag_escape(const char *etag) {
        size_t n = 0;
        char *s;

        for (const char *p = etag; *p; p++)
                n += etag_char_plain(*p) ? 1 : 4;
        if (n > CACHE_ETAG_MAX)
                return NULL;
        s = malloc(n + 1);
        if (!s)
                return NULL;
        n = 0;
        for (const char *p = etag; *p; p++)
                n += etag_char_plain(*p) ? (size_t) sprintf(s + n, "%c", *p) :
                                           (size_t) sprintf(s + n, "\\x%02x", (unsigned char) *p);
        return s;
}

/* The inverse, also of a name's tail that is not ours: NULL when it is not well formed. */
static char *etag_unescape(const char *s, size_t len) {
        _cleanup_free_ char *e = malloc(len + 1);
        size_t n = 0;

        if (!e)
                return NULL;
        for (size_t k = 0; k < len; k++) {
                unsigned v;

                if (etag_char_plain(s[k]))
                        e[n++] = s[k];
                else if (s[k] == '\\' && k + 3 < len && s[k + 1] == 'x' && isxdigit(s[k + 2]) &&
                         isxdigit(s[k + 3]) && sscanf(s + k + 2, "%2x", &v) == 1 && v >= 0x20 && v < 0x7f) {
                        e[n++] = (char) v;
                        k += 3;
                } else
                        return NULL;
        }
        e[n] = 0;
        return TAKE_PTR(e);
}

static char *url_hash(const char *url) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        char *hex = malloc(65);

        if (!hex || EVP_Digest(url, strlen(url), md, &len, EVP_sha256(), NULL) != 1 || len != 32)
                return mfree(hex);
        for (unsigned k = 0; k < 32; k++)
                sprintf(hex + 2 * k, "%02x", md[k]);
        return hex;
}

/* The part of entry after the prefix, without ".raw" for raw images. */
static int cache_entry_tail(const PullCache *c, const char *entry, size_t *ret_len) {
        size_t len;

        if (!startswith(entry, c->prefix))
                return -ENOENT;
        entry += strlen(c->prefix);
        len = strlen(entry);
        if (c->raw) {
                if (!endswith(entry, ".raw"))
                        return -ENOENT;
                len -= 4;
        }
        *ret_len = len;
        return 0;
}

int pull_cache_open(PullCache *c, const ImagePool *pool, const char *url, bool raw) {
        _cleanup_free_ char *hash = url_hash(url);
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int dfd;

        *c = (PullCache) { .pool_fd = -EBADF, .pool = pool, .raw = raw };
        if (!hash)
                return -ENOMEM;
        c->prefix = strjoin(raw ? ".cache-raw-" : ".cache-tar-", hash, "\\x2e");
        if (!c->prefix)
                return -ENOMEM;
        c->pool_fd = open(pool->path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (c->pool_fd < 0)
                return -errno;
        dfd = fcntl(c->pool_fd, F_DUPFD_CLOEXEC, 3);
        d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                safe_close(dfd);
                return -errno;
        }
        while ((de = readdir(d))) {
                size_t len;

                if (cache_entry_tail(c, de->d_name, &len) < 0)
                        continue;
                c->etag = etag_unescape(de->d_name + strlen(c->prefix), len);
                if (!c->etag)
                        continue;
                c->entry = strdup(de->d_name);
                if (!c->entry)
                        return -ENOMEM;
                break;
        }
        return 0;
}

void pull_cache_done(PullCache *c) {
        c->pool_fd = safe_close(c->pool_fd);
        c->prefix = mfree(c->prefix);
        c->entry = mfree(c->entry);
        c->etag = mfree(c->etag);
}

static int cache_check_sha(PullCache *c, int fd, const char *sha256) {
        char got[65] = "";
        ssize_t n;

        if (!sha256 || !*sha256)
                return 0;
        n = fgetxattr(fd, CACHE_SHA_XATTR, got, sizeof(got) - 1);
        if (n != 64 || !streq(got, sha256))
                return -ESTALE;
        return 0;
}

static int cache_use_raw(PullCache *c, int fd, const char *name, bool force, bool read_only) {
        _cleanup_(import_target_done) ImportTarget t = {};
        _cleanup_close_ int out = -EBADF;
        struct stat st;
        int r;

        r = import_target_begin(&t, c->pool, name, IMPORT_RAW, force, read_only);
        if (r < 0)
                return r;
        out = openat(t.pool_fd, t.tmp_name, O_WRONLY|O_NOFOLLOW|O_CLOEXEC);
        if (out < 0 || fstat(fd, &st) < 0)
                return log_error_errno(errno, "Failed to open %s: %m", t.tmp_path);
        r = copy_file_data(fd, out, st.st_size);
        if (r < 0)
                return log_error_errno(r, "Failed to copy the cached image: %m");
        return import_target_finish(&t);
}

int pull_cache_use(PullCache *c, const char *name, const char *sha256, bool force, bool read_only) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        assert(c->entry);
        fd = openat(c->pool_fd, c->entry, (c->raw ? 0 : O_DIRECTORY)|O_RDONLY|O_NOFOLLOW|O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open the cached copy %s: %m", c->entry);
        r = cache_check_sha(c, fd, sha256);
        if (r < 0)
                return r;
        log_info("Unchanged on the server (ETag %s): making %s from the cached copy.", c->etag, name);
        return c->raw ? cache_use_raw(c, fd, name, force, read_only) : import_fs_fd(fd, c->pool, name, force, read_only);
}

/* Mark the finished copy read-only: a subvolume's flag, a file's mode, a directory's
 * immutable flag. */
static int cache_seal(PullCache *c, const char *entry) {
        _cleanup_close_ int fd = openat(c->pool_fd, entry, O_RDONLY|O_NOFOLLOW|O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if (c->raw)
                return RET_NERRNO(fchmod(fd, 0444));
        if (btrfs_subvolume_get_read_only_fd(fd) >= 0)
                return btrfs_subvolume_set_read_only_fd(fd, true);
        return fd_set_immutable(fd, true);
}

static int cache_copy(PullCache *c, const char *name, const char *entry, const char *sha256) {
        _cleanup_free_ char *src = c->raw ? strjoin(name, ".raw") : strdup(name), *from = NULL, *to = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!src)
                return -ENOMEM;
        from = path_join(c->pool->path, src);
        to = path_join(c->pool->path, entry);
        if (!from || !to)
                return -ENOMEM;
        /* A snapshot costs nothing on btrfs; elsewhere a copy (reflinked where possible). */
        if (c->raw || btrfs_snapshot(from, to, /* read_only= */ false) < 0) {
                r = copy_tree_at(c->pool_fd, src, c->pool_fd, entry, NULL);
                if (r < 0)
                        return r;
        }
        fd = openat(c->pool_fd, entry, O_RDONLY|O_NOFOLLOW|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (sha256 && *sha256 && fsetxattr(fd, CACHE_SHA_XATTR, sha256, strlen(sha256), 0) < 0)
                return -errno;
        return cache_seal(c, entry);
}

void pull_cache_store(PullCache *c, const char *name, const char *etag, const char *sha256) {
        _cleanup_free_ char *esc = NULL, *entry = NULL;
        int r;

        if (c->entry) {
                r = image_pool_remove_entry_at(c->pool_fd, c->pool->path, c->entry);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove the outdated cached copy %s: %m", c->entry);
                else
                        log_info("Removed the cached copy for ETag %s.", c->etag);
        }
        if (!etag)
                return;
        esc = etag_escape(etag);
        if (!esc) {
                log_info("ETag too long to keep a cached copy.");
                return;
        }
        entry = strjoin(c->prefix, esc, c->raw ? ".raw" : "");
        if (!entry) {
                log_oom();
                return;
        }
        r = cache_copy(c, name, entry, sha256);
        if (r < 0) {
                (void) image_pool_remove_entry_at(c->pool_fd, c->pool->path, entry);
                log_warning_errno(r, "Failed to keep a cached copy of %s: %m", name);
                return;
        }
        log_info("Kept a read-only copy as %s for the next pull.", entry);
}
