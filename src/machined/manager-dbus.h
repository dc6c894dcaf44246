/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Register the Manager object, the Machine fallback objects and their enumerator. */
int manager_dbus_register(Manager *m);
