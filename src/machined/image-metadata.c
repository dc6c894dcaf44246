/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dissect-mount.h"
#include "fd-util.h"
#include "image-metadata.h"
#include "os-release.h"
#include "path-util.h"
#include "string-util.h"

#define WORKER_TIMEOUT_MSEC (30 * 1000)
#define REPLY_SIZE_MAX (256U * 1024U)

/* In the worker: mount, read, send "KEY\0VALUE\0..." to out_fd. */
static int worker_read_os_release(int image_fd, int out_fd) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_close_ int rootfd = -EBADF;
        int r;

        /* A slave of the host's namespace: the host never sees the image's mounts, and they
         * go away with this process. */
        if (unshare(CLONE_NEWNS) < 0)
                return -errno;
        if (mount(NULL, "/", NULL, MS_SLAVE|MS_REC, NULL) < 0)
                return -errno;
        r = mkdir_parents_and_self(IMAGE_MOUNT_POINT, 0755);
        if (r < 0)
                return r;
        r = dissected_image_mount_read_only(image_fd, IMAGE_MOUNT_POINT, &rootfd);
        if (r < 0)
                return r;
        r = os_release_read_at(rootfd, &l);
        if (r < 0)
                return r;

        for (size_t i = 0; l[i]; i++) {
                r = loop_write(out_fd, l[i], strlen(l[i]) + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Read the worker's reply, giving up at the deadline. */
static int read_reply(int fd, char **ret, size_t *ret_size) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r;

        r = poll(&p, 1, WORKER_TIMEOUT_MSEC);
        if (r < 0)
                return -errno;
        if (r == 0)
                return -ETIMEDOUT;
        /* the worker writes everything and exits: the first wakeup sees most of it, and
         * read_full_fd() blocks only until the worker's end of the pipe is closed */
        return read_full_fd(fd, REPLY_SIZE_MAX, ret, ret_size);
}

static int reply_to_strv(const char *buf, size_t size, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r;

        if (size > 0 && buf[size - 1] != 0)
                return -EBADMSG;
        for (const char *p = buf; p < buf + size; p += strlen(p) + 1) {
                char *s = strdup(p);

                if (!s)
                        return -ENOMEM;
                r = strv_push(&l, s);
                if (r < 0)
                        return r;
                n++;
        }
        if (n % 2 != 0)
                return -EBADMSG;
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

int image_raw_read_os_release(const char *path, char ***ret) {
        _cleanup_close_pair_ int pair[2] = EBADF_PAIR;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        pid_t parent = getpid(), child;
        size_t size = 0;
        struct stat st;
        int status, r;

        fd = open(path, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if (pipe2(pair, O_CLOEXEC) < 0)
                return -errno;

        /* berthd is single-threaded, so fork() is safe. */
        child = fork();
        if (child < 0)
                return -errno;
        if (child == 0) {
                sigset_t mask;

                pair[0] = safe_close(pair[0]);
                /* berthd blocks SIGTERM for its event loop: the worker must stay killable */
                sigemptyset(&mask);
                (void) sigprocmask(SIG_SETMASK, &mask, NULL);
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(EIO);
                r = worker_read_os_release(fd, pair[1]);
                /* the exit code carries the errno (all fit in 1..255) */
                _exit(r < 0 ? MIN(-r, 255) : EXIT_SUCCESS);
        }

        pair[1] = safe_close(pair[1]);
        r = read_reply(pair[0], &buf, &size);
        if (r < 0)
                (void) kill(child, SIGKILL);
        while (waitpid(child, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (r < 0)
                return r;
        if (!WIFEXITED(status))
                return -EIO;
        if (WEXITSTATUS(status) != 0)
                return -WEXITSTATUS(status);
        return reply_to_strv(buf, size, ret);
}
