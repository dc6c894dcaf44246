/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer target for src/shared/os-release.c: berthd returns the os-release of
 * machines and images, which are untrusted. Checks what the bus reply relies on (pairs
 * of a valid key and a UTF-8 value, each key once) and that the result survives a round
 * trip through a double-quoted rendering: what the parser returns is what the file said. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os-release.h"
#include "string-util.h"

static bool key_ok(const char *k) {
        if (!k[0] || (k[0] >= '0' && k[0] <= '9'))
                return false;
        for (const char *p = k; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return true;
}

/* KEY="VALUE" lines, with \ before the four characters that are special in double quotes */
static char *render(char **l) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                abort();
        for (size_t i = 0; l[i]; i += 2) {
                fprintf(f, "%s=\"", l[i]);
                for (const char *p = l[i + 1]; *p; p++) {
                        if (strchr("\"\\$`", *p))
                                fputc('\\', f);
                        fputc(*p, f);
                }
                fputs("\"\n", f);
        }
        if (fclose(f) != 0)
                abort();
        return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_strv_free_ char **l = NULL, **again = NULL;
        _cleanup_free_ char *text = NULL, *rendered = NULL;
        size_t n;

        if (size > 64 * 1024)
                return 0;
        text = strndup((const char *) data, size);
        if (!text)
                return 0;
        if (os_release_parse(text, &l) < 0)
                return 0;   /* only ENOMEM */

        n = strv_length(l);
        if (n % 2 != 0)
                abort();
        for (size_t i = 0; i < n; i += 2) {
                if (!key_ok(l[i]) || !utf8_is_valid(l[i + 1]) || strchr(l[i + 1], '\n'))
                        abort();
                for (size_t j = 0; j < i; j += 2)
                        if (streq(l[i], l[j]))
                                abort();
        }

        rendered = render(l);
        if (os_release_parse(rendered, &again) < 0)
                return 0;
        if (strv_length(again) != n)
                abort();
        for (size_t i = 0; i < n; i++)
                if (!streq(l[i], again[i]))
                        abort();
        return 0;
}
