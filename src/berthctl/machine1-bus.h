/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The org.freedesktop.machine1 names berthctl speaks (see machine1-api.md).  Kept in this one
 * header so that it can be swapped for a shared src/shared/machine1-bus.h once there is one. */

#define MACHINE1_BUS_NAME        "org.freedesktop.machine1"
#define MACHINE1_MANAGER_PATH    "/org/freedesktop/machine1"
#define MACHINE1_MANAGER_IFACE   "org.freedesktop.machine1.Manager"
#define MACHINE1_MACHINE_IFACE   "org.freedesktop.machine1.Machine"
#define MACHINE1_IMAGE_IFACE     "org.freedesktop.machine1.Image"
