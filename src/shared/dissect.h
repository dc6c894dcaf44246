/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Disk image inspection: which partition of a raw image goes where, per the
 * Discoverable Partitions Specification for GPT, the first Linux partition of an MBR
 * table, or a bare file system. Pure inspection of an fd (libblkid for the table and
 * the file systems, libfdisk to verify the table's consistency); nothing is attached
 * or mounted here, so this is what the fuzzer exercises. Disk images are untrusted. */

typedef enum PartitionDesignator {
        PARTITION_ROOT,
        PARTITION_USR,
        PARTITION_HOME,
        PARTITION_SRV,
        PARTITION_VAR,
        PARTITION_TMP,
        PARTITION_ESP,
        PARTITION_XBOOTLDR,
        PARTITION_SWAP,
        PARTITION_ROOT_VERITY,
        PARTITION_USR_VERITY,
        _PARTITION_MAX,
} PartitionDesignator;

#define PARTITION_UUID_SIZE 16

typedef struct DissectedPartition {
        bool found;
        unsigned partno;        /* number in the table (the kernel's N in loopXpN); 0: the whole image */
        uint64_t offset, size;  /* bytes */
        uint8_t uuid[PARTITION_UUID_SIZE];
        bool has_uuid;
        bool read_only;         /* GPT flag 60 */
        bool growfs;            /* GPT flag 59 */
        char fstype[32];        /* as probed by libblkid ("crypto_LUKS", "DM_verity_hash", "ext4"...); "" if none */
} DissectedPartition;

typedef struct DissectedImage {
        char table[8];          /* "gpt", "dos", or "" for a bare file system */
        DissectedPartition p[_PARTITION_MAX];
} DissectedImage;

typedef struct DissectOptions {
        /* With a root hash (or usr hash), the root (usr) partition is the one whose UUID is
         * the hash's first 128 bits and its verity partition the one whose UUID is its last
         * 128 bits, as the specification says; without, verity partitions are left alone. */
        const uint8_t *root_hash;
        size_t root_hash_size;
        const uint8_t *usr_hash;
        size_t usr_hash_size;
} DissectOptions;

const char *partition_designator_to_string(PartitionDesignator d);
/* Where a partition goes in the machine's tree ("/", "/usr", "/var/tmp"...), NULL if nowhere. */
const char *partition_designator_mount_point(PartitionDesignator d);
/* Is this a file system type we mount from an image? */
bool image_fstype_supported(const char *fstype);

/* Inspect 'fd' ('size' bytes: a regular file or a block device). Returns 0, or a negative
 * errno with a one-line reason in *ret_error (malloc()ed; may be NULL on ENOMEM). */
int dissect_image_fd(int fd, uint64_t size, const DissectOptions *o, DissectedImage *ret, char **ret_error);

/* Probe the file system in [offset, offset+size) of fd into fstype ("" if none).
 * -EUCLEAN if the probe was ambivalent (two signatures). */
int dissect_probe_fstype(int fd, uint64_t offset, uint64_t size, char *fstype, size_t fstype_size);

/* "4f68bce3-e8cd-..." → 16 bytes */
int uuid_from_string(const char *s, uint8_t ret[static PARTITION_UUID_SIZE]);
/* Hex string (even length, no separators) → bytes; for --root-hash=. */
int unhex_memory(const char *s, uint8_t **ret, size_t *ret_size);
