/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "berthctl-format.h"
#include "berthctl.h"
#include "import1-bus.h"
#include "log.h"
#include "machine1-bus.h"
#include "string-util.h"

/* The D-Bus error's own text when there is one (it names the machine or image), else errno's. */
const char *bus_error_text(const sd_bus_error *e, int r) {
        if (e && sd_bus_error_is_set(e) && !isempty(e->message))
                return e->message;
        return strerror(ERRNO_VALUE(r));
}

/* A method call on a service's manager object (machine1's or import1's). */
static int service_callv(sd_bus *bus, const char *service, const char *path, const char *interface,
                         const char *what, uint64_t timeout_usec, sd_bus_message **ret_reply,
                         const char *member, const char *types, va_list ap) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, service, path, interface, member);
        if (r >= 0 && types)
                r = sd_bus_message_appendv(m, types, ap);
        if (r < 0)
                return log_error_errno(r, "Failed to build %s() call: %s", member, strerror(-r));

        r = sd_bus_call(bus, m, timeout_usec, &error, ret_reply);
        if (r < 0) {
                if (what)
                        return log_error_errno(r, "%s: %s", what, bus_error_text(&error, r));
                return log_debug_errno(r, "%s() failed: %s", member, bus_error_text(&error, r));
        }
        return 0;
}

int manager_call(sd_bus *bus, const char *what, uint64_t timeout_usec, sd_bus_message **ret_reply,
                 const char *member, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = service_callv(bus, MACHINE1_BUS_NAME, MACHINE1_MANAGER_PATH, MACHINE1_MANAGER_INTERFACE,
                          what, timeout_usec, ret_reply, member, types, ap);
        va_end(ap);
        return r;
}

int import1_call(sd_bus *bus, const char *what, sd_bus_message **ret_reply, const char *member,
                 const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = service_callv(bus, IMPORT1_BUS_NAME, IMPORT1_MANAGER_PATH, IMPORT1_MANAGER_INTERFACE,
                          what, 0, ret_reply, member, types, ap);
        va_end(ap);
        return r;
}

int get_object_path(sd_bus *bus, const char *method, const char *what, const char *name, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = manager_call(bus, what, 0, &reply, method, "s", name);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_error_errno(r, "Failed to parse %s() reply: %s", method, strerror(-r));
        *ret = strdup(path);
        return *ret ? 0 : log_oom();
}

int read_string_map(sd_bus_message *reply, const char * const *keys, char **values, size_t n) {
        const char *k, *v;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{ss}");
        while (r >= 0 && (r = sd_bus_message_read(reply, "{ss}", &k, &v)) > 0)
                for (size_t i = 0; i < n; i++)
                        if (streq(k, keys[i]) && !values[i]) {
                                values[i] = strdup(v);
                                if (!values[i])
                                        return -ENOMEM;
                        }
        return r < 0 ? r : 0;
}

int get_os_release(sd_bus *bus, const char *method, const char *name, const char * const *keys,
                   char **values, size_t n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = manager_call(bus, NULL, 0, &reply, method, "s", name);
        if (r < 0)
                return r;
        return read_string_map(reply, keys, values, n);
}

int read_addresses(sd_bus_message *reply, int ifindex, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(iay)");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'r', "iay")) > 0) {
                char buf[INET6_ADDRSTRLEN + 16];
                const void *a;
                size_t sz;
                int family;

                r = sd_bus_message_read(reply, "i", &family);
                if (r >= 0)
                        r = sd_bus_message_read_array(reply, 'y', &a, &sz);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        break;
                if (sz != (family == AF_INET ? 4u : family == AF_INET6 ? 16u : 0u) || sz == 0 ||
                    !inet_ntop(family, a, buf, sizeof(buf)))
                        continue;       /* a family we cannot print: skip, as machinectl */
                if (family == AF_INET6 && ifindex > 0)
                        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%%%i", ifindex);
                r = strv_extend(&l, buf);
        }
        if (r >= 0)     /* past the array: a batched reply goes on with the next machine */
                r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

void strv_array_free(char **values, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(values[i]);
}

/* --- show: NAME=VALUE lines ---------------------------------------------------------- */

static bool property_wanted(const char *name) {
        return !arg_property || strv_contains(arg_property, name);
}

static void property_put(const char *name, const char *value, bool empty) {
        /* Empty values only when asked for: -a, or by name with -p (as machinectl). */
        if (empty && !arg_all && !arg_property)
                return;
        if (arg_value)
                fprintf(out, "%s\n", value);
        else
                fprintf(out, "%s=%s\n", name, value);
}

