/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "bus-worker.h"
#include "fd-util.h"
#include "image-info.h"
#include "image-metadata.h"
#include "machine1-bus.h"
#include "mount-util.h"
#include "os-release.h"
#include "parse-util.h"
#include "string-util.h"

#define IMAGE_FILE_MAX (64U * 1024U)

/* In the worker: the file's text, or nothing when the image has no such (regular) file. */
static int image_file_worker(const Image *i, const char *file, int out_fd) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        int r;

        if (i->type == IMAGE_RAW)
                r = image_raw_read_file(i->path, file, IMAGE_FILE_MAX, &text);
        else {
                fd = open(i->path, O_PATH|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                r = read_regular_file_in_root(fd, file, IMAGE_FILE_MAX, &text, NULL);
        }
        if (r == -ENOENT || r == -EBADFD || r == -EFBIG || r == -ENOTDIR || r == -ELOOP)
                return 0;       /* as machined: no usable file, an empty answer */
        if (r < 0)
                return r;
        return write_string_fd(out_fd, text);
}

static int hostname_worker(void *userdata, int out_fd) {
        return image_file_worker(userdata, "/etc/hostname", out_fd);
}

static int machine_id_worker(void *userdata, int out_fd) {
        return image_file_worker(userdata, "/etc/machine-id", out_fd);
}

static int machine_info_worker(void *userdata, int out_fd) {
        return image_file_worker(userdata, "/etc/machine-info", out_fd);
}

static int reply_error(sd_bus_message *message, int r, const char *subject) {
        return sd_bus_reply_method_errnof(message, r, "Failed to read metadata of %s: %m", subject);
}

static int reply_hostname(Manager *m, sd_bus_message *message, int r, const char *buf, size_t size,
                          const BusWorkerSubject *s) {
        _cleanup_free_ char *text = NULL, *hostname = NULL;

        if (r < 0)
                return reply_error(message, r, s->subject);
        text = strndup(buf ?: "", size);
        if (!text)
                return -ENOMEM;
        hostname = hostname_from_etc_hostname(text);
        return sd_bus_reply_method_return(message, "s", strempty(hostname));
}

static int reply_machine_id(Manager *m, sd_bus_message *message, int r, const char *buf, size_t size,
                            const BusWorkerSubject *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char hex[33] = {};
        Id128 id = {};
        bool have = false;

        if (r < 0)
                return reply_error(message, r, s->subject);
        /* 32 hex digits and a newline; "uninitialized" (first boot pending) is no ID */
        if (size >= 32 && (size == 32 || buf[32] == '\n')) {
                memcpy(hex, buf, 32);
                have = strspn(hex, "0123456789abcdef") == 32 && id128_from_string(hex, &id) >= 0 &&
                        !id128_is_null(&id);
        }

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', id.bytes, have ? 16 : 0);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int reply_machine_info(Manager *m, sd_bus_message *message, int r, const char *buf, size_t size,
                              const BusWorkerSubject *s) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *text = NULL;

        if (r < 0)
                return reply_error(message, r, s->subject);
        text = strndup(buf ?: "", size);
        if (!text)
                return -ENOMEM;
        if (os_release_parse(text, &l) < 0)
                l = NULL;
        return bus_reply_os_release(message, l ?: (char *[]) { NULL });
}

static int start_image_worker(sd_bus_message *message, Manager *m, Image *i, BusWorkerFunc f, BusWorkerReply reply,
                              sd_bus_error *error) {
        _cleanup_free_ char *subject = NULL;

        if (i->type != IMAGE_RAW && i->type != IMAGE_DIRECTORY && i->type != IMAGE_SUBVOLUME)
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                                         "Reading metadata of %s images is not supported.", image_type_to_string(i->type));
        if (asprintf(&subject, "image '%s'", i->name) < 0)
                return -ENOMEM;
        /* In a worker: the image may sit on a file system that never answers (bus-worker.h). */
        return bus_worker_start(m, message, f, i, BUS_WORKER_TIMEOUT_USEC, reply,
                                &(BusWorkerSubject) { .subject = subject, .name = i->name }, error);
}

static bool hostname_char_ok(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

char *hostname_from_etc_hostname(const char *text) {
        for (const char *p = text; p && *p; ) {
                size_t n = strcspn(p, "\n"), k;
                const char *line = p;

                p += n + (p[n] == '\n');
                while (n > 0 && strchr(" \t\r", *line)) {
                        line++;
                        n--;
                }
                while (n > 0 && strchr(" \t\r", line[n - 1]))
                        n--;
                if (n == 0 || line[0] == '#')
                        continue;
                for (k = 0; k < n && hostname_char_ok(line[k]); k++)
                        ;
                if (k != n || n > 64 || line[0] == '.' || line[0] == '-')
                        return NULL;
                return strndup(line, n);
        }
        return NULL;
}

int image_method_get_hostname(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error) {
        return start_image_worker(message, m, i, hostname_worker, reply_hostname, error);
}

int image_method_get_machine_id(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error) {
        return start_image_worker(message, m, i, machine_id_worker, reply_machine_id, error);
}

int image_method_get_machine_info(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error) {
        return start_image_worker(message, m, i, machine_info_worker, reply_machine_info, error);
}
