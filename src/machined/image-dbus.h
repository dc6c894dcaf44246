/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "image.h"
#include "machine1-bus.h"

/* Unprivileged callers' ListImages calls, per UID: LIST_IMAGES_RATE a second with bursts
 * of LIST_IMAGES_BURST; more wait (at most LIST_IMAGES_MAX_PENDING of them, 8 s), beyond
 * that they fail with LimitsExceeded. */
#define LIST_IMAGES_RATE 4.0
#define LIST_IMAGES_BURST 8.0
#define LIST_IMAGES_MAX_PENDING 32

typedef struct Manager Manager;

extern const sd_bus_vtable image_vtable[];

/* The Manager's image members (in the Manager vtable; userdata is the Manager). */
int bus_method_list_images(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_get_image(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_clone_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_rename_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_remove_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_mark_read_only_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_get_os_release_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_get_hostname_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_get_machine_id_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_get_machine_info_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_set_limit_by_name(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_set_pool_limit(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_method_clean_pool(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_property_get_pool_path(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error);
int bus_property_get_pool_quota(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error);

int image_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                      void **found, sd_bus_error *error);
int image_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);

/* Images looked up for one D-Bus call live until the event loop is idle again. */
void manager_flush_image_cache(Manager *m);
/* berthd changed an image: the next listing looks at the pool again. */
void manager_images_changed(Manager *m);
/* ListImages calls still waiting for their turn (on exit). */
void deferred_calls_free(Manager *m);
