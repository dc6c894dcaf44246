/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <string.h>
#include <sys/types.h>

#include "macro.h"

static inline bool isempty(const char *s) {
        return !s || !s[0];
}

static inline const char *strempty(const char *s) {
        return s ?: "";
}

static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

static inline bool streq_ptr(const char *a, const char *b) {
        return a && b ? streq(a, b) : a == b;
}

const char *startswith(const char *s, const char *prefix) _pure_;
bool endswith(const char *s, const char *suffix) _pure_;
char *strjoin_internal(const char *x, ...);
#define strjoin(a, ...) strjoin_internal((a), __VA_ARGS__, NULL)
bool string_is_safe(const char *s) _pure_;
/* A copy of 's' fit for one log line: control characters and '\\' as C escapes
 * ("\\n", "\\x1b"). NULL on OOM. */
char *string_escape_controls(const char *s);
bool utf8_is_valid(const char *s) _pure_;
/* Undo C escapes (\n \t \\ \" \xHH \NNN octal...): the result may contain NUL bytes, so its
 * length is returned (or -EINVAL for a bad escape, -ENOMEM). */
ssize_t cunescape(const char *s, char **ret);
/* Decode standard base64 (RFC 4648, '=' padding optional, blanks and newlines ignored).
 * Returns the length of the data in *ret, -EINVAL for invalid input, -ENOMEM. */
ssize_t base64_decode(const char *s, void **ret);

/* strv: NULL-terminated arrays of strings */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char * const *l) _pure_;
int strv_push(char ***l, char *value);          /* takes ownership, also on failure */
int strv_extend(char ***l, const char *value);  /* copies */
char **strv_copy(char * const *l);
bool strv_contains(char * const *l, const char *s) _pure_;
/* Split on any of the separators in 'sep'; with 'unescape', "\x" yields x and an escaped
 * separator does not split. */
int strv_split_full(const char *s, const char *sep, bool unescape, char ***ret);
int strv_env_set(char ***env, const char *assignment);   /* replaces NAME= if present */
const char *strv_env_get(char * const *env, const char *name);

#define STRV_FOREACH(s, l) for (char * const *s = (l); s && *s; s++)
