/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "parse-util.h"
#include "string-util.h"

int parse_boolean(const char *s) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

/* Digits of 'base' (8 or 10) only: no sign, no whitespace, no prefix, at least one. */
static int parse_digits(const char *s, unsigned base, uint64_t *ret) {
        uint64_t v = 0;

        if (isempty(s))
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                unsigned d = (unsigned) (*p - '0');

                if (*p < '0' || d >= base)
                        return -EINVAL;
                if (v > (UINT64_MAX - d) / base)
                        return -ERANGE;
                v = v * base + d;
        }
        *ret = v;
        return 0;
}

int safe_atou64(const char *s, uint64_t *ret) {
        return parse_digits(s, 10, ret);
}

int parse_uid(const char *s, uid_t *ret) {
        uint64_t v;
        int r = parse_digits(s, 10, &v);
        if (r < 0)
                return r;
        /* (uid_t) -1 and the 16-bit overflow id are never valid */
        if (v >= UINT32_MAX || v == 65535)
                return -ENXIO;
        *ret = (uid_t) v;
        return 0;
}

int parse_mode(const char *s, mode_t *ret) {
        uint64_t v;
        int r = parse_digits(s, 8, &v);
        if (r < 0)
                return r;
        if (v > 07777)
                return -ERANGE;
        *ret = (mode_t) v;
        return 0;
}

int signal_from_string(const char *s) {
        const char *p, *name = startswith(s, "SIG") ?: s;
        uint64_t n;

        if (safe_atou64(s, &n) >= 0)
                return n > 0 && n <= (uint64_t) SIGRTMAX ? (int) n : -EINVAL;

        if ((p = startswith(name, "RTMIN"))) {
                if (!*p)
                        return SIGRTMIN;
                if (*p != '+' || safe_atou64(p + 1, &n) < 0 || n > (uint64_t) (SIGRTMAX - SIGRTMIN))
                        return -EINVAL;
                return SIGRTMIN + (int) n;
        }
        if ((p = startswith(name, "RTMAX"))) {
                if (!*p)
                        return SIGRTMAX;
                if (*p != '-' || safe_atou64(p + 1, &n) < 0 || n > (uint64_t) (SIGRTMAX - SIGRTMIN))
                        return -EINVAL;
                return SIGRTMAX - (int) n;
        }
        for (int sig = 1; sig < SIGRTMIN; sig++) {
                const char *a = sigabbrev_np(sig);
                if (a && streq(a, name))
                        return sig;
        }
        return -EINVAL;
}

const char *signal_to_string(int sig, char buf[static 16]) {
        const char *a = sig > 0 && sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;

        if (a)
                snprintf(buf, 16, "SIG%s", a);
        else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
                snprintf(buf, 16, "SIGRTMIN+%i", sig - SIGRTMIN);
        else
                snprintf(buf, 16, "%i", sig);
        return buf;
}

int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int id128_from_string(const char *s, Id128 *ret) {
        Id128 id;
        size_t len = strlen(s), j = 0;
        bool dashes = len == 36;

        if (len != 32 && len != 36)
                return -EINVAL;

        for (unsigned i = 0; i < 16; i++) {
                int a, b;

                if (dashes && (i == 4 || i == 6 || i == 8 || i == 10)) {
                        if (s[j] != '-')
                                return -EINVAL;
                        j++;
                }
                a = unhexchar(s[j]);
                b = unhexchar(s[j + 1]);
                if (a < 0 || b < 0)
                        return -EINVAL;
                id.bytes[i] = (uint8_t) (a << 4 | b);
                j += 2;
        }
        *ret = id;
        return 0;
}

int id128_randomize(Id128 *ret) {
        Id128 id;

        if (getrandom(&id, sizeof(id), 0) != (ssize_t) sizeof(id))
                return -EIO;
        id.bytes[6] = (id.bytes[6] & 0x0f) | 0x40;    /* version 4 */
        id.bytes[8] = (id.bytes[8] & 0x3f) | 0x80;    /* RFC 4122 variant */
        *ret = id;
        return 0;
}

char *id128_to_uuid_string(const Id128 *id, char buf[static 37]) {
        static const char hex[] = "0123456789abcdef";
        size_t j = 0;

        for (unsigned i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        buf[j++] = '-';
                buf[j++] = hex[id->bytes[i] >> 4];
                buf[j++] = hex[id->bytes[i] & 15];
        }
        buf[j] = 0;
        return buf;
}
