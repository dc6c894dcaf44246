/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "macro.h"

static inline bool path_is_absolute(const char *p) {
        return p && p[0] == '/';
}

/* Absolute, no "." or ".." components, no empty components except a trailing slash. */
bool path_is_normalized(const char *p) _pure_;
/* Collapse "//" and "/./" and drop a trailing slash, in place. */
char *path_simplify(char *p);
char *path_join(const char *a, const char *b);
/* Last component of a path without trailing slashes; NULL when there is none. */
char *path_basename(const char *p);
/* mkdir -p: missing parents with mode 0755, 'path' itself with 'mode'; existing ones are fine. */
int mkdir_parents_and_self(const char *path, mode_t mode);
