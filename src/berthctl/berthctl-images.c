/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <string.h>

#include "berthctl-format.h"
#include "berthctl.h"
#include "log.h"
#include "machine1-bus.h"
#include "parse-util.h"
#include "string-util.h"

#define ANSI_HIGHLIGHT_RED "\x1b[0;1;31m"
#define ANSI_NORMAL "\x1b[0m"

/* --- list-images ------------------------------------------------------------------- */

int verb_list_images(sd_bus *bus, int argc, char **argv) {
        static const char * const columns[] = { "name", "type", "ro", "usage", "created", "modified" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(table_freep) Table *t = table_new(columns, ELEMENTSOF(columns));
        const char *name, *type;
        uint64_t crtime, mtime, usage;
        int ro, r;

        if (!t)
                return log_oom();
        table_set_align_right(t, 3);

        r = manager_call(bus, "Could not get images", 0, &reply, "ListImages", NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ssbttto)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ssbttto)", &name, &type, &ro, &crtime, &mtime,
                                                    &usage, NULL)) > 0) {
                if (name[0] == '.' && !arg_all)
                        continue;
                r = table_add_string(t, name);
                r = r ?: table_add_string(t, type);
                r = r ?: table_add_bool(t, ro, ANSI_HIGHLIGHT_RED);
                r = r ?: table_add_size(t, usage);
                r = r ?: table_add_timestamp(t, crtime);
                r = r ?: table_add_timestamp(t, mtime);
                if (r < 0)
                        return log_oom();
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse ListImages() reply: %s", strerror(-r));
        return show_table(t, "images");
}

/* --- image-status ------------------------------------------------------------------- */

typedef struct ImageStatus {
        char *name, *path, *type;
        int read_only;
        uint64_t crtime, mtime, usage, limit, usage_excl, limit_excl;
} ImageStatus;

static void image_status_done(ImageStatus *s) {
        free(s->name);
        free(s->path);
        free(s->type);
}

static int image_status_read_one(sd_bus_message *m, const char *name, void *userdata) {
        static const struct {
                const char *name;
                size_t offset;
        } u64[] = {
                { "CreationTimestamp",     offsetof(ImageStatus, crtime) },
                { "ModificationTimestamp", offsetof(ImageStatus, mtime) },
                { "Usage",                 offsetof(ImageStatus, usage) },
                { "Limit",                 offsetof(ImageStatus, limit) },
                { "UsageExclusive",        offsetof(ImageStatus, usage_excl) },
                { "LimitExclusive",        offsetof(ImageStatus, limit_excl) },
        };
        ImageStatus *s = userdata;
        char **str = streq(name, "Name") ? &s->name : streq(name, "Path") ? &s->path :
                     streq(name, "Type") ? &s->type : NULL;
        const char *v;
        int r;

        if (str) {
                r = sd_bus_message_read(m, "v", "s", &v);
                if (r >= 0 && !isempty(v) && !(*str = strdup(v)))
                        return -ENOMEM;
                return r;
        }
        if (streq(name, "ReadOnly"))
                return sd_bus_message_read(m, "v", "b", &s->read_only);
        for (size_t i = 0; i < ELEMENTSOF(u64); i++)
                if (streq(name, u64[i].name))
                        return sd_bus_message_read(m, "v", "t", (uint64_t *) ((uint8_t *) s + u64[i].offset));
        return sd_bus_message_skip(m, "v");
}

