/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "image-pool.h"
#include "importd.h"
#include "log.h"
#include "parse-util.h"
#include "string-util.h"

/* The caller's file, kept open for the worker. */
int importd_take_fd(int fd, bool directory, sd_bus_error *error) {
        struct stat st;
        int copy;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "The file descriptor must refer to %s.",
                                         directory ? "a directory" : "a regular file or a pipe");
        copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        return copy < 0 ? -errno : copy;
}

int importd_check_local(const char *local, bool optional, sd_bus_error *error) {
        if (optional && isempty(local))
                return 0;
        if (!image_name_is_valid(local) || streq(local, ".host"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Local name %s is invalid", local);
        return 0;
}

int importd_reply_started(sd_bus_message *message, Transfer *t, sd_bus_error *error) {
        int r = transfer_start(t);

        if (r < 0) {
                transfer_free(t);
                return sd_bus_error_set_errnof(error, r, "Failed to start the transfer: %m");
        }
        return sd_bus_reply_method_return(message, "uo", t->id, t->object_path);
}

int importd_new_transfer(Manager *m, TransferType type, Transfer **ret, sd_bus_error *error) {
        int r = transfer_new(m, type, ret);

        if (r == -EUSERS)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED, "Too many transfers (%u) in progress.",
                                         TRANSFERS_MAX);
        return r;
}

int importd_new_pull(Manager *m, TransferType type, const char *remote, const char *local, bool force,
                     Transfer **ret, sd_bus_error *error) {
        Transfer *t;
        int r;

        for (Transfer *o = m->transfers; o; o = o->next)
                if (o->type == type && streq_ptr(o->remote, remote))
                        return sd_bus_error_setf(error, BUS_ERROR_TRANSFER_IN_PROGRESS,
                                                 "Transfer for %s already in progress.", remote);
        r = importd_new_transfer(m, type, &t, error);
        if (r < 0)
                return r;
        t->force = force;
        t->remote = strdup(remote);
        t->local = isempty(local) ? NULL : strdup(local);
        if (!t->remote || (!isempty(local) && !t->local)) {
                transfer_free(t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

static int method_import(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *member = sd_bus_message_get_member(message), *local;
        bool fs = streq(member, "ImportFileSystem");
        int fd, force, read_only, r, copy;

        r = bus_verify_polkit_async(&m->polkit, message, POLKIT_ACTION_IMPORT, "import images", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(message, "hsbb", &fd, &local, &force, &read_only);
        if (r < 0)
                return r;
        r = importd_check_local(local, false, error);
        if (r < 0)
                return r;
        copy = importd_take_fd(fd, fs, error);
        if (copy < 0)
                return copy;
        return importd_start_import(m, message,
                                    fs ? TRANSFER_IMPORT_FS : streq(member, "ImportTar") ? TRANSFER_IMPORT_TAR : TRANSFER_IMPORT_RAW,
                                    copy, local, force, read_only, error);
}

int importd_start_import(Manager *m, sd_bus_message *message, TransferType type, int fd, const char *local,
                         bool force, bool read_only, sd_bus_error *error) {
        Transfer *t;
        int r;

        r = importd_new_transfer(m, type, &t, error);
        if (r < 0) {
                close(fd);
                return r;
        }
        t->io_fd = fd;
        t->force = force;
        t->read_only = read_only;
        t->local = strdup(local);
        if (!t->local) {
                transfer_free(t);
                return -ENOMEM;
        }
        return importd_reply_started(message, t, error);
}

static int method_export(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *local, *format;
        int fd, r, copy;
        Transfer *t;

        r = bus_verify_polkit_async(&m->polkit, message, POLKIT_ACTION_EXPORT, "export images", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(message, "shs", &local, &fd, &format);
        if (r < 0)
                return r;
        r = importd_check_local(local, false, error);
        if (r < 0)
                return r;
        if (!isempty(format) && !strv_contains((char **) (const char *[]) { "uncompressed", "gzip", "xz", "bzip2", "zstd", NULL },
                                               format))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown format %s", format);
        copy = importd_take_fd(fd, false, error);
        if (copy < 0)
                return copy;
        r = importd_new_transfer(m, streq(sd_bus_message_get_member(message), "ExportTar") ? TRANSFER_EXPORT_TAR : TRANSFER_EXPORT_RAW,
                         &t, error);
        if (r < 0) {
                close(copy);
                return r;
        }
        t->io_fd = copy;
        t->local = strdup(local);
        t->format = strdup(strempty(format));
        if (!t->local || !t->format) {
                transfer_free(t);
                return -ENOMEM;
        }
        return importd_reply_started(message, t, error);
}

static bool url_is_http(const char *url) {
        return (startswith(url, "http://") || startswith(url, "https://")) && string_is_safe(url) &&
               !strpbrk(url, " \t\r\n");
}

static int method_pull(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *remote, *local, *verify;
        TransferType type = streq(sd_bus_message_get_member(message), "PullTar") ? TRANSFER_PULL_TAR : TRANSFER_PULL_RAW;
        Transfer *t;
        int force, r;

        r = bus_verify_polkit_async(&m->polkit, message, POLKIT_ACTION_PULL, "download images", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(message, "sssb", &remote, &local, &verify, &force);
        if (r < 0)
                return r;
        if (!url_is_http(remote))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "URL %s is invalid", remote);
        r = importd_check_local(local, true, error);
        if (r < 0)
                return r;
        if (isempty(verify))
                verify = "signature";
        if (!strv_contains((char **) (const char *[]) { "no", "checksum", "signature", NULL }, verify))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Unknown verification mode %s", verify);
        r = importd_new_pull(m, type, remote, local, force, &t, error);
        if (r < 0)
                return r;
        t->verify = strdup(verify);
        if (!t->verify) {
                transfer_free(t);
                return -ENOMEM;
        }
        return importd_reply_started(message, t, error);
}

static double transfer_progress(const Transfer *t) {
        return (double) t->progress / 100.0;
}

static int method_list_transfers(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(usssdo)");
        if (r < 0)
                return r;
        for (Transfer *t = m->transfers; t; t = t->next) {
                r = sd_bus_message_append(reply, "(usssdo)", t->id, transfer_type_to_string(t->type),
                                          strempty(t->remote), strempty(t->local), transfer_progress(t),
                                          t->object_path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int cancel(Manager *m, sd_bus_message *message, Transfer *t, sd_bus_error *error) {
        int r = transfer_cancel(t);

        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to cancel transfer %" PRIu32 ": %m", t->id);
        return sd_bus_reply_method_return(message, NULL);
}

static int method_cancel_transfer(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        Transfer *t;
        uint32_t id;
        int r;

        /* importd checks cancelling against the pull action, whatever the transfer. */
        r = bus_verify_polkit_async(&m->polkit, message, POLKIT_ACTION_PULL, "cancel transfers", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(message, "u", &id);
        if (r < 0)
                return r;
        if (id == 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid transfer id");
        t = manager_find_transfer(m, id);
        if (!t)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_TRANSFER, "No transfer by id %" PRIu32, id);
        return cancel(m, message, t, error);
}

static int method_cancel(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Transfer *t = userdata;
        int r;

        r = bus_verify_polkit_async(&t->manager->polkit, message, POLKIT_ACTION_PULL, "cancel transfers", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        return cancel(t->manager, message, t, error);
}

static int property_get_type(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Transfer *t = userdata;
        return sd_bus_message_append(reply, "s", transfer_type_to_string(t->type));
}

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        char **s = userdata;
        return sd_bus_message_append(reply, "s", strempty(*s));
}

static int property_get_progress(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "d", transfer_progress(userdata));
}

static const sd_bus_vtable transfer_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "u", NULL, offsetof(Transfer, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Local", "s", property_get_string, offsetof(Transfer, local), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Remote", "s", property_get_string, offsetof(Transfer, remote), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Type", "s", property_get_type, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Verify", "s", property_get_string, offsetof(Transfer, verify), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Progress", "d", property_get_progress, 0, 0),
        /* berth's addition, for berthctl's bytes and rate where it cannot know the size */
        SD_BUS_PROPERTY(IMPORT1_BYTES_PROPERTY, "t", NULL, offsetof(Transfer, bytes), 0),
        SD_BUS_METHOD("Cancel", NULL, NULL, method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("LogMessage", "us", SD_BUS_PARAM(priority) SD_BUS_PARAM(line), 0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("ImportTar", "hsbb", SD_BUS_PARAM(fd) SD_BUS_PARAM(local_name) SD_BUS_PARAM(force) SD_BUS_PARAM(read_only), "uo", SD_BUS_PARAM(transfer_id) SD_BUS_PARAM(transfer_path), method_import, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ImportRaw", "hsbb", SD_BUS_PARAM(fd) SD_BUS_PARAM(local_name) SD_BUS_PARAM(force) SD_BUS_PARAM(read_only), "uo", SD_BUS_PARAM(transfer_id) SD_BUS_PARAM(transfer_path), method_import, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ImportFileSystem", "hsbb", SD_BUS_PARAM(fd) SD_BUS_PARAM(local_name) SD_BUS_PARAM(force) SD_BUS_PARAM(read_only), "uo", SD_BUS_PARAM(transfer_id) SD_BUS_PARAM(transfer_path), method_import, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ExportTar", "shs", SD_BUS_PARAM(local_name) SD_BUS_PARAM(fd) SD_BUS_PARAM(format), "uo", SD_BUS_PARAM(transfer_id) SD_BUS_PARAM(transfer_path), method_export, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ExportRaw", "shs", SD_BUS_PARAM(local_name) SD_BUS_PARAM(fd) SD_BUS_PARAM(format), "uo", SD_BUS_PARAM(transfer_id) SD_BUS_PARAM(transfer_path), method_export, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("PullTar", "sssb", SD_BUS_PARAM(url) SD_BUS_PARAM(local_name) SD_BUS_PARAM(verify_mode) SD_BUS_PARAM(force), "uo", SD_BUS_PARAM(transfer_id) SD_BUS_PARAM(transfer_path), method_pull, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("PullRaw", "sssb", SD_BUS_PARAM(url) SD_BUS_PARAM(local_name) SD_BUS_PARAM(verify_mode) SD_BUS_PARAM(force), "uo", SD_BUS_PARAM(transfer_id) SD_BUS_PARAM(transfer_path), method_pull, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ListTransfers", NULL,, "a(usssdo)", SD_BUS_PARAM(transfers), method_list_transfers,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("CancelTransfer", "u", SD_BUS_PARAM(transfer_id), NULL,, method_cancel_transfer,
                                 SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("TransferNew", "uo", SD_BUS_PARAM(transfer_id) SD_BUS_PARAM(transfer_path), 0),
        SD_BUS_SIGNAL_WITH_NAMES("TransferRemoved", "uos",
                                 SD_BUS_PARAM(transfer_id) SD_BUS_PARAM(transfer_path) SD_BUS_PARAM(result), 0),
        SD_BUS_VTABLE_END,
};

static int transfer_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                                sd_bus_error *error) {
        const char *p = startswith(path, IMPORT1_TRANSFER_PREFIX "/_");
        Transfer *t;
        uint64_t id;

        if (!p || safe_atou64(p, &id) < 0 || id == 0 || id > UINT32_MAX)
                return 0;
        t = manager_find_transfer(userdata, (uint32_t) id);
        if (!t)
                return 0;
        *found = t;
        return 1;
}

static int transfer_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Manager *m = userdata;

        for (Transfer *t = m->transfers; t; t = t->next)
                if (strv_extend(&l, t->object_path) < 0)
                        return -ENOMEM;
        *nodes = TAKE_PTR(l);
        return 1;
}

int manager_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(m->bus, NULL, IMPORT1_MANAGER_PATH, IMPORT1_MANAGER_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the manager object: %m");
        r = manager_bus_register_oci(m);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(m->bus, NULL, IMPORT1_TRANSFER_PREFIX, IMPORT1_TRANSFER_INTERFACE,
                                       transfer_vtable, transfer_object_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register transfer objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, IMPORT1_TRANSFER_PREFIX, transfer_node_enumerator, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the transfer enumerator: %m");
        r = sd_bus_add_object_manager(m->bus, NULL, IMPORT1_MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to register the object manager: %m");
        return 0;
}
