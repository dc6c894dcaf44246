/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "oci-hooks.h"
#include "runc-state.h"

/* berth-runc's OCI hook points: which process runs which hooks, with what state JSON,
 * and what a failure does (runc 1.1's behaviour, in the order runtime-spec 1.x gives):
 *   create: prestart, createRuntime (here), createContainer (a child of ours in the
 *           container's namespaces), status "creating"; startContainer's state is
 *           prepared; a failure kills and removes the container, then poststop runs.
 *   start:  startContainer in the init (spawn-hooks.c), status "created"; poststart
 *           here once the program runs. A failure of either kills and removes the
 *           container (poststop runs).
 *   delete: poststop once the container is gone, status "stopped"; a failure is a
 *           warning. poststart and poststop are kept in ROOT/ID/hooks.json for that. */

#define RUNC_HOOKS_FILE "hooks.json"

typedef struct RuncHooks {
        const OciHooks *hooks;
        Container *record;       /* the container being created, its pid set here */
        bool started;            /* the create-time hooks were reached */
} RuncHooks;

/* SpawnState.run_hooks: the create-time hooks, for the init 'pid' waiting in its
 * namespaces. Logs. */
int runc_hooks_creating(void *userdata, pid_t pid, int pidfd, int *ret_state_fd);

/* Keep what start and delete run (poststart, poststop) in the state directory. Logs. */
int runc_hooks_save(const char *dir, const OciHooks *h);
/* Read them back; none kept is no hooks. Logs. */
int runc_hooks_load(const Container *c, OciHooks *ret);

/* start: the poststart hooks, on the container as "state" shows it now. Logs. */
int runc_hooks_poststart(const Container *c, const OciHooks *h);
/* delete: the poststop hooks; a failure is logged as a warning only. */
void runc_hooks_poststop(const Container *c, const OciHooks *h);
