/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A tiny TAP harness: every check is one "ok"/"not ok" line; the exit status is the
 * number of failures (capped), so meson fails the test on any of them. */

#include <stdio.h>
#include <string.h>

static unsigned tap_n = 0, tap_failed = 0;

#define CHECK(cond) tap_check(!!(cond), #cond, __FILE__, __LINE__)
#define CHECK_STREQ(a, b) tap_check_streq((a), (b), #a, __FILE__, __LINE__)

static inline void tap_check(int ok, const char *what, const char *file, int line) {
        tap_n++;
        if (!ok)
                tap_failed++;
        printf("%sok %u - %s (%s:%i)\n", ok ? "" : "not ", tap_n, what, file, line);
}

static inline void tap_check_streq(const char *a, const char *b, const char *what, const char *file, int line) {
        int ok = a && b && strcmp(a, b) == 0;
        if (!ok)
                printf("# got '%s', expected '%s'\n", a ? a : "(null)", b ? b : "(null)");
        tap_check(ok, what, file, line);
}

static inline void tap_skip(const char *what, const char *why) {
        tap_n++;
        printf("ok %u - %s # SKIP %s\n", tap_n, what, why);
}

static inline int tap_done(void) {
        printf("1..%u\n", tap_n);
        return tap_failed > 100 ? 100 : (int) tap_failed;
}
