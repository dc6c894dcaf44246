/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <string.h>

#include "machine-name.h"

static bool valid_ldh_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool hostname_is_valid(const char *s) {
        size_t n = 0;
        bool label_start = true;

        if (!s || !*s)
                return false;

        for (const char *p = s; *p; p++, n++) {
                if (*p == '.') {
                        if (label_start)    /* leading dot or ".." */
                                return false;
                        label_start = true;
                        continue;
                }
                if (!valid_ldh_char(*p))
                        return false;
                label_start = false;
        }
        /* no trailing dot */
        return !label_start && n <= MACHINE_NAME_MAX;
}

bool machine_name_is_valid(const char *s) {
        return hostname_is_valid(s);
}

char *machine_name_from_string(const char *s) {
        char *r, *w;
        bool dot = true;

        r = malloc(MACHINE_NAME_MAX + 1);
        if (!r)
                return NULL;

        w = r;
        for (const char *p = s; *p && w < r + MACHINE_NAME_MAX; p++) {
                if (*p == '.') {
                        if (dot)
                                continue;
                        *w++ = '.';
                        dot = true;
                        continue;
                }
                *w++ = valid_ldh_char(*p) ? *p : '-';
                dot = false;
        }
        while (w > r && w[-1] == '.')
                w--;
        *w = 0;

        if (!hostname_is_valid(r)) {
                free(r);
                errno = EINVAL;
                return NULL;
        }
        return r;
}
