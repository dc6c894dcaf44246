/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "image-pool.h"
#include "macro.h"

/* The ETag-keyed download cache of pulls, as systemd-importd keeps one: after a pull whose
 * server sent an ETag, a hidden read-only copy of the new image stays in the pool as
 *     .cache-tar-URLHASH\x2eETAG        (a subvolume or directory)
 *     .cache-raw-URLHASH\x2eETAG.raw    (a file)
 * (URLHASH: SHA-256 of the URL in hex, so any URL fits a file name; the ETag escaped
 * with \xNN outside [A-Za-z0-9_-]), with the SHA-256 of the download it came from in the
 * xattr user.berth.sha256. The next pull of the URL sends If-None-Match; when the server
 * answers 304, or 200 with the same ETag, nothing more is downloaded and the image is made
 * from the copy (a snapshot or reflink where the file system can). A changed ETag
 * replaces the copy. */

typedef struct PullCache {
        int pool_fd;
        const ImagePool *pool;
        bool raw;
        char *prefix;    /* ".cache-raw-URLHASH\x2e" */
        char *entry;     /* the copy found for this URL, NULL if none */
        char *etag;      /* its ETag */
} PullCache;

/* Look for the copy of url's image. Non-logging; a missing cache is not an error. */
int pull_cache_open(PullCache *c, const ImagePool *pool, const char *url, bool raw);
void pull_cache_done(PullCache *c);

/* Make image NAME from the copy, as import_*_fd() would. -ESTALE (not logged) when sha256
 * (hex, or "" with --verify=no) is not the one recorded with the copy. Logging. */
int pull_cache_use(PullCache *c, const char *name, const char *sha256, bool force, bool read_only);

/* Keep a read-only copy of the freshly pulled image NAME for etag, replacing older copies
 * for the URL (also removed when etag is NULL). Logging (warnings: a pull does not fail
 * because its copy could not be kept). */
void pull_cache_store(PullCache *c, const char *name, const char *etag, const char *sha256);
