/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mount-util.h"
#include "os-release.h"
#include "string-util.h"

#define OS_RELEASE_SIZE_MAX (64U * 1024U)

static bool os_release_key_valid(const char *k, size_t n) {
        if (n == 0 || (k[0] >= '0' && k[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
                      (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
                        return false;
        return true;
}

/* Unquote a shell-like value: "…" with \-escapes, '…' literal, or bare words. */
static int os_release_unquote(const char *v, size_t n, char **ret) {
        _cleanup_free_ char *out = malloc(n + 1);
        size_t j = 0;
        char quote = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char c = v[i];

                if (quote == '\'') {
                        if (c == '\'')
                                quote = 0;
                        else
                                out[j++] = c;
                } else if (quote == '"') {
                        if (c == '"')
                                quote = 0;
                        else if (c == '\\' && i + 1 < n && strchr("\"\\$`", v[i + 1]))
                                out[j++] = v[++i];
                        else
                                out[j++] = c;
                } else if (c == '"' || c == '\'')
                        quote = c;
                else if (c == '\\' && i + 1 < n)
                        out[j++] = v[++i];
                else if (c == ' ' || c == '\t')
                        return -EINVAL;      /* unquoted whitespace: not a valid assignment */
                else
                        out[j++] = c;
        }
        if (quote)
                return -EINVAL;
        out[j] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

int os_release_parse(const char *text, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        const char *p = text;
        int r;

        while (*p) {
                size_t len = strcspn(p, "\n");
                const char *line = p, *eq;
                _cleanup_free_ char *key = NULL, *value = NULL;

                p += len;
                if (*p)
                        p++;

                while (len > 0 && (*line == ' ' || *line == '\t')) {
                        line++;
                        len--;
                }
                while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
                        len--;
                if (len == 0 || line[0] == '#')
                        continue;

                eq = memchr(line, '=', len);
                if (!eq || !os_release_key_valid(line, (size_t) (eq - line)))
                        continue;   /* garbage lines are skipped, as by systemd */

                if (os_release_unquote(eq + 1, len - (size_t) (eq + 1 - line), &value) < 0)
                        continue;
                if (!utf8_is_valid(value))
                        continue;
                key = strndup(line, (size_t) (eq - line));
                if (!key)
                        return -ENOMEM;

                /* Later assignments override earlier ones. */
                for (size_t i = 0; l && l[i]; i += 2)
                        if (streq(l[i], key)) {
                                free(l[i + 1]);
                                l[i + 1] = TAKE_PTR(value);
                                break;
                        }
                if (!value)
                        continue;

                r = strv_push(&l, TAKE_PTR(key));
                if (r < 0)
                        return r;
                r = strv_push(&l, TAKE_PTR(value));
                if (r < 0)
                        return r;
        }

        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int os_release_read_at(int rootfd, char ***ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_regular_file_in_root(rootfd, "/etc/os-release", OS_RELEASE_SIZE_MAX, &text, NULL);
        if (r == -ENOENT)
                r = read_regular_file_in_root(rootfd, "/usr/lib/os-release", OS_RELEASE_SIZE_MAX, &text, NULL);
        if (r < 0)
                return r;

        return os_release_parse(text, ret);
}
