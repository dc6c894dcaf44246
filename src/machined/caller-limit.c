/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>

#include "caller-limit.h"

void caller_limit_done(CallerLimit *l) {
        free(l->buckets);
        l->buckets = NULL;
        l->n_buckets = 0;
}

static CallerBucket *caller_limit_find(CallerLimit *l, uid_t uid) {
        for (size_t k = 0; k < l->n_buckets; k++)
                if (l->buckets[k].uid == uid)
                        return &l->buckets[k];
        return NULL;
}

static void bucket_refill(const CallerLimit *l, CallerBucket *b, uint64_t now_usec) {
        if (now_usec > b->updated_usec) {
                b->tokens += (double) (now_usec - b->updated_usec) / 1e6 * l->rate_per_sec;
                if (b->tokens > l->burst)
                        b->tokens = l->burst;
        }
        b->updated_usec = now_usec;
}

/* A new bucket, full; when the table is full, one nobody waits on and that is full again
 * is reused (forgetting it loses nothing). */
static CallerBucket *caller_limit_add(CallerLimit *l, uid_t uid, uint64_t now_usec) {
        CallerBucket *b;

        if (l->n_buckets >= CALLER_LIMIT_MAX_UIDS) {
                for (size_t k = 0; k < l->n_buckets; k++) {
                        b = &l->buckets[k];
                        bucket_refill(l, b, now_usec);
                        if (b->pending == 0 && b->tokens >= l->burst) {
                                *b = (CallerBucket) { uid, l->burst, now_usec, 0 };
                                return b;
                        }
                }
                return NULL;
        }
        b = reallocarray(l->buckets, l->n_buckets + 1, sizeof(CallerBucket));
        if (!b)
                return NULL;
        l->buckets = b;
        b = &l->buckets[l->n_buckets++];
        *b = (CallerBucket) { uid, l->burst, now_usec, 0 };
        return b;
}

int caller_limit_admit(CallerLimit *l, uid_t uid, uint64_t now_usec, uint64_t *ret_delay_usec) {
        CallerBucket *b = caller_limit_find(l, uid) ?: caller_limit_add(l, uid, now_usec);

        if (!b)
                return l->n_buckets >= CALLER_LIMIT_MAX_UIDS ? -EBUSY : -ENOMEM;
        bucket_refill(l, b, now_usec);
        if (b->tokens >= 1) {
                b->tokens -= 1;
                return 0;
        }
        if (b->pending >= l->max_pending)
                return -EBUSY;
        /* Reserve the next token: the time until the bucket is back at one. */
        *ret_delay_usec = (uint64_t) ((1 - b->tokens) / l->rate_per_sec * 1e6);
        b->tokens -= 1;
        b->pending++;
        return 1;
}

void caller_limit_release(CallerLimit *l, uid_t uid) {
        CallerBucket *b = caller_limit_find(l, uid);

        if (b && b->pending > 0)
                b->pending--;
}
