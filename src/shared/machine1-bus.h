/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The org.freedesktop.machine1 API in one place: the bus name, object paths, interfaces
 * and error names that berthd serves and berth-spawn (and machinectl-like clients) call.
 * The constants need no libsystemd (berth-spawn dlopen()s it); the helpers below are in
 * libshared-bus, which links it. */

#define MACHINE1_BUS_NAME "org.freedesktop.machine1"

#define MACHINE1_MANAGER_PATH "/org/freedesktop/machine1"
/* Machines and images are children of these, their names escaped as by
 * sd_bus_path_encode(): "a-b" → "/org/freedesktop/machine1/machine/a_2db". */
#define MACHINE_OBJECT_PREFIX "/org/freedesktop/machine1/machine"
#define IMAGE_OBJECT_PREFIX "/org/freedesktop/machine1/image"

#define MACHINE1_MANAGER_INTERFACE "org.freedesktop.machine1.Manager"
#define MACHINE1_MACHINE_INTERFACE "org.freedesktop.machine1.Machine"
#define MACHINE1_IMAGE_INTERFACE "org.freedesktop.machine1.Image"
/* berth's own methods, on the manager object next to machine1's (see berthd(8)) */
#define BERTH_MANAGER_INTERFACE "io.berth.Manager1"

/* systemd-machined's own (src/libsystemd/sd-bus/bus-common-errors.h)... */
#define BUS_ERROR_NO_SUCH_MACHINE "org.freedesktop.machine1.NoSuchMachine"
#define BUS_ERROR_NO_SUCH_IMAGE "org.freedesktop.machine1.NoSuchImage"
#define BUS_ERROR_NO_MACHINE_FOR_PID "org.freedesktop.machine1.NoMachineForPID"
#define BUS_ERROR_MACHINE_EXISTS "org.freedesktop.machine1.MachineExists"
#define BUS_ERROR_NO_PRIVATE_NETWORKING "org.freedesktop.machine1.NoPrivateNetworking"
#define BUS_ERROR_NO_SUCH_USER_MAPPING "org.freedesktop.machine1.NoSuchUserMapping"
#define BUS_ERROR_NO_SUCH_GROUP_MAPPING "org.freedesktop.machine1.NoSuchGroupMapping"

/* ...and berthd's, where systemd-machined answers with a generic error: clients that
 * only know systemd's names still get a message. */
#define BUS_ERROR_IMAGE_EXISTS "org.freedesktop.machine1.ImageExists"
#define BUS_ERROR_IMAGE_BUSY "org.freedesktop.machine1.ImageBusy"
#define BUS_ERROR_IMAGE_IN_USE "org.freedesktop.machine1.ImageInUse"
#define BUS_ERROR_IMAGE_READ_ONLY "org.freedesktop.machine1.ImageReadOnly"
#define BUS_ERROR_QUOTAS_DISABLED "org.freedesktop.machine1.QuotasDisabled"
#define BUS_ERROR_NO_OS_RELEASE "org.freedesktop.machine1.NoOSReleaseInformation"
#define BUS_ERROR_NO_UID_MAP "org.freedesktop.machine1.NoUIDMapping"

typedef struct sd_bus_message sd_bus_message;


/* The object path of machine or image 'name'; NULL on ENOMEM. */
char *machine1_machine_path(const char *name);
char *machine1_image_path(const char *name);
/* Reply with a{ss} (GetMachineOSRelease, GetImageOSRelease) from a strv of alternating
 * keys and values. */
int bus_reply_os_release(sd_bus_message *message, char **l);
