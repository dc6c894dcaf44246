/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* import-oci: an OCI image layout (index.json, blobs/sha256/HEX) as a directory or a tar
 * archive, or a docker save archive (manifest.json, its config file and layer tars). An
 * archive is unpacked first into a hidden temporary of the pool (its blobs only: files,
 * directories and the symlinks old docker versions use between layer directories). Every
 * file is opened beneath the layout, without leaving it; every blob with a digest is
 * checked against it, every layer against its diff_id. */

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "import-archive.h"
#include "import-common.h"
#include "import-oci.h"
#include "log.h"
#include "path-util.h"
#include "string-util.h"

typedef struct Layout {
        int dir_fd;
} Layout;

static int open_beneath(int dir_fd, const char *path) {
        struct open_how how = {
                .flags = O_RDONLY|O_NOFOLLOW|O_CLOEXEC,
                .resolve = RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV,
        };
        int fd = (int) syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));

        return fd < 0 ? -errno : fd;
}

static int read_small(int dir_fd, const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open_beneath(dir_fd, path);

        if (fd < 0)
                return fd;
        return read_full_fd(fd, OCI_BLOB_MAX, ret, ret_size);
}

static char *blob_path(const char *digest) {
        const char *hex = oci_digest_hex(digest);

        return hex ? strjoin("blobs/sha256/", hex) : NULL;
}

/* A manifest, index or config of the layout, checked against its digest. */
static int read_blob(Layout *lo, const char *digest, char **ret, size_t *ret_size) {
        _cleanup_free_ char *path = blob_path(digest), *data = NULL;
        char hex[65];
        size_t n;
        int r;

        if (!path)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Invalid digest '%s' in the layout.", strna(digest));
        r = read_small(lo->dir_fd, path, &data, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to read blob %s of the layout: %m", digest);
        oci_sha256_hex(data, n, hex);
        if (!streq(hex, oci_digest_hex(digest)))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Blob %s of the layout does not match its digest.",
                                       digest);
        *ret = TAKE_PTR(data);
        if (ret_size)
                *ret_size = n;
        return 0;
}

static int layout_fetch(OciImage *img, OciLayer *l) {
        Layout *lo = img->userdata;
        _cleanup_free_ char *path = l->path ? strdup(l->path) : blob_path(l->digest);

        if (!path)
                return log_oom();
        l->fd = open_beneath(lo->dir_fd, path);
        if (l->fd < 0)
                return log_error_errno(l->fd, "Failed to open layer %s of the layout: %m", path);
        /* Checked while it is unpacked (its digest and diff_id). */
        l->verified = false;
        return 0;
}

static json_object *parse_json(const char *data, const char *what) {
        json_object *o = json_tokener_parse(data);

        if (!o || !json_object_is_type(o, json_type_object)) {
                if (o)
                        json_object_put(o);
                log_error("%s is not a JSON object.", what);
                return NULL;
        }
        return o;
}

/* From index.json down through nested indexes to this host's manifest. */
static int layout_load_oci(Layout *lo, OciImage *img, char *index_data) {
        json_object *doc = parse_json(index_data, "index.json");
        _cleanup_free_ char *data = NULL, *config = NULL;
        size_t config_size = 0;
        int r = 0;

        for (unsigned depth = 0; doc && oci_json_is_index(doc) && r >= 0; depth++) {
                json_object *d = oci_index_select(doc), *annotations, *name;
                const char *digest = d ? json_object_get_string(json_object_object_get(d, "digest")) : NULL;

                if (!d || depth > 4) {
                        r = log_error_errno(SYNTHETIC_ERRNO(ENOENT), "The layout has no image for this host's platform.");
                        break;
                }
                if (!img->ref && json_object_object_get_ex(d, "annotations", &annotations) &&
                    json_object_object_get_ex(annotations, "org.opencontainers.image.ref.name", &name))
                        img->ref = strdup(json_object_get_string(name));
                free(img->digest);
                img->digest = strdup(digest);
                data = mfree(data);
                r = read_blob(lo, digest, &data, NULL);
                json_object_put(doc);
                doc = r >= 0 ? parse_json(data, digest) : NULL;
        }
        if (r >= 0 && !doc)
                r = -EBADMSG;
        if (r >= 0)
                r = read_blob(lo, json_object_get_string(json_object_object_get(json_object_object_get(doc, "config"),
                                                                                "digest")),
                              &config, &config_size);
        if (r >= 0)
                r = oci_image_load(img, doc, config, config_size);
        if (doc)
                json_object_put(doc);
        return r;
}

/* docker save: [{"Config": FILE, "RepoTags": [...], "Layers": [FILE...]}]; the layers are
 * plain tars, checked against the config's diff_ids only. */
