/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

#define MACHINE_NAME_MAX 64

/* Machine names follow systemd's hostname rules, so that machinectl and nss-mymachines
 * accept them: 1..64 characters of [A-Za-z0-9-] in dot-separated non-empty labels that
 * neither start nor end with '-'. */
bool machine_name_is_valid(const char *s) _pure_;
bool hostname_is_valid(const char *s) _pure_;
/* Derive a valid machine name from an arbitrary string (a directory's basename): invalid
 * characters become '-', hyphens at the edges of a label and empty labels are dropped,
 * the result is cut to the limit.
 * Returns NULL (and sets errno) when nothing valid remains. */
char *machine_name_from_string(const char *s);
