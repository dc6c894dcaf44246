/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One OCI layer onto a tree: the blob is decompressed by one libarchive reader (format
 * "raw", any compression) whose output feeds the tar reader of import_unpack_at(); the
 * bytes between the two are the layer's diff_id, those read from the file its digest.
 * Both are checked before the caller keeps the tree. Whiteouts (.wh.NAME removes NAME of
 * the layers below, .wh..wh..opq empties its directory of them) are handled in the entry
 * filter, against a set of the paths this layer itself wrote. */

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "import-archive.h"
#include "import-common.h"
#include "import-oci.h"
#include "log.h"
#include "path-util.h"
#include "string-util.h"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

typedef struct LayerReader {
        int fd;
        struct archive *outer;        /* decompresses the blob */
        EVP_MD_CTX *blob_md;          /* over the blob's bytes, when its digest is still to check */
        EVP_MD_CTX *diff_md;          /* over the uncompressed tar: the diff_id */
        bool outer_eof;
        char in[128 * 1024];
        char out[128 * 1024];
} LayerReader;

typedef struct LayerApply {
        void *written;                /* tsearch set of "/path" this layer wrote */
        const char *digest;           /* for messages */
} LayerApply;

static la_ssize_t blob_read(struct archive *a, void *userdata, const void **ret) {
        LayerReader *lr = userdata;
        ssize_t n;

        do {
                if (import_cancelled) {
                        archive_set_error(a, ECANCELED, "Transfer cancelled");
                        return -1;
                }
                n = read(lr->fd, lr->in, sizeof(lr->in));
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
                archive_set_error(a, errno, "Read error: %s", strerror(errno));
                return -1;
        }
        if (lr->blob_md)
                EVP_DigestUpdate(lr->blob_md, lr->in, (size_t) n);
        oci_progress_add((uint64_t) n);
        *ret = lr->in;
        return n;
}

/* The tar reader's input: the decompressed blob, hashed on its way. */
static la_ssize_t tar_read(struct archive *a, void *userdata, const void **ret) {
        LayerReader *lr = userdata;
        la_ssize_t n;

        if (lr->outer_eof)
                return 0;
        n = archive_read_data(lr->outer, lr->out, sizeof(lr->out));
        if (n < 0) {
                archive_set_error(a, archive_errno(lr->outer) > 0 ? archive_errno(lr->outer) : EIO, "%s",
                                  archive_error_string(lr->outer) ?: "Decompression failed");
                return -1;
        }
        if (n == 0)
                lr->outer_eof = true;
        EVP_DigestUpdate(lr->diff_md, lr->out, (size_t) n);
        if (import_bomb_check(lr->outer) < 0) {
                archive_set_error(a, EFBIG, "Decompression bomb");
                return -1;
        }
        *ret = lr->out;
        return n;
}

/* The tar's end-of-archive blocks and padding count for the diff_id too. */
static int drain_outer(LayerReader *lr) {
        const void *p;

        while (!lr->outer_eof) {
                la_ssize_t n = tar_read(lr->outer, lr, &p);

                if (n < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Failed to decompress the layer: %s",
                                               archive_error_string(lr->outer));
        }
        return 0;
}

static int compare_digest(EVP_MD_CTX *md, const char *want, const char *what) {
        unsigned char bin[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        char hex[65] = "";

        EVP_DigestFinal_ex(md, bin, &len);
        for (unsigned k = 0; k < len && k < 32; k++)
                snprintf(hex + 2 * k, 3, "%02x", bin[k]);
        if (!streq_ptr(oci_digest_hex(want), hex))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The %s of a layer does not match: expected %s, got sha256:%s.",
                                       what, strna(want), hex);
        return 0;
}

static char *normalized(const char *path) {
        char *p = strjoin("/", path);

        return p ? path_simplify(p) : NULL;
}

/* The path and each of its parents: a directory this layer recreated is its own too. */
static int remember(LayerApply *la, const char *path) {
        _cleanup_free_ char *p = normalized(path);

        if (!p)
                return log_oom();
        for (char *slash; strlen(p) > 1; *slash = 0) {
                char *copy;
                void *found = tfind(p, &la->written, (int (*)(const void *, const void *)) strcmp);

                if (found)
                        return 0;
                copy = strdup(p);
                if (!copy || !tsearch(copy, &la->written, (int (*)(const void *, const void *)) strcmp)) {
                        free(copy);
                        return log_oom();
                }
                slash = strrchr(p, '/');
                if (slash == p)
                        break;
        }
        return 0;
}

/* The directory dir of the tree, reached without symlinks; -ENOENT when it is not there. */
static int open_dir_beneath(int root_fd, const char *dir) {
        struct open_how how = {
                .flags = O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC,
                .resolve = RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV,
        };
        int fd = (int) syscall(SYS_openat2, root_fd, *dir ? dir : ".", &how, sizeof(how));

        return fd < 0 ? -errno : fd;
}

