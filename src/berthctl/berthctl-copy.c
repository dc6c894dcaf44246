/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* berthctl bind, copy-to, copy-from: machinectl's verbs over BindMountMachine and
 * Copy{To,From}Machine[WithFlags]. The work is berthd's (or systemd-machined's); a long
 * copy shows a progress bar on a terminal, measured from the outside: the size of the
 * source against the size of the temporary copy next to the destination. */

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berthctl-format.h"
#include "berthctl.h"
#include "fd-util.h"
#include "log.h"
#include "machine1-bus.h"
#include "mount-util.h"
#include "path-util.h"
#include "string-util.h"
#include "time-util.h"

#define PROGRESS_DELAY_USEC (1000ULL * 1000ULL)     /* no bar for copies shorter than this */
#define PROGRESS_INTERVAL_USEC (200ULL * 1000ULL)
#define BAR_WIDTH 30

/* A host path as given on the command line, made absolute against the working directory. */
static int host_path_absolute(const char *p, char **ret) {
        _cleanup_free_ char *cwd = NULL;
        char *j;

        if (path_is_absolute(p))
                j = strdup(p);
        else {
                cwd = getcwd(NULL, 0);
                if (!cwd)
                        return log_error_errno(errno, "Failed to get working directory: %m");
                j = path_join(cwd, p);
        }
        if (!j)
                return log_oom();
        *ret = path_simplify(j);
        return 0;
}

/* --- progress ------------------------------------------------------------------------- */

typedef struct Progress {
        int source_dir, dest_dir;       /* -EBADF: no progress shown */
        char *source_name;
        char *temp_prefix;              /* ".#NAME.": the copy in the making (copy-util.c) */
        uint64_t total;
        uint64_t start_usec;
        bool shown;
} Progress;

static void progress_done(Progress *p) {
        if (p->shown)
                fputs("\r\033[K", stderr);
        safe_close(p->source_dir);
        safe_close(p->dest_dir);
        free(p->source_name);
        free(p->temp_prefix);
}

/* Apparent size of the regular files at dir/name, not following symlinks. */
static uint64_t size_at(int dir, const char *name) {
        _cleanup_closedir_ DIR *d = NULL;
        uint64_t sum = 0;
        struct stat st;

        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        if (S_ISREG(st.st_mode))
                return (uint64_t) st.st_size;
        if (!S_ISDIR(st.st_mode))
                return 0;
        d = opendir_at(dir, name);
        if (!d)
                return 0;
        FOREACH_DIRENT(de, d)
                sum += size_at(dirfd(d), de->d_name);
        return sum;
}

static uint64_t progress_current(const Progress *p) {
        _cleanup_closedir_ DIR *d = opendir_at(p->dest_dir, ".");
        uint64_t sum = 0;

        if (!d)
                return 0;
        FOREACH_DIRENT(de, d)
                if (startswith(de->d_name, p->temp_prefix))
                        sum += size_at(dirfd(d), de->d_name);
        return sum;
}

static void progress_update(Progress *p) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], bar[BAR_WIDTH + 1];
        uint64_t done;
        unsigned pct, fill;

        if (p->dest_dir < 0 || p->total == 0 || now_usec(CLOCK_MONOTONIC) - p->start_usec < PROGRESS_DELAY_USEC)
                return;
        done = MIN(progress_current(p), p->total);
        pct = (unsigned) (done * 100 / p->total);
        fill = (unsigned) (done * BAR_WIDTH / p->total);
        memset(bar, '#', fill);
        memset(bar + fill, '-', BAR_WIDTH - fill);
        bar[BAR_WIDTH] = 0;
        fprintf(stderr, "\r[%s] %3u%% %s/%s\033[K", bar, pct, format_bytes(a, done), format_bytes(b, p->total));
        fflush(stderr);
        p->shown = true;
}

/* The machine's root as the leader sees it, for sizes inside the machine; needs root. */
static int open_machine_root(sd_bus *bus, const char *machine) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *path = NULL;
        uint32_t leader = 0;
        char fn[64];

        if (sd_bus_path_encode(MACHINE_OBJECT_PREFIX, machine, &path) < 0 ||
            sd_bus_get_property_trivial(bus, MACHINE1_BUS_NAME, path, MACHINE1_MACHINE_INTERFACE, "Leader",
                                        &error, 'u', &leader) < 0 || leader == 0)
                return -EBADF;
        snprintf(fn, sizeof(fn), "/proc/%" PRIu32 "/root", leader);
        return open(fn, O_PATH|O_DIRECTORY|O_CLOEXEC);
}

/* An fd of the directory holding 'path': on the host, or inside the machine (resolved in
 * its root, so the guest's symlinks stay inside it). */
