/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* An OCI image into the pool, whatever its source: the manifest and config make an
 * OciImage (layers with digests, diff_ids and chain ids), and oci_image_install() builds
 * the tree. On btrfs every prefix of the layer list is kept as a hidden read-only
 * subvolume OCI_LAYER_PREFIX + chain id, and the next prefix (and finally the image) is a
 * snapshot of it: a second image on the same base layers fetches and stores only its
 * own. Elsewhere the layers are applied into the new image directory. */

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "fd-util.h"
#include "import-common.h"
#include "import-oci.h"
#include "import-pull.h"
#include "log.h"
#include "path-util.h"
#include "string-util.h"

const char *oci_digest_hex(const char *digest) {
        const char *hex = digest ? startswith(digest, "sha256:") : NULL;

        if (!hex || strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
                return NULL;
        return hex;
}

void oci_sha256_hex(const void *data, size_t n, char ret[static 65]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;

        EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
        for (unsigned k = 0; k < 32; k++)
                snprintf(ret + 2 * k, 3, "%02x", md[k]);
}

static const char *json_string_of(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static json_object *json_array_of(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
                return NULL;
        return v;
}

/* The host as GOARCH names it (the OCI platform's architecture), with the ARM variant. */
static const char *host_goarch(const char **ret_variant) {
        static const struct { const char *machine, *goarch, *variant; } table[] = {
                { "x86_64", "amd64", NULL }, { "aarch64", "arm64", NULL }, { "i686", "386", NULL },
                { "i586", "386", NULL }, { "armv7l", "arm", "v7" }, { "armv6l", "arm", "v6" },
                { "ppc64le", "ppc64le", NULL }, { "s390x", "s390x", NULL }, { "riscv64", "riscv64", NULL },
                { "mips64", "mips64", NULL }, { "loongarch64", "loong64", NULL },
        };
        struct utsname u;

        *ret_variant = NULL;
        if (uname(&u) < 0)
                return NULL;
        for (size_t k = 0; k < ELEMENTSOF(table); k++)
                if (streq(u.machine, table[k].machine)) {
                        *ret_variant = table[k].variant;
                        return table[k].goarch;
                }
        return NULL;
}

bool oci_platform_matches(json_object *platform) {
        const char *variant, *arch = host_goarch(&variant), *want_variant = json_string_of(platform, "variant");

        if (!arch || !streq_ptr(json_string_of(platform, "os"), "linux") ||
            !streq_ptr(json_string_of(platform, "architecture"), arch))
                return false;
        /* An ARMv7 host runs v6 images too, but an image for another variant is a guess. */
        return !want_variant || !variant || streq(want_variant, variant);
}

bool oci_json_is_index(json_object *doc) {
        const char *mt = json_string_of(doc, "mediaType");

        if (mt)
                return streq(mt, OCI_MEDIA_INDEX) || streq(mt, DOCKER_MEDIA_LIST);
        return json_array_of(doc, "manifests") && !json_array_of(doc, "layers");
}

json_object *oci_index_select(json_object *index) {
        json_object *l = json_array_of(index, "manifests"), *unplatformed = NULL;
        size_t n = l ? json_object_array_length(l) : 0;

        for (size_t k = 0; k < n; k++) {
                json_object *d = json_object_array_get_idx(l, k), *platform;

                if (!oci_digest_hex(json_string_of(d, "digest")))
                        continue;
                if (!json_object_object_get_ex(d, "platform", &platform)) {
                        if (!unplatformed)
                                unplatformed = d;
                        continue;
                }
                if (oci_platform_matches(platform))
                        return d;
        }
        return unplatformed;
}

/* ChainID(L1) = DiffID(L1), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). */
static int chain_ids(OciImage *img) {
        for (size_t k = 0; k < img->n_layers; k++) {
                OciLayer *l = img->layers + k;
                _cleanup_free_ char *s = NULL;

                if (!oci_digest_hex(l->diff_id))
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Image config has an invalid diff_id '%s'.",
                                               strna(l->diff_id));
                if (k == 0) {
                        strcpy(l->chain, oci_digest_hex(l->diff_id));
                        continue;
                }
                s = strjoin("sha256:", img->layers[k - 1].chain, " ", l->diff_id);
                if (!s)
                        return log_oom();
                oci_sha256_hex(s, strlen(s), l->chain);
        }
        return 0;
}

static bool layer_type_supported(const char *mt) {
        /* Plain, gzip and zstd tars (libarchive tells them by content); not encrypted or
         * foreign ("nondistributable") layers, which are not in the registry at all. */
        return !mt || ((strstr(mt, ".tar") || strstr(mt, "tar.gzip")) && !strstr(mt, "encrypted") &&
                       !strstr(mt, "nondistributable") && !strstr(mt, "foreign"));
}

int oci_image_load(OciImage *img, json_object *manifest, const char *config_data, size_t config_size) {
        json_object *layers = json_array_of(manifest, "layers"), *rootfs, *diff_ids;
        size_t n;

        img->config = json_tokener_parse(config_data);
        if (!img->config || !json_object_is_type(img->config, json_type_object))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The image config is not a JSON object.");
        if (!json_object_object_get_ex(img->config, "rootfs", &rootfs) || !(diff_ids = json_array_of(rootfs, "diff_ids")))
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The image config has no rootfs.diff_ids.");
        /* Without a manifest (docker save) the config's diff_ids are the layers. */
        n = manifest ? (layers ? json_object_array_length(layers) : 0) : json_object_array_length(diff_ids);
        if (json_object_array_length(diff_ids) != n)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "The manifest lists %zu layers, the config %zu diff_ids.",
                                       n, json_object_array_length(diff_ids));
        img->layers = calloc(MAX(n, 1U), sizeof(OciLayer));
        if (!img->layers)
                return log_oom();
        for (size_t k = 0; k < n; k++) {
                json_object *d = layers ? json_object_array_get_idx(layers, k) : NULL, *size;
                OciLayer *l = img->layers + k;
                const char *digest = json_string_of(d, "digest"), *mt = json_string_of(d, "mediaType");

                l->fd = -EBADF;
                img->n_layers++;
                l->diff_id = strdup(strempty(json_object_get_string(json_object_array_get_idx(diff_ids, k))));
                if (!l->diff_id)
                        return log_oom();
                if (!manifest)
                        continue;
                if (!oci_digest_hex(digest))
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Layer %zu has no valid sha256 digest.", k);
                if (!layer_type_supported(mt))
                        return log_error_errno(SYNTHETIC_ERRNO(EPROTONOSUPPORT), "Layer %s is of type %s, not supported.",
                                               digest, mt);
                l->digest = strdup(digest);
                l->media_type = mt ? strdup(mt) : NULL;
                if (!l->digest || (mt && !l->media_type))
                        return log_oom();
                if (json_object_object_get_ex(d, "size", &size))
                        l->size = (uint64_t) json_object_get_int64(size);
        }
        return chain_ids(img);
}

