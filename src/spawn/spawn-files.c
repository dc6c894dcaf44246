/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "mount-util.h"
#include "spawn-files.h"
#include "string-util.h"

void host_files_done(HostFiles *h) {
        free(h->resolv_data);
        free(h->tz_zone);
        free(h->tz_data);
        free(h->os_release);
        safe_close(h->resolv_bind_fd);
        safe_close(h->tz_bind_fd);
        *h = (HostFiles) HOST_FILES_NULL;
}

static const char *resolv_source(ResolvConfMode m) {
        switch (m) {
        case RESOLV_CONF_COPY_HOST: case RESOLV_CONF_REPLACE_HOST: case RESOLV_CONF_BIND_HOST:
                return "/etc/resolv.conf";
        case RESOLV_CONF_COPY_STATIC: case RESOLV_CONF_REPLACE_STATIC: case RESOLV_CONF_BIND_STATIC:
                return "/usr/lib/systemd/resolv.conf";
        case RESOLV_CONF_COPY_UPLINK: case RESOLV_CONF_REPLACE_UPLINK: case RESOLV_CONF_BIND_UPLINK:
                return "/run/systemd/resolve/resolv.conf";
        case RESOLV_CONF_COPY_STUB: case RESOLV_CONF_REPLACE_STUB: case RESOLV_CONF_BIND_STUB:
                return "/run/systemd/resolve/stub-resolv.conf";
        default:
                return NULL;
        }
}

static bool resolv_is_bind(ResolvConfMode m) {
        return m >= RESOLV_CONF_BIND_HOST && m <= RESOLV_CONF_BIND_STUB;
}

static int read_host_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        return read_full_fd(fd, 1024 * 1024, ret, ret_size);
}

int host_files_prepare(const SpawnConfig *c, const char *root, HostFiles *h) {
        struct statvfs sv;
        const char *src;
        char link[256];
        ssize_t n;
        int r;

        /* --read-only, or a file system that is mounted read-only (an image's read-only
         * root partition, squashfs, verity) */
        h->read_only = c->read_only ||
                (statvfs(root, &sv) >= 0 && (sv.f_flag & ST_RDONLY));

        /* auto: copy when the tree is writable, bind when it is not. */
        h->resolv_mode = c->resolv_conf;
        if (h->resolv_mode == RESOLV_CONF_AUTO)
                h->resolv_mode = h->read_only ? RESOLV_CONF_BIND_HOST : RESOLV_CONF_COPY_HOST;

        src = resolv_source(h->resolv_mode);
        if (src && resolv_is_bind(h->resolv_mode))
                r = mount_clone_detached(AT_FDCWD, src, false, true, &h->resolv_bind_fd);
        else if (src)
                r = read_host_file(src, &h->resolv_data, NULL);
        else
                r = 0;
        if (r < 0) {
                log_debug_errno(r, "Host file %s not usable, leaving the machine's resolv.conf alone: %m", src);
                h->resolv_mode = RESOLV_CONF_OFF;
        }

        if (read_host_file("/etc/os-release", &h->os_release, NULL) < 0)
                (void) read_host_file("/usr/lib/os-release", &h->os_release, NULL);

        /* The host's zone, from the /etc/localtime symlink. */
        n = readlink("/etc/localtime", link, sizeof(link) - 1);
        if (n > 0) {
                const char *z;

                link[n] = 0;
                z = strstr(link, "zoneinfo/");
                if (z && !strstr(z, "..")) {
                        h->tz_zone = strdup(z + STRLEN("zoneinfo/"));
                        if (!h->tz_zone)
                                return log_oom();
                }
        }

        h->tz_mode = c->timezone;
        if (h->tz_mode == TIMEZONE_AUTO)
                h->tz_mode = h->read_only ? TIMEZONE_BIND : h->tz_zone ? TIMEZONE_SYMLINK : TIMEZONE_COPY;

        if (h->tz_mode == TIMEZONE_SYMLINK && !h->tz_zone)
                h->tz_mode = TIMEZONE_COPY;
        if (h->tz_mode == TIMEZONE_COPY || c->timezone == TIMEZONE_AUTO)
                (void) read_host_file("/etc/localtime", &h->tz_data, &h->tz_size);
        if (h->tz_mode == TIMEZONE_BIND &&
            mount_clone_detached(AT_FDCWD, "/etc/localtime", false, true, &h->tz_bind_fd) < 0)
                h->tz_mode = TIMEZONE_OFF;
        if (h->tz_mode == TIMEZONE_COPY && !h->tz_data)
                h->tz_mode = TIMEZONE_OFF;
        return 0;
}

/* ---- inside the machine ---- */

