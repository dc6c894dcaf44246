/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "fd-util.h"
#include "cgroup-setup.h"
#include "string-util.h"

static int open_hierarchy(const char *path, long magic) {
        _cleanup_close_ int fd = -EBADF;
        struct statfs sfs;

        fd = open(path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstatfs(fd, &sfs) < 0)
                return -errno;
        if (sfs.f_type != magic)
                return -ENOMEDIUM;
        return TAKE_FD(fd);
}

int cgroup_layout_open(CgroupLayout *ret) {
        CgroupLayout l = CGROUP_LAYOUT_NULL;
        int fd;

        fd = open_hierarchy("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC);
        l.unified_path = "/sys/fs/cgroup";
        if (fd < 0) {
                /* Hybrid: v1 controllers at /sys/fs/cgroup, cgroup2 beside them. */
                fd = open_hierarchy("/sys/fs/cgroup/unified", CGROUP2_SUPER_MAGIC);
                if (fd < 0)
                        return -EOPNOTSUPP;
                l.unified_path = "/sys/fs/cgroup/unified";
                l.named_fd = open_hierarchy("/sys/fs/cgroup/systemd", CGROUP_SUPER_MAGIC);
                if (l.named_fd < 0)
                        l.named_fd = -EBADF;
        }
        l.unified_fd = fd;

        /* cgroup.kill only exists in non-root cgroups; probe for it via the kernel's list
         * of cgroup2 features instead. */
        {
                _cleanup_fclose_ FILE *f = fopen("/sys/kernel/cgroup/features", "re");
                char line[64];

                while (f && fgets(line, sizeof(line), f))
                        if (streq(line, "cgroup_kill\n")) {
                                l.has_kill = true;
                                break;
                        }
        }

        *ret = l;
        return 0;
}

void cgroup_layout_done(CgroupLayout *l) {
        l->unified_fd = safe_close(l->unified_fd);
        l->named_fd = safe_close(l->named_fd);
}

static int mkdir_scope(int rootfd, const char *path) {
        _cleanup_free_ char *slice = NULL;
        const char *slash = strchr(path, '/');

        if (!slash)
                return -EINVAL;
        slice = strndup(path, (size_t) (slash - path));
        if (!slice)
                return -ENOMEM;
        if (mkdirat(rootfd, slice, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (mkdirat(rootfd, path, 0755) < 0)
                return -errno;    /* EEXIST included: a stale scope must not be adopted silently */
        return 0;
}

static int attach_pid(int rootfd, const char *path, pid_t pid) {
        _cleanup_free_ char *procs = strjoin(path, "/cgroup.procs");
        char buf[32];

        if (!procs)
                return -ENOMEM;
        snprintf(buf, sizeof(buf), "%i", (int) pid);
        return write_string_file_at(rootfd, procs, buf);
}

/* machine.slice itself stays: it is shared with other tools (berth-spawn, systemd), and
 * removing it while another process creates a scope below it would make that fail. */
static void remove_dirs(int rootfd, const char *path) {
        (void) unlinkat(rootfd, path, AT_REMOVEDIR);
}

int cgroup_create_scope(const CgroupLayout *l, const char *path, pid_t pid) {
        _cleanup_free_ char *abs = NULL;
        int r;

        if (l->unified_fd < 0)
                return -EOPNOTSUPP;

        abs = strjoin(l->unified_path, "/", path);
        if (!abs)
                return -ENOMEM;
        r = cgroup_create_fresh(abs, true, NULL);
        if (r < 0)
                return r;
        r = attach_pid(l->unified_fd, path, pid);
        if (r < 0) {
                remove_dirs(l->unified_fd, path);
                return r;
        }

        if (l->named_fd >= 0) {
                /* Best effort: the v1 name=systemd hierarchy is for tools only. */
                r = mkdir_scope(l->named_fd, path);
                if ((r >= 0 || r == -EEXIST) && attach_pid(l->named_fd, path, pid) < 0 && r >= 0)
                        remove_dirs(l->named_fd, path);
        }
        return 0;
}

static int read_procs(int rootfd, const char *path, pid_t **ret, size_t *ret_n) {
        _cleanup_free_ char *procs = strjoin(path, "/cgroup.procs");
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ pid_t *l = NULL;
        size_t n = 0;
        int fd, pid;

        if (!procs)
                return -ENOMEM;
        fd = openat(rootfd, procs, O_RDONLY|O_CLOEXEC|O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "re");
        if (!f) {
                safe_close(fd);
                return -errno;
        }
        while (fscanf(f, "%i", &pid) == 1) {
                pid_t *nl = realloc(l, (n + 1) * sizeof(pid_t));
                if (!nl)
                        return -ENOMEM;
                l = nl;
                l[n++] = pid;
        }
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

int cgroup_kill_scope(const CgroupLayout *l, const char *path, int sig) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r;

        if (l->unified_fd < 0)
                return -EOPNOTSUPP;

        if (sig == SIGKILL && l->has_kill) {
                _cleanup_free_ char *kill_file = strjoin(path, "/cgroup.kill");
                if (!kill_file)
                        return -ENOMEM;
                return write_string_file_at(l->unified_fd, kill_file, "1");
        }

        /* Without cgroup.kill, signal what is listed. Processes forking concurrently may be
         * missed by one pass, so repeat until a pass finds nothing new (bounded). */
        for (unsigned pass = 0; pass < 3; pass++) {
                bool any = false;

                free(pids);
                pids = NULL;
                r = read_procs(l->unified_fd, path, &pids, &n);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < n; k++)
                        if (kill(pids[k], sig) >= 0)
                                any = true;
                if (!any || sig != SIGKILL)
                        break;
        }
        return 0;
}

int cgroup_scope_populated(const CgroupLayout *l, const char *path) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r;

        if (l->unified_fd < 0)
                return -EOPNOTSUPP;
        r = read_procs(l->unified_fd, path, &pids, &n);
        if (r < 0)
                return r;
        return n > 0;
}

int cgroup_remove_scope(const CgroupLayout *l, const char *path) {
        if (l->unified_fd < 0)
                return -EOPNOTSUPP;

        if (l->named_fd >= 0)
                remove_dirs(l->named_fd, path);

        if (unlinkat(l->unified_fd, path, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int cgroup_pid_get_path(pid_t pid, char **ret) {
        _cleanup_fclose_ FILE *f = NULL;
        char fn[64], line[4096];

        snprintf(fn, sizeof(fn), "/proc/%i/cgroup", (int) pid);
        f = fopen(fn, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                const char *p = startswith(line, "0::/");
                char *c;

                if (!p)
                        continue;
                c = strndup(p, strcspn(p, "\n"));
                if (!c)
                        return -ENOMEM;
                *ret = c;
                return 0;
        }
        return -ENODATA;
}

char *machine_scope_name(const char *machine) {
        _cleanup_free_ char *esc = NULL;
        char *w;

        /* as systemd's unit_name_escape(): [A-Za-z0-9:_.] stay (but a leading '.'),
         * everything else becomes \xNN */
        esc = malloc(strlen(machine) * 4 + 1);
        if (!esc)
                return NULL;
        w = esc;
        for (const char *p = machine; *p; p++) {
                bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                             *p == '_' || *p == ':' || (*p == '.' && p != machine);
                if (plain)
                        *w++ = *p;
                else
                        w += sprintf(w, "\\x%02x", (unsigned char) *p);
        }
        *w = 0;
        return strjoin("machine-", esc, ".scope");
}

char *machine_scope_cgroup(const char *machine) {
        _cleanup_free_ char *scope = machine_scope_name(machine);

        return scope ? strjoin("machine.slice/", scope) : NULL;
}

int slice_to_path(const char *slice, char **ret) {
        _cleanup_free_ char *path = NULL, *base = NULL;
        const char *dash;

        /* "..slice" or ".x.slice" would name a hidden, dot-prefixed cgroup systemd never makes */
        if (!endswith(slice, ".slice") || strchr(slice, '/') || slice[0] == '-' || slice[0] == '.' ||
            streq(slice, "-.slice") ||
            strstr(slice, "--") || strstr(slice, "-.slice") || strlen(slice) > 200)
                return -EINVAL;

        /* a-b-c.slice lives in a.slice/a-b.slice/a-b-c.slice */
        base = strndup(slice, strlen(slice) - STRLEN(".slice"));
        if (!base)
                return -ENOMEM;
        path = strdup("");
        if (!path)
                return -ENOMEM;
        for (dash = strchr(base, '-');; dash = strchr(dash + 1, '-')) {
                _cleanup_free_ char *prefix = dash ? strndup(base, (size_t) (dash - base)) : strdup(base);
                char *p;

                if (!prefix)
                        return -ENOMEM;
                p = strjoin(path, isempty(path) ? "" : "/", prefix, ".slice");
                if (!p)
                        return -ENOMEM;
                free(path);
                path = p;
                if (!dash)
                        break;
        }
        *ret = TAKE_PTR(path);
        return 0;
}

int cgroup_create(const char *path, int *ret_fd) {
        _cleanup_free_ char *p = strdup(path);
        int fd;

        if (!p)
                return -ENOMEM;
        /* parents first (slices), each may exist already */
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(path, 0755) < 0)
                return -errno;

        fd = open(path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int cgroup_create_fresh(const char *path, bool v2, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = cgroup_create(path, &fd);
        if (r == -EEXIST) {
                /* a leftover of a machine of this name that was SIGKILLed: reclaimed, unless
                 * something still runs in it */
                if (v2 ? cgroup_is_populated(path) : !cgroup_has_no_procs(path))
                        return -EBUSY;
                r = v2 ? cgroup_destroy(path) : (rmdir(path) < 0 ? -errno : 0);
                if (r >= 0)
                        r = cgroup_create(path, &fd);
        }
        if (r < 0)
                return r;
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

bool cgroup_is_populated(const char *path) {
        _cleanup_free_ char *events = strjoin(path, "/cgroup.events");
        _cleanup_fclose_ FILE *f = NULL;
        char line[128];

        if (!events || !(f = fopen(events, "re")))
                return false;
        while (fgets(line, sizeof(line), f))
                if (streq(line, "populated 1\n"))
                        return true;
        return false;
}

int cgroup_remove_tree(const char *path) {
        _cleanup_closedir_ DIR *d = opendir(path);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *child = NULL;
                int r;

                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                child = strjoin(path, "/", de->d_name);
                if (!child)
                        return -ENOMEM;
                r = cgroup_remove_tree(child);
                if (r < 0)
                        return r;
        }
        return rmdir(path) < 0 && errno != ENOENT ? -errno : 0;
}

int cgroup_write_attr(const char *dir, const char *attr, const char *value) {
        _cleanup_free_ char *f = strjoin(dir, "/", attr);
        _cleanup_close_ int fd = -EBADF;

        if (!f)
                return -ENOMEM;
        fd = open(f, O_WRONLY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return write_string_fd(fd, value);
}

static int cgroup_kill_procs(const char *path) {
        /* cgroup.kill (Linux 5.14) kills the whole subtree atomically. */
        return cgroup_write_attr(path, "cgroup.kill", "1");
}

int cgroup_destroy(const char *path) {
        _cleanup_free_ char *events = strjoin(path, "/cgroup.events");
        int r;

        if (!events)
                return -ENOMEM;

        if (cgroup_is_populated(path)) {
                _cleanup_close_ int efd = -EBADF;

                r = cgroup_kill_procs(path);
                if (r < 0 && r != -ENOENT)
                        return r;

                /* cgroup.events signals POLLPRI when "populated" changes. */
                efd = open(events, O_RDONLY|O_CLOEXEC);
                for (int i = 0; i < 100 && cgroup_is_populated(path); i++) {
                        struct pollfd p = { .fd = efd, .events = POLLPRI };
                        (void) poll(&p, 1, 50);
                }
        }
        /* A task killed just now may still hold the cgroup for a moment after "populated 0"
         * (seen on Linux 6.18, a process of the host's PID namespace): rmdir says EBUSY. */
        for (int i = 0;; i++) {
                r = cgroup_remove_tree(path);
                if (r != -EBUSY || i >= 200)
                        return r;
                usleep(5000);
        }
}

bool cgroup_has_no_procs(const char *path) {
        _cleanup_free_ char *procs = strjoin(path, "/cgroup.procs"), *data = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (!procs || (fd = open(procs, O_RDONLY|O_CLOEXEC)) < 0)
                return true;
        return read_full_fd(fd, 1 << 20, &data, NULL) < 0 || isempty(data);
}
