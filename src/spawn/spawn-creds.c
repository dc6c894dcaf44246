/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "mount-util.h"
#include "path-util.h"
#include "spawn-creds.h"
#include "string-util.h"

void credential_set_done(CredentialSet *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->items[i].id);
                if (s->items[i].data)
                        explicit_bzero(s->items[i].data, s->items[i].size);
                free(s->items[i].data);
        }
        free(s->items);
        *s = (CredentialSet) {};
}

/* A credential is a file name in the directory: as systemd, no '/', not "." or "..". */
static bool credential_id_valid(const char *id) {
        return !isempty(id) && !strchr(id, '/') && !dot_or_dot_dot(id) && strlen(id) <= NAME_MAX &&
               string_is_safe(id) && utf8_is_valid(id);
}

/* Split "ID:REST" and check ID; logs. */
static int credential_split(CredentialSet *s, const char *opt, const char *arg, char **ret_id, const char **ret_rest) {
        const char *colon = strchr(arg, ':');
        char *id;

        if (!colon)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid %s=%s: expected ID:%s.", opt, arg,
                                       streq(opt, "--set-credential") ? "VALUE" : "PATH");
        id = strndup(arg, (size_t) (colon - arg));
        if (!id)
                return log_oom();
        if (!credential_id_valid(id)) {
                log_error("Invalid credential name '%s' in %s=.", id, opt);
                free(id);
                return -EINVAL;
        }
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->items[i].id, id)) {
                        log_error("Duplicate credential '%s', refusing.", id);
                        free(id);
                        return -EEXIST;
                }
        *ret_id = id;
        *ret_rest = colon + 1;
        return 0;
}

static int credential_add(CredentialSet *s, char *id, char *data, size_t size) {
        Credential *n = realloc(s->items, sizeof(Credential) * (s->n + 1));

        if (!n) {
                free(id);
                free(data);
                return log_oom();
        }
        s->items = n;
        s->items[s->n++] = (Credential) { .id = id, .data = data, .size = size };
        return 0;
}

int credential_parse_set(CredentialSet *s, const char *arg) {
        _cleanup_free_ char *id = NULL;
        const char *value;
        char *data;
        ssize_t l;
        int r;

        r = credential_split(s, "--set-credential", arg, &id, &value);
        if (r < 0)
                return r;
        l = cunescape(value, &data);
        if (l == -ENOMEM)
                return log_oom();
        if (l < 0)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid escape sequence in --set-credential=%s.", arg);
        return credential_add(s, TAKE_PTR(id), data, (size_t) l);
}

/* An AF_UNIX stream socket: connect and read until the peer closes, as systemd does. */
static int open_source(const char *path, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open(path, O_RDONLY|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        if (fd >= 0) {
                if (fstat(fd, &st) < 0)
                        return -errno;
                if (!S_ISREG(st.st_mode))
                        return -EBADFD;
                if (fd_nonblock(fd, false) < 0)
                        return -errno;
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        if (errno != ENXIO || strlen(path) >= sizeof(sa.sun_path))
                return -errno;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        (void) shutdown(fd, SHUT_WR);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int credential_parse_load(CredentialSet *s, const char *arg) {
        _cleanup_free_ char *id = NULL, *joined = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *path, *dir;
        char *data = NULL;
        size_t size = 0;
        int r;

        r = credential_split(s, "--load-credential", arg, &id, &path);
        if (r < 0)
                return r;
        if (isempty(path))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid --load-credential=%s: no path.", arg);
        if (!path_is_absolute(path)) {
                /* as systemd-nspawn: relative to the credentials berth-spawn itself got */
                dir = getenv("CREDENTIALS_DIRECTORY");
                if (!dir)
                        return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
                                               "Credential path '%s' is relative, but $CREDENTIALS_DIRECTORY is not set.", path);
                joined = path_join(dir, path);
                if (!joined)
                        return log_oom();
                path = joined;
        }
        r = open_source(path, &fd);
        if (r == -EBADFD)
                return log_error_errno(r, "Credential source '%s' is neither a regular file nor a socket.", path);
        if (r < 0)
                return log_error_errno(r, "Failed to open credential source '%s': %m", path);
        r = read_full_fd(fd, CREDENTIAL_SIZE_MAX, &data, &size);
        if (r == -EFBIG)
                return log_error_errno(r, "Credential '%s' is larger than %u bytes.", id, CREDENTIAL_SIZE_MAX);
        if (r < 0)
                return log_error_errno(r, "Failed to read credential '%s' from '%s': %m", id, path);
        return credential_add(s, TAKE_PTR(id), data, size);
}

static int write_credentials(const CredentialSet *s, int dirfd) {
        for (size_t i = 0; i < s->n; i++) {
                _cleanup_close_ int fd = openat(dirfd, s->items[i].id, O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW, 0400);
                int r;

                if (fd < 0)
                        return -errno;
                r = loop_write(fd, s->items[i].data, s->items[i].size);
                if (r < 0)
                        return r;
        }
        return 0;
}

int credentials_mount(const CredentialSet *s, int rootfd) {
        _cleanup_close_ int mfd = -EBADF, target = -EBADF;
        int r;

        if (s->n == 0)
                return 0;

        /* ramfs, as systemd: the secrets are never swapped out. Filled while detached, then
         * made read-only and attached. */
        r = fs_create_detached("ramfs", "credentials", "mode=0500", MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC, &mfd);
        if (r < 0)
                return log_error_errno(r, "Failed to create the credentials file system: %m");
        r = write_credentials(s, mfd);
        if (r < 0)
                return log_error_errno(r, "Failed to write the machine's credentials: %m");
        r = mount_set_attr(mfd, MOUNT_ATTR_RDONLY, 0, false);
        if (r >= 0)
                r = chase_in_root(rootfd, CREDENTIALS_DIRECTORY, CHASE_MKDIR, &target);
        if (r >= 0)
                r = mount_attach(mfd, target);
        if (r < 0)
                return log_error_errno(r, "Failed to mount the credentials on %s: %m", CREDENTIALS_DIRECTORY);
        return 0;
}
