/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* berthctl's tables and formats: the exact text machinectl 252 prints for the same cells
 * (widths, alignment, sorting, ersatz dash, address lines), and JSON with escapes. */

#include <stdint.h>
#include <stdlib.h>

#include "berthctl-format.h"
#include "berthctl-table.h"
#include "string-util.h"
#include "tap.h"

static char *render(Table *t, const TablePrintOptions *o, JsonFormat json) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        if (json == JSON_FORMAT_OFF)
                table_print(t, f, o);
        else
                table_print_json(t, f, json);
        fclose(f);
        return buf;
}

static void test_format_bytes(void) {
        char buf[FORMAT_BYTES_MAX];

        CHECK_STREQ(format_bytes(buf, 102400), "100.0K");
        CHECK_STREQ(format_bytes(buf, 1536), "1.5K");
        CHECK_STREQ(format_bytes(buf, 512), "512B");
        CHECK_STREQ(format_bytes(buf, 0), "0B");
        CHECK_STREQ(format_bytes(buf, UINT64_C(1) << 30), "1.0G");
        CHECK_STREQ(format_bytes(buf, UINT64_MAX - 1), "15.9E");
        CHECK(format_bytes(buf, UINT64_MAX) == NULL);
}

static void test_parse_size(void) {
        uint64_t v = 0;

        CHECK(parse_size("1G", &v) == 0 && v == UINT64_C(1) << 30);
        CHECK(parse_size("1.5K", &v) == 0 && v == 1536);
        CHECK(parse_size("100", &v) == 0 && v == 100);
        CHECK(parse_size("100B", &v) == 0 && v == 100);
        CHECK(parse_size("2MB", &v) == 0 && v == UINT64_C(2) << 20);
        CHECK(parse_size("-1", &v) == -EINVAL);
        CHECK(parse_size(" 1", &v) == -EINVAL);
        CHECK(parse_size("", &v) == -EINVAL);
        CHECK(parse_size("1X", &v) == -EINVAL);
        CHECK(parse_size("1KK", &v) == -EINVAL);
        CHECK(parse_size("lots", &v) == -EINVAL);
        CHECK(parse_size("20000000E", &v) == -ERANGE);
}

static void test_timestamps(void) {
        char buf[FORMAT_TIMESTAMP_MAX];

        setenv("TZ", "UTC", 1);
        CHECK_STREQ(format_timestamp(buf, UINT64_C(1796511380) * 1000000), "Sat 2026-12-05 22:56:20 UTC");
        CHECK(format_timestamp(buf, 0) == NULL);
        CHECK(format_timestamp(buf, UINT64_MAX) == NULL);
        CHECK(format_timestamp_relative(buf, 0) == NULL);
        CHECK(format_timestamp_relative(buf, 1) != NULL && endswith(buf, " ago"));
}

static const char * const columns[] = { "machine", "class", "service", "addresses" };

static Table *machines_table(size_t max_lines) {
        char *two[] = { (char *) "192.0.2.2", (char *) "fd00::2", NULL };
        char *none[] = { NULL };
        Table *t = table_new(columns, 4);

        /* added unsorted, with an empty service and a machine without addresses */
        table_add_string(t, "obs1");
        table_add_string(t, "container");
        table_add_string(t, "svc");
        table_add_lines(t, two, max_lines);
        table_add_string(t, "longername-x");
        table_add_string(t, "vm");
        table_add_string(t, "");
        table_add_lines(t, none, max_lines);
        return t;
}

