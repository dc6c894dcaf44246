/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "cgroup-setup.h"
#include "fd-util.h"
#include "firewall-util.h"
#include "lock-util.h"
#include "log.h"
#include "netlink-util.h"
#include "parse-util.h"
#include "spawn-reclaim.h"
#include "string-util.h"

int host_network_reclaim_machine(const char *machine) {
        _cleanup_free_ char *p = strjoin(SPAWN_NET_DIR "/machine-", machine, ".lock");
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!p)
                return -ENOMEM;
        r = lock_path(p, false, &fd);
        if (r < 0)
                return r;
        r = fw_remove_machine(machine);
        (void) unlink(p);       /* under the lock, as lock-util.c wants */
        return r;
}

/* put_escaped() undone, on the n bytes at v. */
static char *unescape_value(const char *v, size_t n) {
        char *ret = malloc(n + 1), *o = ret;

        if (!ret)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                int a, b;

                if (v[i] == '\\' && i + 3 < n && v[i + 1] == 'x' &&
                    (a = unhexchar(v[i + 2])) >= 0 && (b = unhexchar(v[i + 3])) >= 0) {
                        *o++ = (char) (a << 4 | b);
                        i += 3;
                } else
                        *o++ = v[i];
        }
        *o = 0;
        return ret;
}

/* The space-separated values of KEY in the file's text (one for a single value); an empty
 * list if the key is absent. */
