/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "mount-util.h"
#include "parse-util.h"
#include "path-util.h"
#include "spawn-bind-user.h"
#include "spawn-state.h"
#include "string-util.h"
#include "user-util.h"

#define DB_SIZE_MAX (16U * 1024U * 1024U)
#define HOME_PREFIX "/run/host/home/"

void bind_users_done(BindUsers *b) {
        for (size_t i = 0; i < b->n; i++) {
                free(b->users[i].name);
                free(b->users[i].host_home);
        }
        free(b->users);
        free(b->passwd);
        free(b->group);
        *b = (BindUsers) {};
}

/* Does the passwd or group text 'db' have an entry named 'name' or numbered 'id' (the third
 * field in both)? */
static bool db_has(const char *db, const char *name, uid_t id) {
        _cleanup_free_ char *copy = db ? strdup(db) : NULL;
        char *saveptr = NULL;

        if (!copy)
                return false;
        for (char *line = strtok_r(copy, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                _cleanup_strv_free_ char **f = NULL;
                uid_t n;

                if (line[0] == '#' || strv_split_full(line, ":", false, &f) < 0 || strv_length(f) < 3)
                        continue;
                if (name && streq(f[0], name))
                        return true;
                if (id != (uid_t) -1 && parse_uid(f[2], &n) >= 0 && n == id)
                        return true;
        }
        return false;
}

/* The name of group 'gid' in the host's /etc/group, NULL if there is none. */
static int host_group_name(const char *db, gid_t gid, char **ret) {
        _cleanup_free_ char *copy = strdup(db);
        char *saveptr = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *line = strtok_r(copy, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                _cleanup_strv_free_ char **f = NULL;
                gid_t g;

                if (strv_split_full(line, ":", false, &f) < 0 || strv_length(f) < 3)
                        continue;
                if (parse_uid(f[2], &g) >= 0 && g == gid) {
                        *ret = strdup(f[0]);
                        return *ret ? 0 : -ENOMEM;
                }
        }
        *ret = NULL;
        return 0;
}

static int read_db(int rootfd, const char *path, char **ret) {
        int r = read_regular_file_in_root(rootfd, path, DB_SIZE_MAX, ret, NULL);

        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

/* Does the tree's nsswitch.conf ask nss-systemd for users ("passwd: files systemd")? Then
 * the records in /run/host/userdb suffice, as with systemd-nspawn, and /etc/passwd stays
 * the tree's own: a booted systemd (sysusers) replaces it by rename, which a bind mount
 * on it would make fail. */
static bool tree_uses_nss_systemd(int treefd) {
        _cleanup_free_ char *conf = NULL;
        char *saveptr = NULL;

        if (read_db(treefd, "/etc/nsswitch.conf", &conf) < 0 || !conf)
                return false;
        for (char *line = strtok_r(conf, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                _cleanup_strv_free_ char **w = NULL;
                const char *v = startswith(line, "passwd:");

                if (!v || strv_split_full(v, " \t", false, &w) < 0)
                        continue;
                return strv_contains(w, "systemd");
        }
        return false;
}

/* The first UID from 'from' on that neither the tree's passwd nor group has. */
static int find_free_uid(const char *passwd, const char *group, uint32_t range, uid_t from, uid_t *ret) {
        for (uid_t u = from; u <= BIND_USER_UID_MAX && u < range; u++)
                if (!db_has(passwd, NULL, u) && !db_has(group, NULL, u)) {
                        *ret = u;
                        return 0;
                }
        return log_error_errno(SYNTHETIC_ERRNO(EBUSY),
                               "No free UID in %u...%u of the machine for --bind-user=.", BIND_USER_UID_MIN, BIND_USER_UID_MAX);
}

/* The checks of systemd-nspawn's bind_user_prepare(), with its messages. */
static int bind_user_check(const SpawnState *s, const UserRecord *u, const char *gname,
                           const char *passwd, const char *group) {
        if (u->uid == 0 || streq(u->name, "root"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Mapping 'root' user not supported, sorry.");
        if (u->uid == 65534 || streq(u->name, "nobody"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Mapping 'nobody' user not supported, sorry.");
        if (u->uid >= s->uid_shift && u->uid - s->uid_shift < s->uid_range)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "UID of user '%s' to map is already in container UID range, refusing.", u->name);
        if (u->gid >= s->uid_shift && u->gid - s->uid_shift < s->uid_range)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "GID of group of user '%s' to map is already in container GID range, refusing.", u->name);
        if (!streq_ptr(gname, u->name))
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                       "Sorry, mapping users without private groups is currently not supported (user '%s').", u->name);
        if (db_has(passwd, u->name, (uid_t) -1))
                return log_error_errno(SYNTHETIC_ERRNO(EBUSY), "Sorry, the user '%s' already exists in the container.", u->name);
        if (db_has(group, u->name, (uid_t) -1))
                return log_error_errno(SYNTHETIC_ERRNO(EBUSY), "Sorry, the group '%s' already exists in the container.", u->name);
        if (!path_is_absolute(u->home) || !path_is_normalized(u->home))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Home directory '%s' of user '%s' is not an absolute path.", u->home, u->name);
        return 0;
}

/* 'db' with 'line' appended (after a newline the file may lack) */
static char *db_append(const char *db, const char *line) {
        return strjoin(db, !isempty(db) && !endswith(db, "\n") ? "\n" : "", line);
}

static int bind_user_add(BindUsers *b, const UserRecord *u, uid_t uid) {
        BindUser *n = realloc(b->users, sizeof(BindUser) * (b->n + 1));
        char pw[512], gr[256];

        if (!n)
                return log_oom();
        b->users = n;
        n = &b->users[b->n++];
        *n = (BindUser) { .host_uid = u->uid, .host_gid = u->gid, .uid = uid };
        n->name = strdup(u->name);
        n->host_home = strdup(u->home);
        if (!n->name || !n->host_home)
                return log_oom();

        /* No password hash (systemd-nspawn copies it): the machine may be less trusted. */
        snprintf(pw, sizeof(pw), "%s:x:%u:%u::" HOME_PREFIX "%s:/bin/sh\n", u->name, uid, uid, u->name);
        snprintf(gr, sizeof(gr), "%s:x:%u:\n", u->name, uid);
        if (b->passwd) {
                char *p = db_append(b->passwd, pw);
                if (!p)
                        return log_oom();
                free(b->passwd);
                b->passwd = p;
        }
        if (b->group) {
                char *g = db_append(b->group, gr);
                if (!g)
                        return log_oom();
                free(b->group);
                b->group = g;
        }
        return 0;
}

int bind_users_prepare(const SpawnConfig *c, SpawnState *s) {
        _cleanup_free_ char *host_group = NULL;
        _cleanup_close_ int hostfd = -EBADF, treefd = -EBADF;
        uid_t next = BIND_USER_UID_MIN;
        int r;

        if (strv_length(c->bind_users) == 0)
                return 0;
        hostfd = open("/", O_PATH|O_DIRECTORY|O_CLOEXEC);
        treefd = open(s->directory, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (hostfd < 0 || treefd < 0)
                return log_error_errno(errno, "Failed to open the root directories: %m");
        r = read_db(hostfd, "/etc/group", &host_group);
        if (r >= 0)
                r = read_db(treefd, "/etc/passwd", &s->bind_users.passwd);
        if (r >= 0)
                r = read_db(treefd, "/etc/group", &s->bind_users.group);
        if (r < 0)
                return log_error_errno(r, "Failed to read the user databases for --bind-user=: %m");

        STRV_FOREACH(name, c->bind_users) {
                _cleanup_(user_record_done) UserRecord u = {};
                _cleanup_free_ char *gname = NULL;
                uid_t uid = 0;

                /* the host's own files, no NSS modules in a process that forks the machine */
                r = user_record_lookup(hostfd, *name, &u);
                if (r == -ESRCH)
                        return log_error_errno(r, "Failed to resolve user '%s': no such user in the host's /etc/passwd.", *name);
                if (r < 0)
                        return log_error_errno(r, "Failed to resolve user '%s': %m", *name);
                if (!streq(u.name, *name))
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Failed to resolve user '%s': a user name is needed.", *name);
                if (host_group && host_group_name(host_group, u.gid, &gname) < 0)
                        return log_oom();
                r = bind_user_check(s, &u, gname, s->bind_users.passwd, s->bind_users.group);
                if (r < 0)
                        return r;
                r = find_free_uid(s->bind_users.passwd, s->bind_users.group, s->uid_range, next, &uid);
                if (r < 0)
                        return r;
                r = bind_user_add(&s->bind_users, &u, uid);
                if (r < 0)
                        return r;
                log_debug("--bind-user=%s: host UID %u, GID %u is %u in the machine.", u.name, u.uid, u.gid, uid);
                next = uid + 1;
        }
        if (tree_uses_nss_systemd(treefd)) {
                log_debug("The tree's users come from nss-systemd too: /run/host/userdb only, /etc/passwd left alone.");
                s->bind_users.passwd = mfree(s->bind_users.passwd);
                s->bind_users.group = mfree(s->bind_users.group);
        }
        return 0;
}

int bind_users_id_map(const BindUsers *b, uint32_t shift, uint32_t range, bool gid, char **ret) {
        _cleanup_free_ char *map = NULL;
        size_t size = 0;
        uint32_t prev = 0;
        FILE *f;

        f = open_memstream(&map, &size);
        if (!f)
                return -ENOMEM;
        /* the gaps between the bound users go to the shifted range, as with systemd-nspawn */
        for (size_t i = 0; i < b->n; i++) {
                uint32_t u = b->users[i].uid;

                if (u > prev)
                        fprintf(f, "%u %u %u\n", prev, shift + prev, u - prev);
                fprintf(f, "%u %u 1\n", u, gid ? (uint32_t) b->users[i].host_gid : (uint32_t) b->users[i].host_uid);
                prev = u + 1;
        }
        if (range > prev)
                fprintf(f, "%u %u %u\n", prev, shift + prev, range - prev);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(map);
        return 0;
}

int bind_users_open_homes(const BindUsers *b, int **ret_fds) {
        int *fds;
        int r;

        *ret_fds = NULL;
        if (b->n == 0)
                return 0;
        fds = calloc(b->n, sizeof(int));
        if (!fds)
                return log_oom();
        for (size_t i = 0; i < b->n; i++)
                fds[i] = -EBADF;
        *ret_fds = fds;
        for (size_t i = 0; i < b->n; i++) {
                r = mount_clone_detached(AT_FDCWD, b->users[i].host_home, true, false, &fds[i]);
                if (r < 0)
                        return log_error_errno(r, "Failed to clone the home directory '%s' of user '%s': %m",
                                               b->users[i].host_home, b->users[i].name);
        }
        return 0;
}

void bind_users_close_homes(const BindUsers *b, int *fds) {
        if (!fds)
                return;
        for (size_t i = 0; i < b->n; i++)
                safe_close(fds[i]);
        free(fds);
}

/* A directory inside the machine, made if missing and handed to the machine's root. */
static int make_dir(int rootfd, const char *path, uid_t owner, int *ret_fd) {
        _cleanup_close_ int pfd = -EBADF;
        int r, fd;

        r = chase_in_root(rootfd, path, CHASE_MKDIR, &pfd);
        if (r < 0)
                return r;
        if (fchownat(pfd, "", owner, owner, AT_EMPTY_PATH) < 0)
                return -errno;
        if (!ret_fd)
                return 0;
        fd = openat(pfd, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

static int write_owned(int dirfd, const char *name, const char *data, mode_t mode, uid_t owner) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = openat(dirfd, name, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY, mode);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, data, strlen(data));
        if (r < 0)
                return r;
        return RET_NERRNO(fchown(fd, owner, owner));
}

/* /run/host/userdb/NAME.user and UID.user (a symlink), NAME.group and GID.group: the
 * records systemd-nspawn writes, for nss-systemd (systemd 249 or newer in the guest). */
static int write_records(const BindUser *u, int dbfd, uid_t owner) {
        char json[512], f[64], l[64];
        int r;

        snprintf(json, sizeof(json),
                 "{\"userName\":\"%s\",\"uid\":%u,\"gid\":%u,\"homeDirectory\":\"" HOME_PREFIX "%s\","
                 "\"service\":\"io.systemd.NSpawn\"}\n", u->name, u->uid, u->uid, u->name);
        snprintf(f, sizeof(f), "%s.user", u->name);
        snprintf(l, sizeof(l), "%u.user", u->uid);
        r = write_owned(dbfd, f, json, 0644, owner);
        if (r >= 0)
                r = RET_NERRNO(symlinkat(f, dbfd, l));
        if (r >= 0)
                r = RET_NERRNO(fchownat(dbfd, l, owner, owner, AT_SYMLINK_NOFOLLOW));
        if (r < 0)
                return r;

        snprintf(json, sizeof(json), "{\"groupName\":\"%s\",\"gid\":%u,\"service\":\"io.systemd.NSpawn\"}\n", u->name, u->uid);
        snprintf(f, sizeof(f), "%s.group", u->name);
        snprintf(l, sizeof(l), "%u.group", u->uid);
        r = write_owned(dbfd, f, json, 0644, owner);
        if (r >= 0)
                r = RET_NERRNO(symlinkat(f, dbfd, l));
        if (r >= 0)
                r = RET_NERRNO(fchownat(dbfd, l, owner, owner, AT_SYMLINK_NOFOLLOW));
        return r;
}

/* Show 'data' as the tree's existing file 'path': a read-only bind of a copy written to
 * the hidden directory (whose entries go once every mount is in place). */
static int cover_file(int rootfd, int hiddenfd, const char *path, const char *name, const char *data) {
        _cleanup_close_ int mfd = -EBADF, target = -EBADF;
        int r;

        r = write_owned(hiddenfd, name, data, 0644, 0);
        if (r >= 0)
                r = mount_clone_detached(hiddenfd, name, false, true, &mfd);
        if (r >= 0)
                r = chase_in_root(rootfd, path, 0, &target);
        if (r >= 0)
                r = mount_attach(mfd, target);
        return r;
}

int bind_users_apply(const BindUsers *b, int *home_fds, int rootfd, int hidden_fd, uid_t uid_shift) {
        _cleanup_close_ int dbfd = -EBADF, hiddenfd = -EBADF;
        int r;

        if (b->n == 0)
                return 0;

        r = make_dir(rootfd, "/run/host", uid_shift, NULL);
        if (r >= 0)
                r = make_dir(rootfd, "/run/host/home", uid_shift, NULL);
        if (r >= 0)
                r = make_dir(rootfd, "/run/host/userdb", uid_shift, &dbfd);
        if (r < 0)
                return log_error_errno(r, "Failed to create /run/host/home and /run/host/userdb: %m");

        for (size_t i = 0; i < b->n; i++) {
                _cleanup_free_ char *where = strjoin(HOME_PREFIX, b->users[i].name);
                _cleanup_close_ int target = -EBADF;

                if (!where)
                        return log_oom();
                r = make_dir(rootfd, where, uid_shift, NULL);
                if (r >= 0)
                        r = chase_in_root(rootfd, where, 0, &target);
                if (r >= 0)
                        r = mount_attach(home_fds[i], target);
                if (r < 0)
                        return log_error_errno(r, "Failed to bind the home directory of '%s' to %s: %m", b->users[i].name, where);
                home_fds[i] = safe_close(home_fds[i]);
                r = write_records(&b->users[i], dbfd, uid_shift);
                if (r < 0)
                        return log_error_errno(r, "Failed to write the user record of '%s' to /run/host/userdb: %m", b->users[i].name);
        }

        hiddenfd = openat(hidden_fd, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (hiddenfd < 0)
                return log_error_errno(errno, "Failed to open /dev/.berth: %m");
        if (b->passwd) {
                r = cover_file(rootfd, hiddenfd, "/etc/passwd", "passwd", b->passwd);
                if (r < 0)
                        return log_error_errno(r, "Failed to add the bound users to /etc/passwd: %m");
        }
        if (b->group) {
                r = cover_file(rootfd, hiddenfd, "/etc/group", "group", b->group);
                if (r < 0)
                        return log_error_errno(r, "Failed to add the bound users' groups to /etc/group: %m");
        }
        return 0;
}