static void test_table_text(void) {
        Table *t = machines_table(1);
        char *s;

        CHECK(table_rows(t) == 2);
        s = render(t, &(TablePrintOptions) { .header = true }, JSON_FORMAT_OFF);
        CHECK_STREQ(s, "MACHINE      CLASS     SERVICE ADDRESSES\n"
                       "longername-x vm        -       -\n"
                       "obs1         container svc     192.0.2.2\xe2\x80\xa6\n");
        free(s);
        s = render(t, &(TablePrintOptions) { .header = false }, JSON_FORMAT_OFF);
        CHECK_STREQ(s, "longername-x vm        -   -\n"
                       "obs1         container svc 192.0.2.2\xe2\x80\xa6\n");
        free(s);
        /* ellipsized to a narrow terminal: the widest column gives way, one column at a time */
        s = render(t, &(TablePrintOptions) { .header = true, .max_width = 36 }, JSON_FORMAT_OFF);
        CHECK_STREQ(s, "MACHINE  CLASS     SERVICE ADDRESSES\n"
                       "longern\xe2\x80\xa6 vm        -       -\n"
                       "obs1     container svc     192.0.2.\xe2\x80\xa6\n");
        free(s);
        table_free(t);

        t = machines_table(SIZE_MAX);
        s = render(t, &(TablePrintOptions) { .header = true }, JSON_FORMAT_OFF);
        CHECK_STREQ(s, "MACHINE      CLASS     SERVICE ADDRESSES\n"
                       "longername-x vm        -       -\n"
                       "obs1         container svc     192.0.2.2\n"
                       "                               fd00::2\n");
        free(s);
        table_free(t);
}

static void test_table_right_align(void) {
        static const char * const cols[] = { "name", "usage", "ro" };
        Table *t = table_new(cols, 3);
        char *s;

        table_set_align_right(t, 1);
        table_add_string(t, "disk");
        table_add_size(t, 102400);
        table_add_bool(t, false, NULL);
        table_add_string(t, "img10");
        table_add_size(t, UINT64_MAX);
        table_add_bool(t, true, "\x1b[31m");
        table_add_string(t, "img2");
        table_add_size(t, 512);
        table_add_bool(t, false, NULL);
        /* sorted byte-wise like machinectl: img10 before img2; colour only when asked */
        s = render(t, &(TablePrintOptions) { .header = true }, JSON_FORMAT_OFF);
        CHECK_STREQ(s, "NAME   USAGE RO\n"
                       "disk  100.0K no\n"
                       "img10        yes\n"
                       "img2    512B no\n");
        free(s);
        s = render(t, NULL, JSON_FORMAT_SHORT);
        CHECK_STREQ(s, "[{\"name\":\"disk\",\"usage\":102400,\"ro\":false},"
                       "{\"name\":\"img10\",\"usage\":null,\"ro\":true},"
                       "{\"name\":\"img2\",\"usage\":512,\"ro\":false}]\n");
        free(s);
        table_free(t);
}

static void test_table_json(void) {
        static const char * const cols[] = { "name", "addresses" };
        char *addrs[] = { (char *) "a", (char *) "b", NULL }, *none[] = { NULL };
        Table *t = table_new(cols, 2);
        char *s;

        table_add_string(t, "q\"uo\\te\n\x01");
        table_add_lines(t, addrs, 1);
        table_add_string(t, NULL);
        table_add_lines(t, none, 1);
        /* every address, whatever the line limit of the text */
        s = render(t, NULL, JSON_FORMAT_SHORT);
        CHECK_STREQ(s, "[{\"name\":null,\"addresses\":[]},{\"name\":\"q\\\"uo\\\\te\\n\\u0001\",\"addresses\":[\"a\",\"b\"]}]\n");
        free(s);
        s = render(t, NULL, JSON_FORMAT_PRETTY);
        CHECK_STREQ(s, "[\n\t{\n\t\t\"name\" : null,\n\t\t\"addresses\" : []\n\t},\n"
                       "\t{\n\t\t\"name\" : \"q\\\"uo\\\\te\\n\\u0001\",\n\t\t\"addresses\" : [\n\t\t\t\"a\",\n\t\t\t\"b\"\n\t\t]\n\t}\n]\n");
        free(s);
        table_free(t);

        t = table_new(cols, 2);
        s = render(t, NULL, JSON_FORMAT_PRETTY);
        CHECK_STREQ(s, "[]\n");
        free(s);
        table_free(t);
}

int main(void) {
        test_format_bytes();
        test_parse_size();
        test_timestamps();
        test_table_text();
        test_table_right_align();
        test_table_json();
        return tap_done();
}
