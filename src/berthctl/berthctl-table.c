/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "berthctl-format.h"
#include "berthctl-table.h"
#include "string-util.h"

#define ANSI_UNDERLINE "\x1b[0;4m"
#define ANSI_NORMAL "\x1b[0m"
#define ELLIPSIS "\xe2\x80\xa6"         /* "…" */
#define MIN_COLUMN_WIDTH 6

typedef struct TableCell {
        char *text;             /* as printed in the table; '\n' separates lines */
        char *json;             /* a JSON scalar, or NULL when 'lines' is the value */
        char **lines;           /* a JSON array of strings */
        const char *color;
} TableCell;

struct Table {
        size_t n_columns;
        const char * const *columns;
        bool *right;
        TableCell *cells;
        size_t n_cells, allocated;
};

Table *table_new(const char * const *columns, size_t n_columns) {
        Table *t = calloc(1, sizeof(Table));

        if (!t)
                return NULL;
        t->right = calloc(n_columns, sizeof(bool));
        if (!t->right) {
                free(t);
                return NULL;
        }
        t->columns = columns;
        t->n_columns = n_columns;
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++) {
                free(t->cells[i].text);
                free(t->cells[i].json);
                strv_free(t->cells[i].lines);
        }
        free(t->cells);
        free(t->right);
        free(t);
        return NULL;
}

void table_set_align_right(Table *t, size_t column) {
        if (column < t->n_columns)
                t->right[column] = true;
}

size_t table_rows(const Table *t) {
        return t->n_cells / t->n_columns;
}

/* Takes ownership of text, json and lines, also on failure. */
static int table_add_cell(Table *t, char *text, char *json, char **lines, const char *color) {
        if (!text || (!json && !lines))
                goto oom;
        if (t->n_cells == t->allocated) {
                size_t n = t->allocated ? t->allocated * 2 : 64;
                TableCell *c = realloc(t->cells, n * sizeof(TableCell));
                if (!c)
                        goto oom;
                t->cells = c;
                t->allocated = n;
        }
        t->cells[t->n_cells++] = (TableCell) { .text = text, .json = json, .lines = lines, .color = color };
        return 0;
oom:
        free(text);
        free(json);
        strv_free(lines);
        return -ENOMEM;
}

