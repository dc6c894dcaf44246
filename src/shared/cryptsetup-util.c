/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cryptsetup-util.h"
#include "log.h"
#include "macro.h"

static struct {
        void *dl;
        int (*init)(struct crypt_device **cd, const char *device);
        int (*init_data_device)(struct crypt_device **cd, const char *device, const char *data_device);
        int (*load)(struct crypt_device *cd, const char *type, void *params);
        int (*activate_by_volume_key)(struct crypt_device *cd, const char *name, const char *key, size_t size, uint32_t flags);
        int (*activate_by_signed_key)(struct crypt_device *cd, const char *name, const char *key, size_t size,
                                      const char *sig, size_t sig_size, uint32_t flags);
        int (*activate_by_passphrase)(struct crypt_device *cd, const char *name, int keyslot,
                                      const char *passphrase, size_t size, uint32_t flags);
        int (*volume_key_get)(struct crypt_device *cd, int keyslot, char *volume_key, size_t *volume_key_size,
                              const char *passphrase, size_t passphrase_size);
        int (*get_volume_key_size)(struct crypt_device *cd);
        int (*deactivate_by_name)(struct crypt_device *cd, const char *name, uint32_t flags);
        void (*free)(struct crypt_device *cd);
        void (*set_log_callback)(struct crypt_device *cd, void (*log)(int level, const char *msg, void *u), void *u);
} sym;

static void berth_crypt_log(int level, const char *msg, void *userdata) {
        size_t l = strlen(msg);

        /* libcryptsetup's own messages are details; the caller says what failed */
        log_debug("libcryptsetup: %.*s", (int) (l > 0 && msg[l - 1] == '\n' ? l - 1 : l), msg);
}

static int cryptsetup_load(void) {
        const struct {
                const char *name;
                void **ptr;
        } table[] = {
                { "crypt_init",                   (void **) &sym.init                   },
                { "crypt_init_data_device",       (void **) &sym.init_data_device       },
                { "crypt_load",                   (void **) &sym.load                   },
                { "crypt_activate_by_volume_key", (void **) &sym.activate_by_volume_key },
                { "crypt_activate_by_signed_key", (void **) &sym.activate_by_signed_key },
                { "crypt_activate_by_passphrase", (void **) &sym.activate_by_passphrase },
                { "crypt_volume_key_get",         (void **) &sym.volume_key_get         },
                { "crypt_get_volume_key_size",    (void **) &sym.get_volume_key_size    },
                { "crypt_deactivate_by_name",     (void **) &sym.deactivate_by_name     },
                { "crypt_free",                   (void **) &sym.free                   },
                { "crypt_set_log_callback",       (void **) &sym.set_log_callback       },
        };

        if (sym.dl)
                return 0;
        sym.dl = dlopen("libcryptsetup.so.12", RTLD_NOW|RTLD_LOCAL);
        if (!sym.dl)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP), "Failed to load libcryptsetup: %s", dlerror());
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                *table[i].ptr = dlsym(sym.dl, table[i].name);
                if (!*table[i].ptr) {
                        dlclose(sym.dl);
                        sym.dl = NULL;
                        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP), "libcryptsetup lacks %s().", table[i].name);
                }
        }
        sym.set_log_callback(NULL, berth_crypt_log, NULL);
        return 0;
}

static void crypt_freep(struct crypt_device **cd) {
        if (*cd)
                sym.free(*cd);
}

bool dm_available(void) {
        int fd;

        /* Not just the node's existence: libdevmapper creates /dev/mapper/control itself
         * when it is missing (any cryptsetup or veritysetup run does), also on a kernel
         * without device-mapper, where opening it then fails with ENODEV. Opening it also
         * loads dm_mod if it is a module. */
        fd = open("/dev/mapper/control", O_RDWR|O_CLOEXEC|O_NOCTTY);
        if (fd >= 0) {
                close(fd);
                return true;
        }
        /* no node at all (no devtmpfs entry yet): ask sysfs */
        return errno == ENOENT && access("/sys/class/misc/device-mapper", F_OK) == 0;
}

static int mapper_node(const char *name, char **ret) {
        return asprintf(ret, "/dev/mapper/%s", name) < 0 ? -ENOMEM : 0;
}

int verity_activate(const char *name, const char *data_node, const char *hash_node, uint64_t hash_offset,
                    const uint8_t *root_hash, size_t root_hash_size, const void *sig, size_t sig_size,
                    char **ret_node) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        struct crypt_params_verity params = { .hash_area_offset = hash_offset };
        int r;

        r = cryptsetup_load();
        if (r < 0)
                return r;
        r = sym.init_data_device(&cd, hash_node, data_node);
        if (r < 0)
                return r;
        r = sym.load(cd, CRYPT_VERITY, &params);
        if (r < 0)
                return r;
        /* with a signature the kernel checks it against its trusted keyrings (dm-verity's
         * root_hash_sig_key_desc): an untrusted signer fails here, never mounts */
        if (sig)
                r = sym.activate_by_signed_key(cd, name, (const char *) root_hash, root_hash_size, sig, sig_size,
                                               CRYPT_ACTIVATE_READONLY);
        else
                r = sym.activate_by_volume_key(cd, name, (const char *) root_hash, root_hash_size, CRYPT_ACTIVATE_READONLY);
        if (r < 0)
                return r;
        return mapper_node(name, ret_node);
}

int luks_activate(const char *name, const char *node, const char *passphrase, size_t passphrase_size,
                  bool read_only, char **ret_node) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        int r;

        r = cryptsetup_load();
        if (r < 0)
                return r;
        r = sym.init(&cd, node);
        if (r < 0)
                return r;
        r = sym.load(cd, CRYPT_LUKS, NULL);
        if (r < 0)
                return r == -EINVAL ? -ENOENT : r;
        if (!name) {
                /* Only check the passphrase. Not crypt_activate_by_passphrase() without a
                 * name: that initializes libdevmapper, which leaves a /dev/mapper/control
                 * node behind on a kernel without device-mapper. */
                _cleanup_free_ char *key = NULL;
                size_t key_size;

                r = sym.get_volume_key_size(cd);
                if (r <= 0)
                        return -EINVAL;
                key_size = (size_t) r;
                key = malloc(key_size);
                if (!key)
                        return -ENOMEM;
                r = sym.volume_key_get(cd, CRYPT_ANY_SLOT, key, &key_size, passphrase, passphrase_size);
                explicit_bzero(key, key_size);
                *ret_node = NULL;
                return r < 0 ? r : 0;
        }
        r = sym.activate_by_passphrase(cd, name, CRYPT_ANY_SLOT, passphrase, passphrase_size,
                                       read_only ? CRYPT_ACTIVATE_READONLY : 0);
        if (r < 0)
                return r;
        return mapper_node(name, ret_node);
}

int dm_deactivate_deferred(const char *name) {
        int r;

        r = cryptsetup_load();
        if (r < 0)
                return r;
        return sym.deactivate_by_name(NULL, name, CRYPT_DEACTIVATE_DEFERRED);
}