void oci_image_done(OciImage *img) {
        for (size_t k = 0; k < img->n_layers; k++) {
                free(img->layers[k].digest);
                free(img->layers[k].media_type);
                free(img->layers[k].diff_id);
                free(img->layers[k].path);
                safe_close(img->layers[k].fd);
        }
        free(img->layers);
        free(img->ref);
        free(img->digest);
        if (img->config)
                json_object_put(img->config);
        *img = (OciImage) {};
}

static uint64_t progress_done = 0, progress_total = 0;

void oci_progress_add(uint64_t n) {
        progress_done += n;
        import_report(progress_done, progress_total);
}

/* The bytes layers from index 'from' on will be read: once to unpack, once more before
 * that when they are downloaded. */
static void progress_begin(const OciImage *img, size_t from) {
        progress_done = progress_total = 0;
        for (size_t k = from; k < img->n_layers; k++)
                progress_total += img->layers[k].size * (img->fetch_downloads ? 2 : 1);
}

static char *stack_name(const OciLayer *l) {
        char buf[sizeof(OCI_LAYER_PREFIX) + OCI_LAYER_HEX];

        snprintf(buf, sizeof(buf), "%s%.*s", OCI_LAYER_PREFIX, OCI_LAYER_HEX, l->chain);
        return strdup(buf);
}

typedef struct Install {
        OciImage *img;
        const ImagePool *pool;
        int pool_fd;
        bool private_pool;
        char **created;       /* layer stacks this transfer made: removed again if it fails */
        bool committed;
} Install;

static void install_done(Install *in) {
        if (!in->committed)
                STRV_FOREACH(s, in->created)
                        (void) image_pool_remove_entry_at(in->pool_fd, in->pool->path, *s);
        strv_free(in->created);
        safe_close(in->pool_fd);
}

static int fetch_layer(Install *in, OciLayer *l) {
        if (l->fd >= 0)
                return 0;
        return in->img->fetch(in->img, l);
}