static int open_etc(int rootfd, int *ret) {
        _cleanup_close_ int pfd = -EBADF;
        int r, fd;

        r = chase_in_root(rootfd, "/etc", 0, &pfd);
        if (r < 0)
                return r;
        fd = openat(pfd, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

/* Write 'data' to etc/name unless it is already there; never through a symlink. */
static int write_if_changed(int etcfd, const char *name, const char *data, size_t size, bool replace) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (fstatat(etcfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                if (!S_ISREG(st.st_mode)) {
                        if (!replace)
                                return 0;          /* a symlink the distro manages */
                        if (unlinkat(etcfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
                                return -errno;
                } else {
                        _cleanup_free_ char *old = NULL;
                        size_t old_size;

                        fd = openat(etcfd, name, O_RDONLY|O_CLOEXEC|O_NOFOLLOW|O_NONBLOCK);
                        if (fd >= 0 && read_full_fd(fd, 1024 * 1024, &old, &old_size) >= 0 &&
                            old_size == size && memcmp(old, data, size) == 0)
                                return 0;
                        fd = safe_close(fd);
                }
        }

        fd = openat(etcfd, name, O_WRONLY|O_CREAT|O_TRUNC|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY, 0644);
        if (fd < 0)
                return -errno;
        return loop_write(fd, data, size);
}

static int bind_file(const HostFiles *h, int rootfd, const char *path, int mount_fd) {
        _cleanup_close_ int target = -EBADF;
        int r;

        /* On a read-only root only an existing file can be covered. */
        r = chase_in_root(rootfd, path, h->read_only ? 0 : CHASE_MKFILE, &target);
        if (r == -ENOENT && h->read_only)
                return 0;
        if (r < 0)
                return r;
        return mount_attach(mount_fd, target);
}

static int apply_resolv_conf(const SpawnConfig *c, HostFiles *h, int rootfd, int etcfd) {
        ResolvConfMode m = h->resolv_mode;

        if (m == RESOLV_CONF_OFF)
                return 0;
        if (resolv_is_bind(m))
                return bind_file(h, rootfd, "/etc/resolv.conf", h->resolv_bind_fd);
        if (h->read_only)
                return 0;
        if (m == RESOLV_CONF_DELETE)
                return unlinkat(etcfd, "resolv.conf", 0) < 0 && errno != ENOENT ? -errno : 0;
        return write_if_changed(etcfd, "resolv.conf", h->resolv_data, strlen(h->resolv_data),
                                m >= RESOLV_CONF_REPLACE_HOST && m <= RESOLV_CONF_REPLACE_STUB);
}

static int apply_timezone(const SpawnConfig *c, HostFiles *h, int rootfd, int etcfd) {
        _cleanup_free_ char *target = NULL, *zonefile = NULL;
        _cleanup_close_ int zfd = -EBADF;
        char old[256];
        ssize_t n;

        switch (h->tz_mode) {
        case TIMEZONE_OFF:
                return 0;
        case TIMEZONE_BIND:
                return bind_file(h, rootfd, "/etc/localtime", h->tz_bind_fd);
        case TIMEZONE_DELETE:
                if (h->read_only)
                        return 0;
                return unlinkat(etcfd, "localtime", 0) < 0 && errno != ENOENT ? -errno : 0;
        case TIMEZONE_COPY:
                return h->read_only ? 0 : write_if_changed(etcfd, "localtime", h->tz_data, h->tz_size, true);
        case TIMEZONE_SYMLINK:
                if (h->read_only)
                        return 0;
                /* Only link to a zone the tree has; otherwise fall back to a copy (auto). */
                zonefile = strjoin("/usr/share/zoneinfo/", h->tz_zone);
                target = strjoin("../usr/share/zoneinfo/", h->tz_zone);
                if (!zonefile || !target)
                        return -ENOMEM;
                if (chase_in_root(rootfd, zonefile, 0, &zfd) < 0)
                        return c->timezone == TIMEZONE_AUTO && h->tz_data ?
                                write_if_changed(etcfd, "localtime", h->tz_data, h->tz_size, true) : 0;
                n = readlinkat(etcfd, "localtime", old, sizeof(old) - 1);
                if (n > 0) {
                        old[n] = 0;
                        if (streq(old, target))
                                return 0;
                }
                if (unlinkat(etcfd, "localtime", 0) < 0 && errno != ENOENT)
                        return -errno;
                return RET_NERRNO(symlinkat(target, etcfd, "localtime"));
        default:
                return 0;
        }
}

int host_files_apply(const SpawnConfig *c, HostFiles *h, int rootfd) {
        _cleanup_close_ int etcfd = -EBADF;
        int r;

        r = open_etc(rootfd, &etcfd);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;       /* no /etc: nothing to integrate */
        if (r < 0)
                return log_error_errno(r, "Failed to open /etc inside the machine: %m");

        r = apply_resolv_conf(c, h, rootfd, etcfd);
        if (r < 0)
                log_warning_errno(r, "Failed to set up /etc/resolv.conf (--resolv-conf=%s), ignoring: %m",
                                  resolv_conf_mode_to_string(c->resolv_conf));
        r = apply_timezone(c, h, rootfd, etcfd);
        if (r < 0)
                log_warning_errno(r, "Failed to set up /etc/localtime (--timezone=%s), ignoring: %m",
                                  timezone_mode_to_string(c->timezone));
        return 0;
}

int host_files_apply_run_host(const SpawnConfig *c, HostFiles *h, int rootfd) {
        _cleanup_close_ int pfd = -EBADF, dfd = -EBADF, mfd = -EBADF, ffd = -EBADF;
        int r;

        r = chase_in_root(rootfd, "/run/host", CHASE_MKDIR, &pfd);
        if (r < 0)
                return log_error_errno(r, "Failed to create /run/host: %m");
        dfd = openat(pfd, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dfd < 0)
                return log_error_errno(errno, "Failed to open /run/host: %m");

        r = write_if_changed(dfd, "container-manager", "berth\n", STRLEN("berth\n"), true);
        if (r >= 0 && h->os_release)
                r = write_if_changed(dfd, "os-release", h->os_release, strlen(h->os_release), true);
        if (r < 0)
                return log_error_errno(r, "Failed to populate /run/host: %m");
        if (!h->os_release)
                return 0;

        /* the host's os-release is read-only inside, as systemd-nspawn's bind mount is */
        r = mount_clone_detached(dfd, "os-release", false, true, &mfd);
        if (r >= 0)
                r = chase_in_root(dfd, "os-release", 0, &ffd);
        if (r >= 0)
                r = mount_attach(mfd, ffd);
        if (r < 0)
                return log_error_errno(r, "Failed to make /run/host/os-release read-only: %m");
        return 0;
}
