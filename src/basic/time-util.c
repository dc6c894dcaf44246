/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "time-util.h"

uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        /* cannot fail for the clocks we use (REALTIME, MONOTONIC, BOOTTIME) */
        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000ULL;
}