/* Hostname, machine ID and deployment of the image: optional, quietly left out. */
static void print_image_identity(sd_bus *bus, const char *name) {
        static const char * const keys[] = { "DEPLOYMENT" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *h = NULL, *id = NULL, *info = NULL;
        char *deployment[1] = {};
        const char *hostname;
        const uint8_t *p;
        size_t sz;
        bool null = true;

        if (manager_call(bus, NULL, 0, &h, "GetImageHostname", "s", name) >= 0 &&
            sd_bus_message_read(h, "s", &hostname) >= 0 && !isempty(hostname))
                fprintf(out, "\tHostname: %s\n", hostname);

        if (manager_call(bus, NULL, 0, &id, "GetImageMachineID", "s", name) >= 0 &&
            sd_bus_message_read_array(id, 'y', (const void **) &p, &sz) >= 0 && sz == 16) {
                for (size_t i = 0; i < sz; i++)
                        null = null && !p[i];
                if (!null) {
                        fputs("      Machine ID: ", out);
                        for (size_t i = 0; i < sz; i++)
                                fprintf(out, "%02x", p[i]);
                        fputc('\n', out);
                }
        }

        if (manager_call(bus, NULL, 0, &info, "GetImageMachineInfo", "s", name) >= 0 &&
            read_string_map(info, keys, deployment, 1) >= 0 && deployment[0])
                fprintf(out, "      Deployment: %s\n", deployment[0]);
        free(deployment[0]);
}

static void print_timestamp_line(const char *label, uint64_t usec) {
        char a[FORMAT_TIMESTAMP_MAX], b[FORMAT_TIMESTAMP_MAX];

        if (format_timestamp(a, usec))
                fprintf(out, "\t%s: %s; %s\n", label, a, format_timestamp_relative(b, usec));
}

static void print_bytes_line(const char *label, uint64_t total, uint64_t exclusive) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];

        if (total == UINT64_MAX)
                return;
        if (exclusive != total && exclusive != UINT64_MAX)
                fprintf(out, "\t   %s: %s (exclusive: %s)\n", label, format_bytes(a, total), format_bytes(b, exclusive));
        else
                fprintf(out, "\t   %s: %s\n", label, format_bytes(a, total));
}

static void print_image_status(sd_bus *bus, const ImageStatus *s, bool color) {
        static const char * const keys[] = { "PRETTY_NAME" };
        char *pretty[1] = {};

        if (s->name)
                fprintf(out, "%s\n", s->name);
        if (s->type)
                fprintf(out, "\t    Type: %s\n", s->type);
        if (s->path)
                fprintf(out, "\t    Path: %s\n", s->path);
        if (s->name) {
                print_image_identity(bus, s->name);
                if (get_os_release(bus, "GetImageOSRelease", s->name, keys, pretty, 1) >= 0 && pretty[0])
                        fprintf(out, "\t      OS: %s\n", pretty[0]);
                free(pretty[0]);
        }
        fprintf(out, "\t      RO: %s%s%s\n", s->read_only && color ? ANSI_HIGHLIGHT_RED : "",
                s->read_only ? "read-only" : "writable", s->read_only && color ? ANSI_NORMAL : "");
        print_timestamp_line(" Created", s->crtime);
        print_timestamp_line("Modified", s->mtime);
        print_bytes_line("Usage", s->usage, s->usage_excl);
        print_bytes_line("Limit", s->limit, s->limit_excl);
}

static int print_pool_status(sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        uint64_t usage = UINT64_MAX, limit = UINT64_MAX;
        int r;

        r = sd_bus_get_property_string(bus, MACHINE1_BUS_NAME, MACHINE1_MANAGER_PATH, MACHINE1_MANAGER_INTERFACE,
                                       "PoolPath", &error, &path);
        if (r >= 0)
                r = sd_bus_get_property_trivial(bus, MACHINE1_BUS_NAME, MACHINE1_MANAGER_PATH,
                                                MACHINE1_MANAGER_INTERFACE, "PoolUsage", &error, 't', &usage);
        if (r >= 0)
                r = sd_bus_get_property_trivial(bus, MACHINE1_BUS_NAME, MACHINE1_MANAGER_PATH,
                                                MACHINE1_MANAGER_INTERFACE, "PoolLimit", &error, 't', &limit);
        if (r < 0)
                return log_error_errno(r, "Could not get properties: %s", bus_error_text(&error, r));
        if (!isempty(path))
                fprintf(out, "\t    Path: %s\n", path);
        print_bytes_line("Usage", usage, UINT64_MAX);
        print_bytes_line("Limit", limit, UINT64_MAX);
        return 0;
}

