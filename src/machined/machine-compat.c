/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "machine-compat.h"
#include "path-util.h"
#include "string-util.h"

/* One KEY=VALUE line; values with anything but plain characters are double-quoted with
 * the escapes parse_env_file() undoes. Empty values are left out, as machined does. */
static int put_field(FILE *f, const char *key, const char *value) {
        if (isempty(value))
                return 0;
        if (value[strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:/@+-")] == 0)
                return fprintf(f, "%s=%s\n", key, value) < 0 ? -EIO : 0;

        fprintf(f, "%s=\"", key);
        for (const char *p = value; *p; p++) {
                if (strchr("\"\\`$", *p))
                        fputc('\\', f);
                fputc(*p, f);
        }
        return fputs("\"\n", f) < 0 ? -EIO : 0;
}

int machine_compat_serialize(const MachineInfo *i, char **ret) {
        _cleanup_free_ char *buf = NULL;
        char id[33], num[32];
        size_t size = 0;
        FILE *f;
        int r = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fputs("# This is private data. Do not parse.\n", f);
        r = put_field(f, "NAME", i->name);
        if (r >= 0)
                r = put_field(f, "SCOPE", i->unit);
        if (r >= 0)
                r = put_field(f, "SERVICE", i->service);
        if (r >= 0)
                r = put_field(f, "ROOT", i->root_directory);
        if (r >= 0 && !id128_is_null(&i->id)) {
                for (size_t k = 0; k < 16; k++)
                        snprintf(id + 2 * k, 3, "%02x", i->id.bytes[k]);
                r = put_field(f, "ID", id);
        }
        if (r >= 0)
                r = put_field(f, "CLASS", machine_class_to_string(i->class));
        if (r >= 0) {
                snprintf(num, sizeof(num), "%i", (int) i->leader);
                r = put_field(f, "LEADER", num);
        }
        if (r >= 0 && i->timestamp_realtime > 0)
                fprintf(f, "REALTIME=%" PRIu64 "\n", i->timestamp_realtime);
        if (r >= 0 && i->timestamp_monotonic > 0)
                fprintf(f, "MONOTONIC=%" PRIu64 "\n", i->timestamp_monotonic);
        if (r >= 0 && i->n_netif > 0) {
                fputs("NETIF=", f);
                for (size_t k = 0; k < i->n_netif; k++)
                        fprintf(f, "%s%i", k > 0 ? " " : "", i->netif[k]);
                fputc('\n', f);
        }
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

int machine_compat_save(const MachineInfo *i) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int dirfd = -EBADF;
        int r;

        r = machine_compat_serialize(i, &text);
        if (r < 0)
                return r;
        r = mkdir_parents_and_self(MACHINE_COMPAT_DIR, 0755);
        if (r < 0)
                return r;
        dirfd = open(MACHINE_COMPAT_DIR, O_RDONLY|O_DIRECTORY|O_CLOEXEC|O_NOFOLLOW);
        if (dirfd < 0)
                return -errno;
        return write_file_atomic_at(dirfd, i->name, text, 0644);
}

void machine_compat_remove(const char *name) {
        _cleanup_close_ int dirfd = open(MACHINE_COMPAT_DIR, O_RDONLY|O_DIRECTORY|O_CLOEXEC|O_NOFOLLOW);

        if (dirfd < 0)
                return;
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove %s/%s, ignoring: %m", MACHINE_COMPAT_DIR, name);
}
