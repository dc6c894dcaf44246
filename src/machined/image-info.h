/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "image.h"

typedef struct Manager Manager;

/* GetHostname, GetMachineID, GetMachineInfo of an image (and the Manager's GetImage*
 * variants, through image-dbus.c): /etc/hostname, /etc/machine-id and /etc/machine-info
 * in a bus worker (bus-worker.h: an image may sit on a file system that never answers),
 * inside a tree with RESOLVE_IN_ROOT, or from a raw image the worker mounts. As with machined, a missing or unparsable file gives an empty
 * answer, not an error. */
int image_method_get_hostname(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error);
int image_method_get_machine_id(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error);
int image_method_get_machine_info(sd_bus_message *message, Manager *m, Image *i, sd_bus_error *error);

/* The first hostname in the text of /etc/hostname (comments and blanks skipped), or NULL
 * when there is no valid one. Pure: unit tested. */
char *hostname_from_etc_hostname(const char *text);
