/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <string.h>

#include "machine-name.h"

static bool valid_ldh_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* systemd's hostname_is_valid() without flags: dot-separated labels of letters, digits and
 * '-', where a label is never empty and never starts or ends with '-' (RFC 1123). systemd
 * refuses "-x", "x-" and "--" as machine names, so berthd must too, or machinectl and
 * nss-mymachines could not address a machine berth registered. */
bool hostname_is_valid(const char *s) {
        size_t n = 0;
        bool label_start = true, hyphen = false;

        if (!s || !*s)
                return false;

        for (const char *p = s; *p; p++, n++) {
                if (*p == '.') {
                        if (label_start || hyphen)    /* leading dot, "..", "-." */
                                return false;
                        label_start = true;
                        continue;
                }
                if (!valid_ldh_char(*p) || (*p == '-' && label_start))
                        return false;
                hyphen = *p == '-';
                label_start = false;
        }
        /* no trailing dot or hyphen */
        return !label_start && !hyphen && n <= MACHINE_NAME_MAX;
}

bool machine_name_is_valid(const char *s) {
        return hostname_is_valid(s);
}

char *machine_name_from_string(const char *s) {
        char *r, *w;

        r = malloc(MACHINE_NAME_MAX + 1);
        if (!r)
                return NULL;

        /* Invalid characters become '-'; a label never starts or ends with '-', and empty
         * labels are dropped: "_tree_.-x-" gives "tree.x". */
        w = r;
        for (const char *p = s; *p && w < r + MACHINE_NAME_MAX; p++) {
                char c = valid_ldh_char(*p) ? *p : *p == '.' ? '.' : '-';
                bool label_start = w == r || w[-1] == '.';

                if (c == '.') {
                        while (w > r && w[-1] == '-')
                                w--;
                        if (w > r && w[-1] != '.')
                                *w++ = '.';
                        continue;
                }
                if (c == '-' && label_start)
                        continue;
                *w++ = c;
        }
        while (w > r && (w[-1] == '.' || w[-1] == '-'))
                w--;
        *w = 0;

        if (!hostname_is_valid(r)) {
                free(r);
                errno = EINVAL;
                return NULL;
        }
        return r;
}
