/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int max_level = LOG_INFO;
static const char *log_prefix = NULL;
static bool journal_prefix = false;
static log_sink_t log_sink = NULL;
static void *log_sink_userdata = NULL;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_prefix(const char *prefix) {
        log_prefix = prefix;
}

void log_set_sink(log_sink_t sink, void *userdata) {
        log_sink = sink;
        log_sink_userdata = userdata;
}

void log_get_sink(log_sink_t *ret_sink, void **ret_userdata) {
        *ret_sink = log_sink;
        *ret_userdata = log_sink_userdata;
}

int log_level_from_string(const char *s) {
        static const char *const names[] = {
                "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
                return s[0] - '0';
        return -EINVAL;
}

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(const char *prefix) {
        const char *e = getenv("BERTH_LOG_LEVEL");

        log_prefix = prefix;
        if (e) {
                int l = log_level_from_string(e);
                if (l >= 0)
                        max_level = l;
        }
        journal_prefix = stderr_is_journal();
}

int log_internal(int level, int error, const char *format, ...) {
        char buf[2048];
        int saved_errno = errno, e = ERRNO_VALUE(error);
        va_list ap;

        /* %m refers to the error passed in, not to whatever errno happens to be. */
        errno = e;
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        if (log_sink)
                log_sink(level, e, buf, log_sink_userdata);
        else if (journal_prefix)
                fprintf(stderr, "<%i>%s\n", level, buf);
        else if (log_prefix && level <= LOG_WARNING)
                fprintf(stderr, "%s: %s\n", log_prefix, buf);
        else
                fprintf(stderr, "%s\n", buf);

        errno = saved_errno;
        return -e;
}
