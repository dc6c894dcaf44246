/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

typedef struct PolkitQuery PolkitQuery;

/* The authorization checks of one daemon (berthd, berth-importd): its bus and event loop,
 * and the queries in flight. Embedded in the daemon's Manager; zero-initialise, set bus
 * and event, release with polkit_registry_done(). */
typedef struct PolkitRegistry {
        sd_event *event;
        sd_bus *bus;
        PolkitQuery *queries;
        unsigned n_queries;
        sd_event_source *sweep;      /* drops answers nobody took */
} PolkitRegistry;

/* At most this many CheckAuthorization calls in flight; more callers get LimitsExceeded. */
#define POLKIT_QUERIES_MAX 1024U

/* One CheckAuthorization call for one method call (request) and one action. It lives
 * until the handler of the re-dispatched request takes its answer, or until the event
 * loop is idle again if the handler is not reached the second time (the machine or
 * image went away meanwhile): nothing is cached beyond one call. */
struct PolkitQuery {
        PolkitRegistry *registry;
        sd_bus_message *request;
        char *action;
        const char *what;            /* static string, for the error message */
        sd_bus_slot *slot;           /* the call to polkit, while in flight */
        bool done;
        bool authorized;
        sd_bus_error error;          /* when done and not authorized */
        PolkitQuery *prev, *next;
};

/* May the sender of message do action? Root always may, without asking polkit (euid
 * from the credentials the bus driver recorded at connect, so no PID race). Anybody
 * else is checked by polkit, asynchronously, with the subject "system-bus-name".
 *
 * Returns 1: authorized, go on.
 *         0: polkit is being asked. The handler must return 1 without replying and
 *            without having changed anything: the message is dispatched again when
 *            polkit answers, and this call then returns polkit's answer.
 *        <0: not authorized (error set: AccessDenied, "Only root may <what>..." if
 *            polkit is not on the bus), or a failure.
 * The handler must call this at most once per action, before any side effect. */
int bus_verify_polkit_async(PolkitRegistry *registry, sd_bus_message *message, const char *action, const char *what,
                            sd_bus_error *error);

/* Cancel and free all queries (the daemon is shutting down; no replies are sent). */
void polkit_registry_done(PolkitRegistry *registry);
