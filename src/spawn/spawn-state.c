/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "fd-util.h"
#include "lock-util.h"
#include "log.h"
#include "path-util.h"
#include "spawn-state.h"
#include "string-util.h"

#define STATE_DIR SPAWN_STATE_DIR

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
        bind_users_done(&s->bind_users);
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
