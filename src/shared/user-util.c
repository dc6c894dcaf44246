/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fd-util.h"
#include "mount-util.h"
#include "parse-util.h"
#include "string-util.h"
#include "user-util.h"

#define DB_SIZE_MAX (16U * 1024U * 1024U)

void user_record_done(UserRecord *u) {
        free(u->name);
        free(u->home);
        free(u->shell);
        free(u->groups);
        *u = (UserRecord) {};
}

static char *next_field(char **p) {
        char *f = *p, *c;

        if (!f)
                return NULL;
        c = strchr(f, ':');
        if (c) {
                *c = 0;
                *p = c + 1;
        } else
                *p = NULL;
        return f;
}

int passwd_line_parse(char *line, UserRecord *ret) {
        char *p = line, *name, *pw, *uid, *gid, *gecos, *home, *shell;
        UserRecord u = {};

        name = next_field(&p);
        pw = next_field(&p);
        uid = next_field(&p);
        gid = next_field(&p);
        gecos = next_field(&p);
        home = next_field(&p);
        shell = next_field(&p);
        (void) pw;
        (void) gecos;

        if (isempty(name) || !uid || !gid || !home || !shell || p)
                return -EINVAL;
        if (parse_uid(uid, &u.uid) < 0 || parse_uid(gid, &u.gid) < 0)
                return -EINVAL;

        u.name = strdup(name);
        u.home = strdup(home);
        u.shell = strdup(shell);
        if (!u.name || !u.home || !u.shell) {
                user_record_done(&u);
                return -ENOMEM;
        }
        *ret = u;
        return 0;
}

static bool user_matches(const UserRecord *u, const char *user) {
        uid_t uid;

        if (streq(u->name, user))
                return true;
        return parse_uid(user, &uid) >= 0 && uid == u->uid;
}

static int groups_lookup(int rootfd, UserRecord *u) {
        _cleanup_free_ char *db = NULL;
        char *saveptr = NULL;
        int r;

        r = read_regular_file_in_root(rootfd, "/etc/group", DB_SIZE_MAX, &db, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;

        for (char *line = strtok_r(db, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                char *p = line, *members, *gid_s, *m, *msave = NULL;
                gid_t gid;

                (void) next_field(&p);      /* name */
                (void) next_field(&p);      /* password */
                gid_s = next_field(&p);
                members = next_field(&p);
                if (!gid_s || !members || parse_uid(gid_s, &gid) < 0 || gid == u->gid)
                        continue;

                for (m = strtok_r(members, ",", &msave); m; m = strtok_r(NULL, ",", &msave)) {
                        if (!streq(m, u->name))
                                continue;
                        gid_t *g = realloc(u->groups, sizeof(gid_t) * (u->n_groups + 1));
                        if (!g)
                                return -ENOMEM;
                        u->groups = g;
                        u->groups[u->n_groups++] = gid;
                        break;
                }
        }
        return 0;
}

int user_record_lookup(int rootfd, const char *user, UserRecord *ret) {
        _cleanup_free_ char *db = NULL;
        char *saveptr = NULL;
        int r;

        r = read_regular_file_in_root(rootfd, "/etc/passwd", DB_SIZE_MAX, &db, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;

        for (char *line = strtok_r(db, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                UserRecord u;

                if (line[0] == '#' || passwd_line_parse(line, &u) < 0)
                        continue;
                if (!user_matches(&u, user)) {
                        user_record_done(&u);
                        continue;
                }
                r = groups_lookup(rootfd, &u);
                if (r < 0) {
                        user_record_done(&u);
                        return r;
                }
                *ret = u;
                return 0;
        }
        return -ESRCH;
}
