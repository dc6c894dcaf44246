/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "fd-util.h"
#include "lock-util.h"
#include "log.h"
#include "netlink-util.h"
#include "parse-util.h"
#include "path-util.h"
#include "spawn-network.h"
#include "spawn-state.h"
#include "spawn-userns.h"
#include "string-util.h"
#include "cgroup-setup.h"

#define STATE_DIR "/run/berth/spawn"

void spawn_state_init(SpawnState *s) {
        *s = (SpawnState) {
                .userns_fd = -EBADF,
                .users_ownership = USERS_OWNERSHIP_OFF,
                .image_hold = IMAGE_HOLD_NULL,
                .image = MOUNTED_IMAGE_NULL,
                .ephemeral = EPHEMERAL_NULL,
                .userns = USER_NAMESPACE_NULL,
                .net = HOST_NETWORK_NULL,
                .cgroup = MACHINE_CGROUP_NULL,
                .file_lock = -EBADF,
                .start_fifo_fd = -EBADF,
        };
}

void spawn_state_done(SpawnState *s) {
        free(s->directory);
        free(s->journal_bind_source);
        free(s->journal_bind_target);
        free(s->overlay_work_dirs);     /* the entries are freed by overlay_workdirs_remove() */
        safe_close(s->userns_fd);
        safe_close(s->file_lock);
        free(s->file_path);
        free(s->file_lock_path);
        seccomp_filter_done(&s->seccomp_payload);
        seccomp_filter_done(&s->seccomp_stub);
        free(s->seccomp_sync);
        spawn_state_init(s);
}

/* Values are written verbatim except for bytes that would break the line format or a
 * space-separated list: those (and the backslash) become \xHH. */
