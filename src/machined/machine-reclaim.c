/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>

#include "log.h"
#include "machine-reclaim.h"
#include "spawn-reclaim.h"
#include "string-util.h"
#include "time-util.h"

#define RECLAIM_INTERVAL_USEC (100ULL * 1000)
#define RECLAIM_TRIES 100

typedef struct ReclaimJob {
        char *name;
        unsigned tries;
} ReclaimJob;

static void reclaim_job_free(void *userdata) {
        ReclaimJob *j = userdata;

        free(j->name);
        free(j);
}

/* Whether to come back: its processes are still dying (-EAGAIN), or a berth-spawn holds
 * its state file (-EBUSY: one that tears down by itself, or a new one of that name). */
static bool reclaim_try(ReclaimJob *j) {
        int r;

        r = spawn_reclaim_machine(j->name);
        if (r != -EAGAIN && r != -EBUSY)
                return false;
        if (++j->tries < RECLAIM_TRIES)
                return true;
        log_debug("Machine '%s': its berth-spawn's leftovers are still in use after %llu s, leaving them "
                  "to the next start.", j->name, RECLAIM_TRIES * RECLAIM_INTERVAL_USEC / USEC_PER_SEC);
        return false;
}

static int on_reclaim_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        if (reclaim_try(userdata)) {
                (void) sd_event_source_set_time_relative(s, RECLAIM_INTERVAL_USEC);
                return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        /* done: the event loop's reference, the only one, goes, and with it the job */
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        (void) sd_event_source_set_floating(s, false);
        return 0;
}

void machine_reclaim_schedule(Manager *m, const char *name) {
        sd_event_source *s = NULL;
        ReclaimJob *j;
        int r;

        j = calloc(1, sizeof(*j));
        if (j)
                j->name = strdup(name);
        if (!j || !j->name) {
                free(j);
                return (void) log_oom();
        }
        if (!reclaim_try(j)) {
                reclaim_job_free(j);
                return;
        }
        r = sd_event_add_time_relative(m->event, &s, CLOCK_MONOTONIC, RECLAIM_INTERVAL_USEC, 0,
                                       on_reclaim_timer, j);
        if (r >= 0) {
                r = sd_event_source_set_destroy_callback(s, reclaim_job_free);
                if (r < 0)
                        s = sd_event_source_disable_unref(s);
        }
        if (r < 0) {
                reclaim_job_free(j);
                return (void) log_warning_errno(r, "Failed to schedule reclaiming machine '%s', leaving it to "
                                                "the next start: %m", name);
        }
        (void) sd_event_source_set_description(s, "machine-reclaim");
        /* floating: owned by the event loop (and freed with it if berthd exits first) */
        (void) sd_event_source_set_floating(s, true);
        sd_event_source_unref(s);
}

void machine_reclaim_all(void) {
        spawn_reclaim_stale(NULL);
}
