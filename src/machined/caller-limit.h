/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* A token bucket per calling UID, for calls whose cost grows with the pool (ListImages):
 * berthd is single-threaded, so one unprivileged user calling in a loop would otherwise
 * keep it busy and delay everyone else, root included. A call over the rate is not
 * refused but answered later (it reserves the next free token); only when a UID already
 * has max_pending calls waiting is the next one refused. Root is never limited (the
 * caller checks). Non-logging. */

typedef struct CallerBucket {
        uid_t uid;
        double tokens;        /* may go negative: tokens reserved by waiting calls */
        uint64_t updated_usec;
        unsigned pending;
} CallerBucket;

typedef struct CallerLimit {
        double rate_per_sec;
        double burst;
        unsigned max_pending;
        CallerBucket *buckets;
        size_t n_buckets;
} CallerLimit;

#define CALLER_LIMIT_MAX_UIDS 1024

void caller_limit_done(CallerLimit *l);
/* 0: go ahead now; 1: wait *ret_delay_usec first (the call counts as pending until
 * caller_limit_release()); -EBUSY: too many calls waiting; -ENOMEM. */
int caller_limit_admit(CallerLimit *l, uid_t uid, uint64_t now_usec, uint64_t *ret_delay_usec);
void caller_limit_release(CallerLimit *l, uid_t uid);
