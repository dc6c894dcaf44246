/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

#include "image-pool.h"
#include "macro.h"

/* OCI images into the pool: an image is a config and a list of layers, wherever they come
 * from (a registry, an OCI image layout, a docker save archive). The layers are applied in
 * order with OCI whiteouts; on btrfs each stack of layers is kept as a hidden read-only
 * subvolume named by its chain id, shared by every image built on it. Logging unless
 * said otherwise. */

#define OCI_MEDIA_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define DOCKER_MEDIA_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MEDIA_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
/* Hidden layer stacks: OCI_LAYER_PREFIX + the first OCI_LAYER_HEX hex digits of the chain
 * id (224 bits), so that the name is a valid (hidden) image name of at most 64 bytes. */
#define OCI_LAYER_PREFIX ".oci-"
#define OCI_LAYER_HEX 56
#define OCI_BLOB_MAX (4U << 20)   /* bytes of a manifest, index or config */

typedef struct OciLayer {
        char *digest;          /* "sha256:HEX" of the blob as stored; NULL when unknown (docker save) */
        char *media_type;
        char *diff_id;         /* "sha256:HEX" of the uncompressed tar, from the config */
        char chain[65];        /* hex chain id of the layers up to this one */
        uint64_t size;
        char *path;            /* docker save: the layer's file, relative to the source */
        int fd;                /* the blob once fetched, else -EBADF */
        bool verified;         /* fd's content was checked against digest */
} OciLayer;

typedef struct OciImage OciImage;
/* Make layer->fd readable from the start (a download or a file of the source). */
typedef int (*OciFetchLayer)(OciImage *img, OciLayer *layer);

struct OciImage {
        char *ref;             /* what the user gave, for messages and the settings file */
        char *digest;          /* of the manifest, when known */
        json_object *config;
        OciLayer *layers;
        size_t n_layers;
        OciFetchLayer fetch;
        bool fetch_downloads;  /* fetch reads the whole blob once (a download), apply again */
        void *userdata;
};

/* The transfer's progress over the whole image: every byte of a layer downloaded and
 * every byte of it unpacked counts against the total oci_image_install() sets. */
void oci_progress_add(uint64_t n);

void oci_image_done(OciImage *img);

/* Non-logging helpers. */
/* "sha256:HEX" → HEX (64 lowercase hex digits), else NULL. */
const char *oci_digest_hex(const char *digest) _pure_;
/* The SHA-256 of data as 64 hex digits (+ NUL). */
void oci_sha256_hex(const void *data, size_t n, char ret[static 65]);
/* Whether the GOOS/GOARCH platform object fits this host (linux, uname's machine). */
bool oci_platform_matches(json_object *platform);
/* The descriptor of an index (OCI index or docker manifest list) for this host, or NULL. */
json_object *oci_index_select(json_object *index);
/* Whether a JSON document is an index (its mediaType, or a "manifests" array). */
bool oci_json_is_index(json_object *doc);

/* Fill img->layers (and img->config) from a manifest and its config, both already checked
 * against their digests; the chain ids come from the config's diff_ids. manifest NULL: a
 * docker save, whose layers are the diff_ids (files set by the caller). */
int oci_image_load(OciImage *img, json_object *manifest, const char *config_data, size_t config_size);

/* Apply layer->fd onto the tree root_fd; its digest (unless layer->verified) and diff_id
 * are checked, so the tree is only good when this returns >= 0 (oci-layer.c). */
int oci_layer_apply(OciLayer *layer, int root_fd, bool private_pool);

/* Build image NAME in the pool from img (fetching only the layers not already kept), and
 * write NAME.nspawn from its config. */
int oci_image_install(OciImage *img, const ImagePool *pool, const char *name, bool force, bool read_only);

/* An OCI image layout (directory or tar archive) or a docker save archive on fd. */
int import_oci_fd(int fd, const ImagePool *pool, const char *name, bool force, bool read_only);

/* [REGISTRY/]REPO[:TAG|@DIGEST] from a registry, over the OCI distribution API. */
int pull_oci(const char *ref, const ImagePool *pool, const char *name, bool force, bool read_only);
/* The image name a reference suggests: the last component of REPO. Non-logging. */
int pull_oci_name_from_ref(const char *ref, char **ret);

/* The .nspawn settings for the image config (oci-settings.c). Non-logging: -EINVAL for a
 * config that cannot be expressed (a newline in an argument). */
int oci_settings_from_config(json_object *config, const char *ref, const char *digest, char **ret);
