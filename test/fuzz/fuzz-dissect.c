/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* libFuzzer target for src/shared/dissect.c: the input is a whole disk image. It goes
 * into a memfd (libblkid and libfdisk want an fd) and is dissected twice: without
 * options, and with the root and usr hashes whose halves the seed images use as
 * partition UUIDs (test/fuzz/fuzz-dissect-seeds.sh), so the verity matching is reached. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dissect.h"
#include "fd-util.h"
#include "macro.h"

/* Keep in sync with FUZZ_ROOT_HASH / FUZZ_USR_HASH in fuzz-dissect-seeds.sh. */
static const uint8_t root_hash[32] = {
        0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x01,
        0x66, 0x66, 0x66, 0x66, 0x77, 0x77, 0x88, 0x88, 0x99, 0x99, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x02,
};
static const uint8_t usr_hash[32] = {
        0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x03,
        0x66, 0x66, 0x66, 0x66, 0x77, 0x77, 0x88, 0x88, 0x99, 0x99, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x04,
};

static void check_result(int r, const DissectedImage *m, const char *error, uint64_t size) {
        if (r < 0) {
                /* every failure but ENOMEM explains itself */
                if (r != -ENOMEM && !error)
                        abort();
                return;
        }
        if (error)
                abort();
        if (!m->p[PARTITION_ROOT].found)
                abort();
        for (size_t d = 0; d < _PARTITION_MAX; d++) {
                const DissectedPartition *p = &m->p[d];

                if (!p->found)
                        continue;
                /* what we report lies inside the image, whatever the table said */
                if (p->size == 0 || p->offset > size || p->size > size - p->offset)
                        abort();
                if (memchr(p->fstype, 0, sizeof(p->fstype)) == NULL)
                        abort();
        }
}

static void dissect_once(int fd, uint64_t size, const DissectOptions *o) {
        _cleanup_free_ char *error = NULL;
        DissectedImage m;
        int r;

        memset(&m, 0xa5, sizeof(m));
        r = dissect_image_fd(fd, size, o, &m, &error);
        check_result(r, &m, error, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const DissectOptions with_hashes = {
                .root_hash = root_hash,
                .root_hash_size = sizeof(root_hash),
                .usr_hash = usr_hash,
                .usr_hash_size = sizeof(usr_hash),
        };
        const DissectOptions with_root_hash = {
                .root_hash = root_hash,
                .root_hash_size = sizeof(root_hash),
        };
        _cleanup_close_ int fd = -EBADF;

        /* A disk image of more than a few MiB adds nothing a small one would not find. */
        if (size > 8 * 1024 * 1024)
                return 0;

        fd = memfd_create("fuzz-dissect", MFD_CLOEXEC);
        if (fd < 0)
                abort();
        if (size > 0 && write(fd, data, size) != (ssize_t) size)
                abort();

        dissect_once(fd, size, NULL);
        /* the input's length picks the options, so both kinds are reached by every mutation of size */
        dissect_once(fd, size, (size & 1) ? &with_hashes : &with_root_hash);
        return 0;
}