static int layout_load_docker(Layout *lo, OciImage *img, const char *manifest_data) {
        json_object *doc = json_tokener_parse(manifest_data), *first, *layers, *tags;
        _cleanup_free_ char *config = NULL;
        size_t config_size = 0, n;
        char hex[65];
        int r;

        if (!doc || !json_object_is_type(doc, json_type_array) || json_object_array_length(doc) < 1 ||
            !json_object_is_type(first = json_object_array_get_idx(doc, 0), json_type_object) ||
            !json_object_object_get_ex(first, "Layers", &layers) || !json_object_is_type(layers, json_type_array)) {
                if (doc)
                        json_object_put(doc);
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "manifest.json is not a docker save manifest.");
        }
        if (json_object_array_length(doc) > 1)
                log_warning("The archive holds %zu images; importing the first.", json_object_array_length(doc));
        r = read_small(lo->dir_fd, strempty(json_object_get_string(json_object_object_get(first, "Config"))), &config,
                       &config_size);
        if (r < 0) {
                json_object_put(doc);
                return log_error_errno(r, "Failed to read the image config of the archive: %m");
        }
        oci_sha256_hex(config, config_size, hex);
        img->digest = strjoin("sha256:", hex);   /* the image id */
        if (json_object_object_get_ex(first, "RepoTags", &tags) && json_object_array_length(tags) > 0)
                img->ref = strdup(json_object_get_string(json_object_array_get_idx(tags, 0)));
        /* The manifest's layer list, as the OCI loader expects it, without digests. */
        r = oci_image_load(img, NULL, config, config_size);
        n = json_object_array_length(layers);
        if (r >= 0 && n != img->n_layers)
                r = log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "manifest.json lists %zu layers, the config %zu diff_ids.",
                                    n, img->n_layers);
        for (size_t k = 0; r >= 0 && k < n; k++) {
                OciLayer *l = img->layers + k;
                _cleanup_close_ int fd = -EBADF;
                struct stat st;

                l->path = strdup(strempty(json_object_get_string(json_object_array_get_idx(layers, k))));
                if (!l->path) {
                        r = log_oom();
                        break;
                }
                /* Its size, for the progress. */
                fd = open_beneath(lo->dir_fd, l->path);
                if (fd >= 0 && fstat(fd, &st) >= 0)
                        l->size = (uint64_t) st.st_size;
        }
        json_object_put(doc);
        return r;
}

static int layout_load(Layout *lo, OciImage *img) {
        _cleanup_free_ char *data = NULL;
        int r;

        img->fetch = layout_fetch;
        img->userdata = lo;
        r = read_small(lo->dir_fd, "index.json", &data, NULL);
        if (r >= 0)
                return layout_load_oci(lo, img, data);
        if (r != -ENOENT)
                return log_error_errno(r, "Failed to read index.json: %m");
        r = read_small(lo->dir_fd, "manifest.json", &data, NULL);
        if (r == -ENOENT)
                return log_error_errno(r, "Neither an OCI image layout (index.json) nor a docker save archive (manifest.json).");
        if (r < 0)
                return log_error_errno(r, "Failed to read manifest.json: %m");
        return layout_load_docker(lo, img, data);
}

/* Blobs are files; old docker saves link layer directories with symlinks. */
static int archive_filter(struct archive_entry *e, int root_fd, void *userdata) {
        mode_t type = archive_entry_filetype(e);

        if (type == AE_IFREG || type == AE_IFDIR || type == AE_IFLNK)
                return 1;
        log_warning("Skipping %s in the image archive: not a file, directory or symlink.", archive_entry_pathname(e));
        return 0;
}

static void archive_readp(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

static int unpack_archive(int fd, int dir_fd) {
        _cleanup_(archive_readp) struct archive *a = archive_read_new();

        if (!a)
                return log_oom();
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_fd(a, fd, 256 * 1024) != ARCHIVE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Failed to open the image archive: %s",
                                       archive_error_string(a));
        /* No progress of its own: the transfer's is over the layers (oci_progress_add()). */
        return import_unpack_at(a, dir_fd, 0, false, archive_filter, NULL);
}

/* The archive's files in a hidden temporary of the pool (its name lock makes it a
 * temporary in use; CleanPool removes it after a crash). */
static int unpack_to_temporary(int fd, const ImagePool *pool, const char *name, ImportTarget *t) {
        _cleanup_free_ char *scratch = strjoin(".oci-src-", name);
        _cleanup_close_ int dir_fd = -EBADF;
        int r;

        if (!scratch || strlen(scratch) > 64)
                return scratch ? log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Image name %s is too long.", name) : log_oom();
        r = import_target_begin(t, pool, scratch, IMPORT_TREE, /* force= */ false, false);
        if (r < 0)
                return r;
        dir_fd = openat(t->pool_fd, t->tmp_name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        if (dir_fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", t->tmp_path);
        r = unpack_archive(fd, dir_fd);
        if (r < 0)
                return r;
        return TAKE_FD(dir_fd);
}

int import_oci_fd(int fd, const ImagePool *pool, const char *name, bool force, bool read_only) {
        _cleanup_(import_target_done) ImportTarget scratch = {};
        _cleanup_(oci_image_done) OciImage img = {};
        _cleanup_close_ int dir_fd = -EBADF;
        Layout lo;
        struct stat st;
        int r;

        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Failed to look at the input: %m");
        if (S_ISDIR(st.st_mode)) {
                dir_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (dir_fd < 0)
                        return log_error_errno(errno, "Failed to duplicate a file descriptor: %m");
        } else {
                dir_fd = unpack_to_temporary(fd, pool, name, &scratch);
                if (dir_fd < 0)
                        return dir_fd;
        }
        lo = (Layout) { .dir_fd = dir_fd };
        r = layout_load(&lo, &img);
        if (r < 0)
                return r;
        log_info("Importing %s%s%s: %zu layers.", strna(img.ref), img.digest ? " " : "", strempty(img.digest),
                 img.n_layers);
        return oci_image_install(&img, pool, name, force, read_only);
}
