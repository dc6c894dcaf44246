/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* dm-verity and LUKS through libcryptsetup, dlopen()ed on first use: most machines never
 * need it, and linking it would cost every berth-spawn start its dependencies. Devices are
 * named by the caller; *ret_node is /dev/mapper/NAME. */

/* Is device-mapper usable here at all? (A kernel without CONFIG_BLK_DEV_DM has no
 * /dev/mapper/control and no "device-mapper" misc device.) */
bool dm_available(void);

/* 'hash_node' holds a verity superblock and hash tree at 'hash_offset'. Read-only. A
 * wrong root hash or corrupted data shows as I/O errors on read: dm-verity checks every
 * block against the tree, never falling back to unverified data. 'sig' (NULL: none) is a
 * PKCS#7 signature of the root hash in hex, which the kernel verifies with its keyrings. */
int verity_activate(const char *name, const char *data_node, const char *hash_node, uint64_t hash_offset,
                    const uint8_t *root_hash, size_t root_hash_size, const void *sig, size_t sig_size,
                    char **ret_node);

/* -EPERM: no key slot opens with this passphrase. -ENOENT: not LUKS. With name NULL the
 * passphrase is only checked (*ret_node = NULL): for a kernel without device-mapper. */
int luks_activate(const char *name, const char *node, const char *passphrase, size_t passphrase_size,
                  bool read_only, char **ret_node);

/* Deferred removal: the device goes away by itself once its last user (our mount) is
 * gone, so it is released even if we are killed. Without users, it is removed now. */
int dm_deactivate_deferred(const char *name);
