/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* What is inside a raw image, for GetImageOSRelease: the image is dissected and mounted
 * read-only in a private mount namespace of the calling process, so only ever call this
 * in a short-lived worker (bus-worker.h), never in berthd itself.
 *
 * os-release of the raw image at 'path' as a strv of alternating keys and values.
 * -ENOENT: the image has no os-release; -EOPNOTSUPP: its root is encrypted; -EBADMSG:
 * not an image berthd can mount. */
int image_raw_read_os_release(const char *path, char ***ret);
/* The contents of the small text file 'file' (absolute, resolved inside the image) of the
 * raw image at 'path', the same way, at most max bytes. -ENOENT: no such file; -EBADFD:
 * not a regular file. */
int image_raw_read_file(const char *path, const char *file, size_t max, char **ret);