static char *json_string(const char *s) {
        char *buf = NULL;
        size_t size;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        json_write_string(f, s);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

int table_add_string(Table *t, const char *s) {
        if (isempty(s))
                return table_add_cell(t, strdup("-"), strdup("null"), NULL, NULL);
        return table_add_cell(t, strdup(s), json_string(s), NULL, NULL);
}

int table_add_lines(Table *t, char * const *lines, size_t max_lines) {
        _cleanup_free_ char *text = NULL;
        size_t n = strv_length(lines), shown = MIN(n, max_lines);
        char **copy;

        copy = strv_copy(lines);
        if (!copy)
                return -ENOMEM;
        if (shown == 0)
                return table_add_cell(t, strdup("-"), NULL, copy, NULL);

        for (size_t i = 0; i < shown; i++) {
                char *j = strjoin(text ?: "", i > 0 ? "\n" : "", lines[i], i + 1 == shown && n > shown ? ELLIPSIS : "");
                if (!j) {
                        strv_free(copy);
                        return -ENOMEM;
                }
                free(text);
                text = j;
        }
        return table_add_cell(t, TAKE_PTR(text), NULL, copy, NULL);
}

int table_add_bool(Table *t, bool b, const char *color_if_true) {
        return table_add_cell(t, strdup(b ? "yes" : "no"), strdup(b ? "true" : "false"), NULL,
                              b ? color_if_true : NULL);
}

static char *u64_to_string(uint64_t u) {
        char *s;

        return asprintf(&s, "%" PRIu64, u) < 0 ? NULL : s;
}

int table_add_size(Table *t, uint64_t bytes) {
        char buf[FORMAT_BYTES_MAX];
        const char *s = format_bytes(buf, bytes);

        if (!s)
                return table_add_cell(t, strdup(""), strdup("null"), NULL, NULL);
        return table_add_cell(t, strdup(s), u64_to_string(bytes), NULL, NULL);
}

int table_add_timestamp(Table *t, uint64_t usec) {
        char buf[FORMAT_TIMESTAMP_MAX];
        const char *s = format_timestamp(buf, usec);

        if (!s)
                return table_add_cell(t, strdup("-"), strdup("null"), NULL, NULL);
        return table_add_cell(t, strdup(s), u64_to_string(usec), NULL, NULL);
}

/* --- sorting: by the first column, byte-wise as machinectl 252 ("m10" < "m2") */

static const Table *sort_table;

static int row_compare(const void *a, const void *b) {
        size_t x = *(const size_t *) a, y = *(const size_t *) b;

        return strcmp(sort_table->cells[x * sort_table->n_columns].text,
                          sort_table->cells[y * sort_table->n_columns].text);
}

static size_t *table_sorted_rows(const Table *t) {
        size_t n = table_rows(t), *order = calloc(MAX(n, 1u), sizeof(size_t));

        if (!order)
                return NULL;
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        sort_table = t;
        qsort(order, n, sizeof(size_t), row_compare);
        return order;
}

/* --- text */

/* Line 'index' of a cell's text: start and length in bytes; false if there is none. */
static bool cell_line(const char *text, size_t index, const char **ret_start, size_t *ret_len) {
        const char *p = text, *nl;

        for (size_t i = 0; i < index; i++) {
                nl = strchr(p, '\n');
                if (!nl)
                        return false;
                p = nl + 1;
        }
        nl = strchr(p, '\n');
        *ret_start = p;
        *ret_len = nl ? (size_t) (nl - p) : strlen(p);
        return true;
}

static size_t cell_height(const char *text) {
        size_t n = 1;

        for (const char *p = text; *p; p++)
                n += *p == '\n';
        return n;
}

static void cell_widen(size_t *width, const char *text) {
        const char *s;
        size_t l;

        for (size_t i = 0; cell_line(text, i, &s, &l); i++)
                *width = MAX(*width, utf8_width(s, l));
}

static void fit_widths(size_t *widths, size_t n, size_t max_width) {
        size_t total = n - 1;

        for (size_t c = 0; c < n; c++)
                total += widths[c];
        while (total > max_width) {
                size_t widest = 0;

                for (size_t c = 1; c < n; c++)
                        if (widths[c] > widths[widest])
                                widest = c;
                if (widths[widest] <= MIN_COLUMN_WIDTH)
                        break;
                widths[widest]--;
                total--;
        }
}

/* Bytes of s (length l) that fit in 'width' columns, leaving room for the ellipsis. */
static size_t ellipsize_len(const char *s, size_t l, size_t width) {
        size_t cols = 0, i;

        for (i = 0; i < l; i++) {
                if (((unsigned char) s[i] & 0xc0) != 0x80) {
                        if (cols + 1 >= width)
                                break;
                        cols++;
                }
        }
        return i;
}

typedef struct LineWriter {
        FILE *f;
        size_t pending;         /* spaces owed before the next visible text: no trailing blanks */
} LineWriter;

static void line_put(LineWriter *w, const char *s, size_t l, size_t width, bool right, const char *color) {
        size_t sw = utf8_width(s, l);
        bool cut = sw > width;

        if (cut) {
                l = ellipsize_len(s, l, width);
                sw = width;
        }
        if (right)
                w->pending += width - sw;
        if (l > 0 || cut) {
                fprintf(w->f, "%*s%s%.*s%s%s", (int) w->pending, "", color ?: "", (int) l, s,
                        cut ? ELLIPSIS : "", color ? ANSI_NORMAL : "");
                w->pending = 0;
        }
        if (!right)
                w->pending += width - sw;
}

static void print_header(const Table *t, FILE *f, const size_t *widths, const TablePrintOptions *o) {
        LineWriter w = { .f = f };

        for (size_t c = 0; c < t->n_columns; c++) {
                char upper[64];
                size_t l = 0;

                for (const char *p = t->columns[c]; *p && l < sizeof(upper) - 1; p++)
                        upper[l++] = (char) toupper((unsigned char) *p);
                w.pending += c > 0;
                line_put(&w, upper, l, widths[c], t->right[c], o->color ? ANSI_UNDERLINE : NULL);
        }
        fputc('\n', f);
}

void table_print(Table *t, FILE *f, const TablePrintOptions *o) {
        size_t n = t->n_columns, rows = table_rows(t);
        _cleanup_free_ size_t *widths = calloc(n, sizeof(size_t));
        _cleanup_free_ size_t *order = table_sorted_rows(t);

        if (!widths || !order)
                return;
        for (size_t c = 0; c < n; c++)
                widths[c] = o->header ? strlen(t->columns[c]) : 0;
        for (size_t i = 0; i < t->n_cells; i++)
                cell_widen(&widths[i % n], t->cells[i].text);
        if (o->max_width > 0)
                fit_widths(widths, n, o->max_width);

        if (o->header)
                print_header(t, f, widths, o);

        for (size_t r = 0; r < rows; r++) {
                TableCell *row = t->cells + order[r] * n;
                size_t height = 1;

                for (size_t c = 0; c < n; c++)
                        height = MAX(height, cell_height(row[c].text));
                for (size_t line = 0; line < height; line++) {
                        LineWriter w = { .f = f };

                        for (size_t c = 0; c < n; c++) {
                                const char *s = "";
                                size_t l = 0;

                                (void) cell_line(row[c].text, line, &s, &l);
                                w.pending += c > 0;
                                line_put(&w, s, l, widths[c], t->right[c], o->color ? row[c].color : NULL);
                        }
                        fputc('\n', f);
                }
        }
}

/* --- JSON */

static void json_write_lines(FILE *f, char * const *lines, JsonFormat format, const char *indent) {
        if (strv_length(lines) == 0) {
                fputs("[]", f);
                return;
        }
        fputc('[', f);
        STRV_FOREACH(l, lines) {
                if (format == JSON_FORMAT_PRETTY)
                        fprintf(f, "\n%s\t", indent);
                json_write_string(f, *l);
                if (l[1])
                        fputc(',', f);
        }
        if (format == JSON_FORMAT_PRETTY)
                fprintf(f, "\n%s", indent);
        fputc(']', f);
}

void table_print_json(Table *t, FILE *f, JsonFormat format) {
        size_t n = t->n_columns, rows = table_rows(t);
        bool pretty = format == JSON_FORMAT_PRETTY;
        _cleanup_free_ size_t *order = table_sorted_rows(t);

        if (!order)
                return;
        fputc('[', f);
        for (size_t r = 0; r < rows; r++) {
                TableCell *row = t->cells + order[r] * n;

                fputs(pretty ? "\n\t{" : "{", f);
                for (size_t c = 0; c < n; c++) {
                        if (pretty)
                                fputs("\n\t\t", f);
                        json_write_string(f, t->columns[c]);
                        fputs(pretty ? " : " : ":", f);
                        if (row[c].json)
                                fputs(row[c].json, f);
                        else
                                json_write_lines(f, row[c].lines, format, "\t\t");
                        if (c + 1 < n)
                                fputc(',', f);
                }
                fputs(pretty ? "\n\t}" : "}", f);
                if (r + 1 < rows)
                        fputc(',', f);
        }
        fputs(pretty && rows > 0 ? "\n]\n" : "]\n", f);
}
