/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "image-pool.h"
#include "macro.h"

typedef enum ImportVerify {
        IMPORT_VERIFY_NO,
        IMPORT_VERIFY_CHECKSUM,
        IMPORT_VERIFY_SIGNATURE,
        _IMPORT_VERIFY_MAX,
        _IMPORT_VERIFY_INVALID = -EINVAL,
} ImportVerify;

const char *import_verify_to_string(ImportVerify v) _pure_;
ImportVerify import_verify_from_string(const char *s) _pure_;

/* Keyrings tried in order for --verify=signature: berth's, then systemd-importd's, so an
 * existing setup keeps working. */
#define IMPORT_KEYRINGS "/etc/berth/import-pubring.gpg", "/etc/systemd/import-pubring.gpg", \
                        "/usr/lib/systemd/import-pubring.gpg"

/* Download url (http, https) into the pool as image NAME (derived from the URL when NULL):
 * checked against URL.sha256 or SHA256SUMS (checksum), and SHA256SUMS.gpg with gpgv
 * (signature), then unpacked (tar) or decompressed (raw) as by import_*_fd(). The .nspawn
 * settings file next to it is fetched too, untrusted, and for raw images .roothash,
 * .roothash.p7s and .verity, all checked against the same sums. An unchanged file (ETag)
 * is taken from the pool's cached copy (import-cache.h).
 * keyring: NULL for IMPORT_KEYRINGS. Logging. */
int pull_image(const char *url, bool raw, const ImagePool *pool, const char *name, ImportVerify verify,
               const char *keyring, bool force, bool read_only);

/* The image name a URL suggests: its last component without .tar, .raw, .img and
 * compression suffixes. */
int pull_name_from_url(const char *url, char **ret);

/* Write data as NAME.nspawn next to image NAME in the pool (kept when it exists, unless
 * force). Logging. */
int import_settings_write(const ImagePool *pool, const char *name, const char *data, bool force);
