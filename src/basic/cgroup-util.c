/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "fd-util.h"
#include "string-util.h"

static bool is_cgroup2(const char *path) {
        struct statfs fs;
        return statfs(path, &fs) >= 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

int cgroup2_root(const char **ret) {
        if (is_cgroup2("/sys/fs/cgroup"))
                *ret = "/sys/fs/cgroup";
        else if (is_cgroup2("/sys/fs/cgroup/unified"))
                *ret = "/sys/fs/cgroup/unified";
        else
                return -EOPNOTSUPP;
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

static int cgroup_remove_tree(const char *path) {
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

static int cgroup_kill_procs(const char *path) {
        _cleanup_free_ char *kill_file = strjoin(path, "/cgroup.kill");
        _cleanup_close_ int fd = -EBADF;

        if (!kill_file)
                return -ENOMEM;
        /* cgroup.kill (Linux 5.14) kills the whole subtree atomically. */
        fd = open(kill_file, O_WRONLY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return write_string_fd(fd, "1");
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
        return cgroup_remove_tree(path);
}

bool cgroup_v1_is_empty(const char *path) {
        _cleanup_free_ char *procs = strjoin(path, "/cgroup.procs"), *data = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (!procs || (fd = open(procs, O_RDONLY|O_CLOEXEC)) < 0)
                return true;
        return read_full_fd(fd, 1 << 20, &data, NULL) < 0 || isempty(data);
}
