/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "lock-util.h"
#include "macro.h"

/* A long image operation (clone, remove) in a forked worker, like machined's operation.c:
 * the D-Bus call is answered when the worker ends, and the event loop keeps serving
 * meanwhile. The worker dies with berthd (PR_SET_PDEATHSIG), and holds the image locks
 * it was given until it ends, so a stale temporary is recognisable by its free lock. */

typedef struct Manager Manager;
typedef struct Operation Operation;

/* Runs in the worker: returns 0 or a negative errno, with a message for the caller. */
typedef int (*OperationWork)(void *userdata, char *msg, size_t msg_size);

#define OPERATIONS_MAX 64U

struct Operation {
        Manager *manager;
        sd_bus_message *message;
        char *description;     /* for the log: "clone of image 'a' to 'b'" */
        char *tmp_name;        /* the worker's temporary in the pool, if any */
        pid_t pid;
        int pidfd;
        int msg_fd;
        LockFile locks[2];     /* image locks, released when the worker is gone */
        sd_event_source *source;
        Operation *prev, *next;
};

/* Fork a worker running work(userdata) (userdata is the worker's copy of the caller's
 * memory, so it may point to the stack). Takes the locks (also on failure). */
int operation_start(Manager *m, sd_bus_message *message, const char *description, const char *tmp_name,
                    LockFile locks[static 2], OperationWork work, void *userdata);
/* SIGKILL and reap the worker, remove its temporary; no reply is sent. */
Operation *operation_free(Operation *o);
