/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

#include "macro.h"

#define EBADF_PAIR { -EBADF, -EBADF }

int safe_close(int fd);
void close_pair(int p[static 2]);

static inline void closep(int *fd) {
        safe_close(*fd);
}
static inline void close_pairp(int (*p)[2]) {
        close_pair(*p);
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_close_pair_ _cleanup_(close_pairp)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

/* The directory 'path' below dirfd ("." for dirfd itself, which stays open and unused by
 * the stream) as a DIR stream, not following a symlink in the last component. NULL with
 * errno set on failure. */
DIR *opendir_at(int dirfd, const char *path);
/* The entries of a directory stream, without "." and "..". */
static inline bool dot_or_dot_dot(const char *name) {
        return name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0));
}
#define FOREACH_DIRENT(de, d) \
        for (struct dirent *de; (de = readdir(d)); ) \
                if (dot_or_dot_dot(de->d_name)) {} else

int fd_cloexec(int fd, bool cloexec);
/* Mark every fd from 'first' on close-on-exec: close_range(), or /proc/self/fd where that
 * is refused. */
int fd_cloexec_from(unsigned first);
/* One SCM_RIGHTS message carrying fd, with 'payload' (NUL included) as its data: what an
 * OCI console socket expects (runc sends the pty's name). */
int send_one_fd(int sock, int fd, const char *payload);
int fd_nonblock(int fd, bool nonblock);
int loop_write(int fd, const void *buf, size_t n);
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);
int write_string_fd(int fd, const char *s);
int write_string_file_at(int dirfd, const char *path, const char *s);
/* The file system's immutable flag (chattr +i): > 0 set, 0 not set, or -errno. */
int fd_get_immutable(int fd);
int fd_set_immutable(int fd, bool b);
int write_file_atomic_at(int dirfd, const char *name, const char *s, mode_t mode);