int verb_image_status(sd_bus *bus, int argc, char **argv) {
        int r;

        if (argc <= 1)
                return print_pool_status(bus);

        for (int i = 1; i < argc; i++) {
                _cleanup_(image_status_done) ImageStatus s = { .usage = UINT64_MAX, .limit = UINT64_MAX,
                                                              .usage_excl = UINT64_MAX, .limit_excl = UINT64_MAX };
                _cleanup_free_ char *path = NULL;

                r = get_object_path(bus, "GetImage", "Could not get path to image", argv[i], &path);
                if (r < 0)
                        return r;
                r = read_all_properties(bus, path, MACHINE1_IMAGE_INTERFACE, image_status_read_one, &s);
                if (r < 0)
                        return r;
                if (i > 1)
                        fputc('\n', out);
                print_image_status(bus, &s, out_is_terminal());
        }
        return 0;
}

int verb_show_image(sd_bus *bus, int argc, char **argv) {
        return print_objects_properties(bus, argc, argv, "GetImage", "Could not get path to image");
}

/* --- changes ------------------------------------------------------------------------ */

/* Copies and removals of big trees take as long as they take: no method call timeout. */
#define SLOW_CALL_TIMEOUT UINT64_MAX

int verb_clone(sd_bus *bus, int argc, char **argv) {
        return manager_call(bus, "Could not clone image", SLOW_CALL_TIMEOUT, NULL, "CloneImage", "ssb",
                            argv[1], argv[2], (int) arg_read_only);
}

int verb_rename(sd_bus *bus, int argc, char **argv) {
        return manager_call(bus, "Could not rename image", 0, NULL, "RenameImage", "ss", argv[1], argv[2]);
}

int verb_read_only(sd_bus *bus, int argc, char **argv) {
        int b = 1;

        if (argc > 2) {
                b = parse_boolean(argv[2]);
                if (b < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Failed to parse boolean argument: %s", argv[2]);
        }
        return manager_call(bus, "Could not mark image read-only", 0, NULL, "MarkImageReadOnly", "sb", argv[1], b);
}

int verb_remove(sd_bus *bus, int argc, char **argv) {
        int r;

        for (int i = 1; i < argc; i++) {
                r = manager_call(bus, "Could not remove image", SLOW_CALL_TIMEOUT, NULL, "RemoveImage", "s", argv[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int verb_set_limit(sd_bus *bus, int argc, char **argv) {
        const char *arg = argv[argc - 1];
        uint64_t limit;

        if (streq(arg, "-") || streq(arg, "none") || streq(arg, "infinity"))
                limit = UINT64_MAX;
        else if (parse_size(arg, &limit) < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Failed to parse size: %s", arg);

        /* With a name the image's quota, without one the pool's. */
        if (argc > 2)
                return manager_call(bus, "Could not set limit", 0, NULL, "SetImageLimit", "st", argv[1], limit);
        return manager_call(bus, "Could not set limit", 0, NULL, "SetPoolLimit", "t", limit);
}

int verb_clean(sd_bus *bus, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint64_t usage, total = 0;
        char buf[FORMAT_BYTES_MAX];
        const char *name;
        unsigned n = 0;
        int r;

        r = manager_call(bus, "Could not clean pool", SLOW_CALL_TIMEOUT, &reply, "CleanPool", "s",
                         arg_all ? "all" : "hidden");
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "(st)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(st)", &name, &usage)) > 0) {
                if (usage == UINT64_MAX) {
                        log_info("Removed image '%s'", name);
                        total = UINT64_MAX;
                } else {
                        log_info("Removed image '%s'. Freed exclusive disk space: %s", name, format_bytes(buf, usage));
                        if (total != UINT64_MAX)
                                total += usage;
                }
                n++;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse CleanPool() reply: %s", strerror(-r));

        if (total == UINT64_MAX)
                log_info("Removed %u images in total.", n);
        else
                log_info("Removed %u images in total. Total freed exclusive disk space: %s.", n, format_bytes(buf, total));
        return 0;
}