static void put_escaped(FILE *f, const char *v) {
        for (const unsigned char *p = (const unsigned char *) v; *p; p++) {
                if (*p <= ' ' || *p == '\\' || *p == '"' || *p == '\'' || *p >= 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        }
}

static void put(FILE *f, const char *key, const char *v) {
        if (isempty(v))
                return;
        fprintf(f, "%s=", key);
        put_escaped(f, v);
        fputc('\n', f);
}

static void put_list(FILE *f, const char *key, char * const *l, size_t n) {
        bool first = true;

        for (size_t i = 0; l && (n == SIZE_MAX ? l[i] != NULL : i < n); i++) {
                if (isempty(l[i]))
                        continue;
                fputs(first ? key : " ", f);
                if (first)
                        fputc('=', f);
                put_escaped(f, l[i]);
                first = false;
        }
        if (!first)
                fputc('\n', f);
}

static void put_address(FILE *f, const char *key, struct in_addr a, unsigned prefixlen) {
        char buf[INET_ADDRSTRLEN];

        if (a.s_addr == 0 || !inet_ntop(AF_INET, &a, buf, sizeof(buf)))
                return;
        if (prefixlen > 0)
                fprintf(f, "%s=%s/%u\n", key, buf, prefixlen);
        else
                fprintf(f, "%s=%s\n", key, buf);
}

static void put_network(FILE *f, const SpawnConfig *c, const HostNetwork *n) {
        put(f, "HOST_IFNAME", n->host_ifname);
        if (n->host_ifindex > 0)
                fprintf(f, "HOST_IFINDEX=%i\n", n->host_ifindex);
        put(f, "BRIDGE", !isempty(n->bridge_ifname) ? n->bridge_ifname : c->network_bridge);
        put_address(f, "SUBNET", n->subnet, n->prefixlen);
        put_address(f, "GATEWAY", n->gateway, 0);
        put_address(f, "ADDRESS", n->address, 0);
        put(f, "ADDRESS_LOCK", n->address_lock_path);
        put_list(f, "INTERFACES", c->network_interfaces, SIZE_MAX);
        /* the rules carry the machine's name; fw_remove_machine(NAME) removes them */
        if (n->firewall)
                put(f, "FIREWALL", c->machine);
}

int spawn_state_serialize(const SpawnConfig *c, const SpawnState *s, pid_t supervisor, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        put(f, "NAME", c->machine);
        fprintf(f, "SUPERVISOR=%i\n", (int) supervisor);
        if (s->leader > 0)
                fprintf(f, "LEADER=%i\n", (int) s->leader);
        put(f, "ROOT", s->directory);
        put(f, "DIRECTORY", c->directory);
        put(f, "IMAGE", c->image);
        put(f, "SETTINGS", c->settings_file);
        if (c->settings_file)
                put(f, "SETTINGS_TRUSTED", c->settings_trusted ? "yes" : "no");
        put_list(f, "DEVICES", s->image.devices, SIZE_MAX);
        put(f, "EPHEMERAL_SNAPSHOT", s->ephemeral.snapshot);
        put_list(f, "OVERLAY_WORK_DIRS", s->overlay_work_dirs, c->n_mounts);
        if (s->userns_fd >= 0) {
                fprintf(f, "UID_SHIFT=%u\nUID_RANGE=%u\n", s->uid_shift, s->uid_range);
                put(f, "USERS_OWNERSHIP", users_ownership_to_string(s->users_ownership));
                put(f, "UID_RANGE_LOCK", s->userns.lock_path);
        }
        put(f, "CGROUP", s->cgroup.v2_path);
        put_list(f, "CGROUP_V1", s->cgroup.v1_paths, SIZE_MAX);
        put_network(f, c, &s->net);
        put(f, "JOURNAL_BIND", s->journal_bind_source);
        /* What berthd needs to run a shell with the machine's own restrictions and to
         * power it off the way its init wants (see berthd(8)). */
        put(f, "INIT", init_kind_to_string(s->init_kind));
        fprintf(f, "BOUNDING_SET=0x%" PRIx64 "\nNO_NEW_PRIVILEGES=%i\n",
                spawn_config_bounding_set(c), (int) c->no_new_privileges);
        put_list(f, "SYSCALL_ALLOW", c->syscall_allow, SIZE_MAX);
        put_list(f, "SYSCALL_DENY", c->syscall_deny, SIZE_MAX);

        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

int spawn_state_claim(const SpawnConfig *c, SpawnState *s) {
        _cleanup_free_ char *lock = NULL, *path = NULL;
        int r;

        lock = strjoin(STATE_DIR "/.", c->machine, ".lock");
        path = strjoin(STATE_DIR "/", c->machine);
        if (!lock || !path)
                return log_oom();

        r = mkdir_parents_and_self(STATE_DIR, 0755);
        if (r < 0) {
                log_warning_errno(r, "Failed to create " STATE_DIR ", running without a state file: %m");
                return 0;
        }
        /* The lock is held for the machine's lifetime: a file whose lock is free was left by a
         * berth-spawn that was killed (its machine died with it) and is ours to replace. */
        r = lock_path(lock, false, &s->file_lock);
        if (r == -EBUSY) {
                log_warning("Another berth-spawn runs a machine named '%s'; running without a state file.", c->machine);
                return 0;
        }
        if (r < 0) {
                log_warning_errno(r, "Failed to lock %s, running without a state file: %m", lock);
                return 0;
        }
        if (unlink(path) >= 0)
                log_debug("Removed stale state file %s.", path);
        s->file_path = TAKE_PTR(path);
        s->file_lock_path = TAKE_PTR(lock);
        return 0;
}

void spawn_state_save(const SpawnConfig *c, const SpawnState *s) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int dfd = -EBADF;
        int r;

        if (!s->file_path)
                return;
        r = spawn_state_serialize(c, s, getpid(), &text);
        if (r >= 0) {
                dfd = open(STATE_DIR, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
                r = dfd < 0 ? -errno : write_file_atomic_at(dfd, c->machine, text, 0644);
        }
        if (r < 0)
                log_warning_errno(r, "Failed to write %s, ignoring: %m", s->file_path);
}

void spawn_state_remove(SpawnState *s) {
        if (!s->file_path)
                return;
        if (unlink(s->file_path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove %s, ignoring: %m", s->file_path);
        /* lock files are unlinked by their owner before the lock goes (lock-util.h) */
        (void) unlink(s->file_lock_path);
        s->file_lock = safe_close(s->file_lock);
        s->file_path = (free(s->file_path), NULL);
        s->file_lock_path = (free(s->file_lock_path), NULL);
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

/* Everything the state file 'file' lists, newest first (rules, cgroups, link, address
 * lock, UID-range lock), then the file itself. Called with the file's lock held. With
 * wait_usec, waits that long for the machine's processes to go (the machine of the name
 * being started). Returns 1 if the machine's leftovers were removed, 0 if its processes
 * still run (its cgroups are populated; nothing is touched then). */
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
                return r;
        n = first(name) ?: file;

        /* A killed berth-spawn takes its machine along (PR_SET_PDEATHSIG, then the PID
         * namespace goes), but not always at once: come back at the next start. */
        if (cgroups_in_use_wait(cg, cg1, wait_usec)) {
                log_debug("Machine '%s' of stale state file %s still has processes, leaving it.", n, file);
                return 0;
        }

        if (fw || addr_lock || ifname) {
                r = host_network_reclaim_machine(n);
                if (r < 0)
                        log_debug_errno(r, "Failed to remove the firewall rules of machine '%s', ignoring: %m", n);
                else if (r > 0)
                        log_debug("Removed %i firewall rules of machine '%s'.", r, n);
        }
        reclaim_link(n, first(ifname));
        STRV_FOREACH(p, cg)
                reclaim_cgroup(n, *p);
        STRV_FOREACH(p, cg1)
                reclaim_cgroup(n, *p);
        reclaim_lock_file(n, "address lock", first(addr_lock));
        reclaim_lock_file(n, "UID range lock", first(uid_lock));

        if (unlinkat(dfd, file, 0) < 0 && errno != ENOENT)
                log_debug_errno(errno, "Failed to remove stale state file %s, ignoring: %m", file);
        (void) unlinkat(dfd, lock, 0);          /* under its lock */
        log_warning("Reclaimed the leftovers of machine '%s' (its berth-spawn was killed).", n);
        return 1;
}

/* How long a start waits for a killed machine of its own name to finish dying. */
#define OWN_NAME_WAIT_USEC (5ULL * 1000 * 1000)

static void reclaim_state_files(const char *own_name) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        d = opendir(STATE_DIR);
        if (!d) {
                if (errno != ENOENT)
                        log_debug_errno(errno, "Failed to open " STATE_DIR ", not reclaiming: %m");
                return;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *lock = NULL, *lock_abs = NULL;
                _cleanup_close_ int fd = -EBADF;
                int r;

                /* .NAME.lock and .#NAME (a temporary file) are not state files */
                if (de->d_name[0] == '.' || de->d_type != DT_REG)
                        continue;
                lock = strjoin(".", de->d_name, ".lock");
                lock_abs = strjoin(STATE_DIR "/.", de->d_name, ".lock");
                if (!lock || !lock_abs)
                        return (void) log_oom();
                /* Held while reclaiming: a machine of that name that starts meanwhile finds it
                 * taken (and runs without a state file), and so does a second reclaimer. */
                r = lock_path(lock_abs, false, &fd);
                if (r == -EBUSY)
                        continue;               /* its machine runs */
                if (r < 0) {
                        log_debug_errno(r, "Failed to lock %s, ignoring: %m", lock_abs);
                        continue;
                }
                r = reclaim_one(dirfd(d), de->d_name, lock,
                                own_name && streq(de->d_name, own_name) ? OWN_NAME_WAIT_USEC : 0);
                if (r < 0)
                        log_debug_errno(r, "Failed to read stale state file %s/%s, ignoring: %m", STATE_DIR, de->d_name);
        }
}

void spawn_reclaim_stale(const char *own_name) {
        /* the network directory also holds zone state files; UID-range locks have no suffix */
        static const struct {
                const char *dir, *suffix;
        } lock_dirs[] = {
                { SPAWN_NETWORK_DIR, ".lock" },
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
