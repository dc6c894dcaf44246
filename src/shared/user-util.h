/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "macro.h"

/* Users of a machine are looked up in the machine's own /etc/passwd and /etc/group,
 * parsed here: calling getpwnam() would load the host's NSS modules into a process that
 * is about to run untrusted code, and answer about the host's users, not the tree's. */

typedef struct UserRecord {
        char *name;
        uid_t uid;
        gid_t gid;
        char *home;
        char *shell;
        gid_t *groups;     /* supplementary groups */
        size_t n_groups;
} UserRecord;

void user_record_done(UserRecord *u);

/* 'user' is a name or a numeric UID; 'root' names the directory the files are read from
 * (relative to rootfd, which is the machine's root). Returns -ESRCH if there is no
 * such user. */
int user_record_lookup(int rootfd, const char *user, UserRecord *ret);

/* Parse one passwd line; exported for the unit test and the fuzzer. */
int passwd_line_parse(char *line, UserRecord *ret);