/* The stack of layers 0..k as a hidden read-only subvolume, on top of stack k-1. */
static int stack_build(Install *in, size_t k) {
        OciLayer *l = in->img->layers + k;
        _cleanup_free_ char *name = stack_name(l), *below = k > 0 ? stack_name(l - 1) : NULL, *tmp = NULL,
                           *tmp_path = NULL, *below_path = NULL;
        _cleanup_close_ int root_fd = -EBADF;
        int r;

        if (!name || (k > 0 && !below) || image_tmp_name(name, &tmp) < 0 || !(tmp_path = path_join(in->pool->path, tmp)) ||
            (below && !(below_path = path_join(in->pool->path, below))))
                return log_oom();
        r = fetch_layer(in, l);
        if (r < 0)
                return r;
        r = below ? btrfs_snapshot(below_path, tmp_path, false) : btrfs_subvolume_make(tmp_path);
        if (r < 0)
                return log_error_errno(r, "Failed to create the layer subvolume %s: %m", tmp_path);
        root_fd = openat(in->pool_fd, tmp, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        if (root_fd < 0)
                r = log_error_errno(errno, "Failed to open %s: %m", tmp_path);
        else
                r = oci_layer_apply(l, root_fd, in->private_pool);
        if (r >= 0 && (r = btrfs_subvolume_set_read_only_fd(root_fd, true)) < 0)
                log_error_errno(r, "Failed to mark %s read-only: %m", tmp_path);
        if (r >= 0 && renameat2(in->pool_fd, tmp, in->pool_fd, name, RENAME_NOREPLACE) < 0)
                r = errno == EEXIST ? 0 : log_error_errno(errno, "Failed to move layer %s into place: %m", name);
        else if (r >= 0) {
                tmp = mfree(tmp);
                r = strv_extend(&in->created, name);
        }
        /* Failed, or another transfer kept the same stack first: ours goes. */
        if (tmp)
                (void) image_pool_remove_entry_at(in->pool_fd, in->pool->path, tmp);
        if (r >= 0)
                log_info("Layer %s applied (kept as %s).", l->digest ?: l->diff_id, name);
        return r;
}

static bool stack_exists(Install *in, size_t k) {
        _cleanup_free_ char *name = stack_name(in->img->layers + k);

        return name && faccessat(in->pool_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0;
}

/* btrfs: the kept stacks up to the last one, then a snapshot of it as the image. */
static int install_btrfs(Install *in, ImportTarget *t) {
        size_t kept = in->img->n_layers;
        _cleanup_free_ char *top = NULL, *top_path = NULL;
        int r;

        while (kept > 0 && !stack_exists(in, kept - 1))
                kept--;
        if (kept > 0)
                log_info("%zu of %zu layers are already in the pool.", kept, in->img->n_layers);
        progress_begin(in->img, kept);
        /* Every blob first: a bad one fails the transfer before anything is built. */
        for (size_t k = kept; k < in->img->n_layers; k++) {
                r = fetch_layer(in, in->img->layers + k);
                if (r < 0)
                        return r;
        }
        for (size_t k = kept; k < in->img->n_layers; k++) {
                r = stack_build(in, k);
                if (r < 0)
                        return r;
        }
        if (in->img->n_layers == 0)
                return btrfs_subvolume_make(t->tmp_path);
        top = stack_name(in->img->layers + in->img->n_layers - 1);
        top_path = top ? path_join(in->pool->path, top) : NULL;
        if (!top_path)
                return log_oom();
        r = btrfs_snapshot(top_path, t->tmp_path, false);
        if (r < 0)
                return log_error_errno(r, "Failed to snapshot %s as %s: %m", top_path, t->tmp_path);
        return 0;
}

/* Elsewhere: every layer into the new directory. */
static int install_plain(Install *in, ImportTarget *t) {
        _cleanup_close_ int root_fd = -EBADF;
        int r;

        progress_begin(in->img, 0);
        for (size_t k = 0; k < in->img->n_layers; k++) {
                r = fetch_layer(in, in->img->layers + k);
                if (r < 0)
                        return r;
        }
        if (mkdirat(t->pool_fd, t->tmp_name, 0755) < 0)
                return log_error_errno(errno, "Failed to create %s: %m", t->tmp_path);
        root_fd = openat(t->pool_fd, t->tmp_name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        if (root_fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", t->tmp_path);
        for (size_t k = 0; k < in->img->n_layers; k++) {
                r = oci_layer_apply(in->img->layers + k, root_fd, in->private_pool);
                if (r < 0)
                        return r;
                log_info("Layer %s applied.", in->img->layers[k].digest ?: in->img->layers[k].diff_id);
        }
        return 0;
}

int oci_image_install(OciImage *img, const ImagePool *pool, const char *name, bool force, bool read_only) {
        _cleanup_(import_target_done) ImportTarget t = {};
        _cleanup_(install_done) Install in = { .img = img, .pool = pool, .pool_fd = -EBADF,
                                               .private_pool = import_pool_is_private(pool) };
        _cleanup_free_ char *settings = NULL;
        int r;

        r = oci_settings_from_config(img->config, img->ref, img->digest, &settings);
        if (r < 0)
                return log_error_errno(r, "The image config cannot be written as settings (a control character?): %m");
        r = import_target_begin_empty(&t, pool, name, IMPORT_TREE, force, read_only);
        if (r < 0)
                return r;
        in.pool_fd = fcntl(t.pool_fd, F_DUPFD_CLOEXEC, 3);
        if (in.pool_fd < 0)
                return log_error_errno(errno, "Failed to duplicate a file descriptor: %m");
        r = import_pool_is_btrfs(t.pool_fd) ? install_btrfs(&in, &t) : install_plain(&in, &t);
        if (r < 0)
                return r;
        r = import_target_finish(&t);
        if (r < 0)
                return r;
        in.committed = true;
        log_info("Image %s is %s (%zu layers).", name, strna(img->ref), img->n_layers);
        return import_settings_write(pool, name, settings, force);
}
