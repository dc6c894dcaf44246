/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "berthctl-format.h"

#define USEC_PER_MSEC ((uint64_t) 1000)
#define USEC_PER_SEC ((uint64_t) (1000ULL * USEC_PER_MSEC))
#define USEC_PER_MINUTE ((uint64_t) (60ULL * USEC_PER_SEC))
#define USEC_PER_HOUR ((uint64_t) (60ULL * USEC_PER_MINUTE))
#define USEC_PER_DAY ((uint64_t) (24ULL * USEC_PER_HOUR))
#define USEC_PER_WEEK ((uint64_t) (7ULL * USEC_PER_DAY))
#define USEC_PER_MONTH ((uint64_t) (2629800ULL * USEC_PER_SEC))
#define USEC_PER_YEAR ((uint64_t) (31557600ULL * USEC_PER_SEC))

static const struct {
        char suffix;
        uint64_t factor;
} iec_units[] = {
        { 'E', 1ULL << 60 },
        { 'P', 1ULL << 50 },
        { 'T', 1ULL << 40 },
        { 'G', 1ULL << 30 },
        { 'M', 1ULL << 20 },
        { 'K', 1ULL << 10 },
};

const char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t bytes) {
        if (bytes == UINT64_MAX)
                return NULL;

        for (size_t i = 0; i < ELEMENTSOF(iec_units); i++)
                if (bytes >= iec_units[i].factor) {
                        /* one digit after the point, truncated, as systemd's format_bytes() */
                        uint64_t f = iec_units[i].factor;
                        snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 ".%" PRIu64 "%c",
                                 bytes / f, (bytes % f) * 10 / f, iec_units[i].suffix);
                        return buf;
                }

        snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 "B", bytes);
        return buf;
}

const char *format_timestamp(char buf[static FORMAT_TIMESTAMP_MAX], uint64_t usec) {
        time_t sec;
        struct tm tm;

        if (usec == 0 || usec == UINT64_MAX)
                return NULL;

        sec = (time_t) (usec / USEC_PER_SEC);
        if (!localtime_r(&sec, &tm) || strftime(buf, FORMAT_TIMESTAMP_MAX, "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                return NULL;
        return buf;
}

static uint64_t now_realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

const char *format_timestamp_relative(char buf[static FORMAT_TIMESTAMP_MAX], uint64_t usec) {
        uint64_t now, d;
        const char *suffix;

        if (usec == 0 || usec == UINT64_MAX)
                return NULL;

        now = now_realtime_usec();
        if (now >= usec) {
                d = now - usec;
                suffix = "ago";
        } else {
                d = usec - now;
                suffix = "left";
        }

        /* The same steps as systemd's format_timestamp_relative(), so status reads alike. */
        if (d >= USEC_PER_YEAR)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "%" PRIu64 " years %" PRIu64 " months %s",
                         d / USEC_PER_YEAR, (d % USEC_PER_YEAR) / USEC_PER_MONTH, suffix);
        else if (d >= USEC_PER_MONTH)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "%" PRIu64 " months %" PRIu64 " days %s",
                         d / USEC_PER_MONTH, (d % USEC_PER_MONTH) / USEC_PER_DAY, suffix);
        else if (d >= USEC_PER_WEEK)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "%" PRIu64 " weeks %" PRIu64 " days %s",
                         d / USEC_PER_WEEK, (d % USEC_PER_WEEK) / USEC_PER_DAY, suffix);
        else if (d >= 2 * USEC_PER_DAY)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "%" PRIu64 " days %s", d / USEC_PER_DAY, suffix);
        else if (d >= 25 * USEC_PER_HOUR)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "1 day %" PRIu64 "h %s",
                         (d - USEC_PER_DAY) / USEC_PER_HOUR, suffix);
        else if (d >= 6 * USEC_PER_HOUR)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "%" PRIu64 "h %s", d / USEC_PER_HOUR, suffix);
        else if (d >= USEC_PER_HOUR)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "%" PRIu64 "h %" PRIu64 "min %s",
                         d / USEC_PER_HOUR, (d % USEC_PER_HOUR) / USEC_PER_MINUTE, suffix);
        else if (d >= 5 * USEC_PER_MINUTE)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "%" PRIu64 "min %s", d / USEC_PER_MINUTE, suffix);
        else if (d >= USEC_PER_MINUTE)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "%" PRIu64 "min %" PRIu64 "s %s",
                         d / USEC_PER_MINUTE, (d % USEC_PER_MINUTE) / USEC_PER_SEC, suffix);
        else if (d >= USEC_PER_SEC)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "%" PRIu64 "s %s", d / USEC_PER_SEC, suffix);
        else if (d >= USEC_PER_MSEC)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "%" PRIu64 "ms %s", d / USEC_PER_MSEC, suffix);
        else if (d > 0)
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "%" PRIu64 "us %s", d, suffix);
        else
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "now");
        return buf;
}

int parse_size(const char *s, uint64_t *ret) {
        unsigned long long whole, frac = 0, frac_div = 1;
        uint64_t factor = 1;
        char *e;

        /* strtoull() would accept "-1" and leading blanks */
        if (!s || !(*s >= '0' && *s <= '9'))
                return -EINVAL;

        errno = 0;
        whole = strtoull(s, &e, 10);
        if (errno != 0)
                return -errno;
        if (*e == '.') {
                for (e++; *e >= '0' && *e <= '9'; e++)
                        if (frac_div < 1000000000ULL) {
                                frac = frac * 10 + (unsigned long long) (*e - '0');
                                frac_div *= 10;
                        }
        }
        if (*e && !(e[0] == 'B' && e[1] == 0)) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(iec_units); i++)
                        if (*e == iec_units[i].suffix)
                                break;
                if (i >= ELEMENTSOF(iec_units) || !(e[1] == 0 || (e[1] == 'B' && e[2] == 0)))
                        return -EINVAL;
                factor = iec_units[i].factor;
        }
        if (factor > 1 && whole > UINT64_MAX / factor)
                return -ERANGE;
        *ret = whole * factor + frac * factor / frac_div;
        return 0;
}

size_t utf8_width(const char *s, size_t n) {
        size_t w = 0;

        for (size_t i = 0; i < n && s[i]; i++)
                if (((unsigned char) s[i] & 0xc0) != 0x80)
                        w++;
        return w;
}

void json_write_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                switch (*p) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        if (*p < 0x20)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fputc(*p, f);
                }
        fputc('"', f);
}
