/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "fd-util.h"
#include "log.h"
#include "path-util.h"
#include "process-util.h"
#include "spawn-ephemeral.h"
#include "spawn-state.h"
#include "string-util.h"

#define LOCK_DIR "/run/berth/ephemeral"
#define SNAPSHOT_MARKER ".berth-ephemeral-"

static int lock_path_for(const char *snapshot_name, char **ret) {
        const char *id = strstr(snapshot_name, SNAPSHOT_MARKER);

        if (!id)
                return -EINVAL;
        *ret = strjoin(LOCK_DIR "/", id + STRLEN(SNAPSHOT_MARKER), ".lock");
        return *ret ? 0 : -ENOMEM;
}

/* Remove snapshots left by machines whose berth-spawn is gone. */
static void ephemeral_remove_stale(const char *parent) {
        _cleanup_closedir_ DIR *d = opendir(parent);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *lock = NULL, *path = NULL;
                _cleanup_close_ int fd = -EBADF;
                int r;

                if (!startswith(de->d_name, ".#") || !strstr(de->d_name, SNAPSHOT_MARKER))
                        continue;
                if (lock_path_for(de->d_name, &lock) < 0)
                        continue;
                fd = open(lock, O_RDWR|O_CLOEXEC|O_NOFOLLOW);
                if (fd >= 0 && flock(fd, LOCK_EX|LOCK_NB) < 0)
                        continue;        /* its machine is running */

                path = path_join(parent, de->d_name);
                if (!path)
                        return;
                r = btrfs_subvolume_remove(path);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove stale ephemeral snapshot '%s', ignoring: %m", path);
                else
                        log_info("Removed stale ephemeral snapshot '%s'.", path);
                (void) unlink(lock);
        }
}

/* A small process of its own session that outlives a SIGKILLed berth-spawn just long
 * enough to delete the snapshot (a normal exit deletes it before the watcher wakes). */
static void ephemeral_watch(const Ephemeral *e) {
        pid_t parent = getpid(), pid;
        int pidfd;

        pidfd = (int) syscall(SYS_pidfd_open, parent, 0);
        if (pidfd < 0) {
                log_debug_errno(errno, "No pidfd to watch ourselves with, ignoring: %m");
                return;
        }
        pid = fork();
        if (pid != 0) {
                safe_close(pidfd);
                if (pid < 0)
                        log_debug_errno(errno, "Failed to fork the snapshot watcher, ignoring: %m");
                return;
        }

        /* the watcher: no terminal signals, no fds but the pidfd */
        (void) setsid();
        process_rename("(berth-ephemeral-watch)");
        {
                int keep[] = { pidfd };
                (void) close_all_fds_except(keep, 1);
        }
        for (int fd = 0; fd < 3; fd++)
                if (fd != pidfd)
                        (void) close(fd);
        {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                while (poll(&p, 1, -1) < 0 && errno == EINTR)
                        ;
        }
        if (access(e->snapshot, F_OK) >= 0)
                (void) btrfs_subvolume_remove(e->snapshot);
        if (e->lock_path)
                (void) unlink(e->lock_path);
        _exit(EXIT_SUCCESS);
}

int ephemeral_setup(const SpawnConfig *c, SpawnState *s) {
        Ephemeral *e = &s->ephemeral;
        _cleanup_free_ char *real = NULL, *parent = NULL, *base = NULL, *name = NULL;
        uint64_t id;
        char hex[17];
        int r;

        /* an image gets its throwaway layers when it is mounted */
        if (!c->ephemeral || c->image)
                return 0;

        if (!btrfs_is_subvolume(s->directory)) {
                s->root_overlay = true;
                return 0;
        }

        real = realpath(s->directory, NULL);
        if (!real)
                return log_error_errno(errno, "Failed to resolve '%s': %m", s->directory);
        base = path_basename(real);
        parent = strndup(real, (size_t) (strrchr(real, '/') - real));
        if (!base || !parent)
                return log_oom();
        if (isempty(parent)) {
                free(parent);
                parent = strdup("/");
                if (!parent)
                        return log_oom();
        }

        ephemeral_remove_stale(parent);

        if (getrandom(&id, sizeof(id), 0) != (ssize_t) sizeof(id))
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to get random bytes.");
        snprintf(hex, sizeof(hex), "%016llx", (unsigned long long) id);
        name = strjoin(".#", base, SNAPSHOT_MARKER, hex);
        if (!name)
                return log_oom();

        /* Lock first, so no concurrent start ever sees the snapshot unowned. */
        if ((mkdir("/run/berth", 0755) < 0 && errno != EEXIST) || (mkdir(LOCK_DIR, 0755) < 0 && errno != EEXIST))
                return log_error_errno(errno, "Failed to create " LOCK_DIR ": %m");
        r = lock_path_for(name, &e->lock_path);
        if (r < 0)
                return log_oom();
        e->lock_fd = open(e->lock_path, O_RDWR|O_CREAT|O_CLOEXEC|O_NOFOLLOW, 0600);
        if (e->lock_fd < 0 || flock(e->lock_fd, LOCK_EX) < 0)
                return log_error_errno(errno, "Failed to take lock '%s': %m", e->lock_path);

        e->snapshot = path_join(parent, name);
        if (!e->snapshot)
                return log_oom();
        r = btrfs_snapshot(real, e->snapshot, false);
        if (r < 0) {
                e->snapshot = (free(e->snapshot), NULL);
                return log_error_errno(r, "Failed to snapshot '%s' for --ephemeral: %m", real);
        }

        ephemeral_watch(e);

        free(s->directory);
        s->directory = strdup(e->snapshot);
        return s->directory ? 0 : log_oom();
}

void ephemeral_cleanup(Ephemeral *e) {
        if (e->snapshot) {
                int r = btrfs_subvolume_remove(e->snapshot);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove ephemeral snapshot '%s': %m", e->snapshot);
        }
        if (e->lock_path)
                (void) unlink(e->lock_path);
        safe_close(e->lock_fd);
        free(e->snapshot);
        free(e->lock_path);
        *e = (Ephemeral) EPHEMERAL_NULL;
}
