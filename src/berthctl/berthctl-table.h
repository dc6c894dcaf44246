/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "macro.h"

/* A table as machinectl prints it: one space between columns, widths from the content,
 * upper-case header, rows sorted by the first column, cells of several lines (addresses),
 * an ersatz "-" for empty strings.  The same rows print as JSON objects keyed by the
 * column names, with every value in full (no line limit, no ellipsis). */

typedef struct Table Table;

typedef struct TablePrintOptions {
        bool header;
        bool color;             /* underline the header, colour marked cells */
        size_t max_width;       /* 0: unlimited; else ellipsize the widest columns to fit */
} TablePrintOptions;

typedef enum JsonFormat {
        JSON_FORMAT_OFF,
        JSON_FORMAT_SHORT,      /* one line */
        JSON_FORMAT_PRETTY,     /* indented with tabs, like systemd's json-pretty */
} JsonFormat;

Table *table_new(const char * const *columns, size_t n_columns);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

void table_set_align_right(Table *t, size_t column);
size_t table_rows(const Table *t);

/* Each adds the next cell, row by row; all return 0 or -ENOMEM. */
int table_add_string(Table *t, const char *s);                  /* NULL/"" → "-" / null */
int table_add_lines(Table *t, char * const *lines, size_t max_lines);   /* text: at most max_lines, "…" if cut */
int table_add_bool(Table *t, bool b, const char *color_if_true);
int table_add_size(Table *t, uint64_t bytes);                   /* UINT64_MAX → "" / null */
int table_add_timestamp(Table *t, uint64_t usec);               /* 0, UINT64_MAX → "-" / null */

void table_print(Table *t, FILE *f, const TablePrintOptions *o);
void table_print_json(Table *t, FILE *f, JsonFormat format);
