/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* FNV-1a: a small, stable, non-cryptographic hash, for names derived from machine names
 * (interface names, MACs, UID ranges) and for checksums against accidents. Its values are
 * part of what berth derives, so they must never change. */

#define FNV1A32_INIT UINT32_C(2166136261)
#define FNV1A64_INIT UINT64_C(0xcbf29ce484222325)

static inline uint32_t fnv1a32_str(uint32_t h, const char *s) {
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * UINT32_C(16777619);
        return h;
}

static inline uint64_t fnv1a64(uint64_t h, const void *p, size_t n) {
        const unsigned char *b = p;

        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * UINT64_C(0x100000001b3);
        return h;
}

static inline uint64_t fnv1a64_str(uint64_t h, const char *s) {
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * UINT64_C(0x100000001b3);
        return h;
}