/* .wh..wh..opq: the lower layers' entries of the directory go; this layer's stay. */
static int whiteout_opaque(LayerApply *la, int dir_fd, const char *dir) {
        _cleanup_(closedirp) DIR *d = NULL;
        int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3), r;
        struct dirent *de;

        if (fd < 0)
                return log_error_errno(errno, "Failed to duplicate a file descriptor: %m");
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return log_error_errno(errno, "Failed to read directory /%s: %m", dir);
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;

                if (dot_or_dot_dot(de->d_name))
                        continue;
                p = strjoin("/", dir, "/", de->d_name);
                if (!p)
                        return log_oom();
                path_simplify(p);
                if (tfind(p, &la->written, (int (*)(const void *, const void *)) strcmp))
                        continue;
                r = image_pool_remove_entry_at(dirfd(d), dir, de->d_name);
                if (r < 0)
                        return log_error_errno(r, "Failed to remove %s for an opaque whiteout: %m", p);
        }
        return 0;
}

static int whiteout(LayerApply *la, int root_fd, const char *path) {
        _cleanup_free_ char *dir = NULL, *base = path_basename(path);
        _cleanup_close_ int dir_fd = -EBADF;
        const char *target;
        int r;

        if (!base)
                return log_oom();
        dir = strndup(path, strlen(path) - strlen(base));
        if (!dir)
                return log_oom();
        path_simplify(dir);
        if (streq(dir, "/") || streq(dir, "./") || streq(dir, "."))
                dir[0] = 0;
        dir_fd = open_dir_beneath(root_fd, dir);
        if (dir_fd == -ENOENT)
                return 0;
        if (dir_fd < 0)
                return log_error_errno(dir_fd, "Whiteout %s: its directory is not one of the image: %m", path);
        if (streq(base, WHITEOUT_OPAQUE))
                return whiteout_opaque(la, dir_fd, dir);
        target = base + strlen(WHITEOUT_PREFIX);
        if (!*target || dot_or_dot_dot(target))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Invalid whiteout %s in layer %s.", path,
                                       strna(la->digest));
        r = image_pool_remove_entry_at(dir_fd, dir, target);
        if (r < 0)
                return log_error_errno(r, "Failed to remove %s%s for a whiteout: %m", dir, target);
        return 0;
}

/* Whiteouts are applied and skipped; every other entry is remembered and unpacked. */
static int layer_filter(struct archive_entry *e, int root_fd, void *userdata) {
        LayerApply *la = userdata;
        const char *path = archive_entry_pathname(e);
        _cleanup_free_ char *base = path_basename(path);
        int r;

        if (!base)
                return log_oom();
        if (startswith(base, WHITEOUT_PREFIX)) {
                r = whiteout(la, root_fd, path);
                return r < 0 ? r : 0;
        }
        r = remember(la, path);
        return r < 0 ? r : 1;
}

static int layer_reader_open(LayerReader *lr, const OciLayer *l) {
        struct archive_entry *e;

        lr->outer = archive_read_new();
        lr->diff_md = EVP_MD_CTX_new();
        if (!l->verified && l->digest)
                lr->blob_md = EVP_MD_CTX_new();
        if (!lr->outer || !lr->diff_md || (!l->verified && l->digest && !lr->blob_md) ||
            EVP_DigestInit_ex(lr->diff_md, EVP_sha256(), NULL) != 1 ||
            (lr->blob_md && EVP_DigestInit_ex(lr->blob_md, EVP_sha256(), NULL) != 1))
                return log_oom();
        archive_read_support_filter_all(lr->outer);
        archive_read_support_format_raw(lr->outer);
        if (archive_read_open(lr->outer, lr, NULL, blob_read, NULL) != ARCHIVE_OK ||
            archive_read_next_header(lr->outer, &e) != ARCHIVE_OK)
                return import_cancelled ? -ECANCELED :
                        log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Failed to open layer %s: %s",
                                        strna(l->digest ?: l->path), archive_error_string(lr->outer));
        return 0;
}

static void layer_reader_done(LayerReader *lr) {
        if (lr->outer)
                archive_read_free(lr->outer);
        EVP_MD_CTX_free(lr->blob_md);
        EVP_MD_CTX_free(lr->diff_md);
}

static void archive_readp(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

static int layer_unpack(LayerReader *lr, const OciLayer *l, int root_fd, bool private_pool) {
        _cleanup_(archive_readp) struct archive *tar = archive_read_new();
        LayerApply la = { .digest = l->digest ?: l->diff_id };
        int r;

        if (!tar)
                return log_oom();
        archive_read_support_format_tar(tar);
        if (archive_read_open(tar, lr, NULL, tar_read, NULL) != ARCHIVE_OK)
                return import_cancelled ? -ECANCELED :
                        log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Layer %s is not a tar archive: %s",
                                        la.digest, archive_error_string(tar));
        r = import_unpack_at(tar, root_fd, 0, private_pool, layer_filter, &la);
        tdestroy(la.written, free);
        return r;
}

int oci_layer_apply(OciLayer *l, int root_fd, bool private_pool) {
        _cleanup_(layer_reader_done) LayerReader lr = { .fd = l->fd };
        int r;

        if (lseek(l->fd, 0, SEEK_SET) < 0)
                return log_error_errno(errno, "Failed to rewind layer %s: %m", strna(l->digest));
        r = layer_reader_open(&lr, l);
        if (r < 0)
                return r;
        r = layer_unpack(&lr, l, root_fd, private_pool);
        if (r >= 0)
                r = drain_outer(&lr);
        if (r < 0)
                return r;
        if (lr.blob_md) {
                r = compare_digest(lr.blob_md, l->digest, "digest");
                if (r < 0)
                        return r;
        }
        return compare_digest(lr.diff_md, l->diff_id, "diff_id");
}
