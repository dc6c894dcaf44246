/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

int parse_boolean(const char *s);
/* Decimal digits only (no sign, whitespace or base prefix): -EINVAL, or -ERANGE past
 * UINT64_MAX. For numbers from configuration, command lines and state files alike. */
int safe_atou64(const char *s, uint64_t *ret);
int parse_uid(const char *s, uid_t *ret);
int parse_mode(const char *s, mode_t *ret);
int signal_from_string(const char *s);       /* "TERM", "SIGTERM", "15", "RTMIN+3" */
const char *signal_to_string(int sig, char buf[static 16]);

/* 128-bit ids (machine UUIDs) */
typedef struct Id128 {
        uint8_t bytes[16];
} Id128;
int id128_from_string(const char *s, Id128 *ret);   /* with or without dashes */
int id128_randomize(Id128 *ret);                    /* random v4 UUID */
/* '0'..'9', 'a'..'f', 'A'..'F' → 0..15; -EINVAL otherwise */
int unhexchar(char c);
char *id128_to_uuid_string(const Id128 *id, char buf[static 37]);
static inline bool id128_is_null(const Id128 *id) {
        for (unsigned i = 0; i < 16; i++)
                if (id->bytes[i])
                        return false;
        return true;
}
