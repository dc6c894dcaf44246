/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

/* One small log API.  Messages go to stderr; when stderr is connected to the journal
 * ($JOURNAL_STREAM matches it) each line carries a "<N>" priority prefix that journald
 * parses, so priorities survive without linking sd-journal into the launcher. */

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_prefix(const char *prefix);
void log_setup(const char *prefix);       /* reads $BERTH_LOG_LEVEL and $JOURNAL_STREAM */

/* Hook used by the machine's setup child: instead of printing, send the message to the
 * parent over a socket (see spawn-sync.c). */
typedef void (*log_sink_t)(int level, int error, const char *msg, void *userdata);
void log_set_sink(log_sink_t sink, void *userdata);
void log_get_sink(log_sink_t *ret_sink, void **ret_userdata);

int log_internal(int level, int error, const char *format, ...) _printf_(3, 4);

#define SYNTHETIC_ERRNO(e) (1 << 30 | (e))
#define ERRNO_VALUE(e) (abs(e) & ~(1 << 30))

#define log_full_errno(level, error, ...) \
        ({ int _e_ = (error); (level) <= log_get_max_level() ? log_internal((level), _e_, __VA_ARGS__) : -ERRNO_VALUE(_e_); })
#define log_full(level, ...) ((void) log_full_errno((level), 0, __VA_ARGS__))

#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, (e), __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

int log_level_from_string(const char *s);
