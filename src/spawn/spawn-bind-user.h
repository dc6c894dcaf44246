/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "spawn-config.h"

/* --bind-user=NAME, as systemd-nspawn 252 does it: the host user NAME (from the host's
 * /etc/passwd and /etc/group) gets a UID of the machine from 60514...60577 whose GID is
 * the same number; the machine's user namespace maps exactly that UID and GID to the host
 * user's, so the user's files keep their owner in both directions. The home directory is
 * bound to /run/host/home/NAME, a JSON user and group record goes to /run/host/userdb/
 * (for nss-systemd), and, for guests without systemd, the tree's /etc/passwd and
 * /etc/group are shown with the user appended: read-only bind mounts of generated copies,
 * the files on disk are never changed. */

typedef struct BindUser {
        char *name;
        uid_t host_uid;
        gid_t host_gid;
        uid_t uid;               /* in the machine; its private group has the same number */
        char *host_home;
} BindUser;

typedef struct BindUsers {
        BindUser *users;         /* ordered by uid */
        size_t n;
        char *passwd;            /* the tree's /etc/passwd plus the users, NULL if it has none */
        char *group;             /* the same for /etc/group */
} BindUsers;

#define BIND_USER_UID_MIN 60514U
#define BIND_USER_UID_MAX 60577U

void bind_users_done(BindUsers *b);

/* In the parent, once the UID range is known (s->uid_shift, s->uid_range): look the users
 * up, check them against the tree's databases, allocate their UIDs. Logs. */
typedef struct SpawnState SpawnState;
int bind_users_prepare(const SpawnConfig *c, SpawnState *s);

/* The uid_map (or gid_map) text of the machine's namespace: 0...range-1 onto the shifted
 * range, except the bound users' UIDs, which map onto the host users. */
int bind_users_id_map(const BindUsers *b, uint32_t shift, uint32_t range, bool gid, char **ret);

/* In the child, before pivot_root: clone each home directory (one fd per user). */
int bind_users_open_homes(const BindUsers *b, int **ret_fds);
void bind_users_close_homes(const BindUsers *b, int *fds);
/* After the API file systems: the homes on /run/host/home/, the records in
 * /run/host/userdb/, /etc/passwd and /etc/group. 'hidden_fd' is a directory only berth
 * sees (/dev/.berth) for the generated files; what berth creates belongs to the machine's
 * root (uid_shift). */
int bind_users_apply(const BindUsers *b, int *home_fds, int rootfd, int hidden_fd, uid_t uid_shift);