static int open_parent(int machine_root, const char *path, char **ret_name) {
        _cleanup_free_ char *dir = strdup(path), *name = path_basename(path);
        _cleanup_close_ int fd = -EBADF;
        char *slash;

        if (!dir || !name)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash)
                return -EINVAL;
        slash[slash == dir] = 0;        /* "/a" → "/" */
        if (machine_root < 0)
                fd = open(dir, O_PATH|O_DIRECTORY|O_CLOEXEC);
        else if (chase_in_root(machine_root, dir, 0, &fd) < 0)
                return -EBADF;
        if (fd < 0)
                return -errno;
        *ret_name = TAKE_PTR(name);
        return TAKE_FD(fd);
}

static void progress_init(Progress *p, sd_bus *bus, const char *machine, const char *host_path,
                          const char *machine_path, bool copy_from) {
        _cleanup_close_ int root = -EBADF;
        _cleanup_free_ char *dest_name = NULL;

        *p = (Progress) { .source_dir = -EBADF, .dest_dir = -EBADF, .start_usec = now_usec(CLOCK_MONOTONIC) };
        if (arg_quiet || !isatty(STDERR_FILENO))
                return;
        root = open_machine_root(bus, machine);
        if (root < 0)
                return;
        p->source_dir = open_parent(copy_from ? root : -EBADF, copy_from ? machine_path : host_path, &p->source_name);
        p->dest_dir = open_parent(copy_from ? -EBADF : root, copy_from ? host_path : machine_path, &dest_name);
        if (p->source_dir < 0 || p->dest_dir < 0 || asprintf(&p->temp_prefix, ".#%s.", dest_name) < 0) {
                p->dest_dir = safe_close(p->dest_dir);
                return;
        }
        p->total = size_at(p->source_dir, p->source_name);
}

/* --- the verbs ------------------------------------------------------------------------ */

typedef struct CallState {
        bool done;
        int r;
        sd_bus_error error;
} CallState;

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        CallState *s = userdata;
        int r;

        s->done = true;
        if (!sd_bus_message_is_method_error(reply, NULL))
                return 0;
        /* sd_bus_error_copy() returns the error's errno, negative */
        r = sd_bus_error_copy(&s->error, sd_bus_message_get_error(reply));
        s->r = r < 0 ? r : -EIO;
        return 0;
}

/* Call and wait without a timeout (a copy takes as long as it takes), updating the bar. */
static int call_with_progress(sd_bus *bus, sd_bus_message *m, Progress *p, sd_bus_error *error) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        CallState s = { .error = SD_BUS_ERROR_NULL };
        int r;

        r = sd_bus_call_async(bus, &slot, m, on_reply, &s, UINT64_MAX);
        if (r < 0)
                return r;
        while (!s.done) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, PROGRESS_INTERVAL_USEC);
                if (r < 0)
                        return r;
                progress_update(p);
        }
        if (s.r < 0)
                sd_bus_error_move(error, &s.error);
        return s.r;
}

int verb_copy(sd_bus *bus, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *host_path = NULL, *machine_path = NULL;
        bool copy_from = streq(argv[0], "copy-from");
        const char *dest = argc > 3 ? argv[3] : argv[2];
        Progress p;
        int r;

        r = host_path_absolute(copy_from ? dest : argv[2], &host_path);
        if (r < 0)
                return r;
        machine_path = strdup(copy_from ? argv[2] : dest);
        if (!machine_path)
                return log_oom();
        if (!path_is_absolute(machine_path))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Container path not absolute.");
        path_simplify(machine_path);

        /* The WithFlags variants only when needed: older machined versions lack them. */
        r = sd_bus_message_new_method_call(bus, &m, MACHINE1_BUS_NAME, MACHINE1_MANAGER_PATH,
                                           MACHINE1_MANAGER_INTERFACE,
                                           copy_from ? (arg_force ? "CopyFromMachineWithFlags" : "CopyFromMachine")
                                                     : (arg_force ? "CopyToMachineWithFlags" : "CopyToMachine"));
        if (r >= 0)
                r = sd_bus_message_append(m, "sss", argv[1], copy_from ? machine_path : host_path,
                                          copy_from ? host_path : machine_path);
        if (r >= 0 && arg_force)
                r = sd_bus_message_append(m, "t", (uint64_t) 1);
        if (r < 0)
                return log_error_errno(r, "Failed to build the call: %s", strerror(-r));

        progress_init(&p, bus, argv[1], host_path, machine_path, copy_from);
        r = call_with_progress(bus, m, &p, &error);
        progress_done(&p);
        if (r < 0)
                return log_error_errno(r, "Failed to copy: %s", bus_error_text(&error, r));
        return 0;
}

int verb_bind(sd_bus *bus, int argc, char **argv) {
        _cleanup_free_ char *source = NULL, *dest = NULL;
        int r;

        r = host_path_absolute(argv[2], &source);
        if (r < 0)
                return r;
        dest = strdup(argc > 3 ? argv[3] : source);
        if (!dest)
                return log_oom();
        if (!path_is_absolute(dest))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Destination path not absolute.");
        path_simplify(dest);

        return manager_call(bus, "Failed to bind mount", 0, NULL, "BindMountMachine", "sssbb", argv[1], source, dest,
                            (int) arg_read_only, (int) arg_mkdir);
}
