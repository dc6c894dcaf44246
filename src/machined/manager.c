/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "fd-util.h"
#include "image-dbus.h"
#include "log.h"
#include "machine-dbus.h"
#include "machine-name.h"
#include "machine-query.h"
#include "manager-dbus.h"
#include "machine-compat.h"
#include "machine-pty.h"
#include "machine-reclaim.h"
#include "manager.h"
#include "path-util.h"
#include "string-util.h"
#include "supervisor.h"
#include "time-util.h"

#define STALE_CGROUP_INTERVAL_USEC (100ULL * 1000ULL)
#define STALE_CGROUP_ATTEMPTS 100U
#define DRAIN_CGROUP_INTERVAL_USEC (1000ULL * 1000ULL)

static int manager_add_host(Manager *m) {
        MachineInfo info = {
                .class = MACHINE_HOST,
                .leader = 1,
                .timestamp_realtime = now_usec(CLOCK_REALTIME) - now_usec(CLOCK_BOOTTIME),
                .timestamp_monotonic = 0,
        };
        _cleanup_close_ int fd = -EBADF;
        int r;

        /* The host's own entry, as machined shows it: boot time, /etc/machine-id. */
        fd = open("/etc/machine-id", O_RDONLY|O_CLOEXEC|O_NOCTTY);
        if (fd >= 0) {
                _cleanup_free_ char *s = NULL;

                if (read_full_fd(fd, 64, &s, NULL) >= 0) {
                        s[strcspn(s, "\n")] = 0;
                        (void) id128_from_string(s, &info.id);
                }
        }

        info.name = strdup(".host");
        info.root_directory = strdup("/");
        info.service = strdup("");
        if (!info.name || !info.root_directory || !info.service) {
                machine_info_done(&info);
                return -ENOMEM;
        }
        r = machine_new(m, &info, -EBADF, &m->host);
        if (r < 0)
                return r;
        return 0;
}

static int manager_setup_pool(Manager *m, const char *pool) {
        _cleanup_free_ char *parent = NULL, *lock_dir = NULL;
        char *slash;

        /* /run/berth/machines → /run/berth/image-locks */
        parent = strdup(m->state_dir);
        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        if (slash)
                slash[slash == parent] = 0;
        lock_dir = path_join(parent, MACHINED_IMAGE_LOCK_DIR);
        if (!lock_dir)
                return -ENOMEM;
        return image_pool_init(&m->pool, pool, lock_dir);
}