static int state_values(const char *text, const char *key, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t k = strlen(key);

        for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                const char *v, *end;

                if (strncmp(line, key, k) != 0 || line[k] != '=')
                        continue;
                for (v = line + k + 1; *v && *v != '\n'; v = *end == ' ' ? end + 1 : end) {
                        end = v + strcspn(v, " \n");
                        if (end > v && strv_push(&l, unescape_value(v, end - v)) < 0)
                                return -ENOMEM;
                }
                break;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static const char *first(char **l) {
        return l && l[0] ? l[0] : NULL;
}

static bool cgroups_in_use(char **v2, char **v1) {
        STRV_FOREACH(p, v2)
                if (cgroup_is_populated(*p))
                        return true;
        STRV_FOREACH(p, v1)
                if (!cgroup_has_no_procs(*p))
                        return true;
        return false;
}

static void reclaim_lock_file(const char *name, const char *what, const char *path) {
        int r;

        if (!path)
                return;
        r = lock_path_reclaim(path);
        if (r < 0)
                log_debug_errno(r, "Failed to reclaim %s %s of machine '%s', ignoring: %m", what, path, name);
        else if (r > 0)
                log_debug("Removed %s %s of machine '%s'.", what, path, name);
}

static void reclaim_cgroup(const char *name, const char *path) {
        int r;

        r = cgroup_remove_tree(path);           /* kills nothing: -EBUSY if a process is in it */
        if (r < 0)
                log_debug_errno(r, "Failed to remove cgroup %s of machine '%s', ignoring: %m", path, name);
        else
                log_debug("Removed cgroup %s of machine '%s'.", path, name);
}

/* The host end of a killed machine's veth link: gone with the machine's network namespace,
 * but the kernel tears that down after the last process, so a start of the same name at
 * once may still find it (and fail with "File exists"). The name is the machine's own
 * (its state lock is free, so no running machine has it). */
static void reclaim_link(const char *name, const char *ifname) {
        _cleanup_(rtnl_closep) Rtnl *rtnl = NULL;
        int ifindex;

        if (!ifname || rtnl_open(&rtnl) < 0)
                return;
        ifindex = rtnl_link_index(rtnl, ifname);
        if (ifindex > 0 && rtnl_link_delete(rtnl, ifindex) >= 0)
                log_debug("Removed link %s of machine '%s'.", ifname, name);
}

/* Whether the machine's processes are still there, waiting up to 'wait_usec' for them to
 * go: a killed berth-spawn's machine dies with it (PDEATHSIG), but not at once. */
static bool cgroups_in_use_wait(char **v2, char **v1, uint64_t wait_usec) {
        for (uint64_t waited = 0;; waited += 20000) {
                if (!cgroups_in_use(v2, v1))
                        return false;
                if (waited >= wait_usec)
                        return true;
                (void) usleep(20000);
        }
}

/* The firewall rules, address lock and host link of a machine with a network, in that
 * order: the address is free for another machine only once no rule points at it. Returns
 * 0, or -errno (logged) if the rules stay (berthd under its unit has no CAP_NET_ADMIN):
 * the address lock stays with them, for the next berth-spawn start to reclaim. */
static int reclaim_network(const char *name, const char *addr_lock, const char *ifname) {
        int r;

        r = host_network_reclaim_machine(name);
        if (r < 0)
                return log_warning_errno(r, "Failed to remove the firewall rules of machine '%s', leaving its "
                                         "network's leftovers to the next start of berth-spawn: %m", name);
        if (r > 0)
                log_debug("Removed %i firewall rules of machine '%s'.", r, name);
        reclaim_link(name, ifname);
        reclaim_lock_file(name, "address lock", addr_lock);
        return 0;
}

/* Everything the state file 'file' lists, newest first (rules, link, address lock,
 * cgroups, UID-range lock), then the file itself. Called with the file's lock held. With
 * wait_usec, waits that long for the machine's processes to go (the machine of the name
 * being started). Returns 1 if the machine's leftovers were removed, 0 if there is no
 * such file, -EAGAIN if its processes still run (its cgroups are populated; nothing is
 * touched then), or -errno if part of it stays (the file stays with it). */
static int reclaim_one(int dfd, const char *file, const char *lock, uint64_t wait_usec) {
        _cleanup_strv_free_ char **name = NULL, **cg = NULL, **cg1 = NULL, **uid_lock = NULL,
                                 **addr_lock = NULL, **fw = NULL, **ifname = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *n;
        int r;

        fd = openat(dfd, file, O_RDONLY|O_CLOEXEC|O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;   /* removed meanwhile */
        r = read_full_fd(fd, 1 << 20, &text, NULL);
        if (r >= 0)
                r = state_values(text, "NAME", &name);
        if (r >= 0)
                r = state_values(text, "CGROUP", &cg);
        if (r >= 0)
                r = state_values(text, "CGROUP_V1", &cg1);
        if (r >= 0)
                r = state_values(text, "UID_RANGE_LOCK", &uid_lock);
        if (r >= 0)
                r = state_values(text, "ADDRESS_LOCK", &addr_lock);
        if (r >= 0)
                r = state_values(text, "FIREWALL", &fw);
        if (r >= 0)
                r = state_values(text, "HOST_IFNAME", &ifname);
        if (r < 0)
                return log_debug_errno(r, "Failed to read stale state file %s/%s, ignoring: %m", SPAWN_STATE_DIR, file);
        n = first(name) ?: file;

        /* A killed berth-spawn takes its machine along (PR_SET_PDEATHSIG, then the PID
         * namespace goes), but not always at once: come back at the next start. */
        if (cgroups_in_use_wait(cg, cg1, wait_usec)) {
                log_debug("Machine '%s' of stale state file %s still has processes, leaving it.", n, file);
                return -EAGAIN;
        }

        r = 0;
        if (fw || addr_lock || ifname)
                r = reclaim_network(n, first(addr_lock), first(ifname));
        STRV_FOREACH(p, cg)
                reclaim_cgroup(n, *p);
        STRV_FOREACH(p, cg1)
                reclaim_cgroup(n, *p);
        reclaim_lock_file(n, "UID range lock", first(uid_lock));
        if (r < 0)
                return r;

        if (unlinkat(dfd, file, 0) < 0 && errno != ENOENT)
                log_debug_errno(errno, "Failed to remove stale state file %s, ignoring: %m", file);
        (void) unlinkat(dfd, lock, 0);          /* under its lock */
        log_warning("Reclaimed the leftovers of machine '%s' (its berth-spawn was killed).", n);
        return 1;
}

/* reclaim_one() under the file's lock. -EBUSY if the lock is held: its machine runs. */
static int reclaim_locked(int dfd, const char *file, uint64_t wait_usec) {
        _cleanup_free_ char *lock = NULL, *lock_abs = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        lock = strjoin(".", file, ".lock");
        lock_abs = strjoin(SPAWN_STATE_DIR "/.", file, ".lock");
        if (!lock || !lock_abs)
                return log_oom();
        /* Held while reclaiming: a machine of that name that starts meanwhile finds it
         * taken (and runs without a state file), and so does a second reclaimer. */
        r = lock_path(lock_abs, false, &fd);
        if (r == -EBUSY)
                return r;
        if (r < 0)
                return log_debug_errno(r, "Failed to lock %s, ignoring: %m", lock_abs);
        r = reclaim_one(dfd, file, lock, wait_usec);
        if (r == 0)
                (void) unlinkat(dfd, lock, 0);  /* ours: its state file went meanwhile */
        return r;
}

/* How long a start waits for a killed machine of its own name to finish dying. */
#define OWN_NAME_WAIT_USEC (5ULL * 1000 * 1000)

static void reclaim_state_files(const char *own_name) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        d = opendir(SPAWN_STATE_DIR);
        if (!d) {
                if (errno != ENOENT)
                        log_debug_errno(errno, "Failed to open " SPAWN_STATE_DIR ", not reclaiming: %m");
                return;
        }
        while ((de = readdir(d))) {
                /* .NAME.lock and .#NAME (a temporary file) are not state files */
                if (de->d_name[0] == '.' || de->d_type != DT_REG)
                        continue;
                if (reclaim_locked(dirfd(d), de->d_name,
                                   own_name && streq(de->d_name, own_name) ? OWN_NAME_WAIT_USEC : 0) == -ENOMEM)
                        return;
        }
}

void spawn_reclaim_stale(const char *own_name) {
        /* the network directory also holds zone state files; UID-range locks have no suffix */
        static const struct {
                const char *dir, *suffix;
        } lock_dirs[] = {
                { SPAWN_NET_DIR, ".lock" },
                { SPAWN_UID_RANGE_DIR, NULL },
        };

        reclaim_state_files(own_name);

        /* A berth-spawn killed after it took a machine, address or UID-range lock but
         * before its state file named it leaves a lock file that no state file leads to. */
        for (size_t i = 0; i < ELEMENTSOF(lock_dirs); i++) {
                int r = lock_dir_reclaim(lock_dirs[i].dir, lock_dirs[i].suffix);
                if (r > 0)
                        log_debug("Removed %i lock files of killed machines in %s.", r, lock_dirs[i].dir);
        }
}

int spawn_reclaim_machine(const char *name) {
        _cleanup_close_ int dfd = -EBADF;

        /* a name that could leave the directory is none of berth-spawn's */
        if (isempty(name) || name[0] == '.' || strchr(name, '/'))
                return 0;
        dfd = open(SPAWN_STATE_DIR, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0 : log_debug_errno(errno, "Failed to open " SPAWN_STATE_DIR ": %m");
        if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;       /* nothing stale: no lock file is made for it */
        return reclaim_locked(dfd, name, 0);
}
