/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* The sd_notify() protocol, sending side: one datagram to $NOTIFY_SOCKET (a path or an
 * abstract "@name"). Returns 0 when there is no supervisor to tell. Small on purpose: the
 * launcher stays free of libsystemd to keep its resident size down. */
int notify_send(const char *message);
