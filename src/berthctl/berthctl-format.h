/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "macro.h"

/* Text formats shared by the verbs; each matches what machinectl 252 prints. */

#define FORMAT_BYTES_MAX 48
#define FORMAT_TIMESTAMP_MAX 64

#define USEC_INFINITY UINT64_MAX

/* "100.0K", "512B"; NULL for UINT64_MAX (unknown) */
const char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t bytes);
/* "Sat 2026-12-05 22:56:20 UTC"; NULL for 0 and UINT64_MAX (not set) */
const char *format_timestamp(char buf[static FORMAT_TIMESTAMP_MAX], uint64_t usec);
/* "5min 3s ago"; NULL when not set */
const char *format_timestamp_relative(char buf[static FORMAT_TIMESTAMP_MAX], uint64_t usec);
/* "1.5G", "100M", "4096": 1024-based, as machinectl set-limit reads it */
int parse_size(const char *s, uint64_t *ret);

/* Display width of a UTF-8 string (code points, every one one column wide). */
size_t utf8_width(const char *s, size_t n);

/* JSON string literal with the escapes RFC 8259 requires */
void json_write_string(FILE *f, const char *s);