int manager_new(const ManagerConfig *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return log_oom();
        m->state_dir_fd = -EBADF;
        m->cgroups = (CgroupLayout) CGROUP_LAYOUT_NULL;
        image_listing_init(&m->image_listing);
        m->list_limit = (CallerLimit) {
                .rate_per_sec = LIST_IMAGES_RATE,
                .burst = LIST_IMAGES_BURST,
                .max_pending = LIST_IMAGES_MAX_PENDING,
        };

        m->bus_name = strdup(config->bus_name ?: MACHINED_DEFAULT_BUS_NAME);
        m->state_dir = strdup(config->state_dir ?: MACHINED_DEFAULT_STATE_DIR);
        if (!m->bus_name || !m->state_dir)
                return log_oom();

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");

        m->use_systemd = sd_booted() > 0;
        if (!m->use_systemd) {
                r = cgroup_layout_open(&m->cgroups);
                if (r < 0)
                        log_warning_errno(r, "No cgroup2 hierarchy found; CreateMachine will not work: %m");
        }

        r = mkdir_parents_and_self(m->state_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create state directory %s: %m", m->state_dir);
        m->state_dir_fd = open(m->state_dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC|O_NOFOLLOW);
        if (m->state_dir_fd < 0)
                return log_error_errno(errno, "Failed to open state directory %s: %m", m->state_dir);

        r = manager_add_host(m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the host machine: %m");

        r = manager_setup_pool(m, config->pool);
        if (r < 0)
                return log_oom();

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        polkit_registry_done(&m->polkit);
        supervisor_free(m->supervisor);
        machine_sessions_free(m);
        while (m->operations)
                operation_free(m->operations);
        bus_workers_free(m);
        while (m->machines)
                machine_free(m->machines);
        manager_flush_image_cache(m);
        sd_event_source_disable_unref(m->image_cache_flush);
        deferred_calls_free(m);
        image_listing_done(&m->image_listing);
        caller_limit_done(&m->list_limit);
        image_pool_done(&m->pool);

        sd_event_source_disable_unref(m->stale_timer);
        strv_free(m->stale_cgroups);
        strv_free(m->drain_cgroups);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        cgroup_layout_done(&m->cgroups);
        safe_close(m->state_dir_fd);
        free(m->bus_name);
        free(m->state_dir);
        free(m);
        return NULL;
}

Machine *manager_get_machine(Manager *m, const char *name) {
        for (Machine *machine = m->machines; machine; machine = machine->next)
                if (streq(machine->info.name, name))
                        return machine;
        return NULL;
}

Machine *manager_get_machine_by_leader(Manager *m, pid_t pid) {
        for (Machine *machine = m->machines; machine; machine = machine->next)
                if (!machine_is_host(machine) && machine->info.leader == pid)
                        return machine;
        return NULL;
}

int manager_get_machine_by_pid(Manager *m, pid_t pid, Machine **ret) {
        _cleanup_free_ char *cgroup = NULL;
        Machine *machine;
        int r;

        machine = manager_get_machine_by_leader(m, pid);
        if (machine) {
                *ret = machine;
                return 1;
        }

        /* Not a leader: any process in a scope we created belongs to that machine. */
        r = cgroup_pid_get_path(pid, &cgroup);
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;
        for (machine = m->machines; machine; machine = machine->next)
                if (machine->info.cgroup && streq(machine->info.cgroup, cgroup)) {
                        *ret = machine;
                        return 1;
                }
        return 0;
}

static int on_stale_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        _cleanup_strv_free_ char **left = NULL, **drain = NULL;

        m->stale_attempts++;
        STRV_FOREACH(p, m->stale_cgroups) {
                if (cgroup_remove_scope(&m->cgroups, *p) >= 0)
                        continue;
                (void) cgroup_kill_scope(&m->cgroups, *p, SIGKILL);
                if (m->stale_attempts > STALE_CGROUP_ATTEMPTS) {
                        log_warning("Cgroup %s does not empty, giving up on removing it.", *p);
                        continue;
                }
                if (strv_extend(&left, *p) < 0)
                        log_oom();
        }
        STRV_FOREACH(p, m->drain_cgroups)
                if (cgroup_remove_scope(&m->cgroups, *p) < 0 && strv_extend(&drain, *p) < 0)
                        log_oom();

        strv_free(m->stale_cgroups);
        m->stale_cgroups = TAKE_PTR(left);
        strv_free(m->drain_cgroups);
        m->drain_cgroups = TAKE_PTR(drain);
        if (!m->stale_cgroups)
                m->stale_attempts = 0;
        if (!m->stale_cgroups && !m->drain_cgroups)
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);

        (void) sd_event_source_set_time_relative(s, m->stale_cgroups ? STALE_CGROUP_INTERVAL_USEC
                                                                      : DRAIN_CGROUP_INTERVAL_USEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

void manager_release_cgroup(Manager *m, const char *path, bool kill) {
        int r;

        /* Killed processes leave the cgroup as they exit, which takes a moment. */
        if (cgroup_remove_scope(&m->cgroups, path) >= 0)
                return;

        if (strv_extend(kill ? &m->stale_cgroups : &m->drain_cgroups, path) < 0) {
                log_oom();
                return;
        }
        if (!m->stale_timer) {
                r = sd_event_add_time_relative(m->event, &m->stale_timer, CLOCK_MONOTONIC,
                                               STALE_CGROUP_INTERVAL_USEC, 0, on_stale_timer, m);
                if (r < 0)
                        log_warning_errno(r, "Failed to schedule removal of cgroup %s, ignoring: %m", path);
                return;
        }
        (void) sd_event_source_set_time_relative(m->stale_timer, STALE_CGROUP_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(m->stale_timer, SD_EVENT_ONESHOT);
}

static int manager_load_one(Manager *m, const char *name) {
        _cleanup_(machine_info_done) MachineInfo info = { .class = _MACHINE_CLASS_INVALID };
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF, pidfd = -EBADF, supervisor_pidfd = -EBADF;
        uint64_t starttime;
        Machine *machine;
        int r;

        fd = openat(m->state_dir_fd, name, O_RDONLY|O_CLOEXEC|O_NOFOLLOW|O_NOCTTY|O_NONBLOCK);
        if (fd < 0)
                return log_warning_errno(errno, "Cannot open state file %s/%s, skipping: %m", m->state_dir, name);
        r = read_full_fd(fd, MACHINE_STATE_SIZE_MAX, &text, NULL);
        if (r < 0)
                return log_warning_errno(r, "Cannot read state file %s/%s, skipping: %m", m->state_dir, name);

        r = machine_info_parse(text, &info);
        if (r == -EPROTONOSUPPORT)
                return log_warning_errno(r, "State file %s/%s has an unknown version, skipping.", m->state_dir, name);
        if (r < 0 || !streq(info.name, name))
                return log_warning_errno(r < 0 ? r : SYNTHETIC_ERRNO(EBADMSG),
                                         "State file %s/%s is corrupt, skipping.", m->state_dir, name);
        if (manager_get_machine(m, name) || manager_get_machine_by_leader(m, info.leader))
                return log_warning_errno(SYNTHETIC_ERRNO(EEXIST),
                                         "State file %s/%s duplicates a machine, skipping.", m->state_dir, name);

        /* Same PID and same start time: the same process, so the same machine. */
        r = leader_open(info.leader, &pidfd, &starttime, NULL, NULL);
        if (r < 0 || starttime != info.leader_starttime) {
                log_info("Machine '%s' ended while berthd was not running, dropping it.", name);
                if (info.cgroup) {
                        (void) cgroup_kill_scope(&m->cgroups, info.cgroup, SIGKILL);
                        manager_release_cgroup(m, info.cgroup, true);
                }
                if (unlinkat(m->state_dir_fd, name, 0) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Failed to remove %s/%s, ignoring: %m", m->state_dir, name);
                machine_compat_remove(name);
                return 0;
        }

        /* The supervisor, if it is still the same process. */
        if (info.supervisor > 0 &&
            (leader_open(info.supervisor, &supervisor_pidfd, &starttime, NULL, NULL) < 0 ||
             starttime != info.supervisor_starttime)) {
                supervisor_pidfd = safe_close(supervisor_pidfd);
                info.supervisor = 0;
        }

        pid_t leader = info.leader;
        r = machine_new(m, &info, TAKE_FD(pidfd), &machine);
        if (r < 0)
                return log_error_errno(r, "Failed to restore machine '%s': %m", name);
        machine->supervisor_pidfd = TAKE_FD(supervisor_pidfd);
        /* machined's view may be gone (a tmpfs remounted) or older than ours */
        r = machine_compat_save(&machine->info);
        if (r < 0)
                log_warning_errno(r, "Failed to write %s/%s, ignoring: %m", MACHINE_COMPAT_DIR, name);
        log_info("Machine '%s' (leader PID %i) restored.", name, (int) leader);
        return 1;
}

static int manager_load(Manager *m) {
        _cleanup_closedir_ DIR *d = NULL;

        d = opendir_at(m->state_dir_fd, ".");
        if (!d)
                return log_error_errno(errno, "Failed to open %s: %m", m->state_dir);

        for (struct dirent *de; (de = readdir(d)); ) {
                if (de->d_name[0] == '.') {
                        /* A temporary file of an interrupted save: the rename never happened. */
                        if (startswith(de->d_name, ".#"))
                                (void) unlinkat(m->state_dir_fd, de->d_name, 0);
                        continue;
                }
                if (!machine_name_is_valid(de->d_name)) {
                        log_warning("Unexpected file %s/%s, skipping.", m->state_dir, de->d_name);
                        continue;
                }
                (void) manager_load_one(m, de->d_name);
        }
        return 0;
}

static int manager_connect_bus(Manager *m, const char *address) {
        int r;

        if (address) {
                r = sd_bus_new(&m->bus);
                if (r < 0)
                        return log_error_errno(r, "Failed to allocate bus: %m");
                r = sd_bus_set_address(m->bus, address);
                if (r < 0)
                        return log_error_errno(r, "Invalid bus address '%s': %m", address);
                (void) sd_bus_set_bus_client(m->bus, true);
                r = sd_bus_start(m->bus);
        } else
                r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the bus: %m");

        r = manager_dbus_register(m);
        if (r < 0)
                return r;
        if (m->supervisor) {
                r = supervisor_register(m->supervisor);
                if (r < 0)
                        return r;
        }

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach bus to event loop: %m");
        m->polkit.bus = m->bus;
        m->polkit.event = m->event;

        /* No queueing and no replacement: if the name is taken, say so and stop. */
        r = sd_bus_request_name(m->bus, m->bus_name, 0);
        if (r == -EEXIST)
                return log_error_errno(r, "Bus name %s is already taken (is systemd-machined or another berthd "
                                       "running? use --bus-name= to run beside it).", m->bus_name);
        if (r == -EACCES)
                return log_error_errno(r, "Not allowed to own bus name %s (check the D-Bus policy).", m->bus_name);
        if (r < 0)
                return log_error_errno(r, "Failed to acquire bus name %s: %m", m->bus_name);
        return 0;
}

/* Temporaries of clones that a previous berthd did not finish (it was killed). */
static void manager_clean_temporaries(Manager *m) {
        _cleanup_strv_free_ char **removed = NULL;
        int r;

        r = image_pool_remove_stale_temporaries(&m->pool, NULL, &removed);
        STRV_FOREACH(p, removed)
                log_info("Removed stale temporary %s/%s of an interrupted image operation.", m->pool.path, *p);
        if (r < 0)
                log_warning_errno(r, "Failed to remove stale temporaries in %s, ignoring: %m", m->pool.path);
}

int manager_startup(Manager *m, const char *bus_address) {
        int r;

        r = manager_load(m);
        if (r < 0)
                return r;
        manager_clean_temporaries(m);
        machine_reclaim_all();
        return manager_connect_bus(m, bus_address);
}

int manager_run(Manager *m) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SIGTERM/SIGINT: %m");

        (void) sd_notifyf(false, "READY=1\nSTATUS=Managing %zu machines.", m->n_machines - 1);

        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");

        (void) sd_notify(false, "STOPPING=1");
        return 0;
}
