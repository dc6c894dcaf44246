/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "parse-util.h"
#include "string-util.h"

const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

bool endswith(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *strjoin_internal(const char *x, ...) {
        size_t l = 0;
        va_list ap;
        char *r, *p;

        va_start(ap, x);
        for (const char *t = x; t; t = va_arg(ap, const char *))
                l += strlen(t);
        va_end(ap);

        r = malloc(l + 1);
        if (!r)
                return NULL;

        p = r;
        va_start(ap, x);
        for (const char *t = x; t; t = va_arg(ap, const char *))
                p = stpcpy(p, t);
        va_end(ap);
        return r;
}

bool string_is_safe(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < ' ' || *p == 127)
                        return false;
        return true;
}

char *string_escape_controls(const char *s) {
        char *r = malloc(strlen(s) * 4 + 1), *w = r;

        if (!r)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '\n')
                        w = stpcpy(w, "\\n");
                else if (*p == '\t')
                        w = stpcpy(w, "\\t");
                else if (*p == '\\')
                        w = stpcpy(w, "\\\\");
                else if (*p < ' ' || *p == 127)
                        w += sprintf(w, "\\x%02x", *p);
                else
                        *w++ = (char) *p;
        }
        *w = 0;
        return r;
}

bool utf8_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *) s;

        while (*p) {
                unsigned n;
                uint32_t c;

                if (*p < 0x80) {
                        p++;
                        continue;
                } else if ((*p & 0xe0) == 0xc0) {
                        n = 1;
                        c = *p & 0x1f;
                } else if ((*p & 0xf0) == 0xe0) {
                        n = 2;
                        c = *p & 0x0f;
                } else if ((*p & 0xf8) == 0xf0) {
                        n = 3;
                        c = *p & 0x07;
                } else
                        return false;

                p++;
                for (unsigned i = 0; i < n; i++, p++) {
                        if ((*p & 0xc0) != 0x80)
                                return false;
                        c = (c << 6) | (*p & 0x3f);
                }
                /* overlong forms, surrogates, out of range */
                if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) ||
                    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
                        return false;
        }
        return true;
}

char **strv_free(char **l) {
        STRV_FOREACH(s, l)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char * const *l) {
        size_t n = 0;
        STRV_FOREACH(s, l)
                n++;
        return n;
}

int strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);
        char **c;

        c = realloc(*l, sizeof(char *) * (n + 2));
        if (!c) {
                free(value);
                return -ENOMEM;
        }
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        return strv_push(l, v);
}

char **strv_copy(char * const *l) {
        _cleanup_strv_free_ char **c = NULL;
        size_t n = strv_length(l);

        /* One allocation for the array: strv_extend() per element would be quadratic. */
        c = calloc(n + 1, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t k = 0; k < n; k++) {
                c[k] = strdup(l[k]);
                if (!c[k])
                        return NULL;
        }
        return TAKE_PTR(c);
}

bool strv_contains(char * const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

int strv_split_full(const char *s, const char *sep, bool unescape, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *word = NULL;
        size_t n = 0;
        int r;

        l = calloc(1, sizeof(char *));
        word = malloc(strlen(s) + 1);
        if (!l || !word)
                return -ENOMEM;

        for (const char *p = s;; p++) {
                if (unescape && *p == '\\') {
                        if (!p[1])
                                return -EINVAL;
                        word[n++] = *++p;
                        continue;
                }
                if (*p && !strchr(sep, *p)) {
                        word[n++] = *p;
                        continue;
                }
                word[n] = 0;
                r = strv_extend(&l, word);
                if (r < 0)
                        return r;
                n = 0;
                if (!*p)
                        break;
        }

        *ret = TAKE_PTR(l);
        return 0;
}

static size_t env_name_len(const char *assignment) {
        const char *eq = strchr(assignment, '=');
        return eq ? (size_t) (eq - assignment) : strlen(assignment);
}

int strv_env_set(char ***env, const char *assignment) {
        size_t l = env_name_len(assignment);
        char *v;

        v = strdup(assignment);
        if (!v)
                return -ENOMEM;

        for (char **i = *env; i && *i; i++)
                if (env_name_len(*i) == l && strneq(*i, assignment, l)) {
                        free(*i);
                        *i = v;
                        return 0;
                }
        return strv_push(env, v);
}

const char *strv_env_get(char * const *env, const char *name) {
        size_t l = strlen(name);

        STRV_FOREACH(i, env)
                if (strneq(*i, name, l) && (*i)[l] == '=')
                        return *i + l + 1;
        return NULL;
}

static int unescape_one(const char *p, char *ret_c) {
        static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"''";
        int v = 0, n;

        for (size_t i = 0; simple[i]; i += 2)
                if (*p == simple[i]) {
                        *ret_c = simple[i + 1];
                        return 1;
                }
        if (*p == 'x') {
                int a = unhexchar(p[1]), b = a >= 0 ? unhexchar(p[2]) : -EINVAL;

                if (b < 0)
                        return -EINVAL;
                *ret_c = (char) (a << 4 | b);
                return 3;
        }
        for (n = 0; n < 3 && p[n] >= '0' && p[n] <= '7'; n++)
                v = v * 8 + (p[n] - '0');
        if (n != 3 && !(n == 1 && v == 0))      /* \NNN, or \0 alone */
                return -EINVAL;
        if (v > 255)
                return -EINVAL;
        *ret_c = (char) v;
        return n;
}

ssize_t cunescape(const char *s, char **ret) {
        size_t l = strlen(s), n = 0;
        char *r = malloc(l + 1);

        if (!r)
                return -ENOMEM;
        for (const char *p = s; *p; ) {
                int k;

                if (*p != '\\') {
                        r[n++] = *p++;
                        continue;
                }
                k = unescape_one(p + 1, &r[n]);
                if (k < 0) {
                        free(r);
                        return -EINVAL;
                }
                n++;
                p += 1 + k;
        }
        r[n] = 0;
        *ret = r;
        return (ssize_t) n;
}

static int base64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -EINVAL;
}

ssize_t base64_decode(const char *s, void **ret) {
        _cleanup_free_ uint8_t *buf = malloc(strlen(s) / 4 * 3 + 3);
        uint32_t acc = 0;
        size_t n = 0, bits = 0, pad = 0;

        if (!buf)
                return -ENOMEM;
        for (const char *p = s; *p; p++) {
                int v;

                if (strchr(" \t\n\r", *p))
                        continue;
                if (*p == '=') {
                        pad++;
                        continue;
                }
                v = base64_value(*p);
                if (v < 0 || pad > 0)
                        return -EINVAL;     /* data after the padding */
                acc = (acc << 6) | (uint32_t) v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        buf[n++] = (uint8_t) (acc >> bits);
                }
        }
        /* leftover bits must be the zero fill of a short last group */
        if (pad > 2 || bits >= 6 || (acc & ((1U << bits) - 1)) != 0)
                return -EINVAL;
        *ret = TAKE_PTR(buf);
        return (ssize_t) n;
}
