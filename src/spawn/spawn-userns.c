/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "hash-util.h"
#include "lock-util.h"
#include "log.h"
#include "mount-util.h"
#include "spawn-bind-user.h"
#include "spawn-reclaim.h"
#include "spawn-state.h"
#include "spawn-userns.h"
#include "string-util.h"

#define RANGE_SIZE 0x10000U
#define PICK_FIRST 0x00080000U     /* above the UIDs a distribution hands out */
#define PICK_LAST  0x6FFF0000U
#define LOCK_DIR   SPAWN_UID_RANGE_DIR

static int lock_range(uint32_t base, UserNamespace *u) {
        char path[128];
        int r;

        snprintf(path, sizeof(path), LOCK_DIR "/%u", base);
        r = lock_path(path, false, &u->lock_fd);
        if (r < 0)
                return r;
        u->lock_path = strdup(path);
        return u->lock_path ? 0 : -ENOMEM;
}

static int pick_range(const SpawnConfig *c, SpawnState *s, uint32_t tree_owner) {
        const uint32_t n = (PICK_LAST - PICK_FIRST) / RANGE_SIZE;
        uint32_t start;
        int r;

        if (mkdir("/run/berth", 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create /run/berth: %m");
        if (mkdir(LOCK_DIR, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create " LOCK_DIR ": %m");

        /* A tree shifted by an earlier run keeps its range when it is free. */
        if (tree_owner >= PICK_FIRST && tree_owner <= PICK_LAST && tree_owner % RANGE_SIZE == 0 &&
            lock_range(tree_owner, &s->userns) >= 0) {
                s->uid_shift = tree_owner;
                return 0;
        }

        start = fnv1a32_str(FNV1A32_INIT, c->machine) % n;
        for (uint32_t i = 0; i < n; i++) {
                uint32_t base = PICK_FIRST + ((start + i) % n) * RANGE_SIZE;

                r = lock_range(base, &s->userns);
                if (r == -EBUSY)
                        continue;
                if (r < 0)
                        return log_error_errno(r, "Failed to lock a UID range: %m");
                s->uid_shift = base;
                return 0;
        }
        return log_error_errno(SYNTHETIC_ERRNO(EBUSY), "No free UID range left for the machine.");
}

/* The helper's side of the handshake: unshare, report the result (0 or an errno), then
 * stay in the namespace until the parent has written its maps and opened it (EOF). */
static _noreturn_ void userns_helper(int sock) {
        int32_t err = 0;
        char x;

        if (unshare(CLONE_NEWUSER) < 0)
                err = errno;
        if (write(sock, &err, sizeof(err)) != (ssize_t) sizeof(err))
                _exit(EXIT_FAILURE);
        (void) read(sock, &x, 1);
        _exit(err == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}

/* Wait until the helper has unshared, however long it takes: on a loaded host it may be
 * scheduled late, and a map written before that lands on the host's namespace (EPERM). */
static int userns_helper_wait(int sock) {
        int32_t err;
        ssize_t n;

        do
                n = read(sock, &err, sizeof(err));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n != (ssize_t) sizeof(err))
                return -EPROTO;         /* the helper died before it could say */
        return -err;
}

/* A user namespace with the machine's mapping, held open by fd: a helper process
 * unshares and says so, we write its maps, keep /proc/PID/ns/user, and let it go. */
static int userns_create_map(const char *map, const char *gid_map, int *ret_fd) {
        _cleanup_close_pair_ int p[2] = EBADF_PAIR;
        char path[64];
        pid_t pid;
        int r, fd = -EBADF;

        if (socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, p) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                p[0] = safe_close(p[0]);
                userns_helper(p[1]);
        }
        p[1] = safe_close(p[1]);        /* so that a dead helper reads as EOF */

        r = userns_helper_wait(p[0]);
        if (r >= 0) {
                snprintf(path, sizeof(path), "/proc/%i/uid_map", (int) pid);
                r = write_string_file_at(AT_FDCWD, path, map);
        }
        if (r >= 0) {
                snprintf(path, sizeof(path), "/proc/%i/gid_map", (int) pid);
                r = write_string_file_at(AT_FDCWD, path, gid_map ?: map);
        }
        if (r >= 0) {
                snprintf(path, sizeof(path), "/proc/%i/ns/user", (int) pid);
                fd = open(path, O_RDONLY|O_CLOEXEC);
                if (fd < 0)
                        r = -errno;
        }
        p[0] = safe_close(p[0]);        /* releases the helper */
        (void) waitpid(pid, NULL, 0);
        if (r < 0)
                return r;
        *ret_fd = fd;
        return 0;
}

/* The range, with holes for the --bind-user= users (spawn-bind-user.c) */
static int userns_create(const SpawnState *s, int *ret_fd) {
        _cleanup_free_ char *uid_map = NULL, *gid_map = NULL;
        int r;

        r = bind_users_id_map(&s->bind_users, s->uid_shift, s->uid_range, false, &uid_map);
        if (r >= 0)
                r = bind_users_id_map(&s->bind_users, s->uid_shift, s->uid_range, true, &gid_map);
        if (r < 0)
                return log_oom();
        r = userns_create_map(uid_map, gid_map, ret_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the machine's user namespace (UID %u...%u): %m",
                                       s->uid_shift, s->uid_shift + s->uid_range - 1);
        return 0;
}

/* rootidmap: a namespace mapping the source's owner P (as on disk) to the machine's root;
 * everything else shows as nobody. Without -U the machine's root is the host's (shift 0). */
static int bind_idmap_root(const CustomMount *cm, const SpawnState *s, int *ret_fd) {
        struct stat st;
        char map[64];
        int r;

        if (stat(cm->source, &st) < 0)
                return log_error_errno(errno, "Failed to access bind mount source '%s': %m", cm->source);
        snprintf(map, sizeof(map), "%u %u 1\n", (unsigned) st.st_uid, s->uid_shift);
        r = userns_create_map(map, NULL, ret_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to create the user namespace for rootidmap of '%s': %m", cm->source);
        return 0;
}

/* The same with OCI's maps (IdMap): non-logging. */
static int userns_create_id_maps(const IdMap *uid_map, const IdMap *gid_map, int *ret_fd) {
        _cleanup_free_ char *u = id_map_to_string(uid_map), *g = id_map_to_string(gid_map);

        if (!u || !g)
                return -ENOMEM;
        return userns_create_map(u, g, ret_fd);
}

/* OCI idmap/ridmap: a namespace with the mount's own uidMappings/gidMappings. */
static int bind_idmap_mapped(const CustomMount *cm, int *ret_fd) {
        int r;

        r = userns_create_id_maps(&cm->idmap_uid, &cm->idmap_gid, ret_fd);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Failed to create the user namespace for the idmapped mount of '%s' "
                                       "(its uidMappings/gidMappings): %m", cm->source);
        return 0;
}

/* Binds idmapped with a namespace of their own, made here in the parent: one per mount. */
int userns_setup_bind_idmaps(const SpawnConfig *c, SpawnState *s) {
        int r;

        for (size_t i = 0; i < c->n_mounts; i++) {
                const CustomMount *cm = &c->mounts[i];

                if (cm->type != CUSTOM_MOUNT_BIND || (cm->idmap != BIND_IDMAP_ROOT && cm->idmap != BIND_IDMAP_MAPPED))
                        continue;
                if (!s->bind_userns_fds) {
                        s->bind_userns_fds = malloc(sizeof(int) * c->n_mounts);
                        if (!s->bind_userns_fds)
                                return log_oom();
                        for (size_t k = 0; k < c->n_mounts; k++)
                                s->bind_userns_fds[k] = -EBADF;
                }
                r = cm->idmap == BIND_IDMAP_ROOT ? bind_idmap_root(cm, s, &s->bind_userns_fds[i]) :
                                                   bind_idmap_mapped(cm, &s->bind_userns_fds[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Can the tree's file system carry an idmapped mount with this namespace? */
static bool idmap_supported(const SpawnState *s) {
        _cleanup_close_ int fd = -EBADF;
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) s->userns_fd };

        fd = open_tree(AT_FDCWD, s->directory, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC);
        return fd >= 0 && mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a)) >= 0;
}

/* Shift every file of the tree from the range it is in now to ours. */
static int chown_tree_at(int dfd, uint32_t from, uint32_t to, dev_t dev) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = openat(dfd, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                struct stat st;
                int r;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (st.st_dev != dev)
                        continue;     /* another file system mounted inside: not ours */
                if (fchownat(dirfd(d), de->d_name, st.st_uid - from + to, st.st_gid - from + to, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                /* chown() drops set-user/group-ID bits: put them back */
                if (!S_ISLNK(st.st_mode) && (st.st_mode & (S_ISUID|S_ISGID)) &&
                    fchmodat(dirfd(d), de->d_name, st.st_mode & 07777, 0) < 0)
                        return -errno;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(dirfd(d), de->d_name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
                        if (sub < 0)
                                return -errno;
                        r = chown_tree_at(sub, from, to, dev);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int chown_tree(const SpawnState *s, uint32_t tree_owner) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        if (tree_owner == s->uid_shift)
                return 0;            /* shifted by an earlier run */
        if (tree_owner % RANGE_SIZE != 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                       "The tree's root is owned by UID %u, not the start of a UID range; refusing to shift it.",
                                       tree_owner);
        log_info("Shifting the ownership of '%s' to UID range %u...%u.", s->directory, s->uid_shift,
                 s->uid_shift + s->uid_range - 1);

        fd = open(s->directory, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return log_error_errno(errno, "Failed to open '%s': %m", s->directory);
        r = chown_tree_at(fd, tree_owner, s->uid_shift, st.st_dev);
        if (r >= 0 && fchown(fd, s->uid_shift, s->uid_shift) < 0)
                r = -errno;
        if (r < 0)
                return log_error_errno(r, "Failed to shift the ownership of '%s': %m", s->directory);
        return 0;
}

/* The UID range: picked, taken from the tree's owner, or the one asked for. */
static int userns_pick_range(const SpawnConfig *c, SpawnState *s, uid_t tree_owner) {
        switch (c->private_users) {
        case PRIVATE_USERS_PICK:
                s->uid_range = RANGE_SIZE;
                return pick_range(c, s, tree_owner);
        case PRIVATE_USERS_YES:
                if (tree_owner == 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "--private-users=yes takes the range from the tree's owner, which is root; "
                                               "host UID 0 is never mapped. Use -U or --private-users=pick.");
                s->uid_shift = tree_owner;
                s->uid_range = RANGE_SIZE;
                return 0;
        case PRIVATE_USERS_IDENTITY:
                s->uid_shift = 0;
                s->uid_range = RANGE_SIZE;
                return 0;
        default:
                s->uid_shift = c->uid_shift;
                s->uid_range = c->uid_range;
                return 0;
        }
}

/* OCI linux.uidMappings/gidMappings: the namespace with exactly the config's maps, as runc
 * writes them (setgroups stays "allow": the parent is privileged). Nothing is chowned or
 * idmapped: files owned by IDs outside the maps show as nobody, as with runc. */
static int userns_setup_mapped(const SpawnConfig *c, SpawnState *s) {
        int r;

        /* spawn-oci.c made sure that root is mapped, as runc requires */
        s->uid_shift = id_map_outside(&c->uid_map, 0);
        s->gid_shift = id_map_outside(&c->gid_map, 0);
        s->uid_range = 0;
        for (size_t i = 0; i < c->uid_map.n; i++)
                if (c->uid_map.items[i].inside == 0)
                        s->uid_range = c->uid_map.items[i].count;
        r = userns_create_id_maps(&c->uid_map, &c->gid_map, &s->userns_fd);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Failed to create the user namespace with the maps of linux.uidMappings "
                                       "and linux.gidMappings: %m");
        s->users_ownership = USERS_OWNERSHIP_OFF;
        log_debug("User namespace: root is UID %u GID %u on the host, %zu+%zu map lines.", s->uid_shift,
                  s->gid_shift, c->uid_map.n, c->gid_map.n);
        return 0;
}

int userns_setup(const SpawnConfig *c, SpawnState *s) {
        struct stat st;
        int r;

        if (c->private_users == PRIVATE_USERS_NO)
                return 0;
        if (c->private_users == PRIVATE_USERS_MAPPED)
                return userns_setup_mapped(c, s);

        if (stat(s->directory, &st) < 0)
                return log_error_errno(errno, "Failed to stat '%s': %m", s->directory);

        r = userns_pick_range(c, s, st.st_uid);
        if (r < 0)
                return r;
        s->gid_shift = s->uid_shift;
        r = bind_users_prepare(c, s);
        if (r < 0)
                return r;

        r = userns_create(s, &s->userns_fd);
        if (r < 0)
                return r;

        s->users_ownership = c->users_ownership;
        if (s->users_ownership == USERS_OWNERSHIP_AUTO)
                s->users_ownership = s->uid_shift == 0 ? USERS_OWNERSHIP_OFF :
                                     idmap_supported(s) ? USERS_OWNERSHIP_MAP : USERS_OWNERSHIP_CHOWN;
        if (s->users_ownership == USERS_OWNERSHIP_MAP) {
                if (!idmap_supported(s))
                        return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP),
                                               "The file system of '%s' does not support idmapped mounts; use --private-users-ownership=chown.",
                                               s->directory);
                s->idmap_root = true;
        } else if (s->users_ownership == USERS_OWNERSHIP_CHOWN) {
                r = chown_tree(s, st.st_uid);
                if (r < 0)
                        return r;
        }
        log_debug("User namespace: UID %u...%u, ownership %s.", s->uid_shift, s->uid_shift + s->uid_range - 1,
                  users_ownership_to_string(s->users_ownership));
        return 0;
}

void userns_bind_idmaps_done(const SpawnConfig *c, SpawnState *s) {
        if (!s->bind_userns_fds)
                return;
        for (size_t i = 0; i < c->n_mounts; i++)
                safe_close(s->bind_userns_fds[i]);
        free(s->bind_userns_fds);
        s->bind_userns_fds = NULL;
}

void userns_done(SpawnState *s) {
        UserNamespace *u = &s->userns;

        s->userns_fd = safe_close(s->userns_fd);
        if (u->lock_path)
                (void) unlink(u->lock_path);
        safe_close(u->lock_fd);
        free(u->lock_path);
        *u = (UserNamespace) USER_NAMESPACE_NULL;
}

int userns_chown_cgroup(const SpawnState *s, const char *path) {
        static const char *const files[] = { "", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control" };

        if (s->userns_fd < 0 || !path)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *f = strjoin(path, "/", files[i]);
                if (!f)
                        return log_oom();
                if (chown(f, s->uid_shift, s->gid_shift) < 0 && errno != ENOENT)
                        return log_error_errno(errno, "Failed to hand cgroup %s to the machine: %m", f);
        }
        return 0;
}