static int property_print_basic(sd_bus_message *m, const char *name, char type) {
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                const char *s;
        } v;
        char buf[FORMAT_TIMESTAMP_MAX], num[32];
        const char *s;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;

        switch (type) {
        case 's': case 'o': case 'g':
                property_put(name, v.s, isempty(v.s));
                return 0;
        case 'b':
                property_put(name, v.b ? "yes" : "no", false);
                return 0;
        case 't':
                if (endswith(name, "Timestamp")) {
                        s = format_timestamp(buf, v.t);
                        property_put(name, strempty(s), !s);
                        return 0;
                }
                if (startswith(name, "Limit") && v.t == UINT64_MAX) {
                        property_put(name, "infinity", false);
                        return 0;
                }
                snprintf(num, sizeof(num), "%" PRIu64, v.t);
                break;
        case 'y': snprintf(num, sizeof(num), "%u", v.y); break;
        case 'n': snprintf(num, sizeof(num), "%d", v.n); break;
        case 'q': snprintf(num, sizeof(num), "%u", v.q); break;
        case 'i': snprintf(num, sizeof(num), "%" PRIi32, v.i); break;
        case 'u': snprintf(num, sizeof(num), "%" PRIu32, v.u); break;
        case 'x': snprintf(num, sizeof(num), "%" PRIi64, v.x); break;
        case 'd': snprintf(num, sizeof(num), "%g", v.d); break;
        default:
                return -EOPNOTSUPP;
        }
        property_put(name, num, false);
        return 0;
}

/* Arrays of one basic type: bytes as hex (Id), others separated by spaces. */
static int property_print_array(sd_bus_message *m, const char *name, char type) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        bool first = true;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        r = sd_bus_message_enter_container(m, 'a', (char[]) { type, 0 });
        while (r >= 0) {
                union { uint8_t y; int32_t i; uint32_t u; const char *s; } v;

                r = sd_bus_message_read_basic(m, type, &v);
                if (r <= 0)
                        break;
                if (type == 'y')
                        fprintf(f, "%02x", v.y);
                else if (type == 'i')
                        fprintf(f, "%s%" PRIi32, first ? "" : " ", v.i);
                else if (type == 'u')
                        fprintf(f, "%s%" PRIu32, first ? "" : " ", v.u);
                else
                        fprintf(f, "%s%s", first ? "" : " ", v.s);
                first = false;
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        property_put(name, strempty(buf), first);
        return 0;
}

static int property_print(sd_bus_message *m, const char *name, const char *contents) {
        int r;

        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;
        if (contents[1] == 0)
                r = property_print_basic(m, name, contents[0]);
        else if (contents[0] == 'a' && strchr("yiuso", contents[1]) && contents[2] == 0)
                r = property_print_array(m, name, contents[1]);
        else
                r = -EOPNOTSUPP;
        if (r == -EOPNOTSUPP) {
                property_put(name, "[unprintable]", true);
                r = sd_bus_message_skip(m, contents);
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int read_all_properties(sd_bus *bus, const char *path, const char *iface, PropertyReader reader, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name;
        int r;

        r = sd_bus_call_method(bus, MACHINE1_BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll",
                               &error, &reply, "s", iface);
        if (r < 0)
                return log_error_errno(r, "Could not get properties: %s", bus_error_text(&error, r));

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &name);
                if (r >= 0)
                        r = reader(reply, name, userdata);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return log_error_errno(r, "Could not parse properties of %s: %s", path, strerror(-r));
        return 0;
}

static int property_show(sd_bus_message *m, const char *name, void *userdata) {
        const char *contents;
        char type;
        int r;

        if (!property_wanted(name))
                return sd_bus_message_skip(m, "v");
        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        return property_print(m, name, contents);
}

int print_properties(sd_bus *bus, const char *path) {
        /* All interfaces at once (""), as machinectl asks. */
        return read_all_properties(bus, path, "", property_show, NULL);
}

/* --- tables ------------------------------------------------------------------------- */

int show_table(Table *t, const char *word) {
        size_t rows = table_rows(t);

        if (arg_json != JSON_FORMAT_OFF)
                table_print_json(t, out, arg_json);
        else if (rows > 0)
                table_print(t, out, &(TablePrintOptions) {
                                .header = arg_legend,
                                .color = out_is_terminal(),
                                .max_width = arg_full ? 0 : out_columns(),
                        });

        if (arg_legend && arg_json == JSON_FORMAT_OFF) {
                if (rows > 0)
                        fprintf(out, "\n%zu %s listed.\n", rows, word);
                else
                        fprintf(out, "No %s.\n", word);
        }
        return 0;
}

int print_objects_properties(sd_bus *bus, int argc, char **argv, const char *getter, const char *what) {
        int r;

        if (argc <= 1)
                return print_properties(bus, MACHINE1_MANAGER_PATH);

        for (int i = 1; i < argc; i++) {
                _cleanup_free_ char *path = NULL;

                r = get_object_path(bus, getter, what, argv[i], &path);
                if (r < 0)
                        return r;
                if (i > 1)
                        fputc('\n', out);
                r = print_properties(bus, path);
                if (r < 0)
                        return r;
        }
        return 0;
}
