/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "macro.h"

/* The bounding set systemd-nspawn gives a container by default. */
uint64_t capability_default_set(void);
unsigned capability_last_cap(void);
uint64_t capability_all(void);

/* "CAP_SYS_ADMIN", "cap_sys_admin" or "sys_admin"; returns the number or -EINVAL. */
int capability_from_name(const char *s);
/* Print every capability name the kernel knows, one a line ("cap_chown"), for CAP=help. */
void capability_dump_names(void);
/* Comma-separated names or "all". On failure *ret_bad points into 'list' at the bad name
 * (as a freshly allocated string). */
int capability_set_from_string(const char *list, uint64_t *ret, char **ret_bad);

/* Drop everything outside 'bounding' from the bounding set (needs CAP_SETPCAP). */
int capability_bounding_restrict(uint64_t bounding);
/* Set permitted and effective to 'keep', clear inheritable and ambient. */
int capability_set_final(uint64_t keep);
/* Raise 'ambient' into the inheritable and ambient sets, so that the capabilities survive
 * execve() even for a non-root user. They must be permitted already (capability_set_final()). */
int capability_ambient_raise(uint64_t ambient);
/* An OCI process's sets, exactly (limited to what we hold); ambient ones that are not
 * also permitted and inheritable are skipped. */
int capability_set_oci(uint64_t permitted, uint64_t effective, uint64_t inheritable, uint64_t ambient);
