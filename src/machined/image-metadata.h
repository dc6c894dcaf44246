/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What is inside a raw image, for GetImageOSRelease: the image is dissected and mounted
 * read-only in a private mount namespace of a short-lived worker process, never in
 * berthd's own, and what was read there comes back over a pipe. */

/* os-release of the raw image at 'path' as a strv of alternating keys and values.
 * -ENOENT: the image has no os-release; -EOPNOTSUPP: its root is encrypted; -EBADMSG:
 * not an image berthd can mount; -ETIMEDOUT: the worker took too long (and was killed). */
int image_raw_read_os_release(const char *path, char ***ret);
