/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdlib.h>
#include <string.h>

#include "bus-polkit.h"
#include "log.h"
#include "string-util.h"

static PolkitQuery *polkit_query_free(PolkitQuery *q) {
        PolkitRegistry *m;

        if (!q)
                return NULL;
        m = q->registry;
        if (q->prev)
                q->prev->next = q->next;
        else
                m->queries = q->next;
        if (q->next)
                q->next->prev = q->prev;
        m->n_queries--;

        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        sd_bus_error_free(&q->error);
        free(q->action);
        free(q);
        return NULL;
}

void polkit_registry_done(PolkitRegistry *m) {
        while (m->queries)
                polkit_query_free(m->queries);
        m->sweep = sd_event_source_disable_unref(m->sweep);
}

/* Answers nobody took: the re-dispatched call failed before it asked again. */
static int on_polkit_sweep(sd_event_source *s, void *userdata) {
        PolkitRegistry *m = userdata;
        PolkitQuery *next;

        for (PolkitQuery *q = m->queries; q; q = next) {
                next = q->next;
                if (q->done) {
                        log_debug("Dropping polkit's unused answer about %s: the call ended before asking again.",
                                  q->action);
                        polkit_query_free(q);
                }
        }
        return 0;
}

static int arm_sweep(PolkitRegistry *m) {
        int r;

        if (!m->sweep) {
                r = sd_event_add_defer(m->event, &m->sweep, on_polkit_sweep, m);
                if (r < 0)
                        return r;
                /* After the bus has dispatched the re-queued messages. */
                r = sd_event_source_set_priority(m->sweep, SD_EVENT_PRIORITY_IDLE);
                if (r < 0)
                        return r;
        }
        return sd_event_source_set_enabled(m->sweep, SD_EVENT_ONESHOT);
}

static void set_unavailable(PolkitQuery *q, const sd_bus_error *e) {
        if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                sd_bus_error_setf(&q->error, SD_BUS_ERROR_ACCESS_DENIED,
                                  "Only root may %s (polkit, which could authorize others, is not running).",
                                  q->what);
        else {
                log_warning("Failed to ask polkit about %s: %s: %s", q->action, strna(e->name),
                            strna(e->message));
                sd_bus_error_setf(&q->error, SD_BUS_ERROR_ACCESS_DENIED,
                                  "Only root may %s (asking polkit failed: %s).", q->what,
                                  e->message ?: strna(e->name));
        }
}

static void read_answer(PolkitQuery *q, sd_bus_message *reply) {
        int authorized, challenge, r;

        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0) {
                log_warning_errno(r, "Malformed answer from polkit about %s: %m", q->action);
                sd_bus_error_setf(&q->error, SD_BUS_ERROR_ACCESS_DENIED,
                                  "Only root may %s (polkit's answer was malformed).", q->what);
                return;
        }
        if (authorized)
                q->authorized = true;
        else if (challenge)
                sd_bus_error_setf(&q->error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                  "Interactive authentication required to %s (polkit action %s).",
                                  q->what, q->action);
        else
                sd_bus_error_setf(&q->error, SD_BUS_ERROR_ACCESS_DENIED,
                                  "Access denied: polkit does not authorize this caller to %s (action %s).",
                                  q->what, q->action);
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        PolkitRegistry *m = q->registry;
        int r;

        q->slot = sd_bus_slot_unref(q->slot);
        q->done = true;

        if (sd_bus_message_is_method_error(reply, NULL))
                set_unavailable(q, sd_bus_message_get_error(reply));
        else
                read_answer(q, reply);

        /* Dispatch the original call again: its handler now finds this answer. */
        r = sd_bus_message_rewind(q->request, true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(m->bus, q->request);
        if (r >= 0)
                r = arm_sweep(m);
        if (r < 0) {
                log_warning_errno(r, "Failed to resume a call after asking polkit: %m");
                (void) sd_bus_reply_method_errnof(q->request, r, "Failed to resume the call after asking polkit: %m");
                polkit_query_free(q);
        }
        return 0;
}

static PolkitQuery *find_query(PolkitRegistry *m, sd_bus_message *message, const char *action) {
        for (PolkitQuery *q = m->queries; q; q = q->next)
                if (q->request == message && streq(q->action, action))
                        return q;
        return NULL;
}

int bus_verify_polkit_async(PolkitRegistry *m, sd_bus_message *message, const char *action, const char *what,
                            sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *pk = NULL;
        PolkitQuery *q;
        const char *sender;
        uid_t uid;
        int r;

        /* No SD_BUS_CREDS_AUGMENT: only what the bus driver vouches for. */
        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        if (uid == 0)
                return 1;

        q = find_query(m, message, action);
        if (q) {
                if (!q->done)
                        return 0;   /* still asking (not reached: the call is not dispatched meanwhile) */
                if (q->authorized) {
                        polkit_query_free(q);
                        return 1;
                }
                r = sd_bus_error_copy(error, &q->error);
                polkit_query_free(q);
                return r < 0 ? r : -EACCES;
        }

        sender = sd_bus_message_get_sender(message);
        if (!sender)   /* a direct connection, not through the bus: nobody to ask about */
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Only root may %s.", what);
        if (m->n_queries >= POLKIT_QUERIES_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many authorization checks in progress (%u).", POLKIT_QUERIES_MAX);

        r = sd_bus_message_new_method_call(m->bus, &pk, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        r = sd_bus_message_append(pk, "(sa{sv})sa{ss}us",
                                  "system-bus-name", 1, "name", "s", sender,
                                  action,
                                  0,
                                  (uint32_t) (sd_bus_message_get_allow_interactive_authorization(message) > 0),
                                  "");
        if (r < 0)
                return r;

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        q->action = strdup(action);
        if (!q->action) {
                free(q);
                return -ENOMEM;
        }
        q->registry = m;
        q->request = sd_bus_message_ref(message);
        q->what = what;
        q->next = m->queries;
        if (q->next)
                q->next->prev = q;
        m->queries = q;
        m->n_queries++;

        r = sd_bus_call_async(m->bus, &q->slot, pk, on_polkit_reply, q, 0);
        if (r < 0) {
                polkit_query_free(q);
                return r;
        }
        return 0;
}
